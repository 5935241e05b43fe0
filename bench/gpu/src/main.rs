//! `weft-gpu-bench`: matmul GFLOP/s and column-stats GB/s of weft's compute
//! backend (`weft-gpu`) on the GPU against its CPU fallback and torch fp32,
//! and the device's copy bandwidth, as one Markdown table.
//!
//! Run it through `bench/gpu.sh`, which finds the Vulkan loader and the
//! NVIDIA driver, times torch and passes its figures in. `--quick` uses
//! small sizes and runs on any adapter (Mesa lavapipe included).

mod args;
mod data;
mod measure;
mod table;

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};
use weft_gpu::{Choice, Device, Info, Kind};

use crate::args::{Args, Command, Torch};
use crate::data::Rng;
use crate::table::{rate, Table};

/// Largest N the CPU fallback multiplies; 4096 would take minutes.
const CPU_MAX_N: usize = 1024;

/// Rows of the larger products checked against f64 (the smallest is checked whole).
const SPOT_ROWS: usize = 3;

/// Run the benchmark, or print the usage.
fn main() -> Result<()> {
    match args::parse(std::env::args().skip(1))? {
        Command::Help => {
            println!("{}", args::USAGE);
            Ok(())
        }
        Command::Run(args) => run(&args),
    }
}

/// The problem sizes of a run.
struct Sizes {
    /// N of the N×N matrix products, smallest first.
    matmul: [usize; 3],
    /// f32 values of the column-stats column and of the copy.
    column: usize,
}

impl Sizes {
    /// The full sizes, or the small ones of `--quick`.
    fn of(quick: bool) -> Sizes {
        if quick {
            Sizes {
                matmul: [64, 256, 512],
                column: 1 << 20,
            }
        } else {
            Sizes {
                matmul: [1024, 4096, 8192],
                column: 1 << 28,
            }
        }
    }
}

/// Measure everything, print the table (and write it to `--out`); an
/// error when any measurement failed.
fn run(args: &Args) -> Result<()> {
    let sizes = Sizes::of(args.quick);
    let gpu = open_gpu(args.quick)?;
    let mut bench = Bench {
        table: Table::start(&adapter(gpu.info())),
        gpu,
        cpu: Device::new(Choice::Cpu)?,
        failures: 0,
    };
    for (i, &n) in sizes.matmul.iter().enumerate() {
        let check: Vec<usize> = match i {
            0 => (0..n).collect(),
            _ => (0..SPOT_ROWS)
                .map(|r| r * (n - 1) / (SPOT_ROWS - 1))
                .collect(),
        };
        bench.matmul_row(n, &check, &torch_cell(args.torch.as_ref(), n));
    }
    bench.column_rows(sizes.column);
    bench.table.notes(&notes());
    if let Some(out) = &args.out {
        bench.table.write(out)?;
    }
    ensure!(
        bench.failures == 0,
        "{} measurement(s) failed (see above)",
        bench.failures
    );
    Ok(())
}

/// The best Vulkan adapter, whatever `WEFT_COMPUTE` says; a software one
/// only for `--quick`.
fn open_gpu(quick: bool) -> Result<Device> {
    let device = Device::new(Choice::Gpu).context(
        "no Vulkan adapter. On an NVIDIA machine install the driver with its Vulkan ICD \
         (nvidia_icd.json naming libGLX_nvidia.so.0) and the Vulkan loader (libvulkan.so.1, \
         Debian/Ubuntu: libvulkan1), or point VK_DRIVER_FILES at the ICD's json; \
         bench/gpu.sh looks for both",
    )?;
    if !quick && device.info().kind == Kind::Software {
        bail!(
            "the only adapter is a software one ({}); the full sizes would take far too \
             long on it. Pass --quick, or make the GPU's Vulkan driver visible \
             (VK_DRIVER_FILES=/path/to/nvidia_icd.json)",
            device.info().name
        );
    }
    Ok(device)
}

/// The adapter line above the table.
fn adapter(info: &Info) -> String {
    format!(
        "{} ({} backend, {} adapter)",
        info.name, info.backend, info.kind
    )
}

