//! The ingest path: events posted concurrently are queued, decided in
//! arrival order (each sees the earlier ones for `repeats`), and stored in
//! one transaction per batch (group commit). A client's 201 is sent only
//! once that commit is on disk.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use whistle_engine::event::Event;
use whistle_engine::lifecycle::Case;
use whistle_engine::windows::RepeatIndex;
use whistle_engine::{Context, Policy, decide_in};

use crate::store::{Durable, Inserted, NewEvent, Store, StoredEvent};
use crate::stream::Hub;
use crate::timers;

/// What happened to one posted event.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Decided and stored now: the decision as JSON text.
    Created(String),
    /// The same event was posted before: its stored record.
    Duplicate(Box<StoredEvent>),
    /// Another event with this id was posted before: the one posted now.
    Conflict(Box<Event>),
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
///
/// Three stages overlap: while one batch waits for the disk to flush its
/// commit, the next is being written, and the one after it decided. A
/// decided batch waits in a one-slot channel; the deciding stage collects
/// a batch only when that slot is free, so everything that queued up while
/// the store was busy goes into one commit. Answers go out in commit
/// order, each only once its commit is durable.
pub fn spawn(deps: Deps) -> Handle {
    let (tx, mut rx) = mpsc::channel::<Submission>(4096);
    let (decided_tx, mut decided_rx) = mpsc::channel::<Decided>(1);
    // Committed batches waiting for their flush, in commit order. Two is
    // enough to keep the writer busy while the disk flushes.
    let (stored_tx, mut stored_rx) = mpsc::channel::<Stored>(2);
    let deps = Arc::new(deps);
    let storing = deps.clone();
    let answering = deps.clone();
    let stage = async move {
        let store_all = async move {
            while let Some(d) = decided_rx.recv().await {
                if stored_tx.send(store(&storing, d).await).await.is_err() {
                    return;
                }
            }
        };
        let answer_all = async move {
            while let Some(s) = stored_rx.recv().await {
                answer(&answering, s).await;
            }
        };
        tokio::join!(store_all, answer_all);
    };
    // The storing stage is the critical path (one batch at a time, a round
    // trip to SQLite's thread per statement): on a thread of its own it is
    // woken as soon as each statement is done, instead of waiting for a
    // runtime worker busy with HTTP and deciding.
    on_own_thread("whistle-store", stage);
    // Deciding stays on the shared runtime: on a thread of its own it was
    // slower (five interleaved runs, docs/BENCHMARKS.md "Session 4").
    tokio::spawn(async move {
        loop {
            let Ok(slot) = decided_tx.reserve().await else {
                return;
            };
            let Some(first) = rx.recv().await else {
                return;
            };
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
            slot.send(decide_batch(&deps, subs));
        }
    });
    Handle { tx }
}

/// Runs `task` on a thread of its own with a single-threaded runtime, or,
/// should that thread not start, on the shared runtime.
fn on_own_thread<F>(name: &str, task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (give, take) = std::sync::mpsc::channel::<F>();
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|rt| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    if let Ok(task) = take.recv() {
                        rt.block_on(task);
                    }
                })
        });
    let task = match started {
        Ok(_) => match give.send(task) {
            Ok(()) => return,
            Err(std::sync::mpsc::SendError(task)) => task,
        },
        Err(e) => {
            tracing::warn!("cannot start thread {name}, running on the shared runtime: {e}");
            task
        }
    };
    tokio::spawn(task);
}

/// A batch decided and waiting to be stored.
struct Decided {
    subs: Vec<Submission>,
    /// The events to store, or why they cannot be.
    batch: Result<Vec<NewEvent>, String>,
    decisions: Vec<String>,
    /// Per event: its case and its transitions as stream messages.
    published: Vec<Published>,
}

