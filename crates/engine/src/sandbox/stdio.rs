//! What a step prints: guest stdout and stderr streamed line by line into
//! the host log, and the step's own log records, all sanitised (control
//! characters escaped, long lines cut) and rate-limited. Writing never fails
//! the guest: past the rate, lines are counted and the count is logged.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line forwarded whole; a longer one goes out in pieces this long.
pub const MAX_LINE: usize = 4096;

/// Longest error message of a step the host repeats.
pub const MAX_MESSAGE: usize = 16 << 10;

/// Lines (or log records) a step may send in a burst...
const BURST: f64 = 1000.0;

/// ...and per second after it, per stream.
const PER_SECOND: f64 = 100.0;

/// Lines of stderr kept for error messages.
const TAIL: usize = 3;

/// `text` as one log record: control characters (newlines too) escaped, so
/// a step cannot forge records or drive the terminal, and cut after
/// `max` bytes.
pub fn sanitise(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 16);
    for (at, c) in text.char_indices() {
        if at >= max {
            let _ = write!(out, "... ({} more bytes)", text.len() - at);
            break;
        }
        match c {
            '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A token bucket: [`BURST`] records at once, then [`PER_SECOND`].
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
    /// Records refused since the last [`Bucket::refused`].
    dropped: u64,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            tokens: BURST,
            at: Instant::now(),
            dropped: 0,
        }
    }
}

impl Bucket {
    /// Whether one more record may go out now; counts it if not.
    pub fn admit(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Records refused since the last call, resetting the count.
    pub fn refused(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

/// One guest stream (stdout or stderr) as the host log sees it.
#[derive(Debug, Clone)]
pub struct LogPipe(Arc<Mutex<Lines>>);

#[derive(Debug)]
struct Lines {
    step: Arc<str>,
    stream: &'static str,
    partial: Vec<u8>,
    tail: VecDeque<String>,
    bucket: Bucket,
}

impl LogPipe {
    /// The pipe of `step`'s stream `stream` (`"stdout"` or `"stderr"`).
    pub fn new(step: Arc<str>, stream: &'static str) -> LogPipe {
        LogPipe(Arc::new(Mutex::new(Lines {
            step,
            stream,
            partial: Vec::new(),
            tail: VecDeque::new(),
            bucket: Bucket::default(),
        })))
    }

    fn lines(&self) -> MutexGuard<'_, Lines> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take `bytes` the guest wrote, logging every line they complete.
    pub fn write(&self, bytes: &[u8]) {
        self.lines().write(bytes);
    }

    /// End of a call: log the unfinished line and how many lines the rate
    /// limit dropped.
    pub fn end_call(&self) {
        self.lines().end_call();
    }

    /// The last few non-empty lines written, joined by ` | `.
    pub fn tail(&self) -> String {
        let lines = self.lines();
        lines.tail.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

impl Lines {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let head = &bytes[..room.min(bytes.len())];
            if let Some(end) = head.iter().position(|&b| b == b'\n') {
                self.partial.extend_from_slice(&head[..end]);
                self.emit();
                bytes = &bytes[end + 1..];
            } else {
                self.partial.extend_from_slice(head);
                bytes = &bytes[head.len()..];
                if self.partial.len() == MAX_LINE {
                    self.emit();
                }
            }
        }
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.partial);
        let line = sanitise(text.trim_end_matches('\r'), MAX_LINE);
        self.partial.clear();
        if line.trim().is_empty() {
            return;
        }
        if self.bucket.admit() {
            tracing::info!(step = %self.step, stream = self.stream, "{line}");
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    fn end_call(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
        let dropped = self.bucket.refused();
        if dropped > 0 {
            tracing::warn!(
                step = %self.step,
                stream = self.stream,
                "{dropped} lines not logged: more than {PER_SECOND} lines per second"
            );
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        LogPipe::write(self, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        LogPipe::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(sanitise("a\nb\x1b[31mc\td", 100), "a\\u{a}b\\u{1b}[31mc\td");
        let long = "x".repeat(50);
        assert_eq!(
            sanitise(&long, 10),
            format!("{}... (40 more bytes)", "x".repeat(10))
        );
    }

    #[test]
    fn lines_are_split_cut_and_kept_for_the_tail() {
        let pipe = LogPipe::new("s".into(), "stderr");
        pipe.write(b"one\ntw");
        pipe.write(b"o\n\nthree");
        assert_eq!(pipe.tail(), "one | two");
        pipe.end_call();
        assert_eq!(pipe.tail(), "one | two | three");
        pipe.write(&vec![b'y'; MAX_LINE * 2 + 5]);
        pipe.end_call();
        let lines = pipe.lines();
        assert_eq!(
            lines.tail.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, MAX_LINE, 5]
        );
    }

    #[test]
    fn the_bucket_refuses_past_the_burst_and_counts() {
        let mut bucket = Bucket::default();
        let admitted = (0..BURST as usize + 50).filter(|_| bucket.admit()).count();
        assert!(
            admitted >= BURST as usize && admitted < BURST as usize + 50,
            "{admitted}"
        );
        assert_eq!(bucket.refused(), (BURST as usize + 50 - admitted) as u64);
        assert_eq!(bucket.refused(), 0);
    }
}
