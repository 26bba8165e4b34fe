//! The life of an event after its decision: states, actions, and the
//! escalation ladder (LANGUAGE.md section 3.4). Pure: the clock is an
//! argument, so the server (wall clock, timer heap) and the simulator
//! (simulated clock) run this very code.
//!
//! ```text
//! reported → dispatched → accepted → resolved → closed
//!               ↑  ↖ reassign ↙         │          │
//!               └────────── reopen ─────┴──────────┘
//! ```
//!
//! A [`Case`] is opened from a [`crate::Decision`] with [`Case::open`];
//! [`apply`] then takes one [`Action`] at an instant and returns the
//! [`Transition`]s it caused, or a [`Refusal`]. Everything is validated
//! before anything changes: a refused action leaves the case exactly as it
//! was.
//!
//! # Rules
//!
//! - **accept**: only from `dispatched`. The first acceptance of a round
//!   is the one the metrics count (`on_time_response`: by `respond_by`).
//! - **resolve**: from `accepted`; from `dispatched` only when the event is
//!   settled on the spot, which records the acceptance at the same instant
//!   (an `accepted` transition, then `resolved`).
//! - **feedback**: only from `resolved`, rating 1–5; it closes the event.
//! - **reopen**: from `resolved` or `closed`, back to `dispatched`;
//!   `reopened` counts up and the event is decided again with that count
//!   (`grade ... when reopened >= 1` may change the grade). The handler
//!   stays, unless the new decision puts it higher (a reopen never lowers
//!   the level); newly decided assisting departments join. Both clocks
//!   restart at the reopen instant with the (new) grade's limits, and the
//!   (new) grade's ladder is re-armed on them: every step may fire once
//!   more. The acceptance, resolution and closing of the earlier round are
//!   cleared; lateness in it stays counted; the last rating stays until new
//!   feedback replaces it.
//! - **reassign**: from `dispatched` or `accepted`, to another unit and/or
//!   lead department, back to `dispatched` (the new handler accepts again,
//!   but the first acceptance is what the metrics count). A unit must be in
//!   the area tree (any id is taken without one); the handling level
//!   becomes that unit's level, which the relief list may forbid. It breaks
//!   `first_contact`.
//! - **whistle**: from `dispatched` or `accepted`. Each department joins
//!   `assist` and must acknowledge within the event's respond limit,
//!   counted from the whistle. The lead, an unknown department, and one
//!   still waiting to acknowledge are refused.
//! - **ack**: by a summoned department that has not acknowledged yet, in
//!   any state but `closed` (late acknowledgements count as late). A
//!   missed acknowledgement is reported once to the handler
//!   (`ack_overdue`) at its deadline, while the event is open.
//! - A **closed** event refuses everything but reopen.
//!
//! # The ladder
//!
//! The case follows the ladder of its grade ([`Policy::ladder_for`]).
//! An `at P% respond` step is due at its planned instant while the event is
//! not accepted; `at P% resolve` while it is not resolved. A step whose
//! clock is satisfied first (accepted, or resolved, at or before its
//! instant) is skipped and never fires. `when COND` steps are checked when
//! the case is opened and after every action but a tick, while the event is
//! open. (A condition reads the event, `grade`, `reopened` and `repeats`,
//! and only `repeats` changes without the case being decided again, so a
//! condition without `repeats` is in effect checked only at open, reopen
//! and policy adoption; the lifecycle skips re-checking it otherwise.) Each
//! step fires at most once per round (a reopen re-arms the ladder).
//!
//! Firing is exact and idempotent: [`Action::Tick`] at `now` fires every
//! step (and reports every missed acknowledgement) due at or before `now`,
//! in time order (ties in ladder order), and records each as fired in the
//! case. Any other action first fires what was due strictly before `now`
//! (an action at the very instant a step is due wins over the step), so the
//! case never depends on how promptly ticks came. [`Case::next_due`] is the
//! instant of the next tick that would do anything: a server keeps the
//! cases in a timer heap by it and rebuilds the heap from stored cases
//! after a restart; a step is never lost (it fires late instead) and never
//! fires twice (the stored case says it fired).
//!
//! Step actions: `remind` tells the current handler; `notify X` tells level
//! X (the event's unit at it) or department X; `raise N` / `raise to L`
//! move the handler up to that level (capped at the top level), its unit
//! following the area tree — a raise that cannot move it up (at the top, or
//! already at or above L) becomes a notification of the handler's level;
//! `whistle D, D` summons as above, passing over the lead and departments
//! still waiting to acknowledge. Raising does not move the deadlines.
//!
//! # Policy versions
//!
//! A case stores names, not the policy's ids, and the hash of the policy it
//! follows. Applied under another policy version, an open case first adopts
//! it ([`adopt`]): the new ladder is planned on the case's unchanged clocks,
//! steps matched by their trigger text keep their status. A reopen decides
//! under the policy given.

