//! What a store writes as text: an event's, a case's and its transitions'
//! JSON. Made by the caller, off the store's single writer: ingest
//! serialises a batch while the previous one is being committed.

use std::sync::Arc;

use whistle_engine::event::Event;
use whistle_engine::lifecycle::{Case, Transition};

use super::StoreError;
use super::journal;

/// The JSON texts of a new event, its case and its transitions.
#[derive(Debug, Clone)]
pub(crate) struct EventTexts {
    /// The event.
    pub(crate) event: String,
    /// The case.
    pub(crate) case: String,
    /// The journal bodies of the transitions, in order.
    pub(crate) bodies: Vec<Arc<str>>,
}

impl EventTexts {
    pub(crate) fn of(
        event: &Event,
        case: &Case,
        transitions: &[Transition],
    ) -> Result<EventTexts, StoreError> {
        let id = event.id.as_str();
        Ok(EventTexts {
            event: serde_json::to_string(event)
                .map_err(|e| StoreError(format!("event {id:?} does not serialise: {e}")))?,
            case: case_json(id, case)?,
            bodies: transition_bodies(id, transitions)?,
        })
    }
}

/// The JSON of the case of event `id`.
pub(crate) fn case_json(id: &str, case: &Case) -> Result<String, StoreError> {
    serde_json::to_string(case)
        .map_err(|e| StoreError(format!("the case of event {id:?} does not serialise: {e}")))
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
