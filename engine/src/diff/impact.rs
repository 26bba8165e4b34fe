//! The impact preview: the same events decided under the old and the new
//! policy, and what would be decided differently.
//!
//! Each policy decides the events in their order with its own `repeats`
//! history, exactly as `whistle route` or the server would have (an event
//! the policy's `event.schema.json` rejects is not decided and not
//! remembered). The two policies decide on two threads; only the comparison
//! of each pair of decisions is serial.

use serde::Serialize;

use super::PolicyInfo;
use super::replay::ImpactBuilder;
use crate::event::Event;
use crate::model::Policy;

/// Events decided per batch by [`impact`]: large enough to keep both
/// threads busy, small enough to keep memory flat.
const BATCH: usize = 8192;

/// A part of a decision that may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The grade.
    Grade,
    /// The lead department.
    Lead,
    /// The assisting departments (as a set).
    Assist,
    /// The handling level.
    Level,
    /// The handling unit.
    Unit,
    /// Settled on the spot.
    OnTheSpot,
    /// Routed by the fallback.
    Fallback,
    /// The respond deadline.
    RespondBy,
    /// The resolve deadline.
    ResolveBy,
}

impl Field {
    /// Every field, in report order.
    pub const ALL: [Field; 9] = [
        Field::Grade,
        Field::Lead,
        Field::Assist,
        Field::Level,
        Field::Unit,
        Field::OnTheSpot,
        Field::Fallback,
        Field::RespondBy,
        Field::ResolveBy,
    ];

    /// The field's name, as in a decision.
    pub fn name(self) -> &'static str {
        match self {
            Field::Grade => "grade",
            Field::Lead => "lead",
            Field::Assist => "assist",
            Field::Level => "level",
            Field::Unit => "unit",
            Field::OnTheSpot => "on_the_spot",
            Field::Fallback => "fallback",
            Field::RespondBy => "respond_by",
            Field::ResolveBy => "resolve_by",
        }
    }
}

/// How many events changed in each field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FieldCounts {
    /// Grade.
    pub grade: u64,
    /// Lead department.
    pub lead: u64,
    /// Assisting departments.
    pub assist: u64,
    /// Level.
    pub level: u64,
    /// Unit.
    pub unit: u64,
    /// On-the-spot handling.
    pub on_the_spot: u64,
    /// Fallback routing.
    pub fallback: u64,
    /// Respond deadline.
    pub respond_by: u64,
    /// Resolve deadline.
    pub resolve_by: u64,
}

impl FieldCounts {
    /// The count of one field.
    pub fn get(&self, f: Field) -> u64 {
        *self.slot_ref(f)
    }

    fn slot_ref(&self, f: Field) -> &u64 {
        match f {
            Field::Grade => &self.grade,
            Field::Lead => &self.lead,
            Field::Assist => &self.assist,
            Field::Level => &self.level,
            Field::Unit => &self.unit,
            Field::OnTheSpot => &self.on_the_spot,
            Field::Fallback => &self.fallback,
            Field::RespondBy => &self.respond_by,
            Field::ResolveBy => &self.resolve_by,
        }
    }

    pub(super) fn bump(&mut self, f: Field) {
        let slot = match f {
            Field::Grade => &mut self.grade,
            Field::Lead => &mut self.lead,
            Field::Assist => &mut self.assist,
            Field::Level => &mut self.level,
            Field::Unit => &mut self.unit,
            Field::OnTheSpot => &mut self.on_the_spot,
            Field::Fallback => &mut self.fallback,
            Field::RespondBy => &mut self.respond_by,
            Field::ResolveBy => &mut self.resolve_by,
        };
        *slot += 1;
    }
}

/// One event decided differently in one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The event's id.
    pub event_id: String,
    /// What differs.
    pub field: Field,
    /// The old value (`None`: no unit).
    pub old: Option<String>,
    /// The new value.
    pub new: Option<String>,
    /// For a deadline, how far it moved, in seconds (negative: earlier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_seconds: Option<i64>,
}

