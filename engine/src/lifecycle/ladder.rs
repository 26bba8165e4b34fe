//! The escalation ladder of a case (LANGUAGE.md section 3.4): planning its
//! steps, firing what is due in time order, checking `when` steps, and the
//! four actions (remind, notify, raise, whistle).

use jiff::Timestamp;

use super::name::Name;
use super::state::{Case, State, StepClock, StepState, StepStatus, Summons};
use super::transition::{Change, Recipient, Transition};
use crate::calendar::Calendar;
use crate::cond::{Cond, Field, Operand};
use crate::decide::{Clocks, Context, deadline, holds, limits_for};
use crate::model::{
    ActionDef, ClockKind, DeptId, GradeId, Ladder, LevelId, Limit, Policy, Route, Target,
    TriggerDef, WhenSteps,
};
use crate::windows::History;

/// What one call needs of the policy for one case, resolved from the case's
/// names once (and only when something needs it).
pub(crate) struct Scope<'p> {
    pub policy: &'p Policy,
    pub grade: GradeId,
    pub ladder: &'p Ladder,
}

impl<'p> Scope<'p> {
    /// The scope of `case` under `policy`. A grade the policy no longer
    /// knows is read as its lowest grade.
    pub fn of(policy: &'p Policy, case: &Case) -> Scope<'p> {
        let grade = policy.grade_of(&case.grade).unwrap_or(0);
        Scope {
            policy,
            grade,
            ladder: policy.ladder_for(grade),
        }
    }

    /// The case's respond limit (what a whistled department has to acknowledge).
    pub fn respond(&self, case: &Case) -> Limit {
        let route = route_of(self.policy, &case.event.category);
        limits(self.policy, route, self.grade).0
    }
}

/// The route of a category: its own, or the fallback.
pub(crate) fn route_of<'p>(policy: &'p Policy, category: &str) -> &'p Route {
    policy
        .category(category)
        .map_or(&policy.fallback, |(_, r)| r)
}

/// The respond and resolve limits of a grade on a route.
pub(crate) fn limits(policy: &Policy, route: &Route, grade: GradeId) -> (Limit, Limit) {
    match policy.grades.get(grade as usize) {
        Some(g) => limits_for(route, grade, g),
        // Unreachable for a compiled policy (every grade has a block).
        None => {
            let zero = Limit {
                days: 0,
                seconds: 0,
                working: false,
                site: 0,
            };
            (zero, zero)
        }
    }
}

/// Name `i` of the policy's lasting names `kept`, or, in a policy built by
/// hand (which keeps none), a name made from its text (`?` for none).
fn kept_or_made(kept: &[Name], i: usize, text: Option<&str>) -> Name {
    kept.get(i)
        .cloned()
        .unwrap_or_else(|| Name::from(text.unwrap_or("?")))
}

/// A level's name.
pub(crate) fn level_name(policy: &Policy, l: LevelId) -> Name {
    let text = policy.levels.get(l as usize).map(|n| &**n);
    kept_or_made(&policy.case_names.levels, l as usize, text)
}

/// A grade's name.
pub(crate) fn grade_name(policy: &Policy, g: GradeId) -> Name {
    let text = policy.grades.get(g as usize).map(|x| &*x.name);
    kept_or_made(&policy.case_names.grades, g as usize, text)
}

/// The policy's content hash, as a case records whose policy it follows.
pub(crate) fn policy_name(policy: &Policy) -> Name {
    match &policy.case_names.hash {
        Some(h) => h.clone(),
        None => Name::from(&policy.hash),
    }
}

/// Whether `case` follows `policy`.
pub(crate) fn follows(case: &Case, policy: &Policy) -> bool {
    match &policy.case_names.hash {
        Some(h) => case.policy.same(h),
        None => case.policy.is(&policy.hash),
    }
}

/// A department's name.
pub(crate) fn dept_name(policy: &Policy, d: DeptId) -> Name {
    let text = policy.departments.get(d as usize).map(|x| &*x.name);
    kept_or_made(&policy.case_names.departments, d as usize, text)
}

/// The id of the area at `level` that contains `grid` (as [`crate::decide`]
/// computes a decision's unit: unknown without an area tree).
pub(crate) fn unit_at(policy: &Policy, grid: &str, level: LevelId) -> Option<Name> {
    policy
        .areas
        .grids
        .get(grid)
        .and_then(|u| u.get(level as usize))
        .and_then(Clone::clone)
}

/// The case's handling level as an id (a level the policy no longer knows
/// is read as the grade's level).
pub(crate) fn current_level(sc: &Scope<'_>, case: &Case) -> LevelId {
    sc.policy.level_id(&case.level).unwrap_or_else(|| {
        sc.policy
            .grades
            .get(sc.grade as usize)
            .map_or(0, |g| g.level)
    })
}

