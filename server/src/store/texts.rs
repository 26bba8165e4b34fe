//! What a store writes: an event's and its transitions' JSON, and its
//! decision's and case's JSON [`pack`]ed. Made by the caller, off the
//! store's single writer: ingest serialises and packs a batch while the
//! previous one is being committed.

use std::sync::Arc;

use whistle_engine::event::Event;
use whistle_engine::lifecycle::{Case, Transition};

use super::StoreError;
use super::journal;
use super::pack::pack;

/// The JSON texts of a new event, its case and its transitions.
#[derive(Debug, Clone)]
pub(crate) struct EventTexts {
    /// The event.
    pub(crate) event: String,
    /// The decision, [`pack`]ed.
    pub(crate) decision: Vec<u8>,
    /// The case, [`pack`]ed.
    pub(crate) case: Vec<u8>,
    /// The journal bodies of the transitions, in order.
    pub(crate) bodies: Vec<Arc<str>>,
}

impl EventTexts {
    pub(crate) fn of(
        event: &Event,
        decision: &str,
        case: &Case,
        transitions: &[Transition],
    ) -> Result<EventTexts, StoreError> {
        let id = event.id.as_str();
        Ok(EventTexts {
            event: serde_json::to_string(event)
                .map_err(|e| StoreError(format!("event {id:?} does not serialise: {e}")))?,
            decision: pack(decision)
                .map_err(|e| StoreError(format!("the decision of event {id:?}: {e}")))?,
            case: case_packed(id, case)?,
            bodies: transition_bodies(id, transitions)?,
        })
    }
}

/// The JSON of the case of event `id`.
pub(crate) fn case_json(id: &str, case: &Case) -> Result<String, StoreError> {
    serde_json::to_string(case)
        .map_err(|e| StoreError(format!("the case of event {id:?} does not serialise: {e}")))
}

/// The case of event `id`, [`pack`]ed.
pub(crate) fn case_packed(id: &str, case: &Case) -> Result<Vec<u8>, StoreError> {
    pack(&case_json(id, case)?).map_err(|e| StoreError(format!("the case of event {id:?}: {e}")))
}

/// The journal bodies of the transitions of event `id`.
pub(crate) fn transition_bodies(
    id: &str,
    transitions: &[Transition],
) -> Result<Vec<Arc<str>>, StoreError> {
    transitions
        .iter()
        .map(|t| {
            journal::transition_body(id, t)
                .map(Arc::from)
                .map_err(StoreError)
        })
        .collect()
}
