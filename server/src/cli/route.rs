//! `whistle route --policy BUNDLE [--events FILE|-]`
//!
//! Lines are read in chunks. Parsing and validation, and writing decisions
//! out as JSON, do not depend on other events and run on every core;
//! deciding runs in input order on one thread, because each event sees the
//! earlier ones for `repeats`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;
use serde_json::json;
use whistle_engine::Policy;
use whistle_engine::event::{Event, EventError};
use whistle_engine::router::{Router, prepare};

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
    let input: Box<dyn Read> = if a.events == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match File::open(&a.events) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", a.events);
                return CANNOT_RUN;
            }
        }
    };
    match route_stream(
        policy,
        BufReader::with_capacity(1 << 16, input),
        std::io::stdout().lock(),
    ) {
        Ok(0) => OK,
        Ok(_) => FAILED,
        Err(e) => {
            // A closed stdout (`| head`) is not an error worth a message.
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: {e}");
            }
            FAILED
        }
    }
}

/// One input line, read.
struct Line {
    number: u64,
    bytes: Vec<u8>,
}

/// Routes a stream; returns how many lines were bad.
pub fn route_stream(
    policy: &Policy,
    mut input: impl BufRead,
    out: impl Write,
) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut router = Router::new(policy);
    let mut line_no = 0u64;
    let mut bad = 0u64;
    let mut cur = read_chunk(&mut input, &mut line_no)?;
    let mut parsed = parse_chunk(policy, &cur);
    while !cur.is_empty() {
        let next = read_chunk(&mut input, &mut line_no)?;
        // While one core decides and renders this chunk, the other parses
        // the next one: the two halves overlap instead of adding up.
        let (next_parsed, (rendered, errors)) = rayon::join(
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
        bad += errors;
        for r in &rendered {
            out.write_all(r)?;
        }
        cur = next;
        parsed = next_parsed;
    }
    out.flush()?;
    Ok(bad)
}

fn read_chunk(input: &mut impl BufRead, line_no: &mut u64) -> std::io::Result<Vec<Line>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        let mut bytes = Vec::with_capacity(256);
        if input.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        *line_no += 1;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        chunk.push(Line {
            number: *line_no,
            bytes,
        });
    }
    Ok(chunk)
}

fn parse_chunk(policy: &Policy, chunk: &[Line]) -> Vec<Result<Event, EventError>> {
    chunk
        .par_iter()
        .map(|l| parse_line(policy, &l.bytes))
        .collect()
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

fn parse_line(policy: &Policy, bytes: &[u8]) -> Result<Event, EventError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| EventError(format!("not valid UTF-8 at byte {}", e.valid_up_to())))?;
    prepare(policy, text)
}