/// The impact on one category (as the events report it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryImpact {
    /// The category as reported.
    pub category: String,
    /// Events of it decided under both policies.
    pub events: u64,
    /// Of those, decided differently in any field.
    pub changed: u64,
    /// Per field.
    pub changes: FieldCounts,
    /// The first few events of each field that changed, in input order.
    pub examples: Vec<Example>,
}

/// An old value and a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Pair<T> {
    /// Under the old policy.
    pub old: T,
    /// Under the new policy.
    pub new: T,
}

/// The deadline load of one department under both policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentLoad {
    /// The department.
    pub department: String,
    /// Events it leads.
    pub led: Pair<u64>,
    /// Events it assists.
    pub assisted: Pair<u64>,
    /// Resolve time it is given for the events it leads (from report to
    /// `resolve_by`), summed, in hours.
    pub resolve_hours: Pair<f64>,
}

impl DepartmentLoad {
    /// Whether its load differs between the policies (resolve hours to the
    /// tenth shown).
    pub fn changes(&self) -> bool {
        self.led.old != self.led.new
            || self.assisted.old != self.assisted.new
            || ((self.resolve_hours.new - self.resolve_hours.old) * 10.0).round() != 0.0
    }
}

/// How many events moved from one value to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// The old value.
    pub old: String,
    /// The new value.
    pub new: String,
    /// Events.
    pub events: u64,
}

/// Moves of grade, lead and level, most frequent first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shifts {
    /// Grade moves (`blue → yellow`).
    pub grade: Vec<Shift>,
    /// Lead moves (`urban → fire`).
    pub lead: Vec<Shift>,
    /// Level moves.
    pub level: Vec<Shift>,
}

/// An event a policy's `event.schema.json` rejected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// `old` or `new`: the policy that rejected it.
    pub by: &'static str,
    /// The event's id.
    pub event_id: String,
    /// Why, as `POST /v1/events` would answer it.
    pub reason: String,
}

/// What deciding the same events under a new policy changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// The old policy.
    pub old: PolicyInfo,
    /// The new policy.
    pub new: PolicyInfo,
    /// Events decided under both policies.
    pub events: u64,
    /// Of those, decided differently in any field.
    pub changed: u64,
    /// Events a policy's `event.schema.json` rejected (not decided by it,
    /// and not compared).
    pub rejected: Pair<u64>,
    /// The first events each policy's schema rejected (five of each), with
    /// why: which past events a stricter schema would refuse.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_first: Vec<Rejected>,
    /// Per field, over all events.
    pub changes: FieldCounts,
    /// Moves of grade, lead and level.
    pub shifts: Shifts,
    /// Every category seen: most changed first, then by name.
    pub categories: Vec<CategoryImpact>,
    /// Departments that lead or assist anything under either policy:
    /// largest move of led events first. Each side counts every event its
    /// policy decides (also one the other policy's schema rejects).
    pub departments: Vec<DepartmentLoad>,
}

/// Options of an impact preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactOptions {
    /// Examples kept per category and field.
    pub examples: usize,
}

impl Default for ImpactOptions {
    fn default() -> Self {
        ImpactOptions { examples: 3 }
    }
}

pub(super) fn sorted(it: impl Iterator<Item = Shift>) -> Vec<Shift> {
    let mut v: Vec<Shift> = it.collect();
    v.sort_by(|a, b| {
        b.events
            .cmp(&a.events)
            .then_with(|| a.old.cmp(&b.old))
            .then_with(|| a.new.cmp(&b.new))
    });
    v
}

/// Decides `events` in order under both policies and reports what changes.
pub fn impact(old: &Policy, new: &Policy, events: &[Event], opts: &ImpactOptions) -> Impact {
    let mut b = ImpactBuilder::new(old, new, *opts);
    for chunk in events.chunks(BATCH) {
        b.add_batch(chunk);
    }
    b.finish()
}
