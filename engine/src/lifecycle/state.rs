//! What a case remembers: its state, its handler, its clocks, the ladder
//! steps already fired, the departments summoned, and the facts the
//! section-6 metrics are computed from.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::name::Name;
use crate::event::Event;

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Received (only ever the first, momentary state: dispatch follows at once).
    Reported,
    /// Sent to a handler, waiting to be accepted.
    Dispatched,
    /// Accepted by the handler, being worked on.
    Accepted,
    /// Resolved by the handler, waiting for feedback.
    Resolved,
    /// Closed by feedback.
    Closed,
}

impl State {
    /// The state as written in transitions and refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Dispatched => "dispatched",
            State::Accepted => "accepted",
            State::Resolved => "resolved",
            State::Closed => "closed",
        }
    }

    /// Whether the event is being handled (dispatched or accepted): the
    /// states in which the ladder runs and departments can be whistled.
    pub fn is_open(self) -> bool {
        matches!(self, State::Dispatched | State::Accepted)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who handles an event: a level, the unit at that level, and the lead
/// department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    /// The level.
    pub level: Name,
    /// The unit at that level (`None` without an area tree).
    pub unit: Option<Name>,
    /// The lead department.
    pub lead: Name,
}

/// Which clock a ladder step watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepClock {
    /// `at P% respond`: due while the event is not accepted.
    Respond,
    /// `at P% resolve`: due while the event is not resolved.
    Resolve,
    /// `when COND`: checked on every state change.
    When,
}

/// What became of a ladder step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not fired yet.
    Armed,
    /// Fired (at [`StepState::fired_at`]).
    Fired,
    /// Its clock was satisfied before it was due (accepted or resolved in
    /// time): it never fires.
    Skipped,
}

/// One step of the case's ladder and whether it fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// Its index in the ladder of the case's grade.
    pub index: u16,
    /// The trigger as written (`at 50% respond`).
    pub label: Name,
    /// The clock it watches.
    pub clock: StepClock,
    /// When it is due (`None` for `when` steps).
    pub due: Option<Timestamp>,
    /// Armed, fired or skipped.
    pub status: StepStatus,
    /// When it fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<Timestamp>,
}

/// A department whistled to the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summons {
    /// The department.
    pub department: Name,
    /// When it was summoned.
    pub summoned_at: Timestamp,
    /// When it must acknowledge by: the event's respond limit from the whistle.
    pub ack_by: Timestamp,
    /// When it acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<Timestamp>,
    /// Whether the missed acknowledgement was reported (`ack_overdue`).
    #[serde(default)]
    pub overdue: bool,
    /// The ladder step that whistled it (`None`: an officer did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u16>,
}

impl Summons {
    /// Whether it still waits for the department's acknowledgement.
    pub fn pending(&self) -> bool {
        self.acked_at.is_none()
    }
}

/// One event through its life: the stored, serialisable form the server
/// keeps as JSON and the simulator keeps in memory.
///
/// Names, not the policy's interned ids, so that a case survives a policy
/// reload; `policy` records the hash of the policy whose ladder `steps`
/// follows (see [`super::adopt`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The event.
    pub event: Event,
    /// The content hash of the policy the case follows.
    pub policy: Name,
    /// Where it stands.
    pub state: State,
    /// Its grade (re-decided on reopen).
    pub grade: Name,
    /// The handling level (raised by the ladder, never lowered by it).
    pub level: Name,
    /// The unit at that level.
    pub unit: Option<Name>,
    /// The lead department.
    pub lead: Name,
    /// Cooperating departments: the decided ones, then those whistled.
    pub assist: Vec<Name>,
    /// Settled on the spot under the empowerment list.
    pub on_the_spot: bool,
    /// Routed by the fallback.
    pub fallback: bool,
    /// The handler it was first dispatched to.
    pub first: Handler,
    /// When the clocks of the current round started: `reported_at`, or the
    /// last reopen.
    pub clock_start: Timestamp,
    /// Accept by (current round).
    pub respond_by: Timestamp,
    /// Resolve by (current round).
    pub resolve_by: Timestamp,
    /// How many times it was reopened.
    pub reopened: u32,
    /// Whether it was ever reassigned.
    pub reassigned: bool,
    /// Whether the ladder ever raised it.
    pub raised: bool,
    /// The ladder of the current round, step by step.
    pub steps: Vec<StepState>,
    /// Departments whistled, in order.
    #[serde(default)]
    pub summoned: Vec<Summons>,
    /// First acceptance of the current round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    /// Who accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    /// Resolution of the current round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// The resolution note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// When feedback closed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// The last feedback rating, 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The last feedback comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Some round was accepted after its respond deadline.
    #[serde(default)]
    pub late_response: bool,
    /// Some round was resolved after its resolve deadline.
    #[serde(default)]
    pub late_resolution: bool,
    /// Whether the last resolution was at the two lowest levels (grid or
    /// community): `source_resolution`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_resolved: Option<bool>,
    /// Nothing of the ladder comes due before this (see [`QuietUntil`]).
    #[serde(skip)]
    pub(crate) quiet: QuietUntil,
}

