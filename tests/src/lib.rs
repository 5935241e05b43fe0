//! Shared helpers of weft's end-to-end tests.
//!
//! The tests drive the real `weft` binary (`<target>/debug/weft`) with real
//! plugin components (`<target>/wasm32-wasip2/release/*.wasm`). Both are built
//! on first use, once per test binary; Cargo's own lock serializes builds that
//! several test binaries start at once. Set `WEFT_TESTS_NO_BUILD=1` to use
//! what is already built.
//!
//! Every run gets `WEFT_CACHE_DIR=<target>/weft-tests/aot`, so plugins are
//! compiled ahead of time once for the whole suite.

pub mod registry;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatchReader};
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};

/// How long one `weft` command may take before the test kills it and fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
}

/// Cargo's target folder (`$CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    }
}

/// A folder under the target folder for the suite's own files.
pub fn scratch() -> PathBuf {
    let dir = target_dir().join("weft-tests");
    std::fs::create_dir_all(&dir).expect("create target/weft-tests");
    dir
}

/// The compile cache shared by every run of the suite.
pub fn cache_dir() -> PathBuf {
    scratch().join("aot")
}

fn cargo() -> Command {
    cargo_at(workspace())
}

/// `cargo` (the one running the tests, else the one on PATH) in `dir`.
pub fn cargo_at(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir);
    cmd
}

/// Run `cargo` with `args`; the error carries the tail of its output.
pub fn cargo_build(args: &[&str], envs: &[(&str, &OsStr)]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text.lines().collect();
        Err(format!(
            "`cargo {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            lines[lines.len().saturating_sub(40)..].join("\n")
        ))
    }
}

fn skip_builds() -> bool {
    std::env::var_os("WEFT_TESTS_NO_BUILD").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The `weft` binary, built (`cargo build -p weft`) on first use.
pub fn weft_bin() -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if skip_builds() {
            Ok(())
        } else {
            cargo_build(&["build", "-p", "weft"], &[])
        }
    });
    if let Err(e) = built {
        panic!("cannot build weft:\n{e}");
    }
    let bin = target_dir().join("debug").join("weft");
    assert!(bin.exists(), "{} does not exist", bin.display());
    bin
}

/// Packages of the plugins the suite uses, with their `.wasm` file names.
pub const PLUGINS: [(&str, &str); 11] = [
    ("hostile", "hostile"),
    ("impute", "impute"),
    ("scale", "scale"),
    ("one-hot", "one_hot"),
    ("kbins", "kbins"),
    ("classification-metrics", "classification_metrics"),
    ("regression-metrics", "regression_metrics"),
    ("linear-model", "linear_model"),
    ("onnx-model", "onnx_model"),
    ("drift", "drift"),
    ("wgsl", "wgsl"),
];

/// The built component of plugin package `package` (e.g. `"one-hot"`).
///
/// All plugins are built together on first use
/// (`cargo build --release --target wasm32-wasip2 -p hostile -p impute ...`);
/// when that fails, each is built alone, so a test only fails for the
/// plugin it needs.
pub fn plugin(package: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<&'static str, Result<(), String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let base = ["build", "--release", "--target", "wasm32-wasip2"];
        let all: Vec<&str> = base
            .iter()
            .copied()
            .chain(PLUGINS.iter().flat_map(|(p, _)| ["-p", *p]))
            .collect();
        if skip_builds() || cargo_build(&all, &[]).is_ok() {
            return PLUGINS.iter().map(|(p, _)| (*p, Ok(()))).collect();
        }
        PLUGINS
            .iter()
            .map(|(p, _)| {
                let one: Vec<&str> = base.iter().copied().chain(["-p", *p]).collect();
                (*p, cargo_build(&one, &[]))
            })
            .collect()
    });
    let file = PLUGINS
        .iter()
        .find(|(p, _)| *p == package)
        .unwrap_or_else(|| panic!("unknown plugin package {package:?}"))
        .1;
    if let Some(Err(e)) = built.get(package) {
        panic!("cannot build plugin {package}:\n{e}");
    }
    let path = target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{file}.wasm"));
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

