//! `--quick` on whatever Vulkan adapter this machine has (Mesa lavapipe
//! without a GPU): the binary itself, and `bench/gpu.sh` running it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The benchmark binary of this build.
const BIN: &str = env!("CARGO_BIN_EXE_weft-gpu-bench");

/// The quick matrix sizes.
const SIZES: [usize; 3] = [64, 256, 512];

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// stdout of a run that must have succeeded.
fn stdout_of(output: Output) -> String {
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// The cells after the label of the row `label`.
fn row<'t>(table: &'t str, label: &str) -> Vec<&'t str> {
    let start = format!("| {label} | ");
    let line = table
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{table}"));
    line[start.len()..]
        .trim_end_matches(" |")
        .split(" | ")
        .collect()
}

/// A cell holding a positive rate.
fn positive(cell: &str) {
    let value: f64 = cell
        .parse()
        .unwrap_or_else(|_| panic!("{cell:?} is no number"));
    assert!(value > 0.0, "{cell}");
}

/// Every row of the quick table, with positive rates where weft measured.
/// Returns the torch cells of the matmul rows.
fn check_table(table: &str) -> Vec<String> {
    assert!(table.starts_with("adapter: "), "{table}");
    let torch = SIZES.map(|n| {
        let cells = row(table, &format!("matmul {n}×{n} (GFLOP/s)"));
        positive(cells[0]);
        positive(cells[1]);
        cells[2].to_owned()
    });
    let stats = row(table, "column-stats, 2^20 f32 = 4 MiB (GB/s)");
    positive(stats[0]);
    positive(stats[1]);
    let copy = row(
        table,
        "copy host→device→host, the same 2^20 f32 = 4 MiB (GB/s)",
    );
    positive(copy[0]);
    torch.to_vec()
}

#[test]
fn quick_run_prints_the_table_and_writes_it() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gpu-bench-quick.md");
    let _ = std::fs::remove_file(&out);
    let output = Command::new(BIN)
        .args(["--quick", "--torch-gflops", "64=12.5:3.25", "--out"])
        .arg(&out)
        // The benchmark always takes the best adapter, whatever this says.
        .env("WEFT_COMPUTE", "cpu")
        .output()
        .unwrap();
    let table = stdout_of(output);
    let torch = check_table(&table);
    assert_eq!(torch, ["12.50 (3.25 with copies)", "n/a", "n/a"]);
    assert!(!table.contains("cpu-fallback adapter"), "{table}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), table);
}

#[test]
fn the_script_runs_the_prebuilt_binary_without_building() {
    let script = root().join("bench/gpu.sh");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    stdout_of(syntax);
    let output = Command::new("bash")
        .arg(&script)
        .arg("--quick")
        .env("WEFT_GPU_BENCH_BIN", BIN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let table = stdout_of(output);
    check_table(&table);
    assert!(stderr.contains("Vulkan loader: "), "{stderr}");
    assert!(!stderr.contains("building"), "{stderr}");
}

#[test]
fn help_and_bad_arguments() {
    let help = stdout_of(Command::new(BIN).arg("--help").output().unwrap());
    assert!(
        help.contains("--quick") && help.contains("--out FILE"),
        "{help}"
    );
    let bad = Command::new(BIN).arg("--fast").output().unwrap();
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("unknown argument \"--fast\""), "{message}");
    let script = root().join("bench/gpu.sh");
    let help = stdout_of(
        Command::new("bash")
            .arg(&script)
            .arg("--help")
            .output()
            .unwrap(),
    );
    assert!(help.contains("VK_DRIVER_FILES"), "{help}");
}
