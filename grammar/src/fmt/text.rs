//! The canonical text of every node below a declaration: conditions,
//! literals, durations, dates, item lines and test-event JSON.
//!
//! These functions know nothing of comments or columns; an item comes back
//! as its keyword and the rest of its line, and the caller pads them.

use std::fmt::Write as _;

use crate::ast::*;
use crate::lower::escape;

/// An item line: its keyword (the column that gets aligned) and the rest.
pub(super) struct ItemText {
    /// `lead`, `respond`, a metric name, ...
    pub kw: String,
    /// Everything after the keyword; may be empty (`external`, `remind`).
    pub rest: String,
}

impl ItemText {
    pub fn new(kw: impl Into<String>, rest: impl Into<String>) -> ItemText {
        ItemText {
            kw: kw.into(),
            rest: rest.into(),
        }
    }

    /// The item on its own, keyword and rest separated by one space.
    pub fn plain(&self) -> String {
        if self.rest.is_empty() {
            self.kw.clone()
        } else {
            format!("{} {}", self.kw, self.rest)
        }
    }
}

/// `a, b, c`
pub(super) fn names(list: &[Ident]) -> String {
    let mut out = String::new();
    for (i, id) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&id.name);
    }
    out
}

/// `2025-10-01`
pub(super) fn date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// `09:00`
fn time_of_day(t: TimeOfDay) -> String {
    format!("{:02}:{:02}", t.minutes / 60, t.minutes % 60)
}

/// `1d12h`, `2h working`
pub(super) fn duration(d: &Duration) -> String {
    let mut out = String::new();
    for &(n, unit) in &d.parts {
        let u = match unit {
            TimeUnit::Day => 'd',
            TimeUnit::Hour => 'h',
            TimeUnit::Minute => 'm',
            TimeUnit::Second => 's',
        };
        let _ = write!(out, "{n}{u}");
    }
    if d.working {
        out.push_str(" working");
    }
    out
}

/// A literal as written (numbers keep their text, strings are re-escaped).
pub(super) fn literal(l: &Literal) -> String {
    match l {
        Literal::Number(n) => n.text.clone(),
        Literal::Percent(n) => format!("{}%", n.text),
        Literal::Str(s) => escape(&s.value),
        Literal::Bool(b, _) => b.to_string(),
        Literal::Duration(d) => duration(d),
    }
}

fn attr(keys: &[String], out: &mut String) {
    out.push_str("attr");
    for k in keys {
        out.push('.');
        out.push_str(k);
    }
}

fn operand(o: &Operand, out: &mut String) {
    match o {
        Operand::Attr(keys, _) => attr(keys, out),
        Operand::Repeats { window, by, .. } => {
            out.push_str("repeats(");
            out.push_str(&duration(window));
            if let Some(by) = by {
                out.push_str(", ");
                out.push_str(&by.name);
            }
            out.push(')');
        }
        Operand::Name(id) => out.push_str(&id.name),
        Operand::Lit(l) => out.push_str(&literal(l)),
    }
}

/// A condition on one line. Parentheses are exactly the user's
/// ([`ExprKind::Paren`]); the tree never needs more, because `or` and `and`
/// lists and `not` chains come out of the parser already grouped by
/// precedence.
pub(super) fn expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Or(xs) | ExprKind::And(xs) => operands(e, xs, ' ', out),
        ExprKind::Not(x) => {
            out.push_str("not ");
            expr(x, out);
        }
        ExprKind::Paren(x) => {
            out.push('(');
            expr(x, out);
            out.push(')');
        }
        ExprKind::Has(keys, _) => {
            out.push_str("has ");
            attr(keys, out);
        }
        ExprKind::Cmp { lhs, op, rhs } => {
            operand(lhs, out);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            operand(rhs, out);
        }
        ExprKind::In { lhs, negated, list } => {
            operand(lhs, out);
            out.push_str(if *negated { " not in [" } else { " in [" });
            for (i, x) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operand(x, out);
            }
            out.push(']');
        }
        ExprKind::Truthy(o) => operand(o, out),
    }
}

/// Where a long item line may be broken ([`super::doc`]), written in place
/// of the space before the word that would start the next line: before the
/// `when` of an item that ends in a condition ...
pub(super) const BREAK_WHEN: char = '\u{1}';
/// ... and before each `and` / `or` that joins the condition's top-level
/// operands. Neither can occur in the text otherwise: strings are escaped
/// and test-event JSON holds no control characters.
pub(super) const BREAK_OP: char = '\u{2}';