/// The JSON document at `path` (e.g. a run's `report.json`).
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one `weft` command did.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub took: Duration,
    /// Peak resident memory of the process (its VmHWM), bytes.
    pub peak_rss: u64,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?} after {:.2?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.took, self.stdout, self.stderr
        )
    }

    /// Assert exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, Some(0), "expected success: {}", self.describe());
        self
    }

    /// Assert exit code 1 (weft's code for a failed run or bad input; a host
    /// panic would be 101).
    #[track_caller]
    pub fn failed(&self) -> &Run {
        assert_eq!(self.code, Some(1), "expected failure: {}", self.describe());
        self
    }

    /// Assert that stderr contains every one of `needles`.
    #[track_caller]
    pub fn stderr_has(&self, needles: &[&str]) -> &Run {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}: {}",
                self.describe()
            );
        }
        self
    }

    /// Assert that stdout contains every one of `needles`.
    #[track_caller]
    pub fn stdout_has(&self, needles: &[&str]) -> &Run {
        for n in needles {
            assert!(
                self.stdout.contains(n),
                "stdout lacks {n:?}: {}",
                self.describe()
            );
        }
        self
    }

    /// Assert that neither stream contains `needle`.
    #[track_caller]
    pub fn never_says(&self, needle: &str) -> &Run {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "output mentions {needle:?}: {}",
            self.describe()
        );
        self
    }

    /// The first line of stderr that starts with `error:`.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no `error:` line: {}", self.describe()))
    }
}

/// Run `weft` with `args` in `cwd`, with the suite's compile cache and the
/// test venv's ONNX Runtime.
pub fn weft_in<I, S>(cwd: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (runtime, cache) = (onnxruntime_lib(), cache_dir());
    let mut envs = vec![("WEFT_CACHE_DIR", cache.as_os_str())];
    envs.extend(
        runtime
            .as_deref()
            .map(|r| ("WEFT_ONNXRUNTIME", r.as_os_str())),
    );
    weft_with(cwd, args, &envs)
}

/// The `libonnxruntime.so.*` of the test venv's `onnxruntime` wheel.
pub fn onnxruntime_lib() -> Option<PathBuf> {
    let lib = workspace().join(".venv/lib");
    let found = std::fs::read_dir(lib).ok()?.flatten().find_map(|python| {
        let capi = python.path().join("site-packages/onnxruntime/capi");
        std::fs::read_dir(capi)
            .ok()?
            .flatten()
            .map(|f| f.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so."))
            })
    });
    found
}

/// Point this process's `weft-models` at the test venv's ONNX Runtime,
/// for tests that load models through the library rather than the binary.
pub fn use_test_onnxruntime() {
    let runtime = onnxruntime_lib().expect("the test venv's onnxruntime");
    std::env::set_var("WEFT_ONNXRUNTIME", runtime);
}

