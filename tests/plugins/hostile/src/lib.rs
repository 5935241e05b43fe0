//! A plugin written against the raw WIT bindings (no SDK) whose config names
//! one attack on the host. With `"none"` it passes batches through, which
//! also makes it the no-op step of the benchmarks.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use std::cell::{Cell, RefCell};

use exports::weft::step::step::{Guest, Kind, Metadata, Metric};
use weft::step::compute::{self, UnknownPolicy};
use weft::step::types::{Batch, Column, Scalar, StepError};

struct Hostile;

thread_local! {
    static ATTACK: RefCell<String> = const { RefCell::new(String::new()) };
    static SERIES: Cell<u64> = const { Cell::new(0) };
    static N: Cell<u64> = const { Cell::new(0) };
}

fn attack() -> String {
    ATTACK.with(|a| a.borrow().clone())
}

/// The number after `"key":` in the config JSON (0 when absent).
fn number(config: &str, key: &str) -> u64 {
    let Some(start) = config.find(&format!("\"{key}\"")) else {
        return 0;
    };
    let rest = config[start + key.len() + 2..].trim_start_matches([':', ' ']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// Emit `n` distinct series (`flood{i="0"}` ...), the same ones every call.
fn flood(n: u64) {
    for i in 0..n {
        weft::step::metrics::emit("flood", i as f64, &[("i".into(), i.to_string())]);
    }
}

/// Print `n` lines to stdout and to stderr, and log one record that tries
/// to forge another with a newline and colour it with an escape sequence.
fn chat(n: u64) {
    for i in 0..n {
        println!("out line {i}");
        eprintln!("err line {i}");
    }
    weft::step::log::log(
        weft::step::log::Level::Info,
        "real record\nERROR forged record \x1b[31mred",
    );
}

/// Keep (leak) a batch holding an `n`-value host column made this call;
/// the column's own handle is dropped.
fn hoard(data: &Batch, n: u64) -> Result<(), StepError> {
    let column = Column::from_f64s(&vec![1.0; n as usize], None);
    let kept = Batch::from_columns(&["hoard".into()], &[&column])?;
    std::mem::forget(kept);
    let _ = data;
    Ok(())
}

/// Ask the host for `n` outputs of a kernel over the first column.
fn bomb(data: &Batch, kernel: &str, n: u64) -> Result<(), StepError> {
    let name = data.column_names().into_iter().next().unwrap_or_default();
    let Some(column) = data.column(&name) else {
        return Ok(());
    };
    let made = match kernel {
        "one-hot" => {
            let categories: Vec<_> = (0..n).map(|i| Scalar::Float(i as f64)).collect();
            compute::one_hot(&column, &categories, UnknownPolicy::Ignore)?
        }
        _ => compute::matmul(&[&column], &vec![1.0; n as usize], n as u32)?,
    };
    std::hint::black_box(made);
    Ok(())
}

fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let pad = [n; 64];
    recurse(n - 1) + std::hint::black_box(pad)[(n % 64) as usize]
}

/// Do the configured bad thing; `Ok` carries what the attempt observed.
fn strike(data: &Batch) -> Result<Batch, StepError> {
    let found = |what: String| Err(StepError::Internal(format!("ESCAPED: {what}")));
    match attack().as_str() {
        "none" => {}
        "read-file" => {
            if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
                return found(format!("read /etc/passwd ({} bytes)", text.len()));
            }
        }
        "list-root" => {
            if let Ok(entries) = std::fs::read_dir("/") {
                return found(format!("listed / ({} entries)", entries.count()));
            }
        }
        "write-file" => {
            if std::fs::write("/granted/pwned.txt", b"x").is_ok() {
                return found("wrote into a read-only grant".into());
            }
            let text = std::fs::read_to_string("/granted/secret.txt")
                .map_err(|e| StepError::InvalidInput(format!("cannot read grant: {e}")))?;
            return Err(StepError::InvalidInput(format!(
                "grant readable: {}",
                text.trim()
            )));
        }
        "socket" => {
            if std::net::TcpStream::connect("127.0.0.1:9").is_ok() {
                return found("opened a TCP connection".into());
            }
            if std::net::UdpSocket::bind("127.0.0.1:0")
                .is_ok_and(|s| s.send_to(b"x", "127.0.0.1:9").is_ok())
            {
                return found("sent a UDP datagram".into());
            }
        }
        "env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            let args: Vec<String> = std::env::args().collect();
            if !vars.is_empty() || !args.is_empty() {
                return found(format!("saw env {vars:?} args {args:?}"));
            }
        }
        "loop" => loop {
            std::hint::black_box(0);
        },
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recursion" => {
            std::hint::black_box(recurse(u64::MAX));
        }
        "oversize" => loop {
            let big = Column::from_f64s(&vec![1.0; 1 << 20], None);
            std::mem::forget(big);
        },
        "panic" => panic!("hostile step panicked on purpose"),
        // `"series": N` distinct metric series per call.
        "metrics-flood" => flood(SERIES.get()),
        // `"n": N` lines per call on each stream, and a forging log record.
        "chatty" => chat(N.get()),
        // Keep a batch of an `"n"`-value host column from every call.
        "hoard" => hoard(data, N.get())?,
        // A kernel with `"n"` outputs per row.
        "one-hot-bomb" => bomb(data, "one-hot", N.get())?,
        "matmul-bomb" => bomb(data, "matmul", N.get())?,
        // Per batch: trap only when the batch has a column `boom`.
        "panic-on-boom" if data.column_names().iter().any(|n| n == "boom") => {
            panic!("hostile step found a boom column")
        }
        "panic-on-boom" => {}
        // Per batch: spin forever only when the batch has a column `boom`.
        "loop-on-boom" if data.column_names().iter().any(|n| n == "boom") => loop {
            std::hint::black_box(0);
        },
        "loop-on-boom" => {}
        // Take a while (about 400 ms of wall time) over each batch.
        "slow" => {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(400) {
                std::hint::black_box(0);
            }
        }
        other => {
            return Err(StepError::InvalidConfig(format!(
                "unknown attack {other:?}"
            )))
        }
    }
    let names = data.column_names();
    let columns: Vec<Column> = names.iter().filter_map(|n| data.column(n)).collect();
    let borrowed: Vec<&Column> = columns.iter().collect();
    Batch::from_columns(&names, &borrowed)
}