/// An instant before which nothing of a case's ladder comes due: no armed
/// step and no awaited acknowledgement is due earlier, whether or not its
/// clock runs. Kept as the steps and summons change, so that the common
/// questions ("is anything due now?") are answered without reading the
/// steps, which at a city's volume are far out of cache. `None`: not known
/// (a case read from a store), and the steps are read.
///
/// Derived from the case, so two cases are equal whatever it holds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QuietUntil(pub Option<Timestamp>);

impl PartialEq for QuietUntil {
    fn eq(&self, _: &QuietUntil) -> bool {
        true
    }
}

/// Whether a resolution at `level` counts as at the source
/// (`source_resolution`): at one of the two lowest levels, grid or
/// community.
pub(super) fn at_source(level: crate::model::LevelId) -> bool {
    level <= 1
}

impl Case {
    /// Forgets what the current round did: nothing accepted, resolved or
    /// closed in it yet (a reopen, and a case rebuilt from its start).
    pub(super) fn clear_round(&mut self) {
        self.accepted_at = None;
        self.accepted_by = None;
        self.resolved_at = None;
        self.resolution = None;
        self.closed_at = None;
        self.source_resolved = None;
    }

    /// The current handler.
    pub fn handler(&self) -> Handler {
        Handler {
            level: self.level.clone(),
            unit: self.unit.clone(),
            lead: self.lead.clone(),
        }
    }

    /// The earliest instant something is due: an armed `at` step whose
    /// clock still runs, or a summoned department's acknowledgement
    /// deadline not yet reported. `None` when nothing is (a resolved or
    /// closed case, or a ladder with nothing left).
    ///
    /// This reads only the case (no policy), so a server can rebuild its
    /// timer heap from stored cases; [`super::Action::Tick`] at this instant
    /// fires what is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        if !self.state.is_open() {
            return None;
        }
        self.dues(true).min()
    }

    /// When each armed timed step (only those whose clock runs, with
    /// `running`) and each awaited acknowledgement is due.
    fn dues(&self, running: bool) -> impl Iterator<Item = Timestamp> + '_ {
        let steps = self
            .steps
            .iter()
            .filter(move |s| {
                if running {
                    self.step_runs(s)
                } else {
                    s.status == StepStatus::Armed
                }
            })
            .filter_map(|s| s.due);
        let acks = self
            .summoned
            .iter()
            .filter(|m| m.pending() && !m.overdue)
            .map(|m| m.ack_by);
        steps.chain(acks)
    }

    /// The earliest instant an armed timed step or an awaited
    /// acknowledgement is due, whether or not its clock runs
    /// (`Timestamp::MAX`: none); kept in [`Case::quiet`].
    pub(crate) fn refresh_quiet(&mut self) {
        self.quiet = QuietUntil(Some(self.dues(false).min().unwrap_or(Timestamp::MAX)));
    }

    /// Whether nothing of the ladder can be due at or before `now`, known
    /// without reading the steps.
    pub(crate) fn quiet_past(&self, now: Timestamp) -> bool {
        self.quiet.0.is_some_and(|q| q > now)
    }

    /// Asks the processor for the ladder's steps, which most actions read
    /// (an acceptance or a resolution skips steps) and dropping the case
    /// reads again: six cache lines on the heap, at a city's volume last
    /// touched hours of simulated time before.
    pub(crate) fn prefetch_steps(&self) {
        crate::prefetch::slice(&self.steps);
    }

    /// When to look again for what is due, as a timer sees it at `now`:
    /// [`Case::next_due`], or, when it is known without reading the steps
    /// that nothing is due until some instant after `now`, that instant
    /// (no later than `next_due`; a wake-up at it may find nothing due,
    /// and asks again).
    pub fn wake_at(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.state.is_open() {
            return None;
        }
        match self.quiet.0 {
            Some(q) if q == Timestamp::MAX => None,
            Some(q) if q > now => Some(q),
            _ => self.next_due(),
        }
    }

    /// Whether a step is armed and its clock still runs.
    pub(crate) fn step_runs(&self, s: &StepState) -> bool {
        s.status == StepStatus::Armed
            && match s.clock {
                StepClock::Respond => self.state == State::Dispatched && self.accepted_at.is_none(),
                StepClock::Resolve => self.state.is_open(),
                StepClock::When => false,
            }
    }
}
