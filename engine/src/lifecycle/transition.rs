//! [`Transition`]: one journaled change of a case, and [`Refusal`]: why an
//! action was not applied.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::name::Name;
use super::state::{Handler, State};
use crate::event::Source;

/// One change of a case, as the server journals and streams it.
///
/// In JSON: `{"at": ..., "from": "dispatched", "to": "accepted",
/// "kind": "accepted", "detail": {...}}`. Changes that do not move the state
/// (a step firing, a notification, a whistle) have `from == to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// When it happened (for `reported`, the event's `reported_at`).
    pub at: Timestamp,
    /// The state before (`None` for `reported`).
    pub from: Option<State>,
    /// The state after.
    pub to: State,
    /// What happened.
    #[serde(flatten)]
    pub change: Change,
}

impl Transition {
    /// The kind as written in JSON (`accepted`, `step_fired`, ...).
    pub fn kind(&self) -> &'static str {
        self.change.kind()
    }
}

/// Who a notification goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recipient {
    /// The current handler (`remind`, a missed acknowledgement).
    Handler {
        /// Its level.
        level: Name,
        /// Its unit.
        unit: Option<Name>,
        /// Its lead department.
        lead: Name,
    },
    /// A level: its unit for this event (`notify street`).
    Level {
        /// The level.
        level: Name,
        /// The event's unit at that level.
        unit: Option<Name>,
    },
    /// A department (`notify command`).
    Department {
        /// The department.
        department: Name,
    },
}

impl Recipient {
    /// The handler as a recipient.
    pub fn handler(h: Handler) -> Recipient {
        Recipient::Handler {
            level: h.level,
            unit: h.unit,
            lead: h.lead,
        }
    }
}

/// What a transition did; `kind` and `detail` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Change {
    /// The event came in.
    Reported {
        /// Where it came from.
        source: Source,
    },
    /// The event was sent to its handler.
    Dispatched {
        /// The grade.
        grade: Name,
        /// The handler.
        #[serde(flatten)]
        handler: Handler,
        /// Cooperating departments.
        assist: Vec<Name>,
        /// Settled on the spot.
        on_the_spot: bool,
        /// Routed by the fallback.
        fallback: bool,
        /// Accept by.
        respond_by: Timestamp,
        /// Resolve by.
        resolve_by: Timestamp,
        /// The hash of the policy that decided it.
        policy: Name,
    },
    /// The handler accepted it.
    Accepted {
        /// Who.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        by: Option<String>,
        /// By the respond deadline.
        on_time: bool,
        /// The respond deadline.
        respond_by: Timestamp,
    },
    /// The handler resolved it.
    Resolved {
        /// The resolution note.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
        /// By the resolve deadline.
        on_time: bool,
        /// The resolve deadline.
        resolve_by: Timestamp,
        /// Who resolved it.
        #[serde(flatten)]
        handler: Handler,
    },
    /// Feedback closed it.
    Closed {
        /// 1–5.
        rating: u8,
        /// The comment.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        comment: Option<String>,
    },
    /// It was reopened and decided again.
    Reopened {
        /// Why.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
        /// How many times it has been reopened now.
        count: u32,
        /// The grade before.
        previous_grade: Name,
        /// The grade now.
        grade: Name,
        /// The handler now.
        #[serde(flatten)]
        handler: Handler,
        /// The new accept-by (the clocks restart at the reopen).
        respond_by: Timestamp,
        /// The new resolve-by.
        resolve_by: Timestamp,
    },
    /// It was sent to another unit or lead department.
    Reassigned {
        /// The handler before.
        before: Handler,
        /// The handler now.
        after: Handler,
    },
    /// Departments were summoned; each must acknowledge by `ack_by`.
    Whistled {
        /// The departments summoned.
        departments: Vec<Name>,
        /// Acknowledge by.
        ack_by: Timestamp,
        /// The ladder step that whistled (`None`: an officer did).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        step: Option<u16>,
        /// The action as written (`whistle police, fire`), for a step.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        action: Option<Name>,
    },
    /// A summoned department acknowledged.
    Acked {
        /// The department.
        department: Name,
        /// By its deadline.
        on_time: bool,
        /// Its deadline.
        ack_by: Timestamp,
    },
    /// A summoned department did not acknowledge in time; the handler is told.
    AckOverdue {
        /// The department.
        department: Name,
        /// Its deadline.
        ack_by: Timestamp,
        /// Who is told.
        notify: Recipient,
    },
    /// A ladder step fired; its actions follow as their own transitions.
    StepFired {
        /// Its index in the ladder.
        step: u16,
        /// The trigger as written (`at 50% respond`).
        label: Name,
        /// When it was due (`None` for a `when` step).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        due: Option<Timestamp>,
    },
    /// `remind`: the handler was reminded.
    Reminded {
        /// The handler.
        recipient: Recipient,
        /// The step.
        step: u16,
        /// The action as written.
        action: Name,
    },
    /// `notify X` (or a raise that could not go higher): X was notified.
    Notified {
        /// Who.
        recipient: Recipient,
        /// The step.
        step: u16,
        /// The action as written.
        action: Name,
        /// Set when a raise became this notification: the handler was
        /// already at (or above) the level the raise asked for.
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        instead_of_raise: bool,
    },
    /// `raise N` / `raise to L`: the handling level went up.
    Raised {
        /// The level before.
        from_level: Name,
        /// The level now.
        to_level: Name,
        /// The unit now.
        unit: Option<Name>,
        /// The step.
        step: u16,
        /// The action as written.
        action: Name,
    },
    /// An officer had the open case decided again under the policy in
    /// force (`POST /v1/policy/redecide`).
    Redecided {
        /// What changed, field by field.
        changes: Vec<Changed>,
        /// What the policy in force would have changed but a person (a
        /// reassignment) or the ladder (a raise) had settled already:
        /// `before` stays, `after` is the policy's answer.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kept: Vec<Changed>,
        /// The hash of the policy that decided it now.
        policy: Name,
    },
    /// The case moved to another policy version (its ladder re-planned).
    PolicyAdopted {
        /// The hash before.
        previous: Name,
        /// The hash now.
        policy: Name,
    },
}

