//! `whistle diff OLD NEW [--replay EVENTS.jsonl] [--format text|json] [--color auto|always|never]`
//!
//! The text diff of the two bundles, the changes in meaning in words, and,
//! with `--replay`, the same events decided under both policies. Exit codes
//! follow diff(1): 0 the bundles are the same, 1 they differ, 2 the command
//! could not run (an unreadable bundle or events file, a policy with errors).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use whistle_engine::Policy;
use whistle_engine::diff::{self, Impact, ImpactBuilder, ImpactOptions};
use whistle_engine::event::{Event, EventError, parse_event};
use whistle_grammar::bundle::Bundle;

use super::jsonl::Line;
use super::{CANNOT_RUN, FAILED, OK};

/// Lines parsed and decided per chunk.
const CHUNK: usize = 8192;
/// Bad event lines reported one by one; the rest are only counted.
const BAD_SHOWN: usize = 5;

/// Arguments of `whistle diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The bundle in force (directory or single `.whistle` file).
    pub old: PathBuf,
    /// The changed bundle.
    pub new: PathBuf,
    /// Decide these events (JSON lines; `-` reads standard input) under both
    /// policies and report what would be decided differently.
    #[arg(long, value_name = "EVENTS.jsonl")]
    pub replay: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Colour the text diff.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorWhen,
    /// Examples per category and changed field in the impact report.
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
}

/// How to print the result.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: diff, words, tables.
    Text,
    /// One JSON document on stdout, for tools.
    Json,
}

/// When to colour.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A bad line of the events file.
#[derive(Debug, Serialize)]
struct BadLine {
    line: u64,
    error: String,
}

/// What reading the events file found.
#[derive(Debug, Default, Serialize)]
struct Replay {
    file: String,
    lines: u64,
    events: u64,
    bad_lines: u64,
    bad: Vec<BadLine>,
}

/// Loads and compiles a bundle; prints why when it cannot be used, and
/// returns the same as data for `--format json`.
fn load(path: &Path) -> Result<(Bundle, Policy), Value> {
    let (b, c) = match super::load(path) {
        Ok(x) => x,
        Err(msg) => {
            say!("error: {msg}");
            return Err(json!({"path": path.display().to_string(), "message": msg}));
        }
    };
    match c.policy {
        Some(p) => Ok((b, p)),
        None => {
            super::print_diagnostics(&b, &c.diagnostics);
            let msg = format!("`{}` has errors; nothing was compared", path.display());
            say!("error: {msg}");
            let errors: Vec<_> = c.diagnostics.into_iter().filter(|d| d.is_error()).collect();
            Err(json!({
                "path": path.display().to_string(),
                "message": msg,
                "diagnostics": whistle_grammar::diag::to_json(&errors, &b.sources),
            }))
        }
    }
}

/// Runs the command.
pub fn run(a: &DiffArgs) -> u8 {
    // A tool asking for JSON gets JSON on a failure too (the text goes to
    // standard error as always).
    let failed = |errors: Vec<Value>| {
        if matches!(a.format, Format::Json) {
            put!("{}", json!({ "errors": errors }));
        }
        CANNOT_RUN
    };
    // Both bundles are read before giving up, so both sets of errors show.
    let (ob, op, nb, np) = match (load(&a.old), load(&a.new)) {
        (Ok((ob, op)), Ok((nb, np))) => (ob, op, nb, np),
        (old, new) => return failed([old.err(), new.err()].into_iter().flatten().collect()),
    };
    let text = diff::text(&ob, &nb);
    let semantic = diff::semantic_with_sources(&op, &np, &ob, &nb);
    let opts = ImpactOptions {
        examples: a.examples,
    };
    let replayed = match &a.replay {
        None => None,
        Some(file) => match replay(&op, &np, file, &opts) {
            Ok(r) => Some(r),
            Err(msg) => {
                say!("error: {msg}");
                let path = file.clone();
                return failed(vec![json!({ "path": path, "message": msg })]);
            }
        },
    };
    let differ = !text.is_empty() || !semantic.is_empty();
    if let Some((_, r)) = &replayed {
        for b in &r.bad {
            say!("warning: {}:{}: {}", r.file, b.line, b.error);
        }
        if r.bad_lines > 0 {
            say!("warning: {} bad line(s) of {} skipped", r.bad_lines, r.file);
        }
    }
    match a.format {
        Format::Json => {
            let side = |path: &Path, p: &Policy| {
                json!({"path": path.display().to_string(), "name": &*p.name,
                       "version": &*p.version, "hash": &*p.hash})
            };
            let mut doc = json!({
                "old": side(&a.old, &op),
                "new": side(&a.new, &np),
                "differences": differ,
                "text": text,
                "semantic": semantic,
            });
            if let Some((impact, r)) = &replayed {
                doc["impact"] = json!(impact);
                doc["replay"] = json!(r);
            }
            put!("{doc}");
        }
        Format::Text => {
            let color = match a.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            put_part!(
                "{}",
                render_text(&text, &semantic, replayed.as_ref(), color)
            );
        }
    }
    if differ { FAILED } else { OK }
}

