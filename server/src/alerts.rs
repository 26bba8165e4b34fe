//! Threshold warnings in the server: the engine's [`Monitor`] fed with
//! every event and transition, its alerts stored, streamed and posted.
//!
//! The monitor listens on the live [`Hub`]: every message about an event
//! (a transition, an escalation step) makes it read that event's case from
//! the store (the ids of all messages waiting, in one read) and observe it; between messages it sleeps until
//! [`Monitor::next_due`] and advances its clock. Each alert raised or
//! cleared is stored (the `alerts` table, queued for the webhooks in the
//! same transaction) and then published on `/v1/stream` as an `alert`
//! event.
//!
//! The monitor lives in memory and is rebuilt from the store: at start-up
//! (from the cases reported within the longest threshold window), after a
//! policy change, and if it ever fell behind the hub (the hub drops
//! messages for a slow listener). A rebuild then compares the groups it
//! finds raised with the alerts stored as open: it raises what is missing
//! and clears what no longer holds, so a restart neither repeats nor loses
//! an alert.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use whistle_engine::Policy;
use whistle_engine::alerts::{Alert, Monitor};

use crate::store::{Store, StoreError, StoredAlert};
use crate::stream::{Hub, Message};

/// Most event ids read per wake-up (the rest wait for the next one).
const BATCH: usize = 1024;

/// The JSON an alert is stored, streamed and posted as: the alert's fields
/// and `"kind": "alert"`.
pub fn alert_json(a: &Alert) -> Result<String, String> {
    let mut v = serde_json::to_value(a).map_err(|e| format!("an alert does not serialise: {e}"))?;
    if let Some(map) = v.as_object_mut() {
        map.insert("kind".into(), serde_json::Value::String("alert".into()));
    }
    Ok(v.to_string())
}

/// Builds the monitor from the store, reconciles it with the stored
/// alerts, and starts the task that keeps it current. Subscribes to the
/// hub first, so nothing published during the rebuild is missed.
pub async fn start(
    policy: Arc<ArcSwap<Policy>>,
    store: Arc<dyn Store>,
    hub: Hub,
) -> Result<(), String> {
    let rx = hub.subscribe();
    let p = policy.load_full();
    let now = Timestamp::now();
    let monitor = rebuild(&p, &*store, now).await.map_err(|e| e.to_string())?;
    reconcile(&monitor, &p, &*store, &hub, now)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        "threshold monitor: {} events in its windows",
        monitor.events()
    );
    tokio::spawn(run(monitor, rx, policy, store, hub));
    Ok(())
}

/// A monitor of `policy` that has observed, at `now`, every case reported
/// within its longest window.
async fn rebuild(
    policy: &Policy,
    store: &dyn Store,
    now: Timestamp,
) -> Result<Monitor, StoreError> {
    let mut m = Monitor::new(policy);
    let Some(longest) = policy.thresholds.iter().map(|t| t.window).max() else {
        return Ok(m);
    };
    let since = now
        .checked_sub(SignedDuration::from_secs(
            i64::try_from(longest).unwrap_or(i64::MAX),
        ))
        .unwrap_or(Timestamp::MIN);
    store
        .cases_reported(since, Timestamp::MAX, &mut |case| {
            // Replayed state is not news: the reconciliation says what changed.
            let _ = m.observe(policy, &case, now);
        })
        .await?;
    Ok(m)
}

fn same(stored: &StoredAlert, threshold: &str, group: &str) -> bool {
    stored.raised["threshold"] == threshold && stored.raised["group"] == group
}

/// The clear of a stored alert the monitor no longer knows (its threshold
/// or group is gone).
fn clear_of(stored: &StoredAlert, at: Timestamp) -> Alert {
    let text = |k: &str| stored.raised[k].as_str().unwrap_or("").to_string();
    Alert {
        threshold: text("threshold").into(),
        display: stored.raised["display"].as_str().map(Arc::from),
        by: text("by").into(),
        group: text("group"),
        raised: false,
        at,
        value: 0.0,
        bound: stored.raised["bound"].as_f64().unwrap_or(0.0),
        counted: 0,
        notify: text("notify"),
    }
}

