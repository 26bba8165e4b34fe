//! Live subscribers: every transition, escalation step and alert is
//! published here and streamed as server-sent events on `/v1/stream`.

use std::sync::Arc;

use tokio::sync::broadcast;
use whistle_engine::lifecycle::{Case, Transition};

/// One published message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The SSE event name (`transition`, `step_fired`, `alert`, ...).
    pub kind: Arc<str>,
    /// The JSON payload.
    pub json: Arc<str>,
    /// On the messages that open an event: the case as opened (its first
    /// version), so that the threshold monitor can observe it without
    /// reading it back from the store.
    pub opened: Option<Arc<Case>>,
}

/// The publish side; subscribers that fall behind lose the oldest messages
/// (the journal and webhooks are the lossless channels).
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Message>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// A hub with room for 4096 undelivered messages per subscriber.
    pub fn new() -> Hub {
        Hub {
            tx: broadcast::channel(4096).0,
        }
    }

    /// Publishes a message to whoever listens.
    pub fn publish(&self, kind: &str, json: String) {
        self.send(kind, json, None);
    }

    /// Publishes a message about the opening of `case`'s event.
    pub fn publish_opened(&self, kind: &str, json: String, case: Arc<Case>) {
        self.send(kind, json, Some(case));
    }

    /// Publishes each of event `id`'s stored transitions.
    pub fn publish_transitions(&self, id: &str, transitions: &[Transition]) {
        for t in transitions {
            self.publish(t.kind(), transition_json(id, t));
        }
    }

    fn send(&self, kind: &str, json: String, opened: Option<Arc<Case>>) {
        // No subscriber is not an error.
        let _ = self.tx.send(Message {
            kind: kind.into(),
            json: json.into(),
            opened,
        });
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.tx.subscribe()
    }
}

/// The payload of a transition's message: `{"event_id", "transition"}`.
pub fn transition_json(id: &str, t: &Transition) -> String {
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        event_id: &'a str,
        transition: &'a Transition,
    }
    // A transition always serialises (its fields are strings, numbers and
    // instants).
    serde_json::to_string(&Payload {
        event_id: id,
        transition: t,
    })
    .unwrap_or_default()
}
