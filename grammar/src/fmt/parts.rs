//! The parts of each declaration as text: its head words, its items (as
//! one-line or aligned expanded lines) and where its items end in the source.

use unicode_width::UnicodeWidthStr;

use super::pad;
use super::text::{self, ItemText};
use crate::ast::*;
use crate::lower::escape;
use crate::source::Span;

/// Kinds whose one-line declarations form aligned runs.
pub(super) fn run_kind(d: &Decl) -> Option<u8> {
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
pub(super) fn item_ends(d: &Decl) -> Option<Vec<usize>> {
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
pub(super) fn head(d: &Decl) -> Vec<Option<String>> {
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

/// The declaration's width written on one line, before its columns are
/// aligned with its neighbours'.
pub(super) fn one_line_width(d: &Decl) -> usize {
    let mut cells: Vec<String> = head(d).into_iter().flatten().collect();
    if item_ends(d).is_some() {
        cells.push(text::inline_block(&item_lines(d, false)));
    }
    cells.join(" ").width()
}

/// `a < b < c`
fn order(names: &[Ident]) -> String {
    let v: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    v.join(" < ")
}

/// The item lines of a declaration's block in source order, each on its own
/// (`expanded == false`: for a one-line block) or aligned for an expanded
/// block.
pub(super) fn item_lines(d: &Decl, expanded: bool) -> Vec<String> {
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
                ItemText::new(
                    "resolve",
                    text::names(&i.categories) + &text::when(i.when.as_ref()),
                )
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
    if !expanded {
        // A one-line block is never broken.
        return items.iter().map(|i| text::unbroken(&i.plain())).collect();
    }
    if !align {
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
