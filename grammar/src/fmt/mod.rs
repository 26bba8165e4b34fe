//! The canonical formatter (`whistle fmt`).
//!
//! [`format_source`] parses a file and prints it back in the one canonical
//! layout. The result is idempotent (formatting it again changes nothing),
//! keeps every comment, and parses to the same tree as the input (spans
//! aside): parentheses are kept as written, numbers keep their text, strings
//! are re-escaped with [`escape`](crate::escape), and the JSON of test events
//! keeps every token and changes only its spacing.
//!
//! # The canonical layout
//!
//! - Two spaces of indentation; one item per line inside a block; no
//!   trailing whitespace; `\n` line ends; one final newline (an empty file
//!   stays empty).
//! - Top-level declarations are separated by one blank line, except a run of
//!   one-line declarations of the same kind (`department`, one-line `grade`,
//!   `target`, `levels`, `grades`, `fallback`) written on consecutive lines
//!   (comment lines may stand between them, blank lines may not; a blank
//!   line starts a new run): such a run stays together and its columns are
//!   aligned, e.g. `department urban     "城管执法中队" { level street }`,
//!   `grade blue   { level grid       respond 2h   resolve 24h }` (items of
//!   one-line blocks are aligned by position) and
//!   `target satisfaction      >= 95%`. Columns are measured in display
//!   width, so Chinese names line up.
//! - A `department`, `grade` or `fallback` block written on one line with at
//!   most four items stays on one line, `{ item  item }` (two spaces between
//!   items, as `limits red { respond 15m  resolve 12h }` inside a category),
//!   if that line, before alignment, fits in 100 columns; otherwise it is
//!   expanded one item per line. Every other block
//!   (`policy`, `category`, `empower`, `relieve`, `escalate`, `threshold`,
//!   `assess`, `test`, `calendar`) is always expanded. A block with no items
//!   and no comments is written `{}`.
//! - Inside an expanded block the item keywords are padded to the widest
//!   keyword of the block (`lead   urban`, `assist fire, property`,
//!   `event  {...}`, `expect {...}`); in a category or the fallback the grade
//!   names of `grade ... when` lines are padded too (`grade  red    when ...`);
//!   in `escalate` the percentages of `at` steps (`at 50%  respond`); in
//!   `assess` the metric names (`on_time_response   weight 30`).
//! - One or more blank lines between two items or comments of a block (or
//!   between the comments before a declaration) become exactly one; blank
//!   lines after `{` and before `}` are dropped.
//! - Conditions, lists and `expect { k: v, ... }` are written on one line
//!   with single spaces around operators and `, ` between list elements; a
//!   trailing comma is dropped. A test event's JSON is one line,
//!   `{ "k": v, "o": { "x": [1, 2] }, "e": {} }`.
//! - An item line wider than 100 columns (indentation included, display
//!   width) that ends in a condition is broken: `when COND` goes onto the
//!   next line, four spaces deeper than the item; if a line is still too
//!   wide, the condition's top-level `and` / `or` each start a line of
//!   their own as well (an `escalate` step's `when` condition breaks only
//!   there). An end-of-line comment follows the item's last line, two
//!   spaces after it. Other long lines (lists, test events) stay whole.
//!
//! # Comments
//!
//! The tree has no comments, so they are taken from the text (every `#`
//! outside a string, including the strings of test-event JSON) and attached
//! by position:
//!
//! - a comment on a line of its own belongs before the next item (or
//!   declaration) of its block; if none follows, it stays at the end of the
//!   block, before `}` (or at the end of the file);
//! - a comment after code belongs to the item that ends on that line, or to
//!   the `{` or `}` line of a block, and stays at the end of that line;
//!   end-of-line comments of consecutive lines start in one column, two
//!   spaces after the longest of those lines (lines over 80 columns of code
//!   keep theirs two spaces after the code and do not move the others);
//! - an item (or a declaration's head) that the input spread over several
//!   lines is joined into one (and broken again only as above); if it had
//!   comments inside, the last stays at the end of its last line and the
//!   others move onto lines of their own just above it.
//!
//! No comment is ever dropped or duplicated; only trailing whitespace after
//! a comment's text is removed.

mod attach;
mod doc;
mod parts;
mod text;
mod trivia;

use unicode_width::UnicodeWidthStr;

use crate::ast::{Decl, File};
use crate::diag::Diagnostic;
use crate::parse::parse_file;
use crate::source::FileId;
use attach::{BlockUnits, Placed, Unit, distribute, place_decl};
use doc::Entry;
use parts::{head, item_ends, item_lines, run_kind};
use trivia::Trivia;