/// What is announced about one event once it is stored: its case, and its
/// transitions as stream messages (rendered here, off the storing stage).
struct Published {
    case: Arc<Case>,
    messages: Vec<(&'static str, String)>,
}

/// One event decided, before it is serialised.
struct Opened {
    event: Event,
    hash: String,
    decision: String,
    case: Arc<Case>,
    transitions: Vec<whistle_engine::lifecycle::Transition>,
}

/// Decides a batch in arrival order, then (off the history lock)
/// serialises what the store writes and what the stream announces.
fn decide_batch(deps: &Deps, subs: Vec<Submission>) -> Decided {
    let now = Timestamp::now();
    let mut opened = Vec::new();
    {
        let mut history = deps
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Loaded under the history lock: a reload swaps the policy and its
        // `repeats` windows together under this lock, so a batch is decided
        // by one policy version against windows made for it.
        let policy = deps.policy.load_full();
        for s in &subs {
            for (ev, hash) in &s.events {
                let ctx = Context {
                    history: &*history,
                    reopened: 0,
                };
                let units = policy.units_of(&ev.grid);
                let d = decide_in(&policy, ev, units, &ctx);
                let decision = render(&d, &policy);
                let (case, transitions) = Case::open(&policy, ev.clone(), &d, now, &*history);
                history.record(ev, units);
                opened.push(Opened {
                    event: ev.clone(),
                    hash: hash.clone(),
                    decision,
                    case: Arc::new(case),
                    transitions,
                });
            }
        }
    }
    let published = opened.iter().map(announce).collect();
    let decisions = opened.iter().map(|o| o.decision.clone()).collect();
    let batch = opened
        .into_iter()
        .map(|o| NewEvent::new(o.event, o.hash, o.decision, o.case, o.transitions, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string());
    Decided {
        subs,
        batch,
        decisions,
        published,
    }
}

/// What the stream is told about an opened event once it is stored.
fn announce(o: &Opened) -> Published {
    let id = o.event.id.as_str();
    Published {
        case: o.case.clone(),
        messages: o
            .transitions
            .iter()
            .map(|t| (t.kind(), crate::stream::transition_json(id, t)))
            .collect(),
    }
}

/// A batch committed (or refused), its flush still to wait for.
struct Stored {
    subs: Vec<Submission>,
    decisions: Vec<String>,
    published: Vec<Published>,
    result: Result<(Vec<Inserted>, Durable), String>,
}

/// Writes a batch: returns once it is committed, so the next can be written.
async fn store(deps: &Deps, d: Decided) -> Stored {
    let Decided {
        subs,
        batch,
        decisions,
        published,
    } = d;
    let result = match batch {
        Ok(batch) => deps
            .store
            .insert_events_committed(batch)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    Stored {
        subs,
        decisions,
        published,
        result,
    }
}

/// Waits until a stored batch is durable, then answers its clients and
/// announces its events.
async fn answer(deps: &Deps, s: Stored) {
    let Stored {
        subs,
        mut decisions,
        published,
        result,
    } = s;
    let result = match result {
        Ok((inserted, durable)) => durable.await.map(|()| inserted).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let mut outcomes = match result {
        Ok(inserted) => inserted,
        Err(e) => {
            tracing::error!("storing events failed: {e}");
            for s in subs {
                let _ = s.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    // Decisions made and stored: a retry answered with the stored
    // decision, or a conflict, is not one.
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Inserted::Created))
        .count();
    metrics::counter!("whistle_decisions_total").increment(created as u64);
    // Published once the batch is answered, the last message marked: the
    // threshold monitor takes the batch in at one instant.
    let mut opened = Vec::new();
    let mut i = 0;
    for s in subs {
        let mut out = Vec::with_capacity(s.events.len());
        for (ev, _) in s.events {
            let decision = decisions.get_mut(i).map(std::mem::take).unwrap_or_default();
            let inserted = std::mem::replace(
                outcomes.get_mut(i).unwrap_or(&mut Inserted::Conflict),
                Inserted::Conflict,
            );
            if let (Inserted::Created, Some(p)) = (&inserted, published.get(i)) {
                metrics::counter!(
                    "whistle_events_total",
                    "grade" => p.case.grade.to_string(),
                    "category" => ev.category.to_string()
                )
                .increment(1);
                for (kind, json) in &p.messages {
                    opened.push((*kind, json.clone(), p.case.clone()));
                }
                if let Some(due) = p.case.next_due() {
                    deps.timers.schedule(ev.id.to_string(), due);
                }
            }
            out.push(match inserted {
                Inserted::Created => Outcome::Created(decision),
                Inserted::Duplicate(s) => Outcome::Duplicate(s),
                Inserted::Conflict => Outcome::Conflict(Box::new(ev)),
            });
            i += 1;
        }
        let _ = s.reply.send(Ok(out));
    }
    let last = opened.len();
    for (n, (kind, json, case)) in opened.into_iter().enumerate() {
        deps.hub.publish_opened(kind, json, case, n + 1 < last);
    }
}

/// The decision as JSON text, from the policy's pre-rendered fragments
/// (the same document as `Decision::to_value`, without building a tree).
fn render(d: &whistle_engine::Decision, policy: &Policy) -> String {
    let mut buf = Vec::with_capacity(2048);
    match d
        .write_json(policy, &mut buf)
        .map(|()| String::from_utf8(buf))
    {
        Ok(Ok(s)) => s,
        _ => d.to_json(policy),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_task_runs_on_a_thread_of_its_own() {
        let (tx, rx) = oneshot::channel();
        on_own_thread("whistle-test", async move {
            // Its own runtime drives timers too.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = tx.send(std::thread::current().name().map(String::from));
        });
        assert_eq!(rx.await.unwrap().as_deref(), Some("whistle-test"));
    }
}
