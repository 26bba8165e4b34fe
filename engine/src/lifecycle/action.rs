//! [`Action`]s on a case: validation (everything is checked before anything
//! changes) and their effect.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::ladder::{
    Scope, current_level, dept_name, due_whistle, level_name, limits, plan, route_of, skip, summon,
};
use super::name::Name;
use super::state::{Case, State, StepClock};
use super::transition::{Change, Refusal, RefusalCode, Transition};
use crate::decide::{Clocks, Context, decide};
use crate::model::{DeptId, LevelId, Policy};
use crate::windows::{ExceptItself, History};

/// Something done to a case. In JSON: `{"action": "accept", "by": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// A misspelt field (`notes`) is an error, not a note lost without a word.
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The handler accepts the event (dispatched → accepted).
    Accept {
        /// Who accepts.
        #[serde(default)]
        by: Option<String>,
    },
    /// The handler resolves it (accepted → resolved; dispatched → resolved
    /// when settled on the spot).
    Resolve {
        /// What was done.
        #[serde(default)]
        note: Option<String>,
    },
    /// It came back (resolved or closed → dispatched, decided again).
    Reopen {
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Send it to another unit and/or lead department (→ dispatched).
    Reassign {
        /// The unit (an area id of the tree).
        #[serde(default)]
        unit: Option<String>,
        /// The lead department.
        #[serde(default)]
        lead: Option<String>,
    },
    /// Summon departments; each must acknowledge within the respond limit.
    Whistle {
        /// The departments.
        departments: Vec<String>,
    },
    /// A summoned department acknowledges.
    Ack {
        /// The department.
        department: String,
    },
    /// The reporter's feedback (resolved → closed).
    Feedback {
        /// 1–5.
        rating: u8,
        /// A comment.
        #[serde(default)]
        comment: Option<String>,
    },
    /// The clock reached `now`: fire every ladder step (and report every
    /// missed acknowledgement) due at or before it.
    Tick,
}

impl Action {
    /// The action's name as written in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept { .. } => "accept",
            Action::Resolve { .. } => "resolve",
            Action::Reopen { .. } => "reopen",
            Action::Reassign { .. } => "reassign",
            Action::Whistle { .. } => "whistle",
            Action::Ack { .. } => "ack",
            Action::Feedback { .. } => "feedback",
            Action::Tick => "tick",
        }
    }

    /// The action as a verb phrase for messages (`give feedback on`).
    fn verb(&self) -> &'static str {
        match self {
            Action::Whistle { .. } => "whistle departments to",
            Action::Ack { .. } => "acknowledge",
            Action::Feedback { .. } => "give feedback on",
            other => other.name(),
        }
    }
}

/// A validated action, names resolved.
pub(crate) enum Plan {
    Tick,
    Accept {
        by: Option<String>,
    },
    Resolve {
        note: Option<String>,
        on_the_spot: bool,
    },
    Reopen {
        reason: Option<String>,
    },
    Reassign {
        level: Option<LevelId>,
        unit: Option<Name>,
        lead: Option<Name>,
    },
    Whistle(SmallVec<[DeptId; 4]>),
    Ack(Name),
    Feedback {
        rating: u8,
        comment: Option<String>,
    },
}

/// What may be done in a state.
fn allowed(case: &Case) -> &'static str {
    match case.state {
        State::Reported => "nothing until it is dispatched",
        State::Dispatched if case.on_the_spot => "accept, resolve, reassign, whistle, ack",
        State::Dispatched => "accept, reassign, whistle, ack",
        State::Accepted => "resolve, reassign, whistle, ack",
        State::Resolved => "feedback, reopen, ack",
        State::Closed => "reopen",
    }
}

fn refuse(case: &Case, code: RefusalCode, message: String) -> Refusal {
    Refusal {
        code,
        state: case.state,
        message,
    }
}

fn bad_state(case: &Case, verb: &str, why: &str) -> Refusal {
    refuse(
        case,
        RefusalCode::InvalidState,
        format!(
            "cannot {verb} event `{}`: it is {}{why}; allowed now: {}",
            case.event.id,
            case.state,
            allowed(case)
        ),
    )
}