/// Formats one `.whistle` file.
///
/// Returns the diagnostics instead if the text has any error (a file that
/// does not parse is never formatted); warnings do not stop formatting.
///
/// ```
/// let out = whistle_grammar::fmt::format_source("grade  red{level street}").unwrap();
/// assert_eq!(out, "grade red { level street }\n");
/// ```
pub fn format_source(text: &str) -> Result<String, Vec<Diagnostic>> {
    // Read as `check` reads it: a lone `\r` (old Mac line ends) ends a
    // line, and so a comment. Formatted otherwise, what follows it would
    // stay in the comment here while `check` reads it as code, and the
    // formatter would move that code elsewhere.
    let text = &crate::bundle::lone_cr_as_lf(text.to_string());
    let (file, mut diags) = parse_file(FileId(0), text);
    if diags.iter().any(Diagnostic::is_error) {
        // In the order `check` gives them, each once: the parser's
        // recovery can report one mistake from two places.
        crate::diag::sort(&mut diags);
        return Err(diags);
    }
    Ok(format_file(&file, text))
}

/// Whether `text` is already in canonical layout (`whistle fmt --check`).
/// Returns the diagnostics if the text has any error.
pub fn is_formatted(text: &str) -> Result<bool, Vec<Diagnostic>> {
    format_source(text).map(|out| out == text)
}

/// Formats a tree parsed without errors from `text` (the spans of `file`
/// must point into `text`; comments are taken from `text`).
pub fn format_file(file: &File, text: &str) -> String {
    let mut tv = Trivia::new(text);
    let mut decls: Vec<Placed<'_>> = Vec::with_capacity(file.decls.len());
    for d in &file.decls {
        let placed = place_decl(d, &mut tv, decls.last_mut());
        decls.push(placed);
    }
    let mut dangling = Vec::new();
    let tail = tv.take_before(usize::MAX);
    distribute(
        &tv,
        tail,
        decls.last_mut().map(|p| &mut p.unit),
        &mut dangling,
    );
    debug_assert!(tv.all_taken());

    let entries = top_level(&decls, &dangling, &tv);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    doc::render(&entries, 0, &mut out);
    out
}

/// `s` padded with spaces to display width `w`.
fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(s.width())));
    out
}

// ---------------------------------------------------------------------------
// Laying out the file.

/// A one-line declaration: its head columns and the items of its block.
type Row = (Vec<Option<String>>, Option<Vec<String>>);

