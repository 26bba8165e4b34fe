//! `whistle route --policy BUNDLE [--events FILE|-]`

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use whistle_engine::router::Router;

use super::{CANNOT_RUN, FAILED, OK};

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
    let (b, c) = match super::load(&a.policy) {
        Ok(x) => x,
        Err(msg) => {
            eprintln!("error: {msg}");
            return CANNOT_RUN;
        }
    };
    let Some(policy) = &c.policy else {
        super::print_diagnostics(&b, &c.diagnostics);
        eprintln!("error: the policy has errors; no event was routed");
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

/// Routes a stream; returns how many lines were bad.
pub fn route_stream(
    policy: &whistle_engine::Policy,
    mut input: impl BufRead,
    out: impl Write,
) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut router = Router::new(policy);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut bad = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let result = match std::str::from_utf8(&buf) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => router.route_line(text).map_err(|e| e.0),
            Err(e) => Err(format!("not valid UTF-8 at byte {}", e.valid_up_to())),
        };
        match result {
            Ok(d) => {
                serde_json::to_writer(&mut out, &d.view(policy))?;
                out.write_all(b"\n")?;
            }
            Err(msg) => {
                bad += 1;
                serde_json::to_writer(&mut out, &json!({"line": line_no, "error": msg}))?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(bad)
}
