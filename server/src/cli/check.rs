//! `whistle check BUNDLE [--format json]`

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use whistle_grammar::diag;

use super::{CANNOT_RUN, FAILED, OK};

/// Arguments of `whistle check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The bundle directory (or a single `.whistle` file).
    pub bundle: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// How to print diagnostics.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Compiler-style text on stderr.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Runs the command; exit 0 without errors, 1 with, 2 when there is no
/// policy text to check (a path that cannot be read, or holds none).
pub fn run(a: &CheckArgs) -> u8 {
    let (b, c) = match super::load(&a.bundle) {
        Ok(x) => x,
        Err(msg) => {
            if matches!(a.format, Format::Json) {
                put!("{}", json!({"ok": false, "error": msg, "diagnostics": []}));
            } else {
                say!("error: {msg}");
            }
            return CANNOT_RUN;
        }
    };
    let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
    match a.format {
        Format::Json => {
            let out = json!({
                "ok": errors == 0,
                "hash": b.hash,
                "errors": errors,
                "warnings": c.diagnostics.len() - errors,
                "diagnostics": diag::to_json(&c.diagnostics, &b.sources),
            });
            put!("{out}");
        }
        Format::Text => {
            super::print_diagnostics(&b, &c.diagnostics);
            if errors == 0 {
                let files = b.files.len();
                let cats = c.policy.as_ref().map_or(0, |p| p.categories.len());
                let (f, c) = (
                    if files == 1 { "file" } else { "files" },
                    if cats == 1 { "category" } else { "categories" },
                );
                // The bundle's other files are named: the API lists every
                // file, and a count that left them out would not match it.
                let mut also = String::new();
                if b.areas_file.is_some() {
                    also.push_str(" + areas.yaml");
                }
                if b.event_schema_file.is_some() {
                    also.push_str(" + event.schema.json");
                }
                say!(
                    "ok: {files} policy {f}{also}, {cats} {c}, policy {}",
                    b.hash
                );
            }
        }
    }
    if errors == 0 { OK } else { FAILED }
}