mod action;
mod as_of;
mod ladder;
mod metrics;
mod name;
mod redecide;
mod state;
mod transition;

use jiff::Timestamp;

pub use action::Action;
pub use metrics::Facts;
pub use name::Name;
pub use redecide::redecide;
pub use state::{Case, Handler, State, StepClock, StepState, StepStatus, Summons};
pub use transition::{Change, Changed, Recipient, Refusal, RefusalCode, Transition};

use crate::decide::Decision;
use crate::event::Event;
use crate::model::Policy;
use crate::windows::History;
pub(crate) use ladder::reads_history;
use ladder::{dept_name, fire_due, level_name, plan_from_decision, run_when};

impl Case {
    /// Opens a case for an event and the decision `policy` made for it:
    /// `reported`, then `dispatched` to the decided handler (and whatever
    /// the ladder already owes at `now`: steps due before it, and `when`
    /// steps that hold).
    ///
    /// The event is taken by value: the case keeps it.
    pub fn open(
        policy: &Policy,
        event: Event,
        decision: &Decision,
        now: Timestamp,
        history: &dyn History,
    ) -> (Case, Vec<Transition>) {
        let mut out = Vec::with_capacity(2);
        let case = open_case(
            policy,
            event,
            decision,
            now,
            history,
            &mut out,
            true,
            Vec::new(),
        );
        (case, out)
    }

    /// [`Case::open`] for a caller that keeps no log of transitions (the
    /// simulator): the `reported` and `dispatched` transitions, which carry
    /// copies of the whole decision, are not built; `out` (a buffer the
    /// caller reuses) gets only what the ladder did at opening (steps
    /// already due, `when` steps that hold). The case is the same; its
    /// steps are written into `steps`, the buffer of a case the caller
    /// dropped (its old contents are cleared).
    pub fn open_unlogged_into(
        policy: &Policy,
        event: Event,
        decision: &Decision,
        now: Timestamp,
        history: &dyn History,
        out: &mut Vec<Transition>,
        steps: Vec<StepState>,
    ) -> Case {
        open_case(policy, event, decision, now, history, out, false, steps)
    }
}

