//! Live subscribers: every transition, escalation step and alert is
//! published here and streamed as server-sent events on `/v1/stream`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{broadcast, watch};
use whistle_engine::lifecycle::{Case, Transition};

/// One published message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its place in the order of publication: the SSE `id`, so a
    /// subscriber sees a gap as a jump. The server's hub numbers from the
    /// instant it started, in microseconds since the epoch, so that ids
    /// keep growing across a restart.
    pub seq: u64,
    /// The SSE event name (`transition`, `step_fired`, `alert`, ...).
    pub kind: Arc<str>,
    /// The JSON payload.
    pub json: Arc<str>,
    /// On the messages that open an event: the case as opened (its first
    /// version), so that the threshold monitor can observe it without
    /// reading it back from the store.
    pub opened: Option<Arc<Case>>,
    /// More messages of the same stored batch follow this one: the
    /// threshold monitor sees a batch at one instant, so it waits for them.
    pub more: bool,
}

/// The publish side; subscribers that fall behind lose the oldest messages
/// and are told how many (the journal and webhooks are the lossless
/// channels).
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Message>,
    seq: Arc<AtomicU64>,
    /// Set when the server stops: the streams end, so that their
    /// connections close and the process can exit.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

/// Messages a subscriber may fall behind by before it loses the oldest:
/// a batch of 10,000 events publishes two each.
const ROOM: usize = 1 << 15;

impl Hub {
    /// A hub with room for [`ROOM`] undelivered messages per subscriber,
    /// numbering its messages after the current instant in microseconds:
    /// a client that compares ids across a restart of the server does not
    /// see them start again at 1 and take the new messages for old ones
    /// (a server would have to publish a message per microsecond of its
    /// life to catch up with the next one's numbers).
    pub fn new() -> Hub {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
        Hub::numbered_after(ROOM, now)
    }

    /// A hub with room for `room` undelivered messages per subscriber,
    /// numbering its messages from 1.
    pub fn with_room(room: usize) -> Hub {
        Hub::numbered_after(room, 0)
    }

    /// A hub whose first message is numbered `last + 1`.
    fn numbered_after(room: usize, last: u64) -> Hub {
        Hub {
            tx: broadcast::channel(room.max(1)).0,
            seq: Arc::new(AtomicU64::new(last)),
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// Publishes a message to whoever listens.
    pub fn publish(&self, kind: &str, json: String) {
        self.send(kind, json, None);
    }

    /// Publishes a message about the opening of `case`'s event; `more`:
    /// more messages of the same batch follow.
    pub fn publish_opened(&self, kind: &str, json: String, case: Arc<Case>, more: bool) {
        self.send_message(kind, json, Some(case), more);
    }

    /// Publishes each of event `id`'s stored transitions.
    pub fn publish_transitions(&self, id: &str, transitions: &[Transition]) {
        for t in transitions {
            self.publish(t.kind(), transition_json(id, t));
        }
    }

    fn send(&self, kind: &str, json: String, opened: Option<Arc<Case>>) {
        self.send_message(kind, json, opened, false);
    }

    fn send_message(&self, kind: &str, json: String, opened: Option<Arc<Case>>, more: bool) {
        // Two publishers racing may send their numbers out of order: a
        // subscriber then sees two ids swapped, never a gap that is not
        // a loss.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // No subscriber is not an error.
        let _ = self.tx.send(Message {
            seq,
            kind: kind.into(),
            json: json.into(),
            opened,
            more,
        });
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.tx.subscribe()
    }

    /// Ends every stream: the server is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes `true` when the server stops.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// What a subscriber of the live stream gets.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next message.
    Message(Message),
    /// It fell behind and lost this many messages.
    Lagged(u64),
}

/// A subscriber's feed: every message from now on, in order, a note of
/// any it lost, until the server stops.
pub fn feed(hub: &Hub) -> impl tokio_stream::Stream<Item = Delivery> + use<> {
    use tokio_stream::StreamExt;
    use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
    use tokio_stream::wrappers::{BroadcastStream, WatchStream};
    let messages = BroadcastStream::new(hub.subscribe()).map(|m| {
        Some(match m {
            Ok(m) => Delivery::Message(m),
            Err(BroadcastStreamRecvError::Lagged(n)) => Delivery::Lagged(n),
        })
    });
    let closing = WatchStream::new(hub.closing()).filter(|c| *c).map(|_| None);
    messages
        .merge(closing)
        .take_while(Option::is_some)
        .filter_map(|d| d)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use tokio_stream::StreamExt;

    fn seqs(got: &[Delivery]) -> Vec<String> {
        got.iter()
            .map(|d| match d {
                Delivery::Message(m) => format!("{}:{}", m.seq, m.kind),
                Delivery::Lagged(n) => format!("lagged {n}"),
            })
            .collect()
    }

    /// A subscriber that fell behind is told how many it lost, then gets
    /// the rest numbered; closing the hub ends every feed.
    #[tokio::test]
    async fn a_lagging_subscriber_is_told_and_closing_ends_the_feed() {
        let hub = Hub::with_room(4);
        let mut feed = Box::pin(feed(&hub));
        for i in 0..10 {
            hub.publish(&format!("k{i}"), "{}".into());
        }
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(feed.next().await.expect("a delivery"));
        }
        assert_eq!(
            seqs(&got),
            ["lagged 6", "7:k6", "8:k7", "9:k8", "10:k9"],
            "the oldest six were lost"
        );
        hub.publish("after", "{}".into());
        let next = feed.next().await.expect("a delivery");
        assert_eq!(seqs(&[next]), ["11:after"]);
        hub.close();
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await;
        assert!(matches!(end, Ok(None)), "the feed ended: {end:?}");
    }
}
