//! Threshold warnings in the server: the engine's [`Monitor`] fed with
//! every event and transition, its alerts stored, streamed and posted.
//!
//! The monitor listens on the live [`Hub`]: every message about an event
//! (a transition, an escalation step) makes it observe that event's case:
//! the case carried by the messages of an opening (an event just posted),
//! or else the case read from the store (the ids of all messages waiting,
//! in one read); between messages it sleeps until
//! [`Monitor::next_due`] and advances its clock. Each alert raised or
//! cleared is stored (the `alerts` table, queued for the webhooks in the
//! same transaction) and then published on `/v1/stream` as an `alert`
//! event.
//!
//! The monitor lives in memory and is rebuilt from the store: at start-up,
//! after a policy change, and if it ever fell behind the hub (the hub drops
//! messages for a slow listener). With the alerts the store keeps the
//! monitor's clock ([`MonitorClock`]): the stored alerts are complete up
//! to it. At start-up under the same policy the monitor is rebuilt as it
//! stood at that clock, compared with the alerts stored as open, and its
//! clock run to now: an event reported meanwhile is observed at its report
//! time, and a window that emptied or a deadline that passed while the
//! server was down raises or clears its alert at the instant it did.
//! Otherwise (a new policy, a monitor behind the hub) the groups found
//! raised now are compared with the alerts stored as open: what is missing
//! is raised and what no longer holds is cleared, judged at now. Either
//! way a restart repeats no alert. What a replay cannot see is an action
//! taken after the clock and before the stop (at most a second's worth):
//! the store keeps each case as it is, not as it was.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use whistle_engine::Policy;
use whistle_engine::alerts::{Alert, Monitor};
use whistle_engine::lifecycle::Case;

use crate::store::{MonitorClock, Store, StoreError, StoredAlert};
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

/// How often, at most, the monitor records its clock when it has no alert
/// to record (an alert always records it).
const CLOCK_EVERY: SignedDuration = SignedDuration::from_secs(1);

/// Builds the monitor from the store, brings the stored alerts up to date,
/// and starts the task that keeps it current. Subscribes to the hub first,
/// so nothing published during the rebuild is missed.
pub async fn start(
    policy: Arc<ArcSwap<Policy>>,
    store: Arc<dyn Store>,
    hub: Hub,
) -> Result<(), String> {
    let rx = hub.subscribe();
    let p = policy.load_full();
    let monitor = catch_up(&p, &*store, &hub, Timestamp::now())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        "threshold monitor: {} events in its windows",
        monitor.events()
    );
    tokio::spawn(run(monitor, rx, policy, store, hub));
    Ok(())
}

/// The clock to record after judging every instant up to `at`.
fn clock(policy: &Policy, at: Timestamp) -> MonitorClock {
    MonitorClock {
        at,
        policy: policy.hash.to_string(),
    }
}

/// A monitor of `policy` at `now`, with the stored alerts brought up to
/// date: replayed from the store's clock if it was kept under this policy,
/// judged at `now` otherwise.
async fn catch_up(
    policy: &Policy,
    store: &dyn Store,
    hub: &Hub,
    now: Timestamp,
) -> Result<Monitor, StoreError> {
    let from = match store.monitor_clock().await? {
        Some(c) if c.policy == *policy.hash && c.at <= now => c.at,
        Some(c) if c.policy != *policy.hash => {
            tracing::info!(
                "threshold monitor: the stored alerts were judged under another policy; they are compared with this one's at {now}"
            );
            now
        }
        _ => now,
    };
    let (monitor, replayed) = replay(policy, store, from, now, hub).await?;
    if from < now {
        tracing::info!(
            "threshold monitor: replayed from {from} (its last clock) to {now}: {} alerts",
            replayed.len()
        );
        publish(store, hub, &replayed, &clock(policy, now)).await;
        // Settles what storing the replay may have failed to.
        reconcile(&monitor, policy, store, hub, now).await?;
    }
    Ok(monitor)
}

