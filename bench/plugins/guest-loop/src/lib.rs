//! A benchmark step written against the raw WIT bindings that does its math
//! in guest code instead of asking the host's `compute` kernels:
//!
//! - `{"mode": "scale", "columns": [...]}`: StandardScaler (ddof 0). `fit`
//!   copies each column into the guest (`to-f32s`) and accumulates its
//!   moments in f64; `transform` standardises in a guest loop over f32 and
//!   hands new columns back (`from-f32s`, `with-columns`). Nulls read as NaN
//!   and stay NaN.
//! - `{"mode": "copy"}`: copies every column of the batch into the guest and
//!   back (`to-f64s`, `from-f64s`) unchanged: the cost of a step that does
//!   not pass columns through by handle.

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

mod math;

use std::cell::RefCell;

use exports::weft::step::step::{Guest, Kind, Metadata, Metric};
use math::Moments;
use weft::step::types::{Batch, Column, StepError};

/// What the step does.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Standard-scale the named columns.
    #[default]
    Scale,
    /// Copy every column through the guest.
    Copy,
}

/// The config document.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    #[serde(default)]
    columns: Vec<String>,
}

/// Config and fitted moments (one per configured column).
#[derive(Default)]
struct State {
    config: Config,
    moments: Vec<Moments>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["mode"],
"properties":{"mode":{"enum":["scale","copy"]},"columns":{"type":"array","items":{"type":"string"}}}}"#;

/// Bytes per encoded `Moments`: count, mean, m2.
const MOMENTS_BYTES: usize = 24;

fn encode(moments: &[Moments]) -> Vec<u8> {
    let mut out = Vec::with_capacity(moments.len() * MOMENTS_BYTES);
    for m in moments {
        out.extend_from_slice(&m.count.to_le_bytes());
        out.extend_from_slice(&m.mean.to_le_bytes());
        out.extend_from_slice(&m.m2.to_le_bytes());
    }
    out
}

fn decode(bytes: &[u8], columns: usize) -> Result<Vec<Moments>, StepError> {
    if bytes.len() != columns * MOMENTS_BYTES {
        return Err(StepError::InvalidInput(format!(
            "state has {} bytes, expected {} for {columns} columns",
            bytes.len(),
            columns * MOMENTS_BYTES
        )));
    }
    let word = |c: &[u8], i: usize| <[u8; 8]>::try_from(&c[i * 8..i * 8 + 8]).expect("8 bytes");
    Ok(bytes
        .chunks_exact(MOMENTS_BYTES)
        .map(|c| Moments {
            count: u64::from_le_bytes(word(c, 0)),
            mean: f64::from_le_bytes(word(c, 1)),
            m2: f64::from_le_bytes(word(c, 2)),
        })
        .collect())
}

/// The named column as f32 values in guest memory.
fn read_f32s(data: &Batch, name: &str) -> Result<Vec<f32>, StepError> {
    data.column(name)
        .ok_or_else(|| StepError::InvalidInput(format!("column {name:?} is not in the batch")))?
        .to_f32s()
}

fn fit_batch(data: &Batch) -> Result<(), StepError> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.config.mode == Mode::Copy {
            return Ok(());
        }
        let columns = s.config.columns.clone();
        for (i, name) in columns.iter().enumerate() {
            let values = read_f32s(data, name)?;
            s.moments[i] = s.moments[i].merge(Moments::of(&values));
        }
        Ok(())
    })
}

fn scale(data: &Batch, columns: &[String], moments: &[Moments]) -> Result<Batch, StepError> {
    let mut made = Vec::with_capacity(columns.len());
    for (name, m) in columns.iter().zip(moments) {
        let values = read_f32s(data, name)?;
        made.push(Column::from_f32s(
            &math::standardize(&values, m.mean, m.scale()),
            None,
        ));
    }
    let borrowed: Vec<&Column> = made.iter().collect();
    data.with_columns(columns, &borrowed)
}

fn copy(data: &Batch) -> Result<Batch, StepError> {
    let names = data.column_names();
    let mut made = Vec::with_capacity(names.len());
    for name in &names {
        let column = data.column(name).expect("listed by column-names");
        let values = column.to_f64s()?;
        made.push(Column::from_f64s(&values, column.validity().as_deref()));
    }
    let borrowed: Vec<&Column> = made.iter().collect();
    Batch::from_columns(&names, &borrowed)
}

struct GuestLoop;

impl Guest for GuestLoop {
    fn describe() -> Metadata {
        Metadata {
            name: "guest-loop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Transform,
            description: "Benchmark step: standard scaling (or a copy of every column) computed in guest code".into(),
            config_schema: SCHEMA.into(),
            stateful: true,
        }
    }
    fn configure(config: String) -> Result<(), StepError> {
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| StepError::InvalidConfig(format!("config: {e}")))?;
        STATE.with(|s| {
            *s.borrow_mut() = State {
                moments: vec![Moments::default(); config.columns.len()],
                config,
            }
        });
        Ok(())
    }
    fn fit(data: &Batch) -> Result<(), StepError> {
        fit_batch(data)
    }
    fn state() -> Result<Vec<u8>, StepError> {
        Ok(STATE.with(|s| encode(&s.borrow().moments)))
    }
    fn load_state(state: Vec<u8>) -> Result<(), StepError> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.moments = decode(&state, s.config.columns.len())?;
            Ok(())
        })
    }
    fn merge(states: Vec<Vec<u8>>) -> Result<Vec<u8>, StepError> {
        let n = STATE.with(|s| s.borrow().config.columns.len());
        let mut total = vec![Moments::default(); n];
        for state in &states {
            for (t, m) in total.iter_mut().zip(decode(state, n)?) {
                *t = t.merge(m);
            }
        }
        Ok(encode(&total))
    }
    fn transform(data: &Batch) -> Result<Batch, StepError> {
        STATE.with(|s| {
            let s = s.borrow();
            match s.config.mode {
                Mode::Scale => scale(data, &s.config.columns, &s.moments),
                Mode::Copy => copy(data),
            }
        })
    }
    fn update(_: &Batch) -> Result<(), StepError> {
        Err(StepError::Internal("not an evaluate step".into()))
    }
    fn report() -> Result<Vec<Metric>, StepError> {
        Err(StepError::Internal("not an evaluate step".into()))
    }
}

export!(GuestLoop);
