//! Deciding an open case again under the policy in force: what an officer
//! asks for after a rollout, when open events should follow the new lists
//! rather than keep the decision they were made with.

use jiff::Timestamp;

use super::ladder::{adopt, dept_name, level_name, limits, replan, route_of, run_when, same};
use super::name::Name;
use super::state::Case;
use super::transition::{Change, Changed, Transition};
use crate::decide::{Clocks, Context, decide};
use crate::decision_json::instant;
use crate::model::Policy;
use crate::windows::{ExceptItself, History};

/// Decides an open case again under `policy`, at `now`, and applies what
/// changed:
///
/// - the grade, and with it the limits: both deadlines are counted again
///   from the case's clock start (the report, or the last reopen) with the
///   new limits, and the ladder is planned on them (steps that fired stay
///   fired);
/// - the lead, level and unit, unless a person or the ladder already moved
///   the case (reassigned or raised): a redecision never overrides them;
/// - cooperating departments the new decision adds join; none is dropped,
///   since they may already be at work;
/// - on-the-spot handling and the fallback flag.
///
/// Returns a `redecided` transition naming every changed field, and every
/// field kept by a reassignment or a raise that the new decision would
/// have changed (then what the ladder's `when` steps did). A case that
/// only moves to the policy in force, with no field to change, gets a
/// `policy_adopted` transition (its ladder is planned again); a closed
/// case, or one decided under this policy already with nothing to change,
/// gets nothing. The state does not change.
pub fn redecide(
    policy: &Policy,
    case: &mut Case,
    now: Timestamp,
    history: &dyn History,
) -> Vec<Transition> {
    if !case.state.is_open() {
        return Vec::new();
    }
    let d = decide(
        policy,
        &case.event,
        &Context {
            history: &ExceptItself(history),
            reopened: case.reopened,
        },
    );
    let mut changes = Vec::new();
    let mut note = |field: &str, before: String, after: String| {
        if before != after {
            changes.push(Changed {
                field: Name::from(field),
                before,
                after,
            });
        }
    };
    let grade = super::ladder::grade_name(policy, d.grade);
    note("grade", case.grade.to_string(), grade.to_string());
    case.grade = grade;

    // Taken before a new lead leaves the assisting departments: the
    // history says what the case held, not what was left of it.
    let assist_before = names(&case.assist);
    let mut kept = Vec::new();
    if case.reassigned || case.raised {
        let lead = dept_name(policy, d.lead);
        let level = level_name(policy, d.level);
        let unit = d.unit.as_deref().unwrap_or_default();
        let now_unit = case.unit.as_ref().map_or("", Name::as_str);
        for (field, before, after) in [
            ("lead", case.lead.as_str(), lead.as_str()),
            ("level", case.level.as_str(), level.as_str()),
            ("unit", now_unit, unit),
        ] {
            // A raise moves the level and unit by design: only a person's
            // choice of them, or the lead, is news.
            let raise_did_it = field != "lead" && !case.reassigned;
            if before != after && !raise_did_it {
                kept.push(Changed {
                    field: Name::from(field),
                    before: before.to_string(),
                    after: after.to_string(),
                });
            }
        }
    } else {
        let lead = dept_name(policy, d.lead);
        note("lead", case.lead.to_string(), lead.to_string());
        if case.lead != lead {
            case.assist.retain(|a| *a != lead);
            case.lead = lead;
        }
        let level = level_name(policy, d.level);
        note("level", case.level.to_string(), level.to_string());
        case.level = level;
        let unit = d.unit.clone();
        let text = |u: &Option<Name>| u.as_ref().map_or_else(String::new, |n| n.to_string());
        note("unit", text(&case.unit), text(&unit));
        case.unit = unit;
        note(
            "on_the_spot",
            case.on_the_spot.to_string(),
            d.on_the_spot.to_string(),
        );
        case.on_the_spot = d.on_the_spot;
    }
    for &a in &d.assist {
        let name = dept_name(policy, a);
        if name != case.lead && !case.assist.contains(&name) {
            case.assist.push(name);
        }
    }
    note("assist", assist_before, names(&case.assist));
    note(
        "fallback",
        case.fallback.to_string(),
        d.fallback.to_string(),
    );
    case.fallback = d.fallback;

    let route = route_of(policy, &case.event.category);
    let (respond, resolve) = limits(policy, route, d.grade);
    let clocks = Clocks::start(&policy.calendar, case.clock_start, respond, resolve);
    note(
        "respond_by",
        instant(policy, case.respond_by),
        instant(policy, clocks.respond_by),
    );
    note(
        "resolve_by",
        instant(policy, case.resolve_by),
        instant(policy, clocks.resolve_by),
    );
    case.respond_by = clocks.respond_by;
    case.resolve_by = clocks.resolve_by;

    let moved_policy = *case.policy != *policy.hash;
    if changes.is_empty() && kept.is_empty() {
        // Nothing to tell but the move to this policy (and its ladder).
        let mut out: Vec<Transition> = adopt(policy, case, now).into_iter().collect();
        if !out.is_empty() {
            run_when(policy, case, history, now, true, &mut out);
        }
        return out;
    }
    if changes.is_empty() && !moved_policy {
        // Decided under this policy already: what is kept was said then.
        return Vec::new();
    }
    replan(policy, case);
    case.policy = super::ladder::policy_name(policy);
    let mut out = vec![same(
        case.state,
        now,
        Change::Redecided {
            changes,
            kept,
            policy: case.policy.clone(),
        },
    )];
    run_when(policy, case, history, now, true, &mut out);
    out
}

fn names(list: &[Name]) -> String {
    list.iter().map(Name::as_str).collect::<Vec<_>>().join(", ")
}
