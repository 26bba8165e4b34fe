//! What one case contributes to the built-in metrics (LANGUAGE.md section 6).

use jiff::Timestamp;
use serde::Serialize;

use super::state::Case;
use crate::event::Source;

/// One case's part in each built-in metric, at an instant. `None` means the
/// case does not count (yet) for that metric: a share is taken over the
/// cases that have a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Facts {
    /// Accepted by its respond deadline (`Some(false)` once a deadline
    /// passed unaccepted, or any round was accepted late; `None` while the
    /// first round may still be accepted in time; a reopened event keeps
    /// its earlier rounds' `Some(true)` meanwhile).
    pub on_time_response: Option<bool>,
    /// Resolved by its resolve deadline, likewise.
    pub on_time_resolution: Option<bool>,
    /// Past a deadline: accepted or resolved late in some round, or still
    /// unaccepted or unresolved after the current round's deadline.
    pub overdue: bool,
    /// A feedback rating of 4 or 5 (`None` without feedback).
    pub satisfied: Option<bool>,
    /// Resolved by the first unit that received it, without reassignment
    /// or raise (`None` until first resolved; a reopen keeps it).
    pub first_contact: Option<bool>,
    /// Raised by the ladder at least once.
    pub escalated: bool,
    /// Reopened at least once.
    pub reopened: bool,
    /// Reported by `patrol` or `sensor`.
    pub active_discovery: bool,
    /// Resolved at grid or community level (`None` until resolved).
    pub source_resolution: Option<bool>,
    /// Hours from report to (the last) resolution.
    pub resolution_hours: Option<f64>,
}

impl Case {
    /// The case's facts at `now`.
    pub fn facts(&self, now: Timestamp) -> Facts {
        self.facts_pending(now).0
    }

    /// The case's facts at `now`, and whether the current round's respond
    /// and resolve deadlines can still change them: not met, not passed,
    /// and no round late already (passing one makes
    /// [`Facts::on_time_response`] or [`Facts::on_time_resolution`]
    /// `Some(false)`). One pass: the threshold monitor asks for both on
    /// every transition.
    pub fn facts_pending(&self, now: Timestamp) -> (Facts, [bool; 2]) {
        // The verdict of a deadline so far, and whether it is still open.
        let round = |late: bool, done: Option<Timestamp>, due: Timestamp| {
            if late {
                (Some(false), false)
            } else if done.is_some() {
                (Some(true), false)
            } else if now > due {
                (Some(false), false)
            } else {
                // Every earlier round of a reopened event was accepted and
                // resolved, on time unless `late` says otherwise: that
                // verdict stands while the new round may still be on time.
                ((self.reopened > 0).then_some(true), true)
            }
        };
        let (on_time_response, respond_open) =
            round(self.late_response, self.accepted_at, self.respond_by);
        let (on_time_resolution, resolve_open) =
            round(self.late_resolution, self.resolved_at, self.resolve_by);
        let facts = Facts {
            on_time_response,
            on_time_resolution,
            overdue: on_time_response == Some(false) || on_time_resolution == Some(false),
            satisfied: self.rating.map(|r| r >= 4),
            // A reopened event was resolved once: it keeps counting, or a
            // reopen would take a raised event's miss out of the share.
            first_contact: (self.resolved_at.is_some() || self.reopened > 0)
                .then_some(!self.reassigned && !self.raised),
            escalated: self.raised,
            reopened: self.reopened > 0,
            active_discovery: matches!(self.event.source, Source::Patrol | Source::Sensor),
            source_resolution: self.source_resolved,
            resolution_hours: self.resolved_at.map(|r| {
                r.as_second()
                    .saturating_sub(self.event.reported_at.as_second()) as f64
                    / 3600.0
            }),
        };
        (facts, [respond_open, resolve_open])
    }
}
