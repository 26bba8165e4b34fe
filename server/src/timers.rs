//! Escalation timers: a heap of (due instant, event id), fed by every case
//! that changes and rebuilt from the store's open cases at start-up. When an
//! instant comes, the case gets a `Tick`: the lifecycle fires each due step
//! exactly once and records that it did, so a restart loses no step and
//! fires none twice.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;
use tokio::sync::mpsc;
use whistle_engine::Policy;
use whistle_engine::lifecycle::{Action, apply};
use whistle_engine::windows::RepeatIndex;

use crate::store::{CaseChange, Store, Updated};
use crate::stream::Hub;

/// Where to arm timers.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<(Timestamp, String)>,
}

impl Handle {
    /// Arms a timer for a case at `due`. Arming again is harmless: a tick
    /// with nothing due does nothing.
    pub fn schedule(&self, id: String, due: Timestamp) {
        let _ = self.tx.send((due, id));
    }
}

/// What the timer task needs.
pub struct Deps {
    /// The policy in force.
    pub policy: Arc<ArcSwap<Policy>>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// `repeats` windows (for `when` steps).
    pub history: Arc<Mutex<RepeatIndex>>,
    /// Live subscribers.
    pub hub: Hub,
}

/// A timer queue not yet running: arm it while starting up, then run it.
pub struct Timers {
    rx: mpsc::UnboundedReceiver<(Timestamp, String)>,
    handle: Handle,
}

impl Default for Timers {
    fn default() -> Self {
        Timers::new()
    }
}

impl Timers {
    /// A new queue.
    pub fn new() -> Timers {
        let (tx, rx) = mpsc::unbounded_channel();
        Timers {
            rx,
            handle: Handle { tx },
        }
    }

    /// The arming side.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs the queue until the server stops.
    pub fn spawn(self, deps: Deps) {
        let Timers { mut rx, handle: _ } = self;
        tokio::spawn(async move {
            let mut heap: BinaryHeap<Reverse<(Timestamp, String)>> = BinaryHeap::new();
            loop {
                let wait = heap.peek().map(|Reverse((due, _))| {
                    let ms = due
                        .as_millisecond()
                        .saturating_sub(Timestamp::now().as_millisecond());
                    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                });
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some((due, id)) => heap.push(Reverse((due, id))),
                        None => return,
                    },
                    () = sleep(wait) => {
                        // Everything due now, each case once, fired together.
                        let now = Timestamp::now();
                        let mut due = Vec::new();
                        let mut seen = HashSet::new();
                        while due.len() < FIRE_BATCH
                            && heap.peek().is_some_and(|Reverse((due, _))| *due <= now)
                        {
                            let Some(Reverse((at, id))) = heap.pop() else { break };
                            if seen.insert(id.clone()) {
                                due.push((at, id));
                            }
                        }
                        for (id, next) in fire_all(&deps, &due, now).await {
                            if let Some(next) = next {
                                heap.push(Reverse((next, id)));
                            }
                        }
                    }
                }
            }
        });
    }
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Most cases ticked in one transaction.
const FIRE_BATCH: usize = 512;

/// Ticks the cases due (instant, id) at `now`, storing every change in one
/// transaction (one fsync for all, where one each would cap the rate at
/// the disk's fsyncs per second); returns each case's next due instant.
/// The lag recorded is from the instant due to the end of that commit.
async fn fire_all(
    deps: &Deps,
    due: &[(Timestamp, String)],
    now: Timestamp,
) -> Vec<(String, Option<Timestamp>)> {
    let retry = || now.checked_add(jiff::SignedDuration::from_secs(1)).ok();
    let ids: Vec<&str> = due.iter().map(|(_, id)| id.as_str()).collect();
    let mut stored: HashMap<String, _> = match deps.store.get_events(&ids).await {
        Ok(found) => found.into_iter().map(|s| (s.id.clone(), s)).collect(),
        Err(e) => {
            tracing::error!("timer: reading {} cases failed: {e}", ids.len());
            return due.iter().map(|(_, id)| (id.clone(), retry())).collect();
        }
    };
    let policy = deps.policy.load_full();
    let mut out = Vec::with_capacity(due.len());
    let mut ticked = Vec::new();
    {
        let history = deps
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, id) in due {
            // Gone (never stored, or deleted): nothing to fire.
            let Some(s) = stored.remove(id) else {
                out.push((id.clone(), None));
                continue;
            };
            let mut case = s.case;
            match apply(&policy, &mut case, Action::Tick, now, &*history) {
                Ok(t) if t.is_empty() => out.push((id.clone(), case.next_due())),
                Ok(t) => ticked.push((id, s.version, case, t)),
                Err(e) => {
                    tracing::warn!("timer: `{id}`: {e}");
                    out.push((id.clone(), None));
                }
            }
        }
    }
    let changes: Vec<CaseChange<'_>> = ticked
        .iter()
        .map(|(id, version, case, transitions)| CaseChange {
            id,
            expected_version: *version,
            case,
            transitions,
        })
        .collect();
    match deps.store.update_cases(&changes).await {
        Ok(results) => {
            for ((id, _, case, transitions), r) in ticked.iter().zip(results) {
                match r {
                    Updated::Ok(_) => {
                        deps.hub.publish_transitions(id, transitions);
                        out.push(((*id).clone(), case.next_due()));
                    }
                    // A handler moved it meanwhile: tick it on its own.
                    Updated::Stale => out.push(((*id).clone(), fire(deps, id, now).await)),
                    Updated::Missing => out.push(((*id).clone(), None)),
                }
            }
        }
        Err(e) => {
            tracing::error!("timer: storing {} cases failed: {e}", ticked.len());
            out.extend(ticked.iter().map(|(id, ..)| ((*id).clone(), retry())));
        }
    }
    let done = Timestamp::now().as_millisecond();
    for (at, _) in due {
        let lag = done.saturating_sub(at.as_millisecond());
        metrics::histogram!("whistle_timer_lag_seconds").record(lag as f64 / 1000.0);
    }
    out
}

/// Ticks one case at `now`; returns its next due instant.
async fn fire(deps: &Deps, id: &str, now: Timestamp) -> Option<Timestamp> {
    // A concurrent handler may update the case between our read and write:
    // then read it again.
    for _ in 0..5 {
        let stored = match deps.store.get_event(id).await {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!("timer: reading `{id}` failed: {e}");
                return Some(
                    now.checked_add(jiff::SignedDuration::from_secs(1))
                        .unwrap_or(now),
                );
            }
        };
        let mut case = stored.case;
        let policy = deps.policy.load_full();
        let transitions = {
            let history = deps
                .history
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match apply(&policy, &mut case, Action::Tick, now, &*history) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!("timer: `{id}`: {e}");
                    return None;
                }
            }
        };
        if transitions.is_empty() {
            return case.next_due();
        }
        match deps
            .store
            .update_case(id, stored.version, &case, &transitions)
            .await
        {
            Ok(Updated::Ok(_)) => {
                deps.hub.publish_transitions(id, &transitions);
                return case.next_due();
            }
            Ok(Updated::Stale) => continue,
            Ok(Updated::Missing) => return None,
            Err(e) => {
                tracing::error!("timer: storing `{id}` failed: {e}");
                return Some(
                    now.checked_add(jiff::SignedDuration::from_secs(1))
                        .unwrap_or(now),
                );
            }
        }
    }
    case_retry_later(now)
}

fn case_retry_later(now: Timestamp) -> Option<Timestamp> {
    now.checked_add(jiff::SignedDuration::from_millis(100)).ok()
}
