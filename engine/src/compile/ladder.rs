//! `escalate` blocks → [`Ladder`]s.

use smallvec::SmallVec;
use whistle_grammar::ast::{self, Action, Trigger};
use whistle_grammar::diag::Diagnostic;

use super::Ctx;
use super::cond::Place;
use super::routes::compile_cond;
use crate::model::{ActionDef, ClockKind, Grade, Ladder, StepDef, TriggerDef};

/// Compiles the default ladder and the per-grade ladders.
pub(super) fn compile(
    ctx: &mut Ctx<'_>,
    blocks: &[&ast::EscalateDecl],
    grades: &[Option<Grade>],
) -> (Ladder, Vec<Option<Ladder>>) {
    let mut default = Ladder::default();
    let mut per_grade: Vec<Option<Ladder>> = vec![None; grades.len()];
    let own: Vec<String> = blocks
        .iter()
        .filter_map(|b| b.grade.as_ref().map(|g| g.name.clone()))
        .collect();
    for b in blocks {
        let grade = match &b.grade {
            Some(g) => match ctx.grade(g) {
                Some(id) => Some(id),
                None => continue,
            },
            None => None,
        };
        let site = ctx.site(
            b.span,
            Some(match &b.grade {
                Some(g) => format!("escalate for {}", g.name),
                None => "escalate (default ladder)".to_string(),
            }),
        );
        let ladder = match grade {
            Some(g) => match per_grade.get_mut(g as usize) {
                Some(slot) => slot.get_or_insert_with(Ladder::default),
                None => continue,
            },
            None => &mut default,
        };
        ladder.site.get_or_insert(site);
        let mut steps = Vec::new();
        for s in &b.steps {
            steps.push(step(ctx, s, b.grade.as_ref(), grades, &own));
        }
        // Re-borrow: `step` needed the context mutably.
        let ladder = match grade {
            Some(g) => per_grade.get_mut(g as usize).and_then(Option::as_mut),
            None => Some(&mut default),
        };
        if let Some(l) = ladder {
            l.steps.extend(steps.into_iter().flatten());
        }
    }
    (default, per_grade)
}

fn step(
    ctx: &mut Ctx<'_>,
    s: &ast::Step,
    for_grade: Option<&ast::Ident>,
    grades: &[Option<Grade>],
    own: &[String],
) -> Option<StepDef> {
    let trigger = match &s.trigger {
        Trigger::At { percent, clock } => {
            if percent.value <= 0.0 {
                ctx.error(
                    "E0402",
                    percent.span,
                    "a step fires after some of the limit has passed: use a percentage above 0%",
                );
            }
            let clock = match clock {
                ast::Clock::Respond => ClockKind::Respond,
                ast::Clock::Resolve => ClockKind::Resolve,
            };
            TriggerDef::At {
                fraction: percent.value,
                clock,
            }
        }
        Trigger::When(e) => TriggerDef::When(compile_cond(ctx, e, Place::AfterGrading)),
    };
    // The trigger as written: the step's text up to its first action.
    let label_span = s
        .actions
        .first()
        .map_or(s.span, |a| whistle_grammar::source::Span {
            end: a.span().start,
            ..s.span
        });
    // The grades this ladder applies to, for the `raise to` check: its own
    // grade, or every grade without a ladder of its own.
    let grade_levels: Vec<(String, u8)> = grades
        .iter()
        .flatten()
        .filter(|g| match for_grade {
            Some(f) => *g.name == *f.name,
            None => !own.iter().any(|o| **o == *g.name),
        })
        .map(|g| (g.name.to_string(), g.level))
        .collect();
    let mut actions = Vec::new();
    let mut labels = Vec::new();
    for a in &s.actions {
        labels.push(crate::lifecycle::Name::lasting(&super::collapse(
            ctx.bundle.sources.text(a.span()),
        )));
        match a {
            Action::Remind(_) => actions.push(ActionDef::Remind),
            Action::Notify(x, _) => {
                if let Some(t) = ctx.target(x, "notify") {
                    actions.push(ActionDef::Notify(t));
                }
            }
            Action::Raise(n, span) => {
                if n.value < 1.0 || n.value.fract() != 0.0 {
                    ctx.error(
                        "E0402",
                        *span,
                        "`raise N` takes a whole number of levels from 1",
                    );
                } else {
                    // A raise stops at the top level (LANGUAGE.md 3.4), and
                    // there are at most 8 levels.
                    actions.push(ActionDef::Raise(n.value.min(8.0) as u8));
                }
            }
            Action::RaiseTo(l, span) => {
                let Some(lid) = ctx.level(l) else { continue };
                for (gname, glevel) in &grade_levels {
                    if lid < *glevel {
                        let handled = ctx
                            .names
                            .levels
                            .get(*glevel as usize)
                            .map_or("?", |x| &**x)
                            .to_string();
                        ctx.push(
                            Diagnostic::error(
                                "E0401",
                                *span,
                                format!("`raise to {}` is below `{handled}`, where `{gname}` events are handled", l.name),
                            )
                            .with_help("a raise never goes down; name a level at or above the grade's level"),
                        );
                        break;
                    }
                }
                actions.push(ActionDef::RaiseTo(lid));
            }
            Action::Whistle(ds, _) => {
                let ds: SmallVec<[u16; 4]> = ds.iter().filter_map(|d| ctx.dept(d)).collect();
                actions.push(ActionDef::Whistle(ds));
            }
        }
    }
    let label = super::collapse(ctx.bundle.sources.text(label_span))
        .trim_end_matches("->")
        .trim()
        .to_string();
    let site = ctx.site(s.span, None);
    Some(StepDef {
        trigger,
        actions,
        label: label.into(),
        action_labels: labels,
        site,
    })
}