fn clock_of(t: &TriggerDef) -> StepClock {
    match t {
        TriggerDef::At {
            clock: ClockKind::Respond,
            ..
        } => StepClock::Respond,
        TriggerDef::At {
            clock: ClockKind::Resolve,
            ..
        } => StepClock::Resolve,
        TriggerDef::When(_) => StepClock::When,
    }
}

/// One armed step.
fn armed(
    ladder: &Ladder,
    i: usize,
    def: &crate::model::StepDef,
    due: Option<Timestamp>,
) -> StepState {
    StepState {
        index: u16::try_from(i).unwrap_or(u16::MAX),
        label: match ladder.labels.get(i) {
            Some(l) => l.clone(),
            None => Name::from(&def.label),
        },
        clock: clock_of(&def.trigger),
        due,
        status: StepStatus::Armed,
        fired_at: None,
    }
}

/// The ladder planned on `clocks`, every step armed.
pub(crate) fn plan(cal: &Calendar, ladder: &Ladder, clocks: &Clocks) -> Vec<StepState> {
    let planner = clocks.planner(cal);
    ladder
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| armed(ladder, i, s, planner.instant(&s.trigger)))
        .collect()
}

/// The ladder as a decision planned it.
/// `into`, emptied, gets the ladder's steps as `d` planned them (a buffer
/// the caller recycles: at a city's volume a fresh allocation is a cold
/// read).
pub(crate) fn plan_from_decision(
    ladder: &Ladder,
    d: &crate::Decision,
    mut into: Vec<StepState>,
) -> Vec<StepState> {
    into.clear();
    into.extend(ladder.steps.iter().enumerate().map(|(i, s)| {
        let due = d
            .ladder
            .iter()
            .find(|p| p.step as usize == i)
            .and_then(|p| p.at);
        armed(ladder, i, s, due)
    }));
    into
}

/// Whether a clock is already satisfied (the event accepted, or resolved).
pub(crate) fn satisfied(case: &Case, clock: StepClock) -> bool {
    let done = matches!(case.state, State::Resolved | State::Closed);
    match clock {
        StepClock::Respond => done || case.accepted_at.is_some(),
        StepClock::Resolve => done,
        StepClock::When => false,
    }
}

/// Marks the armed steps of a clock that has just been satisfied: they
/// will never fire.
pub(crate) fn skip(case: &mut Case, clock: StepClock) {
    for s in &mut case.steps {
        if s.clock == clock && s.status == StepStatus::Armed {
            s.status = StepStatus::Skipped;
        }
    }
    // The steps were just read: what is left due costs nothing to find.
    case.refresh_quiet();
}

/// Fires, in time order, every step whose clock still runs and every
/// unreported missed acknowledgement due before `now` — or at `now` too,
/// when `inclusive` (a tick). Ties fire in ladder order, steps before
/// acknowledgements.
pub(crate) fn fire_due(
    policy: &Policy,
    case: &mut Case,
    now: Timestamp,
    inclusive: bool,
    out: &mut Vec<Transition>,
) {
    let is_due = |t: Timestamp| if inclusive { t <= now } else { t < now };
    if case.quiet.0.is_some_and(|q| !is_due(q)) {
        return;
    }
    let mut sc: Option<Scope<'_>> = None;
    loop {
        let mut best: Option<(Timestamp, bool, usize)> = None;
        for (i, s) in case.steps.iter().enumerate() {
            if let Some(t) = s.due
                && is_due(t)
                && case.step_runs(s)
                && best.is_none_or(|(b, _, _)| t < b)
            {
                best = Some((t, false, i));
            }
        }
        if case.state.is_open() {
            for (i, m) in case.summoned.iter().enumerate() {
                if m.pending()
                    && !m.overdue
                    && is_due(m.ack_by)
                    && best.is_none_or(|(b, _, _)| m.ack_by < b)
                {
                    best = Some((m.ack_by, true, i));
                }
            }
        }
        match best {
            None => {
                case.refresh_quiet();
                return;
            }
            Some((_, false, i)) => {
                let sc = sc.get_or_insert_with(|| Scope::of(policy, case));
                fire_step(sc, case, i, now, out);
            }
            Some((_, true, i)) => ack_overdue(case, i, now, out),
        }
    }
}

fn ack_overdue(case: &mut Case, i: usize, now: Timestamp, out: &mut Vec<Transition>) {
    let notify = Recipient::handler(case.handler());
    let Some(m) = case.summoned.get_mut(i) else {
        return;
    };
    m.overdue = true;
    let change = Change::AckOverdue {
        department: m.department.clone(),
        ack_by: m.ack_by,
        notify,
    };
    out.push(same(case.state, now, change));
}