fn dept(policy: &Policy, case: &Case, name: &str) -> Result<DeptId, Refusal> {
    policy.dept_id(name).ok_or_else(|| {
        refuse(
            case,
            RefusalCode::UnknownDepartment,
            format!("the policy has no department `{name}`"),
        )
    })
}

/// Checks an action against the case without changing anything.
pub(crate) fn validate(
    policy: &Policy,
    case: &Case,
    action: Action,
    now: Timestamp,
) -> Result<Plan, Refusal> {
    let verb = action.verb();
    Ok(match action {
        Action::Tick => Plan::Tick,
        Action::Accept { by } => {
            if case.state != State::Dispatched {
                return Err(bad_state(case, verb, ""));
            }
            Plan::Accept { by }
        }
        Action::Resolve { note } => match case.state {
            State::Accepted => Plan::Resolve {
                note,
                on_the_spot: false,
            },
            State::Dispatched if case.on_the_spot => Plan::Resolve {
                note,
                on_the_spot: true,
            },
            State::Dispatched => {
                return Err(bad_state(
                    case,
                    verb,
                    " and not accepted (only an event settled on the spot is resolved straight from dispatch)",
                ));
            }
            _ => return Err(bad_state(case, verb, "")),
        },
        Action::Reopen { reason } => {
            if !matches!(case.state, State::Resolved | State::Closed) {
                return Err(bad_state(
                    case,
                    verb,
                    " (only a resolved or closed event reopens)",
                ));
            }
            Plan::Reopen { reason }
        }
        Action::Feedback { rating, comment } => {
            if case.state != State::Resolved {
                let why = if case.state == State::Closed {
                    " (feedback was already given)"
                } else {
                    " (feedback follows resolution)"
                };
                return Err(bad_state(case, verb, why));
            }
            if !(1..=5).contains(&rating) {
                return Err(refuse(
                    case,
                    RefusalCode::BadRating,
                    format!("a rating is a whole number from 1 to 5, not {rating}"),
                ));
            }
            Plan::Feedback { rating, comment }
        }
        Action::Reassign { unit, lead } => validate_reassign(policy, case, unit, lead)?,
        Action::Whistle { departments } => {
            if !case.state.is_open() {
                return Err(bad_state(case, verb, ""));
            }
            if departments.is_empty() {
                return Err(refuse(
                    case,
                    RefusalCode::NoDepartments,
                    "a whistle names at least one department".into(),
                ));
            }
            let sc = super::ladder::follows(case, policy).then(|| Scope::of(policy, case));
            let mut ids: SmallVec<[DeptId; 4]> = SmallVec::new();
            for name in &departments {
                let d = dept(policy, case, name)?;
                if case.lead == name.as_str() {
                    return Err(refuse(
                        case,
                        RefusalCode::IsLead,
                        format!(
                            "`{name}` leads event `{}`: it cannot be whistled to it",
                            case.event.id
                        ),
                    ));
                }
                let waiting = case
                    .summoned
                    .iter()
                    .any(|m| m.pending() && m.department == name.as_str())
                    || sc.as_ref().is_some_and(|sc| due_whistle(sc, case, now, d));
                if waiting {
                    return Err(refuse(
                        case,
                        RefusalCode::AlreadySummoned,
                        format!(
                            "`{name}` was already summoned to event `{}` and has not acknowledged yet",
                            case.event.id
                        ),
                    ));
                }
                if !ids.contains(&d) {
                    ids.push(d);
                }
            }
            Plan::Whistle(ids)
        }
        Action::Ack { department } => {
            if matches!(case.state, State::Reported | State::Closed) {
                return Err(bad_state(case, verb, ""));
            }
            let d = dept(policy, case, &department)?;
            let mine = |m: &&super::state::Summons| m.department == department.as_str();
            if case.summoned.iter().filter(mine).any(|m| m.pending()) {
                return Ok(Plan::Ack(dept_name(policy, d)));
            }
            let sc = super::ladder::follows(case, policy).then(|| Scope::of(policy, case));
            // A step due before now summons it first (never the lead: a whistle passes it over).
            if case.lead != department.as_str()
                && sc.is_some_and(|sc| due_whistle(&sc, case, now, d))
            {
                return Ok(Plan::Ack(dept_name(policy, d)));
            }
            return Err(if case.summoned.iter().any(|m| mine(&m)) {
                refuse(
                    case,
                    RefusalCode::AlreadyAcked,
                    format!(
                        "`{department}` already acknowledged event `{}`",
                        case.event.id
                    ),
                )
            } else {
                refuse(
                    case,
                    RefusalCode::NotSummoned,
                    format!(
                        "`{department}` was not summoned to event `{}`",
                        case.event.id
                    ),
                )
            });
        }
    })
}

