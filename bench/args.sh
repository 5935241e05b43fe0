# Sourced by the bench scripts with their arguments: `--no-build` sets
# build=0 (skip the release build), every other argument is kept in `args`
# for the script's Python half.
build=1
args=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then build=0; else args+=("$arg"); fi
done