/// A transition that does not move the state.
pub(crate) fn same(state: State, at: Timestamp, change: Change) -> Transition {
    Transition {
        at,
        from: Some(state),
        to: state,
        change,
    }
}

/// Fires every armed `when` step whose condition holds, in ladder order.
/// Only while the event is open: a resolved or closed event does not
/// escalate.
///
/// A condition reads the event, `grade`, `reopened` and `repeats`; only
/// `repeats` can change without the case being decided again. So a step
/// whose condition does not read `repeats` is checked only when the case
/// was just decided (`decided`: opened or reopened) — the same outcome as
/// checking it on every change, without the cost.
pub(crate) fn run_when(
    policy: &Policy,
    case: &mut Case,
    history: &dyn History,
    now: Timestamp,
    decided: bool,
    out: &mut Vec<Transition>,
) {
    // Between decisions only a `when` step that reads `repeats` can come
    // to hold. The ladder tells whether it has one without a read of the
    // case's steps, which at a city's volume are far out of cache.
    let sc = Scope::of(policy, case);
    let when = sc
        .ladder
        .when
        .unwrap_or_else(|| WhenSteps::of(&sc.ladder.steps));
    if !when.any || (!decided && !when.history) {
        return;
    }
    for i in 0..case.steps.len() {
        if !case.state.is_open() {
            return;
        }
        let Some(s) = case.steps.get(i) else { return };
        if s.clock != StepClock::When || s.status != StepStatus::Armed {
            continue;
        }
        let Some(TriggerDef::When(cond)) =
            sc.ladder.steps.get(s.index as usize).map(|d| &d.trigger)
        else {
            continue;
        };
        if !decided && !reads_history(cond) {
            continue;
        }
        let ctx = Context {
            history,
            reopened: case.reopened,
        };
        if holds(sc.policy, &case.event, cond, Some(sc.grade), &ctx) {
            fire_step(&sc, case, i, now, out);
        }
    }
}

/// Whether a condition reads `repeats` (the only input that changes while
/// the case is not decided again).
pub(crate) fn reads_history(c: &Cond) -> bool {
    let field = |o: &Operand| matches!(o, Operand::Field(Field::Repeats { .. }));
    match c {
        Cond::True | Cond::False | Cond::Has(_) => false,
        Cond::And(xs) | Cond::Or(xs) => xs.iter().any(reads_history),
        Cond::Not(x) => reads_history(x),
        Cond::Cmp(a, _, b) => field(a) || field(b),
        Cond::In(a, _, _) | Cond::Truthy(a) => field(a),
    }
}

/// Fires step `i` of the case: a `step_fired` transition, then one per action.
fn fire_step(sc: &Scope<'_>, case: &mut Case, i: usize, now: Timestamp, out: &mut Vec<Transition>) {
    let Some(s) = case.steps.get_mut(i) else {
        return;
    };
    s.status = StepStatus::Fired;
    s.fired_at = Some(now);
    let index = s.index;
    let change = Change::StepFired {
        step: index,
        label: s.label.clone(),
        due: s.due,
    };
    out.push(same(case.state, now, change));
    let Some(def) = sc.ladder.steps.get(index as usize) else {
        return;
    };
    for (k, a) in def.actions.iter().enumerate() {
        let action = def
            .action_labels
            .get(k)
            .map_or_else(|| Name::from("?"), Clone::clone);
        act(sc, case, a, index, action, now, out);
    }
}

fn act(
    sc: &Scope<'_>,
    case: &mut Case,
    a: &ActionDef,
    step: u16,
    action: Name,
    now: Timestamp,
    out: &mut Vec<Transition>,
) {
    let p = sc.policy;
    let change = match a {
        ActionDef::Remind => Change::Reminded {
            recipient: Recipient::handler(case.handler()),
            step,
            action,
        },
        ActionDef::Notify(target) => Change::Notified {
            recipient: match *target {
                Target::Level(l) => Recipient::Level {
                    level: level_name(p, l),
                    unit: unit_at(p, &case.event.grid, l),
                },
                Target::Department(d) => Recipient::Department {
                    department: dept_name(p, d),
                },
            },
            step,
            action,
            instead_of_raise: false,
        },
        ActionDef::Raise(n) => {
            let target = current_level(sc, case).saturating_add(*n);
            raise(sc, case, target, step, action)
        }
        ActionDef::RaiseTo(l) => raise(sc, case, *l, step, action),
        ActionDef::Whistle(ds) => {
            summon(sc, case, ds.iter().copied(), now, Some((step, action)), out);
            return;
        }
    };
    out.push(same(case.state, now, change));
}

