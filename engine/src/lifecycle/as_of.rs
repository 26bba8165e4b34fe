//! A case as it stood at an earlier instant, rebuilt from its transitions:
//! what an assessment of a past period reads, so that an acceptance, raise
//! or reopen made after the period's end does not count in it.

use std::str::FromStr;

use jiff::Timestamp;

use super::name::Name;
use super::state::Case;
use super::transition::{Change, Transition};
use crate::model::Policy;

impl Case {
    /// The case as it stood at `at`: its state, handler and grade, its
    /// round's deadlines, and everything [`Case::facts`] reads, replayed
    /// from `history` (the case's transitions in the order they were
    /// made) up to and including the transitions at `at`; an event posted
    /// after `at` (reported before it) as first decided. The event, the
    /// ladder and the summons are the case's as it is now.
    ///
    /// `policy` tells the levels apart for `source_resolution` (resolved at
    /// one of the two lowest); a level it does not name keeps the case's
    /// present verdict. An empty `history` (a case whose transitions were
    /// not kept) gives the case as it is now.
    pub fn as_of(&self, policy: &Policy, history: &[Transition], at: Timestamp) -> Case {
        let mut case = self.clone();
        if history.is_empty() {
            return case;
        }
        case.clear_round();
        case.rating = None;
        case.comment = None;
        case.reopened = 0;
        case.reassigned = false;
        case.raised = false;
        case.late_response = false;
        case.late_resolution = false;
        case.clock_start = self.event.reported_at;
        for t in history.iter().filter(|t| t.at <= at) {
            case.state = t.to;
            case.replay(policy, self, t);
        }
        // An event posted after `at` but reported before it (uploaded
        // late: only its report is dated before `at`) stood then as first
        // decided: its first dispatch, whenever it was made, and nothing
        // done to it once posted.
        if let Some(first) = history
            .iter()
            .find(|t| matches!(t.change, Change::Dispatched { .. }))
            .filter(|t| t.at > at)
        {
            case.state = first.to;
            case.replay(policy, self, first);
        }
        case
    }

    /// One transition's effect on what [`Case::as_of`] rebuilds; mirrors
    /// what `lifecycle::apply` did when it made the transition.
    fn replay(&mut self, policy: &Policy, now: &Case, t: &Transition) {
        match &t.change {
            Change::Dispatched {
                grade,
                handler,
                respond_by,
                resolve_by,
                ..
            } => {
                self.grade = grade.clone();
                self.level = handler.level.clone();
                self.unit.clone_from(&handler.unit);
                self.lead = handler.lead.clone();
                self.respond_by = *respond_by;
                self.resolve_by = *resolve_by;
            }
            Change::Accepted { by, on_time, .. } => {
                if self.accepted_at.is_none() {
                    self.accepted_at = Some(t.at);
                    self.accepted_by.clone_from(by);
                    self.late_response |= !on_time;
                }
            }
            Change::Resolved {
                note,
                on_time,
                handler,
                ..
            } => {
                self.late_resolution |= !on_time;
                self.resolved_at = Some(t.at);
                self.resolution.clone_from(note);
                self.source_resolved = policy
                    .level_id(&handler.level)
                    .map(super::state::at_source)
                    .or(now.source_resolved);
            }
            Change::Closed { rating, comment } => {
                self.rating = Some(*rating);
                self.comment.clone_from(comment);
                self.closed_at = Some(t.at);
            }
            Change::Reopened {
                count,
                grade,
                handler,
                respond_by,
                resolve_by,
                ..
            } => {
                self.reopened = *count;
                self.grade = grade.clone();
                self.level = handler.level.clone();
                self.unit.clone_from(&handler.unit);
                self.lead = handler.lead.clone();
                self.clock_start = t.at;
                self.respond_by = *respond_by;
                self.resolve_by = *resolve_by;
                self.clear_round();
            }
            Change::Reassigned { after, .. } => {
                self.level = after.level.clone();
                self.unit.clone_from(&after.unit);
                self.lead = after.lead.clone();
                self.reassigned = true;
            }
            Change::Raised { to_level, unit, .. } => {
                self.level = to_level.clone();
                self.unit.clone_from(unit);
                self.raised = true;
            }
            Change::Redecided { changes, .. } => {
                for c in changes {
                    let instant = || Timestamp::from_str(&c.after).ok();
                    match c.field.as_str() {
                        "grade" => self.grade = Name::from(c.after.as_str()),
                        "lead" => self.lead = Name::from(c.after.as_str()),
                        "level" => self.level = Name::from(c.after.as_str()),
                        "unit" => {
                            self.unit = (!c.after.is_empty()).then(|| Name::from(c.after.as_str()));
                        }
                        "respond_by" => self.respond_by = instant().unwrap_or(self.respond_by),
                        "resolve_by" => self.resolve_by = instant().unwrap_or(self.resolve_by),
                        _ => {}
                    }
                }
            }
            Change::Reported { .. }
            | Change::Whistled { .. }
            | Change::Acked { .. }
            | Change::AckOverdue { .. }
            | Change::StepFired { .. }
            | Change::Reminded { .. }
            | Change::Notified { .. }
            | Change::PolicyAdopted { .. } => {}
        }
    }
}
