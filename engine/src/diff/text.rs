//! The text diff of two bundles: one unified diff per file that was added,
//! removed or changed, files in byte order of their paths.

use serde::Serialize;
use similar::TextDiff as LineDiff;
use whistle_grammar::bundle::Bundle;

use super::semantic::{ChangeKind, by_name};

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The unified diff of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// Path relative to the bundle.
    pub path: String,
    /// Whether the file was added, removed or changed.
    pub change: ChangeKind,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// The unified diff: `--- a/PATH`, `+++ b/PATH`, then the hunks
    /// (`/dev/null` stands for the missing side of an added or removed file).
    pub unified: String,
}

/// The text diff of two bundles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TextDiff {
    /// Files that differ, in byte order of their paths.
    pub files: Vec<FileDiff>,
}

impl TextDiff {
    /// Whether the bundles hold the same files with the same text.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The diff as text; with `color`, ANSI colours as `git diff` uses them:
    /// bold file headers, cyan hunk headers, red removed and green added lines.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for f in &self.files {
            for (i, line) in f.unified.split_inclusive('\n').enumerate() {
                let style = if !color {
                    None
                } else if i < 2 {
                    // The two file headers; a removed line "-- x" also starts
                    // with "---", so headers are told by position, not text.
                    Some("\x1b[1m")
                } else if line.starts_with("@@") {
                    Some("\x1b[36m")
                } else if line.starts_with('+') {
                    Some("\x1b[32m")
                } else if line.starts_with('-') {
                    Some("\x1b[31m")
                } else {
                    None
                };
                match style {
                    Some(s) => {
                        let body = line.strip_suffix('\n').unwrap_or(line);
                        out.push_str(s);
                        out.push_str(body);
                        out.push_str("\x1b[0m");
                        if body.len() < line.len() {
                            out.push('\n');
                        }
                    }
                    None => out.push_str(line),
                }
            }
            if !f.unified.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Compares the files of two bundles (policy files, `areas.yaml`,
/// `event.schema.json`) line by line.
pub fn text(old: &Bundle, new: &Bundle) -> TextDiff {
    let files = |b: &Bundle| {
        b.sources
            .iter()
            .map(|(_, f)| (f.name.clone(), f.text.clone()))
            .collect::<Vec<_>>()
    };
    let mut out = TextDiff::default();
    let (old, new) = (files(old), files(new));
    // Two one-file bundles (`diff policy-old.whistle policy.whistle`) are
    // compared with each other, whatever their names, as diff(1) would.
    if let ([(from, a)], [(to, b)]) = (old.as_slice(), new.as_slice())
        && from != to
    {
        if a != b {
            let (from, to_header) = (format!("a/{from}"), format!("b/{to}"));
            let change = ChangeKind::Changed;
            out.files
                .push(file_diff(to.clone(), change, a, b, &from, &to_header));
        }
        return out;
    }
    let mut pairs: Vec<_> = by_name(old, new).into_iter().collect();
    // Paths in byte order, the order in which a bundle reads its files.
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (path, (a, b)) in pairs {
        let change = match (&a, &b) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => ChangeKind::Changed,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (None, None) => continue,
        };
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        let from = match change {
            ChangeKind::Added => "/dev/null".to_string(),
            _ => format!("a/{path}"),
        };
        let to = match change {
            ChangeKind::Removed => "/dev/null".to_string(),
            _ => format!("b/{path}"),
        };
        out.files.push(file_diff(path, change, &a, &b, &from, &to));
    }
    out
}

/// The unified diff of one file, `from` and `to` its two headers.
fn file_diff(path: String, change: ChangeKind, a: &str, b: &str, from: &str, to: &str) -> FileDiff {
    let diff = LineDiff::from_lines(a, b);
    let (mut added, mut removed) = (0, 0);
    for c in diff.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let mut unified = diff
        .unified_diff()
        .context_radius(CONTEXT)
        .header(from, to)
        .to_string();
    if unified.is_empty() {
        // An empty file added or removed has no hunk, and so no header.
        unified = format!("--- {from}\n+++ {to}\n");
    }
    FileDiff {
        path,
        change,
        added,
        removed,
        unified,
    }
}