/// Raises the handler to `target` (capped at the top level). A raise that
/// cannot move the handler up — at the top level, or already at or above
/// `target` — becomes a notification of the handler's level.
fn raise(sc: &Scope<'_>, case: &mut Case, target: LevelId, step: u16, action: Name) -> Change {
    let p = sc.policy;
    let top = u8::try_from(p.levels.len().saturating_sub(1)).unwrap_or(u8::MAX);
    let cur = current_level(sc, case);
    let target = target.min(top);
    if target > cur {
        let to_level = level_name(p, target);
        let unit = unit_at(p, &case.event.grid, target);
        let from_level = std::mem::replace(&mut case.level, to_level.clone());
        case.unit.clone_from(&unit);
        case.raised = true;
        Change::Raised {
            from_level,
            to_level,
            unit,
            step,
            action,
        }
    } else {
        Change::Notified {
            recipient: Recipient::Level {
                level: case.level.clone(),
                unit: case.unit.clone(),
            },
            step,
            action,
            instead_of_raise: true,
        }
    }
}

/// Summons departments: each joins `assist` and must acknowledge within the
/// event's respond limit from now. The lead, and a department still waiting
/// to acknowledge an earlier whistle, are passed over.
pub(crate) fn summon(
    sc: &Scope<'_>,
    case: &mut Case,
    depts: impl Iterator<Item = DeptId>,
    now: Timestamp,
    by_step: Option<(u16, Name)>,
    out: &mut Vec<Transition>,
) {
    let ack_by = deadline(&sc.policy.calendar, now, &sc.respond(case));
    let mut named: Vec<Name> = Vec::new();
    for d in depts {
        let name = dept_name(sc.policy, d);
        let waiting = case
            .summoned
            .iter()
            .any(|m| m.pending() && m.department == name);
        if name == case.lead || waiting || named.contains(&name) {
            continue;
        }
        case.quiet.0 = case.quiet.0.map(|q| q.min(ack_by));
        case.summoned.push(Summons {
            department: name.clone(),
            summoned_at: now,
            ack_by,
            acked_at: None,
            overdue: false,
            step: by_step.as_ref().map(|(s, _)| *s),
        });
        if !case.assist.contains(&name) {
            case.assist.push(name.clone());
        }
        named.push(name);
    }
    let (step, action) = match by_step {
        Some((s, a)) => (Some(s), Some(a)),
        None => (None, None),
    };
    let change = Change::Whistled {
        departments: named,
        ack_by,
        step,
        action,
    };
    out.push(same(case.state, now, change));
}

/// Whether a step due before `now` but not fired yet would summon `dept`
/// (an acknowledgement or whistle then counts it as summoned, since the
/// step fires first).
pub(crate) fn due_whistle(sc: &Scope<'_>, case: &Case, now: Timestamp, dept: DeptId) -> bool {
    case.steps.iter().any(|s| {
        s.due.is_some_and(|t| t < now)
            && case.step_runs(s)
            && sc.ladder.steps.get(s.index as usize).is_some_and(|d| {
                d.actions
                    .iter()
                    .any(|a| matches!(a, ActionDef::Whistle(ds) if ds.contains(&dept)))
            })
    })
}

/// Moves a case to another policy version: its ladder is planned again from
/// the new policy on the case's clocks (the deadlines do not move). A step
/// of the new ladder whose trigger text matches one of the old ladder (the
/// k-th such step matching the k-th) keeps that step's status; any other
/// step is armed, or skipped if its clock is already satisfied.
pub(crate) fn adopt(policy: &Policy, case: &mut Case, now: Timestamp) -> Option<Transition> {
    if follows(case, policy) {
        return None;
    }
    replan(policy, case);
    let previous = std::mem::replace(&mut case.policy, policy_name(policy));
    Some(same(
        case.state,
        now,
        Change::PolicyAdopted {
            previous,
            policy: case.policy.clone(),
        },
    ))
}

/// Plans the ladder of the case's grade under `policy` on the case's
/// clocks; steps matched by clock and trigger text to the old plan keep
/// their status (a step that fired stays fired).
pub(crate) fn replan(policy: &Policy, case: &mut Case) {
    let sc = Scope::of(policy, case);
    let route = route_of(policy, &case.event.category);
    let (respond, resolve) = limits(policy, route, sc.grade);
    let clocks = Clocks {
        start: case.clock_start,
        respond,
        resolve,
        respond_by: case.respond_by,
        resolve_by: case.resolve_by,
    };
    let mut steps = plan(&policy.calendar, sc.ladder, &clocks);
    let mut used = vec![false; case.steps.len()];
    for s in &mut steps {
        let old = case
            .steps
            .iter()
            .enumerate()
            .find(|(j, o)| !used[*j] && o.clock == s.clock && o.label == s.label);
        if let Some((j, o)) = old {
            used[j] = true;
            s.status = o.status;
            s.fired_at = o.fired_at;
        } else if satisfied(case, s.clock) {
            s.status = StepStatus::Skipped;
        }
    }
    case.steps = steps;
    case.refresh_quiet();
}