/// Raises what the monitor has raised and the store has not, and clears
/// what the store has open and the monitor has not.
async fn reconcile(
    m: &Monitor,
    policy: &Policy,
    store: &dyn Store,
    hub: &Hub,
    now: Timestamp,
) -> Result<(), StoreError> {
    let open = store.alerts(true, usize::MAX).await?;
    let raised = m.raised(policy, now);
    let mut out: Vec<Alert> = raised
        .iter()
        .filter(|a| !open.iter().any(|o| same(o, &a.threshold, &a.group)))
        .cloned()
        .collect();
    for o in &open {
        let (Some(t), Some(g)) = (o.raised["threshold"].as_str(), o.raised["group"].as_str())
        else {
            continue;
        };
        if raised.iter().any(|a| &*a.threshold == t && a.group == g) {
            continue;
        }
        let clear = match m.current(policy, t, g, now) {
            Some(mut a) => {
                a.raised = false;
                a
            }
            None => clear_of(o, now),
        };
        out.push(clear);
    }
    publish(store, hub, &out).await;
    Ok(())
}

/// Stores alerts, then streams them.
async fn publish(store: &dyn Store, hub: &Hub, alerts: &[Alert]) {
    if alerts.is_empty() {
        return;
    }
    if let Err(e) = store.record_alerts(alerts).await {
        // The monitor keeps its state; the next rebuild reconciles the store.
        tracing::error!("storing alerts failed: {e}");
    }
    for a in alerts {
        metrics::counter!(
            "whistle_alerts_total",
            "threshold" => a.threshold.to_string(),
            "raised" => a.raised.to_string()
        )
        .increment(1);
        match alert_json(a) {
            Ok(json) => hub.publish("alert", json),
            Err(e) => tracing::error!("{e}"),
        }
    }
}

/// The part of a hub message that names an event.
#[derive(Deserialize)]
struct AboutEvent {
    event_id: String,
}

fn collect(m: &Message, ids: &mut Vec<String>) {
    if &*m.kind == "alert" {
        return;
    }
    if let Ok(a) = serde_json::from_str::<AboutEvent>(&m.json)
        && !ids.contains(&a.event_id)
    {
        ids.push(a.event_id);
    }
}

async fn sleep_until(due: Option<Timestamp>) {
    match due {
        Some(t) => {
            let ms = t
                .as_millisecond()
                .saturating_sub(Timestamp::now().as_millisecond());
            // A deadline passes 1 ns after it: wake a millisecond later
            // rather than spin until it has.
            let ms = u64::try_from(ms).unwrap_or(0).saturating_add(1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        None => std::future::pending().await,
    }
}

async fn run(
    mut monitor: Monitor,
    mut rx: tokio::sync::broadcast::Receiver<Message>,
    policy: Arc<ArcSwap<Policy>>,
    store: Arc<dyn Store>,
    hub: Hub,
) {
    // Set when the monitor missed something and must be rebuilt.
    let mut stale = false;
    loop {
        let mut ids = Vec::new();
        let mut behind = false;
        tokio::select! {
            m = rx.recv() => match m {
                Ok(m) => {
                    collect(&m, &mut ids);
                    while ids.len() < BATCH {
                        match rx.try_recv() {
                            Ok(m) => collect(&m, &mut ids),
                            Err(TryRecvError::Lagged(_)) => behind = true,
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => behind = true,
                Err(RecvError::Closed) => return,
            },
            () = sleep_until(monitor.next_due()) => {}
        }
        let p = policy.load_full();
        let now = Timestamp::now();
        if stale || behind || monitor.policy_hash() != &*p.hash {
            match rebuild(&p, &*store, now).await {
                Ok(m) => {
                    monitor = m;
                    stale = false;
                    if let Err(e) = reconcile(&monitor, &p, &*store, &hub, now).await {
                        tracing::error!("threshold monitor: {e}");
                    }
                }
                Err(e) => {
                    tracing::error!("threshold monitor: rebuilding failed: {e}");
                    stale = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            continue;
        }
        let mut alerts = monitor.advance(&p, now);
        if !ids.is_empty() {
            match store.cases_of(&ids).await {
                Ok(cases) => {
                    for case in &cases {
                        alerts.extend(monitor.observe(&p, case, now));
                    }
                }
                Err(e) => {
                    // These cases were not observed: a rebuild (from the
                    // store, once it answers) catches up on all of them.
                    tracing::error!("threshold monitor: reading cases: {e}");
                    stale = true;
                }
            }
        }
        publish(&*store, &hub, &alerts).await;
    }
}