impl Guest for Hostile {
    fn describe() -> Metadata {
        Metadata {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Transform,
            description: "Misbehaves on request (sandbox tests); passes data through with attack \"none\"".into(),
            config_schema: r#"{"type":"object","properties":{"attack":{"type":"string"},"series":{"type":"integer","minimum":0},"n":{"type":"integer","minimum":0}},"required":["attack"]}"#.into(),
            stateful: false,
        }
    }
    fn configure(config: String) -> Result<(), StepError> {
        let start = config
            .find("\"attack\"")
            .ok_or_else(|| StepError::InvalidConfig("attack is required".into()))?;
        let value = config[start + 8..]
            .split('"')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        ATTACK.with(|a| *a.borrow_mut() = value);
        SERIES.set(number(&config, "series"));
        N.set(number(&config, "n"));
        Ok(())
    }
    fn fit(_: &Batch) -> Result<(), StepError> {
        Ok(())
    }
    fn state() -> Result<Vec<u8>, StepError> {
        Ok(Vec::new())
    }
    fn load_state(_: Vec<u8>) -> Result<(), StepError> {
        Ok(())
    }
    fn merge(_: Vec<Vec<u8>>) -> Result<Vec<u8>, StepError> {
        Ok(Vec::new())
    }
    fn transform(data: &Batch) -> Result<Batch, StepError> {
        strike(data)
    }
    fn update(_: &Batch) -> Result<(), StepError> {
        Err(StepError::Internal("not an evaluate step".into()))
    }
    fn report() -> Result<Vec<Metric>, StepError> {
        Err(StepError::Internal("not an evaluate step".into()))
    }
}

export!(Hostile);
