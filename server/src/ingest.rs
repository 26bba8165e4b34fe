//! The ingest path: events posted concurrently are queued, decided in
//! arrival order (each sees the earlier ones for `repeats`), and stored in
//! one durable transaction per batch (group commit). A client's 201 is sent
//! only after that commit.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use whistle_engine::event::Event;
use whistle_engine::lifecycle::Case;
use whistle_engine::windows::RepeatIndex;
use whistle_engine::{Context, Policy, decide};

use crate::store::{Inserted, NewEvent, Store, StoredEvent};
use crate::stream::Hub;
use crate::timers;

/// What happened to one posted event.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Decided and stored now.
    Created(Box<serde_json::Value>),
    /// The same event was posted before: its stored record.
    Duplicate(Box<StoredEvent>),
    /// Another event with this id was posted before.
    Conflict,
}

struct Submission {
    events: Vec<(Event, String)>,
    reply: oneshot::Sender<Result<Vec<Outcome>, String>>,
}

/// Where handlers submit events.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Submission>,
}

impl Handle {
    /// Submits events (with their body hashes) and waits until they are durable.
    pub async fn submit(&self, events: Vec<(Event, String)>) -> Result<Vec<Outcome>, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Submission { events, reply })
            .await
            .map_err(|_| "the server is shutting down".to_string())?;
        rx.await
            .map_err(|_| "the server is shutting down".to_string())?
    }
}

/// What the ingest task needs.
pub struct Deps {
    /// The policy in force.
    pub policy: Arc<ArcSwap<Policy>>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// `repeats` windows.
    pub history: Arc<Mutex<RepeatIndex>>,
    /// Live subscribers.
    pub hub: Hub,
    /// Timers to arm for new cases.
    pub timers: timers::Handle,
    /// Most events per commit.
    pub batch_max: usize,
}

/// Starts the ingest task.
pub fn spawn(deps: Deps) -> Handle {
    let (tx, mut rx) = mpsc::channel::<Submission>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut subs = vec![first];
            let mut n = subs[0].events.len();
            // Whatever queued up while the last commit ran goes into this one.
            while n < deps.batch_max {
                match rx.try_recv() {
                    Ok(s) => {
                        n += s.events.len();
                        subs.push(s);
                    }
                    Err(_) => break,
                }
            }
            commit(&deps, subs).await;
        }
    });
    Handle { tx }
}

async fn commit(deps: &Deps, subs: Vec<Submission>) {
    let policy = deps.policy.load_full();
    let now = Timestamp::now();
    let mut batch = Vec::new();
    let mut decisions = Vec::new();
    {
        let mut history = deps
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &subs {
            for (ev, hash) in &s.events {
                let ctx = Context {
                    history: &*history,
                    reopened: 0,
                };
                let d = decide(&policy, ev, &ctx);
                let decision = d.to_value(&policy);
                let (case, transitions) = Case::open(&policy, ev.clone(), &d, now, &*history);
                let units = policy.areas.grids.get(ev.grid.as_str()).map(|u| &**u);
                history.record(ev, units);
                decisions.push(decision.clone());
                batch.push(NewEvent {
                    event: ev.clone(),
                    body_hash: hash.clone(),
                    decision,
                    case,
                    transitions,
                    received_at: now,
                });
            }
        }
    }
    let published: Vec<(String, Option<Timestamp>, Vec<String>)> = batch
        .iter()
        .map(|e| {
            let msgs = e
                .transitions
                .iter()
                .map(|t| serde_json::json!({"event_id": e.event.id, "transition": t}).to_string())
                .collect();
            (e.event.id.clone(), e.case.next_due(), msgs)
        })
        .collect();
    let result = deps.store.insert_events(batch).await;
    let mut outcomes = match result {
        Ok(inserted) => inserted,
        Err(e) => {
            tracing::error!("storing events failed: {e}");
            for s in subs {
                let _ = s.reply.send(Err(e.to_string()));
            }
            return;
        }
    };
    metrics::counter!("whistle_decisions_total").increment(outcomes.len() as u64);
    let mut i = 0;
    for s in subs {
        let mut out = Vec::with_capacity(s.events.len());
        for (ev, _) in &s.events {
            let decision = decisions.get(i).cloned().unwrap_or_default();
            let inserted = std::mem::replace(
                outcomes.get_mut(i).unwrap_or(&mut Inserted::Conflict),
                Inserted::Conflict,
            );
            if let (Inserted::Created, Some((id, due, msgs))) = (&inserted, published.get(i)) {
                metrics::counter!(
                    "whistle_events_total",
                    "grade" => decision["grade"].as_str().unwrap_or("?").to_string(),
                    "category" => ev.category.clone()
                )
                .increment(1);
                for m in msgs {
                    deps.hub.publish("transition", m.clone());
                }
                if let Some(due) = due {
                    deps.timers.schedule(id.clone(), *due);
                }
            }
            out.push(match inserted {
                Inserted::Created => Outcome::Created(Box::new(decision)),
                Inserted::Duplicate(s) => Outcome::Duplicate(s),
                Inserted::Conflict => Outcome::Conflict,
            });
            i += 1;
        }
        let _ = s.reply.send(Ok(out));
    }
}
