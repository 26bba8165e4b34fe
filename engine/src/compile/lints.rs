//! Checks that look across declarations: relief conflicts, shadowed grade
//! lines, departments nobody uses.

use whistle_grammar::ast::{self, CategoryItem};
use whistle_grammar::diag::Diagnostic;

use super::Ctx;
use super::routes::{RouteSpans, Routes};
use crate::model::Grade;

pub(super) fn run(
    ctx: &mut Ctx<'_>,
    routes: &Routes,
    depts: &[&ast::DepartmentDecl],
    categories: &[&ast::CategoryDecl],
    grades: &[Option<Grade>],
) {
    for (route, spans) in routes.list.iter().zip(&routes.spans) {
        relief_conflicts(ctx, &route.name, spans, grades);
    }
    for spans in routes
        .spans
        .iter()
        .chain(std::iter::once(&routes.fallback_spans))
    {
        shadowed(ctx, spans);
    }
    for c in categories {
        lead_in_assist(ctx, c);
    }
    for d in depts {
        let used = ctx
            .names
            .depts
            .get(&d.name.name)
            .and_then(|(id, _)| ctx.names.dept_used.get(*id as usize))
            .copied()
            .unwrap_or(true);
        if !used {
            ctx.push(
                Diagnostic::warning(
                    "W0701",
                    d.name.span,
                    format!("department `{}` is never used", d.name.name),
                )
                .with_help(
                    "no category leads or assists with it, and no ladder or threshold names it",
                ),
            );
        }
    }
}

fn level_name(ctx: &Ctx<'_>, l: u8) -> String {
    ctx.names
        .levels
        .get(l as usize)
        .map_or_else(|| "?".into(), |s| s.to_string())
}

/// A relieved category must never be put at the relieved level by a grade,
/// a `level` line or an `empower` line (LANGUAGE.md 3.3).
fn relief_conflicts(ctx: &mut Ctx<'_>, name: &str, spans: &RouteSpans, grades: &[Option<Grade>]) {
    for &(l, forbid) in &spans.relief {
        let lname = level_name(ctx, l);
        let conflict = |ctx: &mut Ctx<'_>, at, how: String| {
            let forbid_at = ctx.bundle.sources.location(forbid);
            ctx.push(
                Diagnostic::error(
                    "E0301",
                    at,
                    format!("{how} puts `{name}` at `{lname}`, but the relief list forbids it there ({forbid_at})"),
                )
                .with_label(forbid, format!("`{name}` may never be handled at `{lname}`"))
                .with_help("remove one of the two lines, or handle the category at another level"),
            );
        };
        for &(el, at) in &spans.empower {
            if el == l {
                conflict(ctx, at, "this empowerment".into());
            }
        }
        // An empowerment without a condition sets every event's level:
        // no grade or `level` line ever puts one anywhere.
        if spans.empowered_always {
            continue;
        }
        match spans.level {
            Some((ll, at)) if ll == l => conflict(ctx, at, "this `level` line".into()),
            Some(_) => {}
            None => {
                // Lines after the first unconditional one never match
                // (W0204): they put the category nowhere.
                let reachable = spans
                    .grades
                    .iter()
                    .position(|(_, conditional, _)| !conditional)
                    .map_or(spans.grades.len(), |p| p + 1);
                for &(g, _, at) in &spans.grades[..reachable] {
                    if grades
                        .get(g as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|gd| gd.level == l)
                    {
                        let gname = grades
                            .get(g as usize)
                            .and_then(Option::as_ref)
                            .map_or("?", |gd| &*gd.name);
                        conflict(
                            ctx,
                            at,
                            format!("grade `{gname}` (handled at `{lname}` by default)"),
                        );
                    }
                }
            }
        }
    }
}

/// Grade lines after an unconditional one can never match.
fn shadowed(ctx: &mut Ctx<'_>, spans: &RouteSpans) {
    let Some(pos) = spans
        .grades
        .iter()
        .position(|(_, conditional, _)| !conditional)
    else {
        return;
    };
    let default_at = spans.grades[pos].2;
    for &(_, _, at) in &spans.grades[pos + 1..] {
        ctx.push(
            Diagnostic::warning("W0204", at, "this `grade` line can never match")
                .with_label(
                    default_at,
                    "the unconditional `grade` line before it always matches first",
                )
                .with_help("move the unconditional line to the end"),
        );
    }
}

fn lead_in_assist(ctx: &mut Ctx<'_>, c: &ast::CategoryDecl) {
    let lead = c.items.iter().find_map(|i| match i {
        CategoryItem::Lead(d, _) => Some(d.name.as_str()),
        _ => None,
    });
    let Some(lead) = lead else { return };
    for item in &c.items {
        if let CategoryItem::Assist(ds, _, _) = item {
            for d in ds.iter().filter(|d| d.name == lead) {
                ctx.push(
                    Diagnostic::warning(
                        "W0205",
                        d.span,
                        format!("`{lead}` leads `{}` and cannot also assist", c.name.name),
                    )
                    .with_help(
                        "the lead is never listed among the assisting departments; remove it here",
                    ),
                );
            }
        }
    }
}