/// Opens a case; `log`: whether `out` gets the `reported` and `dispatched`
/// transitions; `steps`: the buffer its steps are written into.
#[allow(clippy::too_many_arguments)]
fn open_case(
    policy: &Policy,
    event: Event,
    decision: &Decision,
    now: Timestamp,
    history: &dyn History,
    out: &mut Vec<Transition>,
    log: bool,
    steps: Vec<StepState>,
) -> Case {
    let grade = ladder::grade_name(policy, decision.grade);
    let handler = Handler {
        level: level_name(policy, decision.level),
        unit: decision.unit.clone(),
        lead: dept_name(policy, decision.lead),
    };
    let assist: Vec<Name> = decision
        .assist
        .iter()
        .map(|&d| dept_name(policy, d))
        .collect();
    let ladder = policy.ladder_for(decision.grade);
    // Read from the decision, not the event: the event was moved here just
    // now, and a load from the copy waits for the copy's stores to land.
    let reported_at = decision.reported_at;
    let logged = log.then(|| (grade.clone(), handler.clone(), assist.clone()));
    let mut case = Case {
        event,
        policy: ladder::policy_name(policy),
        state: State::Dispatched,
        grade,
        level: handler.level.clone(),
        unit: handler.unit.clone(),
        lead: handler.lead.clone(),
        assist,
        on_the_spot: decision.on_the_spot,
        fallback: decision.fallback,
        first: handler,
        clock_start: reported_at,
        respond_by: decision.respond_by,
        resolve_by: decision.resolve_by,
        reopened: 0,
        reassigned: false,
        raised: false,
        steps: plan_from_decision(ladder, decision, steps),
        summoned: Vec::new(),
        accepted_at: None,
        accepted_by: None,
        resolved_at: None,
        resolution: None,
        closed_at: None,
        rating: None,
        comment: None,
        late_response: false,
        late_resolution: false,
        source_resolved: None,
        quiet: state::QuietUntil::default(),
    };
    case.refresh_quiet();
    if let Some((grade, handler, assist)) = logged {
        out.push(Transition {
            at: reported_at,
            from: None,
            to: State::Reported,
            change: Change::Reported {
                source: case.event.source,
            },
        });
        out.push(Transition {
            at: now,
            from: Some(State::Reported),
            to: State::Dispatched,
            change: Change::Dispatched {
                grade,
                handler,
                assist,
                on_the_spot: decision.on_the_spot,
                fallback: decision.fallback,
                respond_by: decision.respond_by,
                resolve_by: decision.resolve_by,
                policy: case.policy.clone(),
            },
        });
    }
    fire_due(policy, &mut case, now, false, out);
    run_when(policy, &mut case, history, now, true, out);
    case
}

/// Applies an action to a case at `now` and returns what happened.
///
/// On `Err` the case is unchanged. `history` is what `repeats` reads when
/// a reopen decides again or a `when` step is checked.
pub fn apply(
    policy: &Policy,
    case: &mut Case,
    action: Action,
    now: Timestamp,
    history: &dyn History,
) -> Result<Vec<Transition>, Refusal> {
    let mut out = Vec::new();
    apply_into(policy, case, action, now, history, &mut out)?;
    Ok(out)
}

/// [`apply`], appending the transitions to `out` (a buffer the caller
/// reuses). On `Err` neither the case nor `out` changed.
pub fn apply_into(
    policy: &Policy,
    case: &mut Case,
    action: Action,
    now: Timestamp,
    history: &dyn History,
    out: &mut Vec<Transition>,
) -> Result<(), Refusal> {
    let same_policy = ladder::follows(case, policy);
    if action == Action::Tick
        && same_policy
        && (case.quiet_past(now) || case.next_due().is_none_or(|t| t > now))
    {
        // Nothing due: the timer heap's common spurious wake-up costs nothing.
        return Ok(());
    }
    let plan = action::validate(policy, case, action, now)?;
    let mut adopted = false;
    if !same_policy && case.state.is_open() {
        let t = ladder::adopt(policy, case, now);
        adopted = t.is_some();
        out.extend(t);
    }
    if let action::Plan::Tick = plan {
        fire_due(policy, case, now, true, out);
        if adopted {
            // The new version's `when` steps have not been checked yet.
            run_when(policy, case, history, now, true, out);
        }
        return Ok(());
    }
    fire_due(policy, case, now, false, out);
    // `true` when the case was decided again (its grade and ladder may differ).
    let decided = action::perform(policy, case, plan, now, history, out);
    run_when(policy, case, history, now, decided || adopted, out);
    Ok(())
}

/// Moves an open case to `policy` if it follows another version: its ladder
/// is planned again from `policy` on its unchanged clocks; steps of the new
/// ladder matched by trigger text to the old keep their status (fired steps
/// stay fired), and the new ladder's `when` steps are checked. Returns the
/// `policy_adopted` transition and what followed, or nothing when the case
/// already follows `policy` or is not open. [`apply`] does this itself; a
/// server may call it for every open case after a reload, to refresh
/// [`Case::next_due`].
pub fn adopt(
    policy: &Policy,
    case: &mut Case,
    now: Timestamp,
    history: &dyn History,
) -> Vec<Transition> {
    let mut out = Vec::new();
    if case.state.is_open()
        && let Some(t) = ladder::adopt(policy, case, now)
    {
        out.push(t);
        run_when(policy, case, history, now, true, &mut out);
    }
    out
}