/// A monitor of `policy` that has observed every case reported within its
/// longest window of `from`, as of `from` (compared then with the alerts
/// stored as open), and then, clock run to `now`, each case reported later
/// at its report time. Returns it with the alerts of `(from, now]`.
async fn replay(
    policy: &Policy,
    store: &dyn Store,
    from: Timestamp,
    now: Timestamp,
    hub: &Hub,
) -> Result<(Monitor, Vec<Alert>), StoreError> {
    let mut m = Monitor::new(policy);
    let Some(longest) = policy.thresholds.iter().map(|t| t.window).max() else {
        // No threshold: whatever the store has open is cleared.
        reconcile(&m, policy, store, hub, from).await?;
        return Ok((m, Vec::new()));
    };
    let since = from
        .checked_sub(SignedDuration::from_secs(
            i64::try_from(longest).unwrap_or(i64::MAX),
        ))
        .unwrap_or(Timestamp::MIN);
    let mut later = Vec::new();
    store
        .cases_reported(since, Timestamp::MAX, &mut |case, received| {
            // An event reported ahead of the clock counted from when it
            // was received, as the live monitor saw it.
            let seen = case.event.reported_at.min(received).min(now);
            if seen <= from {
                // The state at `from` is not news: the reconciliation says
                // what differs from the stored alerts.
                let _ = m.observe(policy, &case, from);
            } else {
                later.push((seen, case));
            }
        })
        .await?;
    reconcile(&m, policy, store, hub, from).await?;
    let mut alerts = Vec::new();
    // Reports of one instant are seen together, as the live monitor sees
    // a batch.
    later.sort_by_key(|(seen, _)| *seen);
    let (mut batch, mut batch_at) = (Vec::new(), from);
    for (at, case) in later {
        if at != batch_at {
            alerts.extend(m.settle(policy, std::mem::take(&mut batch), batch_at));
            batch_at = at;
        }
        batch.extend(m.advance(policy, at));
        batch.extend(m.observe(policy, &case, at));
    }
    alerts.extend(m.settle(policy, batch, batch_at));
    alerts.extend(m.advance(policy, now));
    Ok((m, alerts))
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
        name: stored.raised["name"].as_str().map(Arc::from),
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
    let open = store.alerts(true, usize::MAX, None).await?;
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
    publish(store, hub, &out, &clock(policy, now)).await;
    Ok(())
}