fn render_text(
    text: &diff::TextDiff,
    semantic: &diff::SemanticDiff,
    replayed: Option<&(Impact, Replay)>,
    color: bool,
) -> String {
    let mut out = String::new();
    if text.is_empty() {
        out.push_str("text: no differences\n");
    } else {
        let (added, removed) = text
            .files
            .iter()
            .fold((0, 0), |(a, r), f| (a + f.added, r + f.removed));
        out.push_str(&format!(
            "text: {} file(s) differ, {added} line(s) added, {removed} removed\n",
            text.files.len()
        ));
        out.push_str(&text.render(color));
    }
    out.push('\n');
    if semantic.is_empty() {
        out.push_str("meaning: no change");
        if !text.is_empty() {
            out.push_str(" (the text differs only in comments, layout or files)");
        }
        out.push('\n');
    } else {
        out.push_str(&format!("meaning: {} change(s)\n", semantic.len()));
        out.push_str(&semantic.to_string());
    }
    if let Some((impact, r)) = replayed {
        out.push('\n');
        out.push_str(&format!(
            "impact: replayed {} ({} line(s), {} event(s)",
            r.file,
            count(r.lines),
            count(r.events)
        ));
        if r.bad_lines > 0 {
            out.push_str(&format!(", {} bad line(s) skipped", count(r.bad_lines)));
        }
        out.push_str(")\n");
        out.push_str(&impact.to_string());
    }
    out
}

/// A count with thousands separators (`1,000,000`).
fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn parse_chunk(chunk: &[Line]) -> Vec<Result<Event, EventError>> {
    chunk.par_iter().map(|l| parse_event(l.text()?)).collect()
}

/// Reads, parses and replays the events file under both policies.
fn replay(
    old: &Policy,
    new: &Policy,
    file: &str,
    opts: &ImpactOptions,
) -> Result<(Impact, Replay), String> {
    let mut input = super::jsonl::open(file)?;
    let io = |e: std::io::Error| format!("cannot read `{}`: {e}", super::jsonl::display(file));
    let mut r = Replay {
        file: super::jsonl::display(file).to_string(),
        ..Replay::default()
    };
    let mut builder = ImpactBuilder::new(old, new, *opts);
    let mut cur = input.chunk(CHUNK).map_err(io)?;
    let mut parsed = parse_chunk(&cur);
    while !cur.is_empty() {
        let mut events = Vec::with_capacity(parsed.len());
        for (line, p) in cur.iter().zip(std::mem::take(&mut parsed)) {
            match p {
                Ok(ev) => events.push(ev),
                Err(e) => {
                    r.bad_lines += 1;
                    if r.bad.len() < BAD_SHOWN {
                        r.bad.push(BadLine {
                            line: line.number,
                            error: e.0,
                        });
                    }
                }
            }
        }
        r.events += events.len() as u64;
        let next = input.chunk(CHUNK).map_err(io)?;
        // Parsing the next chunk overlaps with deciding this one.
        let (next_parsed, ()) = rayon::join(|| parse_chunk(&next), || builder.add_batch(&events));
        cur = next;
        parsed = next_parsed;
    }
    r.lines = input.lines_read();
    Ok((builder.finish(), r))
}
