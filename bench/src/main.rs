//! `weft-bench`: measures weft's overheads and throughput in one go and
//! prints a Markdown table (also written to `--out FILE`).
//!
//! Build what it needs and run it with `./bench/run.sh`. `--quick` uses
//! small sizes, to check that everything works; `--only SECTION` runs the
//! sections whose name contains SECTION (`overheads`, `scale`, `wide`, `RSS`).

mod ctx;
mod data;
#[path = "../plugins/guest-loop/src/math.rs"]
mod math;
mod overhead;
mod python;
mod rss;
mod scale;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::ctx::{Ctx, Sizes};
use crate::table::Row;

/// Command-line options.
struct Options {
    out: Option<PathBuf>,
    quick: bool,
    only: Option<String>,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut options = Options {
            out: None,
            quick: false,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--out" => options.out = args.next().map(PathBuf::from),
                "--quick" => options.quick = true,
                "--only" => options.only = args.next(),
                "-h" | "--help" => {
                    println!("usage: weft-bench [--out FILE] [--quick] [--only SECTION]");
                    std::process::exit(0);
                }
                other => {
                    bail!("unknown argument {other:?} (usage: weft-bench [--out FILE] [--quick] [--only SECTION])")
                }
            }
        }
        Ok(options)
    }
}

type Section = fn(&Ctx) -> Result<Vec<Row>>;

const SECTIONS: [(&str, Section); 5] = [
    ("step overheads", overhead::hops),
    ("scale", scale::run),
    ("wide batch", overhead::wide),
    ("peak RSS", rss::run),
    ("python step", python::run),
];

fn main() -> Result<()> {
    let options = Options::parse()?;
    let sizes = if options.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent");
    let ctx = Ctx::new(root, sizes)?;
    let mut rows = Vec::new();
    let mut failed = 0;
    let chosen = |name: &str| options.only.as_deref().is_none_or(|o| name.contains(o));
    for (name, section) in SECTIONS.into_iter().filter(|(n, _)| chosen(n)) {
        eprintln!("weft-bench: {name}...");
        match section(&ctx) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                failed += 1;
                eprintln!("weft-bench: {name} failed: {e:#}");
                rows.push(Row::failed(name, &e));
            }
        }
    }
    let text = table::render(&rows);
    print!("{text}");
    if let Some(out) = &options.out {
        std::fs::write(out, &text)?;
    }
    if failed > 0 {
        bail!("{failed} benchmark section(s) failed");
    }
    Ok(())
}
