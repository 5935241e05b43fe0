//! What a failed call into a step was, in terms a person can act on: the
//! step's own error, or a trap classified by the limit it hit.

use std::time::Duration;

use wasmtime::{Store, Trap};

use super::stdio::{sanitise, MAX_MESSAGE};
use super::{HostMemoryLimit, KernelDeadline, Limits, OutputLimit, StepCtx};

/// Why a call into a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// The step rejected its config.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The step rejected its input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The step reported an internal error.
    #[error("internal error: {0}")]
    Internal(String),
    /// The call ran past `limits.timeoutSeconds`.
    #[error("ran longer than its limit of {0:?} (limits.timeoutSeconds) and was stopped")]
    Timeout(Duration),
    /// The call ran out of fuel.
    #[error("used up its fuel of {0} (limits.fuel) and was stopped")]
    Fuel(u64),
    /// The step's memory would have grown past its cap.
    #[error("tried to grow its memory past {0} bytes (limits.memory) and was stopped")]
    Memory(u64),
    /// The guest's stack overflowed.
    #[error("overflowed its stack (runaway recursion) and was stopped")]
    Stack,
    /// The step made or held more host columns than allowed.
    #[error("{0}")]
    Output(String),
    /// The guest panicked or hit `unreachable`.
    #[error("crashed ({trap}){}", if .stderr.is_empty() { String::new() } else { format!("; it printed: {}", .stderr) })]
    Crash {
        /// The trap.
        trap: String,
        /// The tail of the guest's stderr.
        stderr: String,
    },
    /// A host-side failure while calling the step.
    #[error("host error: {0}")]
    Host(String),
}

/// A failed call, naming the step, the call and the rows it was given.
#[derive(Debug, Clone, thiserror::Error)]
#[error("step {step:?} failed in {call}: {failure}{}", rows_of(.rows))]
pub struct StepFailure {
    /// Step name.
    pub step: String,
    /// The call (`transform`, `fit`, ...).
    pub call: &'static str,
    /// What went wrong.
    pub failure: Failure,
    /// The rows of the pass's input the call was given (0-based, end
    /// exclusive), when it was given a batch of them.
    pub rows: Option<std::ops::Range<u64>>,
}

fn rows_of(rows: &Option<std::ops::Range<u64>>) -> String {
    match rows {
        Some(r) if r.is_empty() => " (on an empty batch)".into(),
        Some(r) => format!(" (on rows {}-{} of its input)", r.start + 1, r.end),
        None => String::new(),
    }
}

/// What a crashed guest printed, without what only helps outside the
/// sandbox: Rust's advice to set `RUST_BACKTRACE` (a step sees no
/// environment) and the nameless thread of its panic line.
fn crash_text(stderr: &str) -> String {
    let mut text = String::new();
    for line in stderr
        .split(" | ")
        .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE=1`"))
    {
        let line = line.strip_prefix("thread '<unnamed>' (1) ").unwrap_or(line);
        let panic_line = text
            .rsplit(" | ")
            .next()
            .is_some_and(|l| l.starts_with("panicked at "));
        let sep = if text.is_empty() {
            ""
        } else if panic_line && text.ends_with(':') {
            " "
        } else {
            " | "
        };
        text.push_str(sep);
        text.push_str(line);
    }
    text
}

/// A message the guest wrote, as the host repeats it: one line, escaped, cut.
pub(super) fn guest_text(message: &str) -> String {
    sanitise(message, MAX_MESSAGE)
}

/// A host-side limit the step went past (`maxOutput`, `hostMemory`), if
/// `error` is one.
fn host_limit(error: &wasmtime::Error) -> Option<Failure> {
    if let Some(limit) = error.downcast_ref::<OutputLimit>() {
        return Some(Failure::Output(limit.to_string()));
    }
    let limit = error.downcast_ref::<HostMemoryLimit>()?;
    Some(Failure::Output(limit.to_string()))
}

/// Why the host could not lend a step its input: past a host limit, or a
/// failure of the host's own.
pub(super) fn lend_failure(error: wasmtime::Error) -> Failure {
    host_limit(&error).unwrap_or_else(|| Failure::Host(error.to_string()))
}

/// Turn a trap into a failure a person can act on.
pub(super) fn classify(
    error: wasmtime::Error,
    limits: &Limits,
    store: &mut Store<StepCtx>,
) -> Failure {
    if error.downcast_ref::<KernelDeadline>().is_some() {
        return Failure::Timeout(limits.timeout);
    }
    if let Some(failure) = host_limit(&error) {
        return failure;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return Failure::Timeout(limits.timeout),
        Some(Trap::OutOfFuel) => return Failure::Fuel(limits.fuel.unwrap_or_default()),
        Some(Trap::StackOverflow) => return Failure::Stack,
        Some(Trap::AllocationTooLarge) => return Failure::Memory(limits.memory_bytes),
        _ => {}
    }
    let text = format!("{error:#}");
    if text.contains("forcing trap when growing memory") || text.contains("memory size") {
        return Failure::Memory(limits.memory_bytes);
    }
    let trap = error.downcast_ref::<Trap>().map_or_else(
        || text.lines().next().unwrap_or_default().to_owned(),
        |t| t.to_string(),
    );
    Failure::Crash {
        trap,
        stderr: crash_text(&store.data().stderr_tail()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_reads_as_one_line_without_advice_for_outside_the_sandbox() {
        let printed = "before | thread '<unnamed>' (1) panicked at src/lib.rs:9:5: | boom | note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
        assert_eq!(
            super::crash_text(printed),
            "before | panicked at src/lib.rs:9:5: boom"
        );
    }
}
