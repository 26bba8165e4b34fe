//! Live subscribers: every transition, escalation step and alert is
//! published here and streamed as server-sent events on `/v1/stream`.

use std::sync::Arc;

use tokio::sync::broadcast;
use whistle_engine::lifecycle::Case;

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
        // No subscriber is not an error.
        let _ = self.tx.send(Message {
            kind: kind.into(),
            json: json.into(),
            opened: None,
        });
    }

    /// Publishes a message about the opening of `case`'s event.
    pub fn publish_opened(&self, kind: &str, json: String, case: Arc<Case>) {
        let _ = self.tx.send(Message {
            kind: kind.into(),
            json: json.into(),
            opened: Some(case),
        });
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.tx.subscribe()
    }
}
