//! Diagnostics: errors and warnings that point at the source.
//!
//! The text form is the one LANGUAGE.md section 7 asks for,
//! `FILE:LINE:COL: error[CODE]: message`, then the source line and a caret
//! under the offending text, then any secondary places and a hint. The header
//! line is deliberately gcc-style (one line, greppable, clickable in editors),
//! which is why this renders itself instead of using a rustc-style crate.

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::source::{SourceMap, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Does not stop a rollout.
    Warning,
    /// Stops a rollout.
    Error,
}

/// A secondary place that explains a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there.
    pub message: String,
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code such as `E0102`; see `docs/LANGUAGE.md` for the list.
    pub code: &'static str,
    /// What is wrong, in one lowercase sentence; user text in backticks.
    pub message: String,
    /// The primary place.
    pub span: Span,
    /// Other places that take part.
    pub labels: Vec<Label>,
    /// How to fix it, where that helps.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            labels: Vec::new(),
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// Adds a secondary place.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position and code, and drops exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code, &a.message).cmp(&(
            b.span.file,
            b.span.start,
            b.code,
            &b.message,
        ))
    });
    diags.dedup();
}

/// Renders diagnostics as text, with ANSI colour when `color` is set.
pub fn render(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    for d in diags {
        render_one(&mut out, d, sources, color);
    }
    out
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &SourceMap, color: bool) {
    let p = Paint(color);
    let (word, hue) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    out.push_str(&format!(
        "{}: {}: {}\n",
        p.wrap("1", &sources.location(d.span)),
        p.wrap(hue, &format!("{word}[{}]", d.code)),
        p.wrap("1", &d.message)
    ));
    snippet(out, d.span, sources, &p, hue, "");
    for l in &d.labels {
        out.push_str(&format!(
            "{}: {}: {}\n",
            sources.location(l.span),
            p.wrap("1;36", "note"),
            l.message
        ));
        snippet(out, l.span, sources, &p, "1;36", "");
    }
    if let Some(h) = &d.help {
        out.push_str(&format!("  = {}: {h}\n", p.wrap("1", "help")));
    }
    out.push('\n');
}

fn snippet(out: &mut String, span: Span, sources: &SourceMap, p: &Paint, hue: &str, note: &str) {
    let Some(file) = sources.get(span.file) else {
        return;
    };
    let lc = file.line_col(span.start);
    let line = file.line_text(lc.line);
    let line_start = file.line_start(lc.line).unwrap_or(0) as usize;
    let start = (span.start as usize)
        .saturating_sub(line_start)
        .min(line.len());
    let end = (span.end as usize)
        .saturating_sub(line_start)
        .clamp(start, line.len());
    let before = line.get(..start).unwrap_or("");
    let under = line.get(start..end).unwrap_or("");
    let pad = UnicodeWidthStr::width(before.replace('\t', " ").as_str());
    let width = UnicodeWidthStr::width(under).max(1);
    let gutter = lc.line.to_string();
    let blank = " ".repeat(gutter.len());
    out.push_str(&format!("{blank} |\n"));
    out.push_str(&format!("{gutter} | {}\n", line.replace('\t', " ")));
    out.push_str(&format!(
        "{blank} | {}{}{}\n",
        " ".repeat(pad),
        p.wrap(hue, &"^".repeat(width)),
        if note.is_empty() {
            String::new()
        } else {
            format!(" {note}")
        }
    ));
}

/// A diagnostic as data, for `--format json`, the editor and the API.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    /// `error` or `warning`.
    pub severity: Severity,
    /// The code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// File name relative to the bundle.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters).
    pub col: u32,
    /// Where the primary span ends.
    pub end_line: u32,
    /// Column where the primary span ends.
    pub end_col: u32,
    /// Secondary places.
    pub labels: Vec<JsonLabel>,
    /// The hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A secondary place, as data.
#[derive(Debug, Clone, Serialize)]
pub struct JsonLabel {
    /// File name.
    pub file: String,
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
    /// What is there.
    pub message: String,
}

/// Converts diagnostics to their data form.
pub fn to_json(diags: &[Diagnostic], sources: &SourceMap) -> Vec<JsonDiagnostic> {
    diags
        .iter()
        .map(|d| {
            let start = sources.start(d.span);
            let end = sources
                .get(d.span.file)
                .map_or(start, |f| f.line_col(d.span.end));
            JsonDiagnostic {
                severity: d.severity,
                code: d.code,
                message: d.message.clone(),
                file: sources.name(d.span.file).to_string(),
                line: start.line,
                col: start.col,
                end_line: end.line,
                end_col: end.col,
                labels: d
                    .labels
                    .iter()
                    .map(|l| {
                        let lc = sources.start(l.span);
                        JsonLabel {
                            file: sources.name(l.span.file).to_string(),
                            line: lc.line,
                            col: lc.col,
                            message: l.message.clone(),
                        }
                    })
                    .collect(),
                help: d.help.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    #[test]
    fn renders_header_line_source_and_caret() {
        let mut map = SourceMap::new();
        let id = map.add(SourceFile::new(
            "c.whistle",
            "category x {\n  lead 城管x\n}\n",
        ));
        // `城管x` starts at byte 20 and is 7 bytes long.
        let d = Diagnostic::error("E0102", Span::new(id, 20, 27), "unknown department `城管x`")
            .with_help("declare it with `department`");
        let text = render(&[d], &map, false);
        let expected = "c.whistle:2:8: error[E0102]: unknown department `城管x`\n  |\n2 |   lead 城管x\n  |        ^^^^^\n  = help: declare it with `department`\n\n";
        assert_eq!(text, expected);
    }
}
