//! The command line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

/// What `--help` prints.
pub const USAGE: &str = "\
usage: weft-gpu-bench [--quick] [--out FILE] [--torch-gflops N=R:C,...]

Times weft-gpu's matmul (GFLOP/s) and column-stats (GB/s) on the GPU
adapter (WEFT_COMPUTE is ignored: the best Vulkan adapter is used) and on
the CPU fallback, and a host->device->host copy of the column through a
custom WGSL kernel; prints one Markdown table. bench/gpu.sh finds the
Vulkan driver, times torch and runs this.

  --quick             small sizes (matmul 64/256/512, 2^20 values), any
                      adapter, software ones (lavapipe) included
  --out FILE          also write the table to FILE (atomically)
  --torch-gflops ...  torch fp32 GFLOP/s per matrix size N, resident on the
                      GPU (R) and with host copies (C), for the torch column
  -h, --help          this text";

/// torch fp32 matmul throughput at one size, as `bench/gpu.sh` measured it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Torch {
    /// GFLOP/s with the matrices already on the GPU.
    pub resident: f64,
    /// GFLOP/s including copying the inputs to the GPU and the product back.
    pub with_copies: f64,
}

/// Options of a benchmark run.
#[derive(Debug, Default)]
pub struct Args {
    /// Small sizes, for any adapter.
    pub quick: bool,
    /// Where to write the table too.
    pub out: Option<PathBuf>,
    /// torch figures by matrix size; `None` when torch was not run.
    pub torch: Option<BTreeMap<usize, Torch>>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the benchmark.
    Run(Args),
    /// Print [`USAGE`].
    Help,
}

/// Parse the arguments (without the program name).
pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Command> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--torch-gflops" => args.torch = Some(parse_torch(&value()?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => bail!("unknown argument {other:?}; see weft-gpu-bench --help"),
        }
    }
    Ok(Command::Run(args))
}

/// `N=RESIDENT:WITH_COPIES,...`; an empty string is no sizes.
fn parse_torch(list: &str) -> Result<BTreeMap<usize, Torch>> {
    let entry = |item: &str| -> Result<(usize, Torch)> {
        let (n, rates) = item
            .split_once('=')
            .context("expected N=RESIDENT:WITH_COPIES")?;
        let (resident, with_copies) = rates
            .split_once(':')
            .context("expected RESIDENT:WITH_COPIES")?;
        let torch = Torch {
            resident: resident.trim().parse()?,
            with_copies: with_copies.trim().parse()?,
        };
        Ok((n.trim().parse()?, torch))
    };
    list.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| entry(item).with_context(|| format!("--torch-gflops: bad entry {item:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args> {
        match parse(args.iter().map(|a| a.to_string()))? {
            Command::Run(args) => Ok(args),
            Command::Help => bail!("help"),
        }
    }

    #[test]
    fn torch_figures_by_size() {
        let args = run(&["--quick", "--torch-gflops", "64=12.5:3.25, 512=100:40"]).unwrap();
        let torch = args.torch.unwrap();
        assert!(args.quick);
        assert_eq!(
            torch[&64],
            Torch {
                resident: 12.5,
                with_copies: 3.25
            }
        );
        assert_eq!(torch[&512].with_copies, 40.0);
        assert!(run(&["--torch-gflops", ""])
            .unwrap()
            .torch
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [&["--torch-gflops", "64=12.5"][..], &["--out"], &["--fast"]] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse(["-h".to_string()].into_iter()),
            Ok(Command::Help)
        ));
    }
}