/// Run `weft` with `args` in `cwd` and extra environment variables.
#[expect(
    clippy::zombie_processes,
    reason = "reap() waits for the child with wait4"
)]
pub fn weft_with<I, S>(cwd: &Path, args: I, envs: &[(&str, &OsStr)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let bin = weft_bin();
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut command = String::from("weft");
    for a in &args {
        let _ = write!(command, " {}", a.to_string_lossy());
    }
    let mut cmd = Command::new(&bin);
    cmd.args(&args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("WEFT_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start weft");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let (status, peak_rss) = loop {
        if let Some(exited) = reap(&child) {
            break exited;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{command}` ran longer than {RUN_TIMEOUT:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        command,
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        took: start.elapsed(),
        peak_rss,
    }
}

/// The exit status and peak resident bytes of `child` once it has exited.
fn reap(child: &std::process::Child) -> Option<(std::process::ExitStatus, u64)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pointers to live locals; WNOHANG returns at once.
    let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
    assert!(
        reaped >= 0,
        "wait for weft: {}",
        std::io::Error::last_os_error()
    );
    (reaped == pid).then(|| {
        let kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
        (std::process::ExitStatus::from_raw(status), kib * 1024)
    })
}

/// A temporary folder for one test: inputs, the manifest and outputs.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Default for Workdir {
    fn default() -> Self {
        Workdir::new()
    }
}

impl Workdir {
    /// A fresh, empty folder.
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::Builder::new()
                .prefix("weft-test-")
                .tempdir()
                .expect("create a temporary folder"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the folder.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `contents` to `rel` (creating folders); returns the path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// `weft ARGS` run in this folder.
    pub fn weft<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        weft_in(self.path(), args)
    }

    /// `weft run -q MANIFEST EXTRA...` run in this folder.
    pub fn run(&self, manifest: &Path, extra: &[&str]) -> Run {
        let mut args: Vec<&OsStr> = vec!["run".as_ref(), "-q".as_ref(), manifest.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        self.weft(args)
    }

    /// `weft validate MANIFEST` run in this folder.
    pub fn validate(&self, manifest: &Path) -> Run {
        self.weft([OsStr::new("validate"), manifest.as_os_str()])
    }
}

/// A Pipeline manifest, built up and rendered as YAML. Steps are flow
/// mappings, one per line; step configs are JSON (which YAML reads as is).
#[derive(Debug, Clone)]
pub struct Pipeline {
    name: String,
    plugins: Vec<(String, PathBuf, Option<String>)>,
    input: String,
    output: String,
    spec: Vec<String>,
    steps: Vec<String>,
}

impl Pipeline {
    /// A pipeline reading `input` and writing the folder `out/`.
    pub fn new(input: &str) -> Pipeline {
        Pipeline {
            name: "test".into(),
            plugins: Vec::new(),
            input: input.into(),
            output: "out/".into(),
            spec: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Set `metadata.name`.
    pub fn name(mut self, name: &str) -> Pipeline {
        self.name = name.into();
        self
    }

    /// Add plugin `key` at `path`.
    pub fn plugin(mut self, key: &str, path: &Path) -> Pipeline {
        self.plugins.push((key.into(), path.to_owned(), None));
        self
    }

    /// Add plugin `key` at `path`, pinned to `sha256`.
    pub fn pinned_plugin(mut self, key: &str, path: &Path, sha256: &str) -> Pipeline {
        self.plugins
            .push((key.into(), path.to_owned(), Some(sha256.into())));
        self
    }

    /// Set `spec.output.path`.
    pub fn output(mut self, output: &str) -> Pipeline {
        self.output = output.into();
        self
    }

    /// Add a line to `spec`, e.g. `batchRows: 10`.
    pub fn spec(mut self, line: &str) -> Pipeline {
        self.spec.push(line.into());
        self
    }

    /// Add a step; `extra` is more of its flow mapping (e.g. `needs: [a]`).
    pub fn step(
        mut self,
        name: &str,
        plugin: &str,
        config: serde_json::Value,
        extra: &str,
    ) -> Pipeline {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {extra}")
        };
        self.steps.push(format!(
            "{{ name: {name}, plugin: {plugin}, config: {config}{extra} }}"
        ));
        self
    }

    /// The YAML text.
    pub fn yaml(&self) -> String {
        let mut y = format!(
            "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: {} }}\nspec:\n  plugins:\n",
            self.name
        );
        for (key, path, sha) in &self.plugins {
            let sha = sha
                .as_ref()
                .map(|s| format!(", sha256: \"{s}\""))
                .unwrap_or_default();
            let _ = writeln!(y, "    {key}: {{ path: \"{}\"{sha} }}", path.display());
        }
        let _ = writeln!(y, "  input: {{ path: \"{}\" }}", self.input);
        let _ = writeln!(y, "  output: {{ path: \"{}\" }}", self.output);
        for line in &self.spec {
            let _ = writeln!(y, "  {line}");
        }
        y.push_str("  steps:\n");
        for step in &self.steps {
            let _ = writeln!(y, "    - {step}");
        }
        y
    }

    /// Write the manifest as `name` in `dir`; returns its path.
    pub fn write(&self, dir: &Workdir, name: &str) -> PathBuf {
        dir.write(name, self.yaml())
    }
}

/// The churn example's three stateful steps over `train.csv` (a copy of
/// `examples/churn/data/train.csv`): `fill` (impute age and income with
/// `strategy`), `scale` (standard) and `encode` (one-hot of plan).
pub fn churn_pipeline(strategy: &str) -> Pipeline {
    Pipeline::new("train.csv")
        .plugin("impute", &plugin("impute"))
        .plugin("scale", &plugin("scale"))
        .plugin("one-hot", &plugin("one-hot"))
        .step(
            "fill",
            "impute",
            serde_json::json!({ "columns": ["age", "income"], "strategy": strategy }),
            "",
        )
        .step(
            "scale",
            "scale",
            serde_json::json!({ "columns": ["age", "income", "tenure_months"], "method": "standard" }),
            "needs: [fill]",
        )
        .step("encode", "one-hot", serde_json::json!({ "columns": ["plan"] }), "needs: [scale]")
}

/// Assert the run failed with `error: FILE:LINE:COL: MESSAGE...` where
/// LINE:COL is where `needle` first appears after `after` in the manifest.
#[track_caller]
pub fn assert_located(run: &Run, manifest: &Path, after: &str, needle: &str, message: &str) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let (line, col) = locate(&text, after, needle);
    let expected = format!("error: {}:{line}:{col}: {message}", manifest.display());
    run.failed();
    assert!(
        run.error_line().starts_with(&expected),
        "expected the error to start with\n  {expected}\ngot\n  {}",
        run.error_line()
    );
}

/// The 1-based (line, column) of the first `needle` after the first `after`.
pub fn locate(text: &str, after: &str, needle: &str) -> (usize, usize) {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in text"));
    let at = start
        + text[start..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not after {after:?}"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

/// Every file under `dir`, relative to it, sorted; empty when `dir` is absent.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .expect("under root")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Assert that a failed run left no file at all under `dir` (no data, no
/// report, no state, no `.weft-*` temporaries).
#[track_caller]
pub fn assert_no_outputs(dir: &Path) {
    let left = files_under(dir);
    assert!(
        left.is_empty(),
        "a failed run left files in {}: {left:?}",
        dir.display()
    );
}

/// All rows of a Parquet file as one batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .build()
        .expect("parquet reader");
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    arrow::compute::concat_batches(&schema, &batches).expect("concat batches")
}

/// Write `batch` as a Parquet file.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write parquet");
    w.close().expect("close parquet");
}

/// Column names of `batch`, in order.
pub fn names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The type of column `name`.
#[track_caller]
pub fn dtype(batch: &RecordBatch, name: &str) -> DataType {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name:?} in {:?}", names(batch)))
        .data_type()
        .clone()
}

/// Column `name` as f64 (numbers converted; nulls as `None`, NaN kept).
#[track_caller]
pub fn f64s(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name:?} in {:?}", names(batch)));
    let cast = arrow::compute::cast(col, &DataType::Float64)
        .unwrap_or_else(|e| panic!("column {name:?} ({}) is not numeric: {e}", col.data_type()));
    cast.as_primitive::<Float64Type>().iter().collect()
}

/// Column `name` rendered as text (nulls as `None`).
#[track_caller]
pub fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name:?} in {:?}", names(batch)));
    let cast = arrow::compute::cast(col, &DataType::Utf8).expect("cast to text");
    cast.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

/// Whether `got` is within `rel` relative or `abs` absolute of `want`;
/// NaN matches NaN and null matches null only.
pub fn close(got: Option<f64>, want: Option<f64>, rel: f64, abs: f64) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) if g.is_nan() || w.is_nan() => g.is_nan() && w.is_nan(),
        (Some(g), Some(w)) if g.is_infinite() || w.is_infinite() => g == w,
        (Some(g), Some(w)) => (g - w).abs() <= abs + rel * w.abs(),
        _ => false,
    }
}

/// Assert two columns agree value by value (see [`close`]).
#[track_caller]
pub fn assert_close(label: &str, got: &[Option<f64>], want: &[Option<f64>], rel: f64, abs: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{label}: {} rows, expected {}",
        got.len(),
        want.len()
    );
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (g, w))| !close(**g, **w, rel, abs))
        .map(|(i, (g, w))| format!("row {i}: got {g:?}, expected {w:?}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{label}: {} of {} values differ (rel {rel:e}, abs {abs:e}):\n  {}",
        bad.len(),
        got.len(),
        bad.iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// Run `tests/python/SCRIPT ARGS...` with the test venv's Python, for a
/// fixture it writes; panics with its stderr when it fails.
pub fn python_fixture(script: &str, args: &[&OsStr]) {
    let out = Command::new(python())
        .arg(workspace().join("tests/python").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python of the parity tests: `<workspace>/.venv`, created on first use
/// (`python3 -m venv`, then `pip install -r tests/python/requirements.txt`)
/// when it is missing or lacks scikit-learn, SciPy, pandas, PyArrow,
/// kubernetes-validate (the chart tests), componentize-py (Python steps) or
/// the model libraries (ONNX Runtime, skl2onnx, onnxmltools, XGBoost,
/// LightGBM).
pub fn python() -> PathBuf {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let venv = workspace().join(".venv");
        let py = venv.join("bin").join("python");
        let has_all = |py: &Path| {
            Command::new(py)
                .args([
                    "-c",
                    "import sklearn, scipy, pandas, pyarrow, kubernetes_validate, componentize_py, \
                     onnxruntime, skl2onnx, onnxmltools, xgboost, lightgbm",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if py.exists() && has_all(&py) {
            return Ok(py);
        }
        let step = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        if !py.exists() {
            step(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        step(
            Command::new(&py)
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(workspace().join("tests/python/requirements.txt")),
        )?;
        if has_all(&py) {
            Ok(py)
        } else {
            Err(format!("{} still cannot import the packages", py.display()))
        }
    });
    match ready {
        Ok(py) => py.clone(),
        Err(e) => panic!("cannot set up the Python environment for parity tests: {e}"),
    }
}

/// The unittest suite under `tests` (relative to `cwd`) run by the test
/// venv's Python with `pythonpath` importable; its report (stderr), once
/// it passed.
pub fn python_unittests(cwd: &Path, tests: &str, pythonpath: &[PathBuf]) -> String {
    let pythonpath: Vec<String> = pythonpath.iter().map(|p| p.display().to_string()).collect();
    let out = Command::new(python())
        .current_dir(cwd)
        .env("PYTHONPATH", pythonpath.join(":"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-m", "unittest", "discover", "-s", tests])
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python().display()));
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{tests} under {}:\n{report}",
        cwd.display()
    );
    report
}

/// `weft build DIR` of a Python step, with the test venv's componentize-py
/// first on PATH and the suite's compile cache (where the build leaves
/// Cranelift's code): the component's path (the last line it printed).
pub fn weft_build_python(dir: &Path) -> PathBuf {
    weft_build_python_into(dir, &cache_dir())
}

/// [`weft_build_python`] with the compile cache `cache`.
pub fn weft_build_python_into(dir: &Path, cache: &Path) -> PathBuf {
    let path = venv_path();
    let envs = [
        ("PATH", OsStr::new(&path)),
        ("WEFT_CACHE_DIR", cache.as_os_str()),
    ];
    let built = weft_with(dir, ["build", "."], &envs);
    built.ok();
    PathBuf::from(
        built
            .stdout
            .lines()
            .last()
            .expect("weft build printed a path"),
    )
}

/// PATH with the test venv's `bin` (componentize-py) first.
pub fn venv_path() -> String {
    let bin = python()
        .parent()
        .expect("the venv's bin")
        .display()
        .to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// The tool at `path` under the folder where `scripts/setup.sh --test`
/// caches tools (`~/.cache/weft/tools`); `what` says how setup gets it.
pub fn tool(path: &str, what: &str) -> Command {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .expect("HOME is set");
    let bin = cache.join("weft/tools").join(path);
    assert!(
        bin.is_file(),
        "{} is missing: ./scripts/setup.sh --test {what}",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.current_dir(workspace());
    cmd
}

/// helm `major` ("v3" or "v4") as `scripts/setup.sh --test` caches it.
pub fn helm(major: &str) -> Command {
    tool(
        &format!("helm-{major}/helm"),
        &format!("fetches helm {major}"),
    )
}

/// A copy of the chart whose `kubeVersion` admits the 1.20 test server
/// and node (production needs 1.27 or later; nothing else changes).
pub fn chart_for_1_20() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    output(
        Command::new("cp")
            .arg("-r")
            .arg(workspace().join("charts/weft/."))
            .arg(copy.path()),
    );
    let file = copy.path().join("Chart.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let relaxed: String = text
        .lines()
        .map(|l| match l.starts_with("kubeVersion:") {
            true => "kubeVersion: \">=1.20.0-0\"\n".to_owned(),
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(relaxed, text, "Chart.yaml has no kubeVersion line");
    std::fs::write(&file, relaxed).unwrap();
    copy
}

/// Run `cmd`; its stdout, or a panic with both streams.
#[track_caller]
pub fn output(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// A command for `tool` from PATH; panics, saying how to install it, when
/// it is missing (`./scripts/setup.sh --test` installs every tool the tests use).
pub fn installed(tool: &str) -> Command {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(tool))
        .find(|p| p.is_file());
    Command::new(found.unwrap_or_else(|| {
        panic!("{tool} is not installed; ./scripts/setup.sh --test installs it")
    }))
}

/// Run `cmd` with `input` on its stdin; its output.
pub fn with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Panic unless `promtool check metrics` accepts `exposition`.
pub fn assert_valid_exposition(exposition: &str) {
    let out = with_stdin(
        installed("promtool").args(["check", "metrics"]),
        exposition.as_bytes(),
    );
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
