//! Routing a stream of events in order, each seeing the earlier ones for
//! `repeats` — what `whistle route` and the server's ingest path share.

use crate::decide::{Context, Decision, decide_in};
use crate::event::{Event, EventError, parse_event, schema_errors_under};
use crate::model::Policy;
use crate::windows::{LATE_IN_A_FILE, RepeatIndex};

/// Decides events one after another under one policy.
pub struct Router<'p> {
    policy: &'p Policy,
    history: RepeatIndex,
}

impl<'p> Router<'p> {
    /// A router with no history yet.
    pub fn new(policy: &'p Policy) -> Router<'p> {
        Router {
            policy,
            history: RepeatIndex::for_policy(policy).late_within(LATE_IN_A_FILE),
        }
    }

    /// Parses, validates and decides one line of JSON, then remembers the
    /// event for later `repeats`.
    pub fn route_line(&mut self, text: &str) -> Result<Decision, EventError> {
        let ev = prepare(self.policy, text)?;
        Ok(self.decide(&ev))
    }

    /// Validates `attr` against the bundle's schema, decides, and remembers.
    pub fn route_event(&mut self, ev: &Event) -> Result<Decision, EventError> {
        check_attr(self.policy, ev)?;
        Ok(self.decide(ev))
    }

    /// Decides an event already validated (see [`prepare`]) and remembers it.
    /// Events must come through here in input order: each sees the earlier
    /// ones for `repeats`.
    pub fn decide(&mut self, ev: &Event) -> Decision {
        let ctx = Context {
            history: &self.history,
            reopened: 0,
        };
        let units = self.policy.units_of(&ev.grid);
        let d = decide_in(self.policy, ev, units, &ctx);
        self.history.record(ev, units);
        d
    }

    /// Records an event in the history without deciding it.
    pub fn remember(&mut self, ev: &Event) {
        self.history.record(ev, self.policy.units_of(&ev.grid));
    }
}

/// Parses and validates one line: the part of routing that does not depend
/// on other events, and so may run in parallel.
pub fn prepare(policy: &Policy, text: &str) -> Result<Event, EventError> {
    let ev = parse_event(text)?;
    check_attr(policy, &ev)?;
    Ok(ev)
}

/// Checks an event's `attr` against the bundle's `event.schema.json`.
pub fn check_attr(policy: &Policy, ev: &Event) -> Result<(), EventError> {
    let Some(v) = policy.attr_validator.as_deref() else {
        return Ok(());
    };
    let attr = if ev.attr.is_null() {
        &serde_json::Value::Object(Default::default())
    } else {
        &ev.attr
    };
    if v.is_valid(attr) {
        return Ok(());
    }
    Err(EventError(format!(
        "`attr` does not match the policy's event.schema.json: {}",
        schema_errors_under(v, attr, Some("attr"))
    )))
}