impl Change {
    /// The kind as written in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Reported { .. } => "reported",
            Change::Dispatched { .. } => "dispatched",
            Change::Accepted { .. } => "accepted",
            Change::Resolved { .. } => "resolved",
            Change::Closed { .. } => "closed",
            Change::Reopened { .. } => "reopened",
            Change::Reassigned { .. } => "reassigned",
            Change::Whistled { .. } => "whistled",
            Change::Acked { .. } => "acked",
            Change::AckOverdue { .. } => "ack_overdue",
            Change::StepFired { .. } => "step_fired",
            Change::Reminded { .. } => "reminded",
            Change::Notified { .. } => "notified",
            Change::Raised { .. } => "raised",
            Change::Redecided { .. } => "redecided",
            Change::PolicyAdopted { .. } => "policy_adopted",
        }
    }
}

/// One field a redecision changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    /// `grade`, `lead`, `level`, `unit`, `assist`, `respond_by`, ...
    pub field: Name,
    /// The value before, as text.
    pub before: String,
    /// The value now.
    pub after: String,
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The action is not allowed in the case's state.
    InvalidState,
    /// A department the policy does not know.
    UnknownDepartment,
    /// A unit the area tree does not know.
    UnknownUnit,
    /// The category may never be handled at the unit's level (relief list).
    RelievedLevel,
    /// A reassignment that changes nothing (or names nothing).
    NoChange,
    /// A whistle that names no department.
    NoDepartments,
    /// A whistle of the lead department.
    IsLead,
    /// A whistle of a department still waiting to acknowledge.
    AlreadySummoned,
    /// An acknowledgement by a department that was not summoned.
    NotSummoned,
    /// A second acknowledgement.
    AlreadyAcked,
    /// A rating outside 1–5.
    BadRating,
}

impl RefusalCode {
    /// The code as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::InvalidState => "invalid_state",
            RefusalCode::UnknownDepartment => "unknown_department",
            RefusalCode::UnknownUnit => "unknown_unit",
            RefusalCode::RelievedLevel => "relieved_level",
            RefusalCode::NoChange => "no_change",
            RefusalCode::NoDepartments => "no_departments",
            RefusalCode::IsLead => "is_lead",
            RefusalCode::AlreadySummoned => "already_summoned",
            RefusalCode::NotSummoned => "not_summoned",
            RefusalCode::AlreadyAcked => "already_acked",
            RefusalCode::BadRating => "bad_rating",
        }
    }

    /// Whether the action conflicts with the case's state (HTTP 409), as
    /// opposed to naming something invalid (HTTP 422).
    pub fn is_conflict(self) -> bool {
        matches!(
            self,
            RefusalCode::InvalidState
                | RefusalCode::NoChange
                | RefusalCode::AlreadySummoned
                | RefusalCode::NotSummoned
                | RefusalCode::AlreadyAcked
                | RefusalCode::IsLead
        )
    }
}

/// An action that was not applied; the case is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The machine-readable reason.
    pub code: RefusalCode,
    /// The case's state.
    pub state: State,
    /// The reason in words: what was asked, the state, what is allowed.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Refusal {}
