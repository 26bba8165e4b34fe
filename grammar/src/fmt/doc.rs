//! The laid-out document: lines, comments, blank lines and blocks, and how
//! they are printed (indentation and the column of end-of-line comments).

use unicode_width::UnicodeWidthStr;

use super::text::{BREAK_OP, BREAK_WHEN, unbroken};

/// One element of a laid-out block.
#[derive(Debug)]
pub(super) enum Entry {
    /// An empty line.
    Blank,
    /// A comment on a line of its own.
    Comment(String),
    /// A line of code, with an optional end-of-line comment.
    Line {
        /// The code, without indentation.
        code: String,
        /// The comment after it.
        trailing: Option<String>,
    },
    /// A block printed over several lines: `header {`, the body one level
    /// deeper, `}`.
    Block {
        /// The header line up to and including `{`.
        header: String,
        /// The comment after `{`.
        header_trailing: Option<String>,
        /// The body.
        body: Vec<Entry>,
        /// The comment after `}`.
        close_trailing: Option<String>,
    },
}

const INDENT: &str = "  ";

/// Lines with more columns of code than this do not take part in the
/// alignment of end-of-line comments.
pub(super) const ALIGN_LIMIT: usize = 80;

/// The widest a line of code may be, indentation included, before it is
/// broken where its item allows ([`fold`]).
pub(super) const MAX_WIDTH: usize = 100;

/// What a broken item's further lines start with, after the indentation
/// of the item.
const CONTINUED: &str = "    ";

/// Prints `entries` at nesting `depth`.
///
/// End-of-line comments of consecutive lines (no blank line, comment line
/// or block between them) start in one column: two spaces after the longest
/// of those lines that carries a comment. A line wider than [`ALIGN_LIMIT`]
/// keeps its comment two spaces after its code and does not push the others.
pub(super) fn render(entries: &[Entry], depth: usize, out: &mut String) {
    let mut i = 0;
    while i < entries.len() {
        if let Entry::Line { .. } = entries[i] {
            let mut lines = Vec::new();
            let mut col = 0usize;
            while let Some(Entry::Line { code, trailing }) = entries.get(i + lines.len()) {
                let parts = fold(code, depth);
                if let ([one], Some(_)) = (parts.as_slice(), trailing)
                    && one.width() <= ALIGN_LIMIT
                {
                    col = col.max(one.width());
                }
                lines.push((parts, trailing));
            }
            i += lines.len();
            for (parts, trailing) in lines {
                let mut last = "";
                for (k, part) in parts.iter().enumerate() {
                    if k > 0 {
                        out.push('\n');
                    }
                    indent(depth, out);
                    if k > 0 {
                        out.push_str(CONTINUED);
                    }
                    out.push_str(part);
                    last = part;
                }
                if let Some(c) = trailing {
                    // A broken item's comment follows its last line.
                    let pad = if parts.len() > 1 {
                        2
                    } else {
                        col.saturating_sub(last.width()) + 2
                    };
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(c);
                }
                out.push('\n');
            }
            continue;
        }
        match &entries[i] {
            Entry::Blank => out.push('\n'),
            Entry::Comment(c) => {
                indent(depth, out);
                out.push_str(c);
                out.push('\n');
            }
            Entry::Block {
                header,
                header_trailing,
                body,
                close_trailing,
            } => {
                indent(depth, out);
                out.push_str(header);
                trailing(header_trailing.as_deref(), out);
                render(body, depth + 1, out);
                indent(depth, out);
                out.push('}');
                trailing(close_trailing.as_deref(), out);
            }
            Entry::Line { .. } => {}
        }
        i += 1;
    }
}

/// A line of code as printed at nesting `depth`: whole when it fits in
/// [`MAX_WIDTH`] columns; else broken at its [`BREAK_WHEN`] if each part
/// then fits; else at its [`BREAK_OP`]s too. Where it has no break marks,
/// a long line stays whole.
fn fold(code: &str, depth: usize) -> Vec<String> {
    let room = MAX_WIDTH.saturating_sub(depth * INDENT.len());
    let whole = unbroken(code);
    if whole.width() <= room || !code.contains([BREAK_WHEN, BREAK_OP]) {
        return vec![whole];
    }
    // A part ends where padding may have stood (`grade red    when`).
    let at_when: Vec<String> = code
        .split(BREAK_WHEN)
        .map(|p| unbroken(p.trim_end()))
        .collect();
    let fits = |k: usize, part: &String| {
        let extra = if k > 0 { CONTINUED.len() } else { 0 };
        part.width() + extra <= room
    };
    if at_when.len() > 1 && at_when.iter().enumerate().all(|(k, p)| fits(k, p)) {
        return at_when;
    }
    code.split([BREAK_WHEN, BREAK_OP])
        .map(|p| p.trim_end().to_string())
        .collect()
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

fn trailing(c: Option<&str>, out: &mut String) {
    if let Some(c) = c {
        out.push_str("  ");
        out.push_str(c);
    }
    out.push('\n');
}
