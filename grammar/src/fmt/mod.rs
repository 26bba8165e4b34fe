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
//!   trailing whitespace; `\n` line ends; one final newline.
//! - Top-level declarations are separated by one blank line, except a run of
//!   one-line declarations of the same kind (`department`, one-line `grade`,
//!   `target`, `levels`, `grades`, `fallback`) written on consecutive lines
//!   (comment lines may stand between them, blank lines may not): such a run
//!   stays together and its columns are aligned, e.g.
//!   `department urban     "城管执法中队" { level street }` and
//!   `grade blue   { level grid       respond 2h   resolve 24h }`.
//!   Columns are measured in display width, so Chinese names line up.
//! - A `department`, `grade` or `fallback` block written on one line with at
//!   most four items stays on one line, `{ item  item }` (two spaces between
//!   items); otherwise it is expanded one item per line. Every other block
//!   (`policy`, `category`, `empower`, `relieve`, `escalate`, `threshold`,
//!   `assess`, `test`, `calendar`) is always expanded. A block with no items
//!   and no comments is written `{}`.
//! - Inside an expanded block the item keywords are padded to a common
//!   column (`lead   urban`, `assist fire, property`); in a category or the
//!   fallback the grade names of `grade ... when` lines are padded too
//!   (`grade  red    when ...`); in `escalate` the percentages of `at` steps
//!   (`at 50%  respond`); in `assess` the metric names.
//! - Inside a block, one or more blank lines between items (or comments)
//!   become exactly one; blank lines after `{` and before `}` are dropped.
//! - Conditions, lists and `expect { k: v, ... }` are written on one line
//!   with single spaces around operators and `, ` between list elements;
//!   `limits red { respond 15m  resolve 12h }` stays on its line; a test
//!   event's JSON is one line, `{ "k": v, "o": { "x": [1, 2] } }`.
//!
//! # Comments
//!
//! The tree has no comments, so they are taken from the text
//! ([`trivia`]) and attached by position:
//!
//! - a comment on a line of its own belongs before the next item (or
//!   declaration) of its block; if none follows, it stays at the end of the
//!   block, before `}` (or at the end of the file);
//! - a comment after code belongs to the item that ends on that line, or to
//!   the `{` or `}` line of a block, and stays at the end of that line;
//!   consecutive end-of-line comments start in one column, two spaces after
//!   the longest line;
//! - an item the input spread over several lines is joined into one; if it
//!   had comments inside, the last stays at the end of the line and the
//!   others move onto lines of their own just above it.
//!
//! No comment is ever dropped or duplicated.

mod doc;
mod text;
mod trivia;

use unicode_width::UnicodeWidthStr;

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lower::escape;
use crate::parse::parse_file;
use crate::source::{FileId, Span};
use doc::Entry;
use text::ItemText;
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
    let (file, diags) = parse_file(FileId(0), text);
    if diags.iter().any(Diagnostic::is_error) {
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
// Attaching comments.

/// The comments attached to one declaration or item, and the source lines
/// it spans (to find blank lines around it).
#[derive(Default)]
struct Unit {
    /// Comments on lines of their own before it.
    leading: Vec<usize>,
    /// Comments inside it (for a block: inside its header, before `{`).
    inner: Vec<usize>,
    /// The comment after its last token on the same line.
    after: Option<usize>,
    /// The line where it starts.
    first_line: usize,
    /// The line where it ends.
    last_line: usize,
}

impl Unit {
    /// The comments that move above the line, and the one that ends it.
    fn split(&self) -> (&[usize], Option<usize>) {
        match (self.after, self.inner.split_last()) {
            (Some(a), _) => (&self.inner, Some(a)),
            (None, Some((last, rest))) => (rest, Some(*last)),
            (None, None) => (&[], None),
        }
    }
}

/// An expanded block's comments.
struct BlockUnits {
    /// The header (`inner`: comments before `{`; `after`: the comment after `{`).
    header: Unit,
    /// The items in source order.
    items: Vec<Unit>,
    /// Comments after the last item, before `}`.
    dangling: Vec<usize>,
}

/// A declaration with its comments and chosen layout.
struct Placed<'a> {
    decl: &'a Decl,
    unit: Unit,
    /// `None`: printed on one line; otherwise the comments of its block.
    block: Option<BlockUnits>,
}