/// The lines of a run of one-line declarations, with aligned columns.
fn aligned_rows(run: &[&Placed<'_>]) -> Vec<String> {
    let rows: Vec<Row> = run
        .iter()
        .map(|p| {
            let block = item_ends(p.decl).map(|_| item_lines(p.decl, false));
            (head(p.decl), block)
        })
        .collect();
    // Items of the one-line blocks, aligned by position (never the last).
    let mut item_w: Vec<usize> = Vec::new();
    for (_, block) in &rows {
        for (k, item) in block.iter().flatten().enumerate() {
            if k + 1 < block.as_ref().map_or(0, Vec::len) {
                if item_w.len() <= k {
                    item_w.resize(k + 1, 0);
                }
                item_w[k] = item_w[k].max(item.width());
            }
        }
    }
    let cells: Vec<Vec<Option<String>>> = rows
        .into_iter()
        .map(|(mut head, block)| {
            if let Some(items) = block {
                let n = items.len();
                let padded: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(k, it)| {
                        if k + 1 < n {
                            pad(it, item_w.get(k).copied().unwrap_or(0))
                        } else {
                            it.clone()
                        }
                    })
                    .collect();
                head.push(Some(text::inline_block(&padded)));
            }
            head
        })
        .collect();
    let ncols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let col_w: Vec<usize> = (0..ncols)
        .map(|j| {
            cells
                .iter()
                .filter_map(|r| r.get(j).and_then(|c| c.as_ref()))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    cells
        .iter()
        .map(|row| {
            let Some(last) = row.iter().rposition(Option::is_some) else {
                return String::new();
            };
            let mut line = String::new();
            for (j, cell) in row.iter().enumerate().take(last + 1) {
                if cell.is_none() && col_w[j] == 0 {
                    continue;
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                let c = cell.as_deref().unwrap_or("");
                if j == last {
                    line.push_str(c);
                } else {
                    line.push_str(&pad(c, col_w[j]));
                }
            }
            line
        })
        .collect()
}

/// Pushes the comments of a unit's lead-in: its own-line comments (blank
/// lines between them kept, collapsed to one) then the comments hoisted out
/// of it. `prev_last` is the line where the previous entry ended (`None`:
/// nothing precedes in this block, or a blank line has already been decided).
fn lead_in(
    out: &mut Vec<Entry>,
    tv: &Trivia<'_>,
    leading: &[usize],
    hoisted: &[usize],
    first_line: usize,
    mut prev_last: Option<usize>,
) {
    let comment = |c: usize| Entry::Comment(tv.comment(c).text.clone());
    for &c in leading {
        let line = tv.comment(c).line;
        if prev_last.is_some_and(|p| line > p + 1) {
            out.push(Entry::Blank);
        }
        out.push(comment(c));
        prev_last = Some(line);
    }
    if prev_last.is_some_and(|p| first_line > p + 1) {
        out.push(Entry::Blank);
    }
    out.extend(hoisted.iter().map(|&c| comment(c)));
}

/// Comments left at the end of a block or file.
fn dangling_comments(
    out: &mut Vec<Entry>,
    tv: &Trivia<'_>,
    comments: &[usize],
    mut prev_last: Option<usize>,
) {
    for &c in comments {
        let line = tv.comment(c).line;
        if prev_last.is_some_and(|p| line > p + 1) {
            out.push(Entry::Blank);
        }
        out.push(Entry::Comment(tv.comment(c).text.clone()));
        prev_last = Some(line);
    }
}

fn comment_text(tv: &Trivia<'_>, c: Option<usize>) -> Option<String> {
    c.map(|c| tv.comment(c).text.clone())
}

/// Whether `next` continues a run of one-line declarations after `prev`.
fn continues_run(prev: &Placed<'_>, next: &Placed<'_>, tv: &Trivia<'_>) -> bool {
    if prev.block.is_some() || next.block.is_some() {
        return false;
    }
    match (run_kind(prev.decl), run_kind(next.decl)) {
        (Some(a), Some(b)) if a == b => {}
        _ => return false,
    }
    // No blank line anywhere between them.
    let mut last = prev.unit.last_line;
    for &c in &next.unit.leading {
        let line = tv.comment(c).line;
        if line > last + 1 {
            return false;
        }
        last = line;
    }
    next.unit.first_line <= last + 1
}

fn top_level(decls: &[Placed<'_>], dangling: &[usize], tv: &Trivia<'_>) -> Vec<Entry> {
    // Group the one-line declarations into runs and align each run.
    let mut code: Vec<Option<String>> = vec![None; decls.len()];
    let mut starts_run = vec![true; decls.len()];
    let mut i = 0;
    while i < decls.len() {
        let mut j = i + 1;
        if decls[i].block.is_none() {
            while j < decls.len() && continues_run(&decls[j - 1], &decls[j], tv) {
                starts_run[j] = false;
                j += 1;
            }
            let run: Vec<&Placed<'_>> = decls[i..j].iter().collect();
            for (k, line) in aligned_rows(&run).into_iter().enumerate() {
                code[i + k] = Some(line);
            }
        }
        i = j;
    }

    let mut out = Vec::new();
    let mut prev_last: Option<usize> = None;
    for (i, p) in decls.iter().enumerate() {
        if i > 0 && starts_run[i] {
            out.push(Entry::Blank);
        }
        // A blank line before the first entry is decided above.
        let first_prev = if i > 0 && !starts_run[i] {
            prev_last
        } else {
            None
        };
        let unit = &p.unit;
        match (&p.block, code[i].take()) {
            (None, Some(line)) => {
                let (hoisted, trailing) = unit.split();
                lead_in_first(&mut out, tv, unit, hoisted, first_prev);
                out.push(Entry::Line {
                    code: line,
                    trailing: comment_text(tv, trailing),
                });
            }
            (Some(b), _) => {
                let (hoisted, header_trailing) = b.header.split();
                lead_in_first(&mut out, tv, unit, hoisted, first_prev);
                out.push(block_entry(p.decl, b, unit.after, header_trailing, tv));
            }
            (None, None) => {}
        }
        prev_last = Some(unit.last_line);
    }
    dangling_comments(&mut out, tv, dangling, prev_last);
    out
}

/// [`lead_in`] for a declaration: blank lines between its own comments are
/// kept, but whether a blank line precedes the first of them was decided by
/// the caller (`prev_last` is `None` then).
fn lead_in_first(
    out: &mut Vec<Entry>,
    tv: &Trivia<'_>,
    unit: &Unit,
    hoisted: &[usize],
    prev_last: Option<usize>,
) {
    match unit.leading.split_first() {
        Some((&first, rest)) => {
            out.push(Entry::Comment(tv.comment(first).text.clone()));
            lead_in(
                out,
                tv,
                rest,
                hoisted,
                unit.first_line,
                Some(tv.comment(first).line),
            );
        }
        None => lead_in(out, tv, &[], hoisted, unit.first_line, prev_last),
    }
}

fn block_entry(
    d: &Decl,
    b: &BlockUnits,
    close: Option<usize>,
    header_trailing: Option<usize>,
    tv: &Trivia<'_>,
) -> Entry {
    let head_cells = head(d);
    let mut header: Vec<&str> = head_cells.iter().flatten().map(String::as_str).collect();
    header.push("{");
    let lines = item_lines(d, true);
    let mut body = Vec::new();
    let mut prev_last: Option<usize> = None;
    for (unit, line) in b.items.iter().zip(lines) {
        let (hoisted, trailing) = unit.split();
        lead_in(
            &mut body,
            tv,
            &unit.leading,
            hoisted,
            unit.first_line,
            prev_last,
        );
        body.push(Entry::Line {
            code: line,
            trailing: comment_text(tv, trailing),
        });
        prev_last = Some(unit.last_line);
    }
    dangling_comments(&mut body, tv, &b.dangling, prev_last);
    Entry::Block {
        header: header.join(" "),
        header_trailing: comment_text(tv, header_trailing),
        body,
        close_trailing: comment_text(tv, close),
    }
}