fn validate_reassign(
    policy: &Policy,
    case: &Case,
    unit: Option<String>,
    lead: Option<String>,
) -> Result<Plan, Refusal> {
    if !case.state.is_open() {
        return Err(bad_state(case, "reassign", ""));
    }
    if unit.is_none() && lead.is_none() {
        return Err(refuse(
            case,
            RefusalCode::NoChange,
            "a reassignment names a `unit`, a `lead` department, or both".into(),
        ));
    }
    let lead = match lead {
        Some(l) => Some(dept_name(policy, dept(policy, case, &l)?)),
        None => None,
    };
    let (level, unit) = match unit {
        None => (None, None),
        // Without an area tree, units are not known: any id is taken as given.
        Some(u) if policy.areas.grids.is_empty() => (None, Some(Name::from(u))),
        Some(u) => {
            let Some((level, name)) = find_unit(policy, &u) else {
                return Err(refuse(
                    case,
                    RefusalCode::UnknownUnit,
                    format!("cannot reassign: the area tree has no unit `{u}`"),
                ));
            };
            if relieved(policy, case, level) {
                return Err(refuse(
                    case,
                    RefusalCode::RelievedLevel,
                    format!(
                        "cannot reassign to `{u}`: `{}` events may not be handled at {} (relief list)",
                        case.event.category,
                        level_name(policy, level)
                    ),
                ));
            }
            (Some(level), Some(name))
        }
    };
    let same_unit = unit.as_ref().is_none_or(|u| case.unit.as_ref() == Some(u))
        && level.is_none_or(|l| case.level == *level_name(policy, l));
    let same_lead = lead.as_ref().is_none_or(|l| *l == case.lead);
    if same_unit && same_lead {
        return Err(refuse(
            case,
            RefusalCode::NoChange,
            format!(
                "event `{}` is already with that unit and lead",
                case.event.id
            ),
        ));
    }
    Ok(Plan::Reassign { level, unit, lead })
}

/// The level of a unit of the area tree, and its id as the tree stores it.
fn find_unit(policy: &Policy, unit: &str) -> Option<(LevelId, Name)> {
    policy.areas.grids.values().find_map(|units| {
        units.iter().enumerate().find_map(|(l, u)| {
            let u = u.as_ref().filter(|u| &***u == unit)?;
            Some((u8::try_from(l).ok()?, u.clone()))
        })
    })
}

fn relieved(policy: &Policy, case: &Case, level: LevelId) -> bool {
    match policy.category(&case.event.category) {
        Some((_, route)) => route.relief.forbids(level),
        None => policy
            .undeclared_relief
            .get(case.event.category.as_str())
            .is_some_and(|r| r.forbids(level)),
    }
}

fn moved(case: &mut Case, to: State, at: Timestamp, change: Change) -> Transition {
    let from = std::mem::replace(&mut case.state, to);
    Transition {
        at,
        from: Some(from),
        to,
        change,
    }
}