/// Splits the comments of a gap between two tokens: a comment after code
/// ends the line of `prev`; the others lead what follows (`leading`).
fn distribute(
    tv: &Trivia<'_>,
    gap: std::ops::Range<usize>,
    mut prev: Option<&mut Unit>,
    leading: &mut Vec<usize>,
) {
    for c in gap {
        match prev.as_deref_mut() {
            Some(p) if !tv.comment(c).own_line && p.after.is_none() && leading.is_empty() => {
                p.after = Some(c);
            }
            _ => leading.push(c),
        }
    }
}

fn place_decl<'a>(d: &'a Decl, tv: &mut Trivia<'_>, prev: Option<&mut Placed<'_>>) -> Placed<'a> {
    let span = d.span();
    let s = span.start as usize;
    let e = tv.tight_end(s, span.end as usize);
    let mut unit = Unit::default();
    let gap = tv.take_before(s);
    distribute(tv, gap, prev.map(|p| &mut p.unit), &mut unit.leading);
    unit.first_line = tv.line(s);
    unit.last_line = tv.line(e.saturating_sub(1).max(s));

    let ends = item_ends(d);
    let one_line = match &ends {
        None => true,
        Some(ends) => {
            let written_on_one_line = unit.first_line == unit.last_line;
            (may_stay_inline(d) && written_on_one_line && ends.len() <= 4)
                || (ends.is_empty() && !tv.any_before(e))
        }
    };
    let block = match (ends, one_line) {
        (Some(ends), false) => tv
            .open_brace(s)
            .map(|open| place_block(tv, open, e.saturating_sub(1), &ends)),
        _ => None,
    };
    if block.is_none() {
        unit.inner = tv.take_before(e).collect();
    }
    Placed {
        decl: d,
        unit,
        block,
    }
}

fn place_block(tv: &mut Trivia<'_>, open: usize, close: usize, ends: &[usize]) -> BlockUnits {
    let mut header = Unit {
        inner: tv.take_before(open).collect(),
        first_line: tv.line(open),
        last_line: tv.line(open),
        ..Unit::default()
    };
    let mut items: Vec<Unit> = Vec::with_capacity(ends.len());
    let mut pos = open + 1;
    for &end in ends {
        let start = tv.skip_trivia(pos).min(end);
        let end = tv.tight_end(start, end.max(start));
        let mut unit = Unit::default();
        let gap = tv.take_before(start);
        let prev = match items.last_mut() {
            Some(u) => u,
            None => &mut header,
        };
        distribute(tv, gap, Some(prev), &mut unit.leading);
        unit.inner = tv.take_before(end).collect();
        unit.first_line = tv.line(start);
        unit.last_line = tv.line(end.saturating_sub(1).max(start));
        items.push(unit);
        pos = end;
    }
    let mut dangling = Vec::new();
    let gap = tv.take_before(close);
    let prev = match items.last_mut() {
        Some(u) => u,
        None => &mut header,
    };
    distribute(tv, gap, Some(prev), &mut dangling);
    BlockUnits {
        header,
        items,
        dangling,
    }
}

/// Blocks that may stay on one line when written so.
fn may_stay_inline(d: &Decl) -> bool {
    matches!(d, Decl::Department(_) | Decl::Grade(_) | Decl::Fallback(_))
}

