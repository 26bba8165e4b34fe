//! The laid-out document: lines, comments, blank lines and blocks, and how
//! they are printed (indentation and the column of end-of-line comments).

use unicode_width::UnicodeWidthStr;

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
            let mut j = i;
            let mut col = 0usize;
            while let Some(Entry::Line { code, trailing }) = entries.get(j) {
                if trailing.is_some() && code.width() <= ALIGN_LIMIT {
                    col = col.max(code.width());
                }
                j += 1;
            }
            for e in &entries[i..j] {
                if let Entry::Line { code, trailing } = e {
                    indent(depth, out);
                    out.push_str(code);
                    if let Some(c) = trailing {
                        let pad = col.saturating_sub(code.width()) + 2;
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(c);
                    }
                    out.push('\n');
                }
            }
            i = j;
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
