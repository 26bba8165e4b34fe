//! `whistle fmt PATH [--check]`

use std::path::{Path, PathBuf};

use clap::Args;
use whistle_grammar::diag;
use whistle_grammar::fmt::format_source;
use whistle_grammar::source::{SourceFile, SourceMap};

use super::{CANNOT_RUN, FAILED, OK};

/// Arguments of `whistle fmt`.
#[derive(Args)]
pub struct FmtArgs {
    /// A `.whistle` file or a directory of them.
    pub path: PathBuf,
    /// Do not write; list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    pub check: bool,
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "whistle") {
            out.push(p);
        }
    }
    Ok(())
}

/// Formats (or checks) every file.
pub fn run(a: &FmtArgs) -> u8 {
    // The same refusals as loading a bundle: formatting a Markdown file as
    // policy, or finding nothing to format, is a mistake worth naming.
    if a.path.is_file() && a.path.extension().is_none_or(|e| e != "whistle") {
        say!(
            "error: {}",
            whistle_grammar::bundle::LoadError::NotPolicy(a.path.clone())
        );
        return CANNOT_RUN;
    }
    let mut files = Vec::new();
    if let Err(e) = collect(&a.path, &mut files) {
        say!("error: cannot read `{}`: {e}", a.path.display());
        return CANNOT_RUN;
    }
    if files.is_empty() {
        say!(
            "error: {}",
            whistle_grammar::bundle::LoadError::Empty(a.path.clone())
        );
        return CANNOT_RUN;
    }
    files.sort();
    let mut unformatted = 0;
    let mut broken = 0;
    for f in &files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                say!("{}: error: {e}", f.display());
                broken += 1;
                continue;
            }
        };
        // Too large or not UTF-8: refused as `check` refuses it, with the
        // same diagnostic.
        let text = match String::from_utf8(bytes) {
            Ok(t) if t.len() <= whistle_grammar::bundle::MAX_FILE_BYTES => t,
            Ok(t) => {
                refuse(f, t.into_bytes());
                broken += 1;
                continue;
            }
            Err(e) => {
                refuse(f, e.into_bytes());
                broken += 1;
                continue;
            }
        };
        match format_source(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                unformatted += 1;
                if a.check {
                    put!("{}", f.display());
                } else if let Err(e) = crate::replace::replace_file(f, formatted.as_bytes()) {
                    say!("{}: error: cannot write: {e}", f.display());
                    broken += 1;
                } else {
                    put!("formatted {}", f.display());
                }
            }
            Err(diags) => {
                broken += 1;
                let mut map = SourceMap::new();
                map.add(SourceFile::new(f.display().to_string(), text));
                say_part!("{}", diag::render(&diags, &map, super::color_stderr()));
            }
        }
    }
    if broken > 0 || (a.check && unformatted > 0) {
        FAILED
    } else {
        OK
    }
}

/// Prints what `check` says of a file it cannot read as policy text.
fn refuse(path: &std::path::Path, bytes: Vec<u8>) {
    let b = whistle_grammar::bundle::from_files(vec![whistle_grammar::bundle::BundleFile {
        path: path.display().to_string(),
        bytes,
    }]);
    say_part!(
        "{}",
        whistle_grammar::diag::render(&b.diagnostics, &b.sources, super::color_stderr())
    );
}
