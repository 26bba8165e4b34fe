//! `whistle route --policy BUNDLE [--events FILE|-]`
//!
//! Lines are read in chunks. Parsing and validation, and writing decisions
//! out as JSON, do not depend on other events and run on every core;
//! deciding runs in input order on one thread, because each event sees the
//! earlier ones for `repeats`.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use clap::Args;
use rayon::prelude::*;
use serde_json::json;
use whistle_engine::Policy;
use whistle_engine::event::{Event, EventError};
use whistle_engine::router::{Router, prepare};

use super::jsonl::{Line, Lines};
use super::{CANNOT_RUN, FAILED, OK};

/// Lines per chunk: large enough to keep both cores busy, small enough to
/// keep memory flat on endless input.
const CHUNK: usize = 8192;

/// Arguments of `whistle route`.
#[derive(Args)]
pub struct RouteArgs {
    /// The policy bundle.
    #[arg(long)]
    pub policy: PathBuf,
    /// JSON-lines events; `-` (the default) reads standard input.
    #[arg(long, default_value = "-")]
    pub events: String,
}

/// Decides every line; a bad line becomes `{"line": N, "error": "..."}` and
/// makes the exit code 1. Blank lines are skipped (but counted).
pub fn run(a: &RouteArgs) -> u8 {
    let c = match super::load_valid(&a.policy, "no event was routed", CANNOT_RUN) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(policy) = &c.policy else {
        return CANNOT_RUN;
    };
    let mut lines = match super::jsonl::open(&a.events) {
        Ok(l) => l,
        Err(e) => {
            say!("error: {e}");
            return CANNOT_RUN;
        }
    };
    match route_stream(policy, &mut lines, std::io::stdout().lock()) {
        Ok(0) => OK,
        Ok(_) => FAILED,
        // A line too long names its own line.
        Err(Failure::Read(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
            say!("error: `{}`: {e}", super::jsonl::display(&a.events));
            CANNOT_RUN
        }
        Err(Failure::Read(e)) => {
            say!(
                "error: cannot read `{}` after line {}: {e}",
                super::jsonl::display(&a.events),
                lines.lines_read()
            );
            CANNOT_RUN
        }
        // A closed stdout (`| head`) is not an error worth a message.
        Err(Failure::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => FAILED,
        Err(Failure::Write(e)) => {
            say!("error: cannot write the decisions: {e}");
            CANNOT_RUN
        }
    }
}

/// Why routing stopped before the end of its input.
#[derive(Debug)]
pub enum Failure {
    /// The input could not be read.
    Read(std::io::Error),
    /// The output could not be written.
    Write(std::io::Error),
}

/// Routes a stream; returns how many lines were bad.
///
/// Three stages overlap: this thread reads chunks and writes decisions
/// out (the reader and the writer, stdin and stdout locks, stay on the
/// thread that holds them); a worker parses chunk N+1 on every core while
/// it decides chunk N in order and renders it on every core.
pub fn route_stream(
    policy: &Policy,
    input: &mut Lines<impl BufRead>,
    out: impl Write,
) -> Result<u64, Failure> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut bad = 0u64;
    // A read error is said after the decisions of every line before it.
    let mut read_error = None;
    std::thread::scope(|scope| -> Result<(), Failure> {
        let (to_worker, chunks) = sync_channel::<Vec<Line>>(2);
        let (to_writer, rendered) = sync_channel::<(Vec<Vec<u8>>, u64)>(2);
        scope.spawn(move || work(policy, &chunks, &to_writer));
        let mut write = |(lines, errors): (Vec<Vec<u8>>, u64)| -> Result<(), Failure> {
            bad += errors;
            lines
                .iter()
                .try_for_each(|l| out.write_all(l))
                .map_err(Failure::Write)
        };
        loop {
            let mut chunk = match input.chunk(CHUNK) {
                Ok(c) => c,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            };
            if chunk.is_empty() {
                break;
            }
            // Never block on a full queue to the worker while its queue to
            // here is full too: write out what it finished, then retry.
            loop {
                match to_worker.try_send(chunk) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) => {
                        chunk = back;
                        match rendered.recv() {
                            Ok(r) => write(r)?,
                            // The worker stopped: nothing more can be routed.
                            Err(_) => return Ok(()),
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => return Ok(()),
                }
            }
            while let Ok(r) = rendered.try_recv() {
                write(r)?;
            }
        }
        drop(to_worker);
        for r in rendered {
            write(r)?;
        }
        Ok(())
    })?;
    out.flush().map_err(Failure::Write)?;
    match read_error {
        Some(e) => Err(Failure::Read(e)),
        None => Ok(bad),
    }
}

/// The worker: parses the next chunk while it decides and renders this one.
fn work(policy: &Policy, chunks: &Receiver<Vec<Line>>, rendered: &SyncSender<(Vec<Vec<u8>>, u64)>) {
    let mut router = Router::new(policy);
    let Ok(mut cur) = chunks.recv() else {
        return;
    };
    let mut parsed = parse_chunk(policy, &cur);
    loop {
        let next = chunks.recv().unwrap_or_default();
        let (next_parsed, done) = rayon::join(
            || parse_chunk(policy, &next),
            || {
                let decided: Vec<_> = std::mem::take(&mut parsed)
                    .into_iter()
                    .map(|r| r.map(|ev| router.decide(&ev)))
                    .collect();
                let errors = decided.iter().filter(|r| r.is_err()).count() as u64;
                (render_chunk(policy, &cur, &decided), errors)
            },
        );
        if rendered.send(done).is_err() || next.is_empty() {
            return;
        }
        cur = next;
        parsed = next_parsed;
    }
}

fn parse_chunk(policy: &Policy, chunk: &[Line]) -> Vec<Result<Event, EventError>> {
    chunk.par_iter().map(|l| parse_line(policy, l)).collect()
}

fn render_chunk(
    policy: &Policy,
    chunk: &[Line],
    decided: &[Result<whistle_engine::Decision, EventError>],
) -> Vec<Vec<u8>> {
    decided
        .par_iter()
        .zip(chunk.par_iter())
        .map(|(r, l)| {
            let mut buf = Vec::with_capacity(1536);
            let written = match r {
                Ok(d) => d.write_json(policy, &mut buf),
                Err(e) => serde_json::to_writer(&mut buf, &json!({"line": l.number, "error": e.0}))
                    .map_err(Into::into),
            };
            if written.is_err() {
                buf.clear();
            }
            buf.push(b'\n');
            buf
        })
        .collect()
}

fn parse_line(policy: &Policy, line: &Line) -> Result<Event, EventError> {
    prepare(policy, line.text()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn policy() -> Policy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
        let (_, c) = crate::cli::load(&path).unwrap();
        c.policy.expect("the shipped policy compiles")
    }

    /// More lines than three chunks, every 1000th one bad: one output line
    /// per input line, in input order, the bad ones counted.
    #[test]
    fn many_chunks_come_out_in_order() {
        let p = policy();
        let n = 3 * CHUNK + 17;
        let mut input = String::new();
        for i in 0..n {
            if i % 1000 == 999 {
                input.push_str("{not json\n");
            } else {
                input.push_str(&format!(
                    r#"{{"id":"E{i}","category":"noise","grid":"G010101","reported_at":"2026-06-03T10:00:00+08:00"}}"#
                ));
                input.push('\n');
            }
        }
        let mut out = Vec::new();
        let bad = route_stream(&p, &mut Lines::new(input.as_bytes()), &mut out).unwrap();
        assert_eq!(bad, (n / 1000) as u64);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), n);
        for (i, l) in lines.iter().enumerate() {
            if i % 1000 == 999 {
                assert_eq!(l["line"], i + 1, "bad line {i}");
            } else {
                assert_eq!(l["event_id"], format!("E{i}"), "line {i}");
            }
        }
    }

    /// A writer that fails (a closed pipe) stops routing with its error
    /// instead of hanging on the worker.
    #[test]
    fn a_failing_writer_stops_without_hanging() {
        struct Closed(usize);
        impl Write for Closed {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::ErrorKind::BrokenPipe.into());
                }
                self.0 -= 1;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let p = policy();
        let line = r#"{"id":"E","category":"noise","grid":"G010101","reported_at":"2026-06-03T10:00:00+08:00"}"#;
        let input = format!("{line}\n").repeat(10 * CHUNK);
        let err = route_stream(&p, &mut Lines::new(input.as_bytes()), Closed(3)).unwrap_err();
        assert!(
            matches!(&err, Failure::Write(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{err:?}"
        );
    }
}