/// Applies a validated action. Returns whether the case was decided again
/// (its grade and ladder may have changed).
pub(crate) fn perform(
    policy: &Policy,
    case: &mut Case,
    plan: Plan,
    now: Timestamp,
    history: &dyn History,
    out: &mut Vec<Transition>,
) -> bool {
    match plan {
        Plan::Tick => {}
        Plan::Accept { by } => accept(case, by, now, out),
        Plan::Resolve { note, on_the_spot } => {
            if on_the_spot {
                accept(case, None, now, out);
            }
            let on_time = now <= case.resolve_by;
            case.late_resolution |= !on_time;
            case.resolved_at = Some(now);
            case.resolution.clone_from(&note);
            let level = current_level(&Scope::of(policy, case), case);
            case.source_resolved = Some(super::state::at_source(level));
            skip(case, StepClock::Respond);
            skip(case, StepClock::Resolve);
            let change = Change::Resolved {
                note,
                on_time,
                resolve_by: case.resolve_by,
                handler: case.handler(),
            };
            let t = moved(case, State::Resolved, now, change);
            out.push(t);
        }
        Plan::Feedback { rating, comment } => {
            case.rating = Some(rating);
            case.comment.clone_from(&comment);
            case.closed_at = Some(now);
            let t = moved(case, State::Closed, now, Change::Closed { rating, comment });
            out.push(t);
        }
        Plan::Reopen { reason } => {
            reopen(policy, case, reason, now, history, out);
            return true;
        }
        Plan::Reassign { level, unit, lead } => {
            let before = case.handler();
            if let Some(l) = level {
                case.level = level_name(policy, l);
            }
            if let Some(u) = unit {
                case.unit = Some(u);
            }
            if let Some(l) = lead {
                case.assist.retain(|a| *a != l);
                case.lead = l;
            }
            case.reassigned = true;
            let after = case.handler();
            let t = moved(
                case,
                State::Dispatched,
                now,
                Change::Reassigned { before, after },
            );
            out.push(t);
        }
        Plan::Whistle(ids) => {
            let sc = Scope::of(policy, case);
            summon(&sc, case, ids.into_iter(), now, None, out);
        }
        Plan::Ack(name) => {
            let state = case.state;
            if let Some(m) = case
                .summoned
                .iter_mut()
                .find(|m| m.pending() && m.department == name)
            {
                m.acked_at = Some(now);
                let change = Change::Acked {
                    department: name,
                    on_time: now <= m.ack_by,
                    ack_by: m.ack_by,
                };
                out.push(super::ladder::same(state, now, change));
            }
        }
    }
    false
}

fn accept(case: &mut Case, by: Option<String>, now: Timestamp, out: &mut Vec<Transition>) {
    let on_time = now <= case.respond_by;
    if case.accepted_at.is_none() {
        case.accepted_at = Some(now);
        case.accepted_by.clone_from(&by);
        case.late_response |= !on_time;
    }
    skip(case, StepClock::Respond);
    let change = Change::Accepted {
        by,
        on_time,
        respond_by: case.respond_by,
    };
    let t = moved(case, State::Accepted, now, change);
    out.push(t);
}

/// Reopens a case: decided again with the new count (grade, limits, ladder),
/// the clocks restarted at `now`, the handler kept unless the new decision
/// puts it higher.
fn reopen(
    policy: &Policy,
    case: &mut Case,
    reason: Option<String>,
    now: Timestamp,
    history: &dyn History,
    out: &mut Vec<Transition>,
) {
    case.reopened = case.reopened.saturating_add(1);
    let d = decide(
        policy,
        &case.event,
        &Context {
            history: &ExceptItself(history),
            reopened: case.reopened,
        },
    );
    let route = route_of(policy, &case.event.category);
    let (respond, resolve) = limits(policy, route, d.grade);
    let clocks = Clocks::start(&policy.calendar, now, respond, resolve);

    let previous_grade =
        std::mem::replace(&mut case.grade, super::ladder::grade_name(policy, d.grade));
    match policy.level_id(&case.level) {
        Some(cur) if cur >= d.level => {}
        _ => {
            case.level = level_name(policy, d.level);
            case.unit.clone_from(&d.unit);
        }
    }
    case.on_the_spot = d.on_the_spot && case.level == *level_name(policy, d.level);
    case.fallback = d.fallback;
    for &a in &d.assist {
        let name = dept_name(policy, a);
        if name != case.lead && !case.assist.contains(&name) {
            case.assist.push(name);
        }
    }
    case.clock_start = now;
    case.respond_by = clocks.respond_by;
    case.resolve_by = clocks.resolve_by;
    case.steps = plan(&policy.calendar, policy.ladder_for(d.grade), &clocks);
    case.refresh_quiet();
    case.policy = super::ladder::policy_name(policy);
    case.clear_round();
    let change = Change::Reopened {
        reason,
        count: case.reopened,
        previous_grade,
        grade: case.grade.clone(),
        handler: case.handler(),
        respond_by: case.respond_by,
        resolve_by: case.resolve_by,
    };
    let t = moved(case, State::Dispatched, now, change);
    out.push(t);
}