/// The torch cell of the N×N matmul row.
fn torch_cell(torch: Option<&BTreeMap<usize, Torch>>, n: usize) -> String {
    match torch.map(|t| t.get(&n)) {
        None => "n/a (no torch)".into(),
        Some(None) => "n/a".into(),
        Some(Some(t)) => format!("{} ({} with copies)", rate(t.resident), rate(t.with_copies)),
    }
}

/// How to read the table.
fn notes() -> [String; 4] {
    let reps = measure::REPS;
    [
        format!(
            "matmul: f32 row-major N×N · N×N; GFLOP/s = 2·N³ / the median of {reps} calls \
             after a warm-up. weft's figures include copying both inputs to the device and \
             the product back (the API takes and returns host slices). The smallest product \
             is checked whole against an f64 reference, the others on {SPOT_ROWS} rows."
        ),
        "torch: `a @ b` on tensors already on the GPU; in parentheses, with the copies from \
         and to host memory; TF32 off."
            .into(),
        format!(
            "CPU fallback: weft's single-threaded CPU kernels; matmul above N = {CPU_MAX_N} \
             is skipped (too slow)."
        ),
        format!(
            "column-stats: GB/s = bytes of the column / the median of {reps} calls, the column \
             copied to the device on each call; the GPU's result is checked against the CPU's. \
             copy: the same bytes sent host→device→host through a custom WGSL kernel that \
             leaves them unchanged, in buffers of at most {} MiB; GB/s = bytes / round-trip \
             time (each byte crosses twice).",
            measure::COPY_BUFFER_BYTES >> 20
        ),
    ]
}

/// The devices, the table, and how many measurements failed.
struct Bench {
    gpu: Device,
    cpu: Device,
    table: Table,
    failures: usize,
}

impl Bench {
    /// The cell for `result`: the rate, or a failure, whose error goes to
    /// stderr and is counted.
    fn cell(&mut self, what: &str, result: Result<f64>) -> String {
        result.map(rate).unwrap_or_else(|e| {
            eprintln!("weft-gpu-bench: {what}: {e:#}");
            self.failures += 1;
            "failed (see stderr)".into()
        })
    }

    /// The N×N matmul row; the rows `check` of each product are checked.
    fn matmul_row(&mut self, n: usize, check: &[usize], torch: &str) {
        let mut rng = Rng::new(n as u64);
        let (a, b) = (rng.unit_f32s(n * n), rng.unit_f32s(n * n));
        let what = format!("matmul {n}×{n}");
        let gpu = measure::matmul(&self.gpu, &a, &b, n, check);
        let gpu = self.cell(&what, gpu);
        let cpu = if n <= CPU_MAX_N {
            let cpu = measure::matmul(&self.cpu, &a, &b, n, check);
            self.cell(&what, cpu)
        } else {
            "skipped (too slow)".into()
        };
        let label = format!("{what} (GFLOP/s)");
        self.table.row(&label, [&gpu, &cpu, torch]);
    }

    /// The column-stats and copy rows over `len` values.
    fn column_rows(&mut self, len: usize) {
        let values = Rng::new(len as u64).unit_f32s(len);
        let size = format!("2^{} f32 = {} MiB", len.trailing_zeros(), len >> 18);
        let cpu = measure::column_stats(&self.cpu, &values);
        let gpu = measure::column_stats(&self.gpu, &values).and_then(|(rate, stats)| {
            if let Ok((_, reference)) = &cpu {
                measure::check_stats(&stats, reference)?;
            }
            Ok(rate)
        });
        let gpu = self.cell("column-stats", gpu);
        let cpu = self.cell("column-stats", cpu.map(|(rate, _)| rate));
        let label = format!("column-stats, {size} (GB/s)");
        self.table.row(&label, [&gpu, &cpu, "—"]);
        let copy = measure::copy_round_trip(&self.gpu, &values);
        let copy = self.cell("copy", copy);
        let label = format!("copy host→device→host, the same {size} (GB/s)");
        self.table.row(&label, [&copy, "—", "—"]);
    }
}