/// Kinds whose one-line declarations form aligned runs.
fn run_kind(d: &Decl) -> Option<u8> {
    Some(match d {
        Decl::Levels(_) => 0,
        Decl::Grades(_) => 1,
        Decl::Department(_) => 2,
        Decl::Grade(_) => 3,
        Decl::Fallback(_) => 4,
        Decl::Target(_) => 5,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// The parts of each declaration.

fn end(s: Span) -> usize {
    s.end as usize
}

/// A department's items (`level`, `external`) in source order.
fn department_items(d: &DepartmentDecl) -> Vec<(Span, ItemText)> {
    let mut items: Vec<(Span, ItemText)> = d
        .level
        .iter()
        .map(|l| (l.span, ItemText::new("level", l.name.clone())))
        .collect();
    if let Some(s) = d.external {
        items.push((s, ItemText::new("external", "")));
    }
    items.sort_by_key(|(s, _)| s.start);
    items
}

/// Where each item of the declaration's block ends, in source order; `None`
/// for a declaration without braces.
fn item_ends(d: &Decl) -> Option<Vec<usize>> {
    Some(match d {
        Decl::Levels(_) | Decl::Grades(_) | Decl::Target(_) => return None,
        Decl::Department(x) if !x.has_block => return None,
        Decl::Department(x) => department_items(x).iter().map(|(s, _)| end(*s)).collect(),
        Decl::Policy(x) => x
            .items
            .iter()
            .map(|i| match i {
                PolicyItem::Version(_, s)
                | PolicyItem::Effective(_, s)
                | PolicyItem::Timezone(_, s)
                | PolicyItem::Calendar(_, s) => end(*s),
            })
            .collect(),
        Decl::Grade(x) => x
            .items
            .iter()
            .map(|i| match i {
                GradeItem::Level(_, s) => end(*s),
                GradeItem::Limit(l) => end(l.span),
            })
            .collect(),
        Decl::Category(x) => x.items.iter().map(|i| end(i.span())).collect(),
        Decl::Fallback(x) => x.items.iter().map(|i| end(i.span())).collect(),
        Decl::Empower(x) => x.items.iter().map(|i| end(i.span)).collect(),
        Decl::Relieve(x) => x.items.iter().map(|i| end(i.span)).collect(),
        Decl::Escalate(x) => x.steps.iter().map(|i| end(i.span)).collect(),
        Decl::Threshold(x) => x
            .items
            .iter()
            .map(|i| match i {
                ThresholdItem::Metric { span, .. }
                | ThresholdItem::When(_, _, span)
                | ThresholdItem::Alert(_, span) => end(*span),
            })
            .collect(),
        Decl::Assess(x) => x.weights.iter().map(|w| end(w.span)).collect(),
        Decl::Test(x) => x
            .order
            .iter()
            .filter_map(|r| match *r {
                TestItemRef::Event(i) => x.events.get(i).map(|e| end(e.span)),
                TestItemRef::Expect(i) => x.expects.get(i).map(|e| end(e.span)),
            })
            .collect(),
        Decl::Calendar(x) => x
            .items
            .iter()
            .map(|i| match i {
                CalendarItem::Week { span, .. }
                | CalendarItem::Holiday(_, _, _, span)
                | CalendarItem::Workday(_, _, _, span) => end(*span),
            })
            .collect(),
    })
}

/// The words before a declaration's block (or all of a declaration
/// without one), as columns; `None` is an absent optional column.
fn head(d: &Decl) -> Vec<Option<String>> {
    let s = |x: &str| Some(x.to_string());
    let display = |x: &Option<StrLit>| x.as_ref().map(|v| escape(&v.value));
    match d {
        Decl::Policy(x) => vec![s("policy"), Some(escape(&x.name.value))],
        Decl::Levels(x) => vec![s("levels"), Some(order(&x.names))],
        Decl::Grades(x) => vec![s("grades"), Some(order(&x.names))],
        Decl::Department(x) => vec![s("department"), s(&x.name.name), display(&x.display)],
        Decl::Grade(x) => vec![s("grade"), s(&x.name.name)],
        Decl::Category(x) => vec![s("category"), s(&x.name.name), display(&x.display)],
        Decl::Fallback(_) => vec![s("fallback")],
        Decl::Empower(x) => vec![s("empower"), s(&x.level.name)],
        Decl::Relieve(x) => vec![s("relieve"), s(&x.level.name)],
        Decl::Escalate(x) => vec![
            s("escalate"),
            x.grade.as_ref().map(|g| format!("for {}", g.name)),
        ],
        Decl::Threshold(x) => vec![s("threshold"), s(&x.name.name), display(&x.display)],
        Decl::Assess(x) => vec![s("assess"), s(x.by.as_str())],
        Decl::Target(x) => vec![
            s("target"),
            s(&x.metric.name),
            s(x.op.as_str()),
            Some(text::literal(&x.value)),
        ],
        Decl::Test(x) => vec![s("test"), Some(escape(&x.name.value))],
        Decl::Calendar(x) => vec![s("calendar"), s(&x.name.name)],
    }
}

/// `a < b < c`
fn order(names: &[Ident]) -> String {
    let v: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    v.join(" < ")
}

/// The item lines of a declaration's block in source order, each on its own
/// (`expanded == false`: for a one-line block) or aligned for an expanded
/// block.
fn item_lines(d: &Decl, expanded: bool) -> Vec<String> {
    let mut align = true;
    let items: Vec<ItemText> = match d {
        Decl::Levels(_) | Decl::Grades(_) | Decl::Target(_) => Vec::new(),
        Decl::Policy(x) => x.items.iter().map(text::policy_item).collect(),
        Decl::Department(x) => department_items(x).into_iter().map(|(_, t)| t).collect(),
        Decl::Grade(x) => x.items.iter().map(text::grade_item).collect(),
        Decl::Category(CategoryDecl { items, .. }) | Decl::Fallback(FallbackDecl { items, .. }) => {
            let grade_w = if expanded {
                items
                    .iter()
                    .filter_map(|i| match i {
                        CategoryItem::Grade(g, Some(_), _) => Some(g.name.width()),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            items
                .iter()
                .map(|i| text::category_item(i, grade_w))
                .collect()
        }
        Decl::Empower(x) => x
            .items
            .iter()
            .map(|i| {
                let mut rest = text::names(&i.categories);
                if let Some(c) = &i.when {
                    rest.push_str(" when ");
                    text::expr(c, &mut rest);
                }
                ItemText::new("resolve", rest)
            })
            .collect(),
        Decl::Relieve(x) => x
            .items
            .iter()
            .map(|i| ItemText::new("forbid", text::names(&i.categories)))
            .collect(),
        Decl::Escalate(x) => {
            align = false;
            let pct_w = x
                .steps
                .iter()
                .filter_map(|s| text::step_percent(s).map(|p| p.width()))
                .max()
                .unwrap_or(0);
            x.steps.iter().map(|s| text::step(s, pct_w)).collect()
        }
        Decl::Threshold(x) => x.items.iter().map(text::threshold_item).collect(),
        Decl::Assess(x) => x
            .weights
            .iter()
            .map(|w| ItemText::new(w.metric.name.clone(), format!("weight {}", w.weight.text)))
            .collect(),
        Decl::Test(x) => x
            .order
            .iter()
            .filter_map(|r| match *r {
                TestItemRef::Event(i) => x
                    .events
                    .get(i)
                    .map(|e| ItemText::new("event", text::json(&e.json))),
                TestItemRef::Expect(i) => x.expects.get(i).map(text::expect),
            })
            .collect(),
        Decl::Calendar(x) => x.items.iter().map(text::calendar_item).collect(),
    };
    if !(expanded && align) {
        return items.iter().map(ItemText::plain).collect();
    }
    let kw_w = items
        .iter()
        .filter(|i| !i.rest.is_empty())
        .map(|i| i.kw.width())
        .max()
        .unwrap_or(0);
    items
        .iter()
        .map(|i| {
            if i.rest.is_empty() {
                i.kw.clone()
            } else {
                format!("{} {}", pad(&i.kw, kw_w), i.rest)
            }
        })
        .collect()
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