/// The operands of an `or` / `and` list, each `before` the joining word.
fn operands(e: &Expr, xs: &[Expr], before: char, out: &mut String) {
    let word = if matches!(e.kind, ExprKind::Or(_)) {
        "or "
    } else {
        "and "
    };
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(before);
            out.push_str(word);
        }
        expr(x, out);
    }
}

/// A condition that ends an item line: [`expr`], with [`BREAK_OP`] before
/// each of its top-level `and` / `or`.
pub(super) fn breakable_expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Or(xs) | ExprKind::And(xs) => operands(e, xs, BREAK_OP, out),
        _ => expr(e, out),
    }
}

/// ` when COND` (the space a [`BREAK_WHEN`]), or nothing.
pub(super) fn when(e: Option<&Expr>) -> String {
    let mut out = String::new();
    if let Some(e) = e {
        out.push(BREAK_WHEN);
        out.push_str("when ");
        breakable_expr(e, &mut out);
    }
    out
}

/// `s` with its break marks as plain spaces: the item on one line.
pub(super) fn unbroken(s: &str) -> String {
    s.replace([BREAK_WHEN, BREAK_OP], " ")
}

/// A one-line block: `{ a  b }` (two spaces between items), or `{}`.
pub(super) fn inline_block(items: &[String]) -> String {
    if items.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", items.join("  "))
    }
}

/// `respond 2h`
pub(super) fn limit(l: &Limit) -> ItemText {
    ItemText::new(l.clock.as_str(), duration(&l.duration))
}

/// An item of a category or of the fallback. `grade_w` is the width the
/// grade name of a `grade ... when` line is padded to (0: no padding).
pub(super) fn category_item(item: &CategoryItem, grade_w: usize) -> ItemText {
    match item {
        CategoryItem::Lead(d, _) => ItemText::new("lead", d.name.clone()),
        CategoryItem::Level(l, _) => ItemText::new("level", l.name.clone()),
        CategoryItem::Assist(ds, cond, _) => {
            ItemText::new("assist", names(ds) + &when(cond.as_ref()))
        }
        CategoryItem::Grade(g, cond, _) => {
            let rest = match cond {
                Some(c) => format!("{}{}", super::pad(&g.name, grade_w), when(Some(c))),
                None => g.name.clone(),
            };
            ItemText::new("grade", rest)
        }
        CategoryItem::Limits(g, limits, _) => {
            let items: Vec<String> = limits.iter().map(|l| limit(l).plain()).collect();
            ItemText::new("limits", format!("{} {}", g.name, inline_block(&items)))
        }
    }
}

/// `grade` item of a grade block.
pub(super) fn grade_item(item: &GradeItem) -> ItemText {
    match item {
        GradeItem::Level(l, _) => ItemText::new("level", l.name.clone()),
        GradeItem::Limit(l) => limit(l),
    }
}

/// `policy` header item.
pub(super) fn policy_item(item: &PolicyItem) -> ItemText {
    match item {
        PolicyItem::Version(s, _) => ItemText::new("version", escape(&s.value)),
        PolicyItem::Effective(d, _) => ItemText::new("effective", date(d)),
        PolicyItem::Timezone(s, _) => ItemText::new("timezone", escape(&s.value)),
        PolicyItem::Calendar(c, _) => ItemText::new("calendar", c.name.clone()),
    }
}

fn action(a: &Action) -> String {
    match a {
        Action::Remind(_) => "remind".to_string(),
        Action::Notify(x, _) => format!("notify {}", x.name),
        Action::Raise(n, _) => format!("raise {}", n.text),
        Action::RaiseTo(l, _) => format!("raise to {}", l.name),
        Action::Whistle(ds, _) => format!("whistle {}", names(ds)),
    }
}

/// The `N%` of an `at` step.
pub(super) fn step_percent(step: &Step) -> Option<String> {
    match &step.trigger {
        Trigger::At { percent, .. } => Some(format!("{}%", percent.text)),
        Trigger::When(_) => None,
    }
}

/// A ladder step; the percentage of an `at` step is padded to `pct_w`.
pub(super) fn step(step: &Step, pct_w: usize) -> ItemText {
    let actions: Vec<String> = step.actions.iter().map(action).collect();
    let actions = actions.join(", ");
    match &step.trigger {
        Trigger::At { percent, clock } => {
            let pct = format!("{}%", percent.text);
            ItemText::new(
                "at",
                format!(
                    "{} {} -> {actions}",
                    super::pad(&pct, pct_w),
                    clock.as_str()
                ),
            )
        }
        Trigger::When(e) => {
            let mut rest = String::new();
            breakable_expr(e, &mut rest);
            rest.push_str(" -> ");
            rest.push_str(&actions);
            ItemText::new("when", rest)
        }
    }
}