/// Stores alerts with the clock they are complete up to, then streams
/// them.
async fn publish(store: &dyn Store, hub: &Hub, alerts: &[Alert], clock: &MonitorClock) {
    if let Err(e) = store.record_alerts(alerts, clock).await {
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

/// What a wake-up of the monitor has to observe: cases that came with
/// their messages, and ids of events whose case must be read.
#[derive(Default)]
struct Pending {
    opened: Vec<Arc<Case>>,
    ids: Vec<String>,
}

impl Pending {
    fn len(&self) -> usize {
        self.opened.len() + self.ids.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn collect(&mut self, m: &Message) {
        if &*m.kind == "alert" {
            return;
        }
        if let Some(case) = &m.opened {
            // The messages of one opening share one case, and come one
            // after another (a batch of 10,000 is looked through once).
            if !self.opened.last().is_some_and(|c| Arc::ptr_eq(c, case)) {
                self.opened.push(case.clone());
            }
            return;
        }
        if let Ok(a) = serde_json::from_str::<AboutEvent>(&m.json)
            && !self.ids.contains(&a.event_id)
        {
            self.ids.push(a.event_id);
        }
    }

    /// Observes everything pending: an opened case as it came, unless the
    /// monitor knows its event already or another message about it is
    /// pending (a later transition, published first, may have been
    /// observed: the store's copy is the newest); the rest as read from the
    /// store. Returns the alerts, or the store's error (nothing read was
    /// observed then).
    async fn observe(
        mut self,
        monitor: &mut Monitor,
        policy: &Policy,
        store: &dyn Store,
        now: Timestamp,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), StoreError> {
        for case in std::mem::take(&mut self.opened) {
            let id = case.event.id.as_str();
            if self.ids.iter().any(|i| i == id) {
                continue;
            }
            if monitor.knows(id) {
                self.ids.push(id.to_string());
                continue;
            }
            alerts.extend(monitor.observe(policy, &case, now));
        }
        if self.ids.is_empty() {
            return Ok(());
        }
        for case in store.cases_of(&self.ids).await? {
            alerts.extend(monitor.observe(policy, &case, now));
        }
        Ok(())
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

/// Takes `first` and the messages waiting behind it into `pending`: up to
/// [`BATCH`] events read from the store, and the whole of a batch of
/// openings under way (waiting up to [`REST_OF_BATCH`] for its rest), so
/// that a batch is taken in at one instant. Returns whether the monitor
/// fell behind the stream.
async fn gather(
    first: Message,
    rx: &mut tokio::sync::broadcast::Receiver<Message>,
    pending: &mut Pending,
) -> bool {
    let mut behind = false;
    // Only openings come in batches; a transition between them (a
    // timer's) leaves the batch under way.
    let mut more = first.opened.is_some() && first.more;
    pending.collect(&first);
    // A batch under way is taken whole: its events are opened, and read
    // from no store.
    while more || pending.len() < BATCH {
        let next = match rx.try_recv() {
            Ok(m) => Some(m),
            Err(TryRecvError::Lagged(_)) => {
                behind = true;
                continue;
            }
            Err(TryRecvError::Empty) if more => {
                match tokio::time::timeout(REST_OF_BATCH, rx.recv()).await {
                    Ok(Ok(m)) => Some(m),
                    Ok(Err(RecvError::Lagged(_))) => {
                        behind = true;
                        continue;
                    }
                    Ok(Err(RecvError::Closed)) | Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let Some(m) = next else { break };
        more = still_more(more, &m);
        pending.collect(&m);
    }
    behind
}

/// Whether a batch of openings is still under way after message `m`.
fn still_more(before: bool, m: &Message) -> bool {
    if m.opened.is_some() { m.more } else { before }
}

/// How long the monitor waits for the rest of a batch whose first
/// messages it has (they are published one after another, at once).
const REST_OF_BATCH: Duration = Duration::from_millis(200);

async fn run(
    mut monitor: Monitor,
    mut rx: tokio::sync::broadcast::Receiver<Message>,
    policy: Arc<ArcSwap<Policy>>,
    store: Arc<dyn Store>,
    hub: Hub,
) {
    // Set when the monitor missed something and must be rebuilt.
    let mut stale = false;
    // When the clock was last recorded.
    let mut recorded = Timestamp::now();
    loop {
        let mut pending = Pending::default();
        let mut behind = false;
        tokio::select! {
            m = rx.recv() => match m {
                Ok(m) => behind = gather(m, &mut rx, &mut pending).await,
                Err(RecvError::Lagged(_)) => behind = true,
                Err(RecvError::Closed) => return,
            },
            () = sleep_until(monitor.next_due()) => {}
        }
        let p = policy.load_full();
        let now = Timestamp::now();
        if behind {
            tracing::warn!(
                "threshold monitor fell behind the live stream; rebuilding it from the store (what changed meanwhile is judged at {now})"
            );
        }
        if stale || behind || monitor.policy_hash() != &*p.hash {
            // Judged at now: the replay reconciles at its start.
            match replay(&p, &*store, now, now, &hub).await {
                Ok((m, _)) => {
                    monitor = m;
                    stale = false;
                    recorded = now;
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
        if !pending.is_empty()
            && let Err(e) = pending
                .observe(&mut monitor, &p, &*store, now, &mut alerts)
                .await
        {
            // These cases were not observed: a rebuild (from the store,
            // once it answers) catches up on all of them.
            tracing::error!("threshold monitor: reading cases: {e}");
            stale = true;
        }
        // A batch is seen at one instant: raised and cleared within it is
        // no alert.
        let alerts = monitor.settle(&p, alerts, now);
        if !alerts.is_empty() || now.duration_since(recorded) >= CLOCK_EVERY {
            publish(&*store, &hub, &alerts, &clock(&p, now)).await;
            recorded = now;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use whistle_engine::event::parse_event;
    use whistle_engine::lifecycle::Action;
    use whistle_engine::windows::NoHistory;
    use whistle_engine::{Context, compile_texts, decide};

    use super::*;
    use crate::store::NewEvent;
    use crate::store::sqlite::SqliteStore;

    const POLICY: &str = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street
department urban "城管" { level street }
department fire "消防" { level street }
grades blue < red
grade blue { level grid   respond 2h  resolve 24h }
grade red  { level street respond 30m resolve 72h }
category lamp { lead urban grade blue }
fallback { lead urban grade blue }
threshold led "牵头" {
  metric count() by department over 1d
  when   >= 1
  alert  street
}
threshold late "超时" {
  metric overdue_rate by department over 7d
  when   > 50%
  alert  street
}
threshold patrols "巡查为主" {
  metric active_discovery by department over 1d
  when   > 50%
  alert  street
}
"#;

    const AREAS: &str = "districts:
  - id: D01
    streets:
      - id: S01
        communities:
          - id: C01
            grids: [G1]
";

    fn policy() -> Policy {
        compile_texts(&[("p.whistle", POLICY), ("areas.yaml", AREAS)])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Event E1, opened now by `p`.
    fn opened(p: &Policy, now: Timestamp) -> NewEvent {
        opened_as(p, "E1", now)
    }

    /// Event `id`, reported, received and opened at `now` by `p`.
    fn opened_as(p: &Policy, id: &str, now: Timestamp) -> NewEvent {
        opened_from(p, id, "citizen", now)
    }

    /// Event `id` from `source`, reported, received and opened at `now`.
    fn opened_from(p: &Policy, id: &str, source: &str, now: Timestamp) -> NewEvent {
        let ev = parse_event(&format!(
            r#"{{"id":"{id}","category":"lamp","grid":"G1","source":"{source}","reported_at":"{now}"}}"#
        ))
        .unwrap();
        let d = decide(p, &ev, &Context::default());
        let (case, transitions) = Case::open(p, ev.clone(), &d, now, &NoHistory);
        NewEvent::new(
            ev,
            format!("sha256:{id}"),
            "{}".into(),
            Arc::new(case),
            transitions,
            now,
        )
        .unwrap()
    }

    /// The policy, an empty store (and its directory), now, and event E1
    /// opened now.
    async fn setup() -> (Policy, tempfile::TempDir, SqliteStore, Timestamp, NewEvent) {
        let p = policy();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Vec::new()).await.unwrap();
        let now = Timestamp::now();
        let ne = opened(&p, now);
        (p, dir, store, now, ne)
    }

    /// A message about E1, carrying `opened`.
    fn message(kind: &str, opened: Option<Arc<Case>>) -> Message {
        Message {
            seq: 1,
            kind: kind.into(),
            json: r#"{"event_id":"E1"}"#.into(),
            opened,
            more: false,
        }
    }

    /// Observes `messages` (kind, opened case) about E1; the alerts.
    async fn observe(
        m: &mut Monitor,
        p: &Policy,
        store: &SqliteStore,
        now: Timestamp,
        messages: Vec<(&str, Option<Arc<Case>>)>,
    ) -> Vec<Alert> {
        let mut pending = Pending::default();
        for (kind, opened) in messages {
            pending.collect(&message(kind, opened));
        }
        let mut alerts = Vec::new();
        pending
            .observe(m, p, store, now, &mut alerts)
            .await
            .unwrap();
        alerts
    }

    /// The number of events counted for `department` by the monitor.
    fn counted(m: &Monitor, p: &Policy, department: &str, now: Timestamp) -> u64 {
        m.current(p, "led", department, now)
            .map_or(0, |a| a.counted)
    }

    /// The openings of one batch are gathered whole, the rest waited for
    /// when it is still being published: the monitor takes the batch in
    /// at one instant. A message that ends no batch is not waited on.
    #[tokio::test]
    async fn a_batch_of_openings_is_gathered_whole() {
        let (p, _dir, _store, now, ne) = setup().await;
        let (tx, mut rx) = tokio::sync::broadcast::channel(16);
        let other = opened(&p, now).case().clone();
        let first = Message {
            more: true,
            ..message("dispatched", Some(ne.case().clone()))
        };
        let late = tokio::spawn({
            let tx = tx.clone();
            let rest = message("dispatched", Some(other));
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(rest);
            }
        });
        let mut pending = Pending::default();
        assert!(!gather(first, &mut rx, &mut pending).await);
        assert_eq!(pending.len(), 2, "the rest of the batch was waited for");
        late.await.unwrap();
        // Nothing under way: what waits is taken, and no more.
        let started = std::time::Instant::now();
        let mut pending = Pending::default();
        gather(message("accepted", None), &mut rx, &mut pending).await;
        assert!(started.elapsed() < REST_OF_BATCH, "not waited on");
    }

    #[tokio::test]
    async fn an_opening_is_observed_from_its_message_without_the_store() {
        // The event is not in this store: a read could not find it.
        let (p, _dir, store, now, ne) = setup().await;
        let mut pending = Pending::default();
        for kind in ["reported", "dispatched"] {
            pending.collect(&message(kind, Some(ne.case().clone())));
        }
        assert_eq!(pending.len(), 1, "one case for the two messages");
        let mut m = Monitor::new(&p);
        let opened = Some(ne.case().clone());
        let messages = vec![("reported", opened.clone()), ("dispatched", opened)];
        let alerts = observe(&mut m, &p, &store, now, messages).await;
        assert!(m.knows("E1"));
        assert_eq!(counted(&m, &p, "urban", now), 1);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].raised);
    }

    #[tokio::test]
    async fn a_later_transition_pending_too_wins_over_the_opening() {
        let (p, _dir, store, now, ne) = setup().await;
        let first = ne.case().clone();
        store.insert_events(vec![ne]).await.unwrap();
        // Reassigned to fire before the monitor heard of the opening.
        let mut case = (*first).clone();
        let action = Action::Reassign {
            unit: None,
            lead: Some("fire".into()),
        };
        let ts = whistle_engine::lifecycle::apply(&p, &mut case, action, now, &NoHistory).unwrap();
        assert_eq!(
            store.update_case("E1", 1, &case, &ts).await.unwrap(),
            crate::store::Updated::Ok(2)
        );
        let mut m = Monitor::new(&p);
        // The reassignment's message was published first.
        let messages = vec![("reassigned", None), ("dispatched", Some(first.clone()))];
        observe(&mut m, &p, &store, now, messages).await;
        assert_eq!(counted(&m, &p, "fire", now), 1);
        assert_eq!(counted(&m, &p, "urban", now), 0);

        // And an opening heard after the monitor knows the event is read
        // from the store too, not taken as it came.
        observe(&mut m, &p, &store, now, vec![("dispatched", Some(first))]).await;
        assert_eq!(counted(&m, &p, "fire", now), 1);
        assert_eq!(counted(&m, &p, "urban", now), 0);
    }

    fn hours(h: i64) -> SignedDuration {
        SignedDuration::from_hours(h)
    }

    /// The stored alerts of threshold `threshold`: (raised at, cleared at).
    async fn stored(store: &SqliteStore, threshold: &str) -> Vec<(Timestamp, Option<Timestamp>)> {
        let mut all = store.alerts(false, usize::MAX, None).await.unwrap();
        all.retain(|a| a.raised["threshold"] == threshold);
        all.iter()
            .rev()
            .map(|a| (a.raised_at, a.cleared_at))
            .collect()
    }

    /// A new store holding event `id`, reported at `at`, and its case.
    async fn holding(
        p: &Policy,
        id: &str,
        at: Timestamp,
    ) -> (tempfile::TempDir, SqliteStore, Arc<Case>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Vec::new()).await.unwrap();
        let ne = opened_as(p, id, at);
        let case = ne.case().clone();
        store.insert_events(vec![ne]).await.unwrap();
        (dir, store, case)
    }

    /// A store where E1 was reported `ago` before `now` and observed by a
    /// server that stopped `down` before `now`, its alerts recorded with
    /// its clock under the policy `hash`.
    async fn stopped(
        p: &Policy,
        now: Timestamp,
        ago: SignedDuration,
        down: SignedDuration,
        hash: &str,
    ) -> (tempfile::TempDir, SqliteStore) {
        let (dir, store, case) = holding(p, "E1", now - ago).await;
        let stop = now - down;
        let alerts = Monitor::new(p).observe(p, &case, stop);
        let c = MonitorClock {
            at: stop,
            policy: hash.into(),
        };
        store.record_alerts(&alerts, &c).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_window_that_emptied_while_down_clears_when_it_did() {
        let p = policy();
        let now = Timestamp::now();
        // Reported 30 h ago; the server stopped 29 h ago, with the event in
        // its 1-day window (raised when reported... judged at the stop).
        let (_dir, store) = stopped(&p, now, hours(30), hours(29), &p.hash).await;
        let raised_at = now - hours(29);
        assert_eq!(stored(&store, "led").await, [(raised_at, None)]);

        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        // The event left the window 24 h after its report, 6 h ago.
        assert_eq!(
            stored(&store, "led").await,
            [(raised_at, Some(now - hours(6)))]
        );
        let c = store.monitor_clock().await.unwrap().unwrap();
        assert_eq!((c.at, c.policy.as_str()), (now, &*p.hash));
    }

    #[tokio::test]
    async fn a_deadline_that_passed_while_down_raises_when_it_did() {
        let p = policy();
        let now = Timestamp::now();
        // Blue: accept within 2 h. Reported 3 h ago, stopped 150 min ago.
        let (_dir, store) =
            stopped(&p, now, hours(3), SignedDuration::from_mins(150), &p.hash).await;
        assert_eq!(stored(&store, "late").await, []);

        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        // Overdue the first instant after its deadline: an hour ago.
        let deadline = now - hours(1) + SignedDuration::from_nanos(1);
        assert_eq!(stored(&store, "late").await, [(deadline, None)]);
        // A second start finds the stored alerts complete: nothing to add.
        catch_up(&p, &store, &Hub::new(), now + hours(1))
            .await
            .unwrap();
        assert_eq!(stored(&store, "late").await, [(deadline, None)]);
    }

    #[tokio::test]
    async fn under_another_policy_the_stored_alerts_are_judged_at_the_start() {
        let p = policy();
        let now = Timestamp::now();
        let (_dir, store) = stopped(&p, now, hours(30), hours(29), "sha256:other").await;
        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        assert_eq!(stored(&store, "led").await, [(now - hours(29), Some(now))]);
    }

    #[tokio::test]
    async fn without_a_clock_what_holds_is_judged_at_the_start() {
        // A database from before clocks were kept: E1, reported 30 h ago,
        // went overdue 28 h ago, unseen by any monitor.
        let p = policy();
        let now = Timestamp::now();
        let (_dir, store, _) = holding(&p, "E1", now - hours(30)).await;
        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        assert_eq!(stored(&store, "late").await, [(now, None)]);
        assert_eq!(stored(&store, "led").await, []);
    }

    #[tokio::test]
    async fn an_event_reported_after_the_clock_is_observed_at_its_report() {
        let p = policy();
        let now = Timestamp::now();
        // Stopped 29 h ago with nothing; E2 reported after the last clock
        // (the stop came before its wake-up recorded it).
        let reported = now - hours(28);
        let (_dir, store, _) = holding(&p, "E2", reported).await;
        let c = clock(&p, now - hours(29));
        store.record_alerts(&[], &c).await.unwrap();
        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        assert_eq!(
            stored(&store, "led").await,
            [(reported, Some(reported + hours(24)))]
        );
    }

    #[tokio::test]
    async fn reports_of_one_instant_after_the_clock_are_seen_together() {
        let p = policy();
        let now = Timestamp::now();
        let reported = now - hours(28);
        // A patrol's report and a citizen's in one instant: 1 of 1 from
        // patrol would be over 50%, 1 of 2 is not.
        let (_dir, store, _) = holding(&p, "E3", reported).await;
        let patrol = opened_from(&p, "E2", "patrol", reported);
        store.insert_events(vec![patrol]).await.unwrap();
        let c = clock(&p, now - hours(29));
        store.record_alerts(&[], &c).await.unwrap();
        catch_up(&p, &store, &Hub::new(), now).await.unwrap();
        assert_eq!(stored(&store, "patrols").await, []);
        assert_eq!(stored(&store, "led").await.len(), 1);
    }

    #[tokio::test]
    async fn a_policy_without_thresholds_clears_what_is_open() {
        let p = policy();
        let now = Timestamp::now();
        let (_dir, store) = stopped(&p, now, hours(30), hours(29), &p.hash).await;
        assert_eq!(stored(&store, "led").await, [(now - hours(29), None)]);
        let cut = POLICY.find("threshold led").unwrap();
        let none = compile_texts(&[("p.whistle", &POLICY[..cut]), ("areas.yaml", AREAS)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(none.thresholds.is_empty());
        catch_up(&none, &store, &Hub::new(), now).await.unwrap();
        assert_eq!(stored(&store, "led").await, [(now - hours(29), Some(now))]);
    }
}