/// An item of a threshold.
pub(super) fn threshold_item(item: &ThresholdItem) -> ItemText {
    match item {
        ThresholdItem::Metric {
            metric, by, over, ..
        } => {
            let mut rest = String::new();
            match metric {
                MetricExpr::Builtin(m) => rest.push_str(&m.name),
                // Every event: the built-in metric's name, as LANGUAGE.md
                // section 6 writes it.
                MetricExpr::Count(None, _) => rest.push_str("count"),
                MetricExpr::Count(Some(c), _) => {
                    rest.push_str("count(");
                    expr(c, &mut rest);
                    rest.push(')');
                }
            }
            let _ = write!(rest, " by {} over {}", by.as_str(), duration(over));
            ItemText::new("metric", rest)
        }
        ThresholdItem::When(op, lit, _) => {
            ItemText::new("when", format!("{} {}", op.as_str(), literal(lit)))
        }
        ThresholdItem::Alert(l, _) => ItemText::new("alert", l.name.clone()),
    }
}

/// An item of a calendar.
pub(super) fn calendar_item(item: &CalendarItem) -> ItemText {
    let dated = |kw: &str, from: &Date, to: &Option<Date>, label: &Option<StrLit>| {
        let mut rest = date(from);
        if let Some(to) = to {
            rest.push_str("..");
            rest.push_str(&date(to));
        }
        if let Some(l) = label {
            rest.push(' ');
            rest.push_str(&escape(&l.value));
        }
        ItemText::new(kw, rest)
    };
    match item {
        CalendarItem::Week {
            days, intervals, ..
        } => {
            let days: Vec<String> = days
                .iter()
                .map(|d| match &d.to {
                    Some(to) => format!("{}..{}", d.from.name, to.name),
                    None => d.from.name.clone(),
                })
                .collect();
            let intervals: Vec<String> = intervals
                .iter()
                .map(|(a, b)| format!("{}-{}", time_of_day(*a), time_of_day(*b)))
                .collect();
            ItemText::new(
                "week",
                format!("{} {}", days.join(", "), intervals.join(", ")),
            )
        }
        CalendarItem::Holiday(from, to, label, _) => dated("holiday", from, to, label),
        CalendarItem::Workday(from, to, label, _) => dated("workday", from, to, label),
    }
}

/// `expect { key: value, ... }`
pub(super) fn expect(e: &Expect) -> ItemText {
    let entries: Vec<String> = e
        .entries
        .iter()
        .map(|entry| {
            let v = match &entry.value {
                ExpectValue::Name(n) => n.name.clone(),
                ExpectValue::Str(s) => escape(&s.value),
                ExpectValue::Bool(b, _) => b.to_string(),
                ExpectValue::Number(n) => n.text.clone(),
                ExpectValue::List(xs, _) => format!("[{}]", names(xs)),
            };
            format!("{}: {v}", entry.key.name)
        })
        .collect();
    let body = if entries.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", entries.join(", "))
    };
    ItemText::new("expect", body)
}

/// The JSON object of a test event on one line, every token kept exactly as
/// written (so key order, number spelling and string escapes never change),
/// with canonical spacing: `{ "k": v, "k2": [1, 2] }`, `{}`, `[]`.
///
/// Re-serialising with serde_json is deliberately avoided: without its
/// `preserve_order` feature it sorts object keys, and whether that feature
/// is on depends on the rest of the build.
pub(super) fn json(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0usize;
    // Whether the last token opened an object or array (so a closing token
    // right after it makes an empty one).
    let mut just_opened = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'{' | b'[' => {
                out.push(b as char);
                i += 1;
                just_opened = true;
                continue;
            }
            b'}' => {
                if !just_opened {
                    out.push(' ');
                }
                out.push('}');
                i += 1;
            }
            b']' => {
                out.push(']');
                i += 1;
            }
            b',' => {
                out.push_str(", ");
                i += 1;
            }
            b':' => {
                out.push_str(": ");
                i += 1;
            }
            _ => {
                if just_opened && out.ends_with('{') {
                    out.push(' ');
                }
                let end = if b == b'"' {
                    string_end(bytes, i)
                } else {
                    bytes[i..]
                        .iter()
                        .position(|c| b" \t\r\n,:]}".contains(c))
                        .map_or(bytes.len(), |n| i + n)
                };
                out.push_str(&text[i..end]);
                i = end;
            }
        }
        just_opened = false;
    }
    out
}

/// The offset just past the JSON string starting at `bytes[start]`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}
