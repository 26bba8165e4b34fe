//! Persistence: events with their decisions and cases, the append-only
//! hash-chained journal of transitions, policy versions and the outbox.
//!
//! The server talks to a [`Store`] only. The embedded default is SQLite
//! ([`sqlite::SqliteStore`], one file in the data directory, WAL mode). The
//! trait is shaped for a scale-out backend on PostgreSQL to follow: every
//! write is one call that is one transaction, cases carry a version for
//! optimistic concurrency, and the outbox is claimed with a lease, so that
//! several replicas could share one database.

pub mod journal;
mod pack;
pub mod sqlite;
mod texts;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use whistle_engine::alerts::Alert;
use whistle_engine::event::Event;
use whistle_engine::lifecycle::{Case, Transition};

/// A store failure that is not the client's fault (disk, corruption).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// An event to store, already decided, with its opened case, and the
/// texts the store writes for them, serialised once by [`NewEvent::new`]
/// (by the caller, not by the store's single writer). Read-only, so that
/// the texts always match.
#[derive(Debug, Clone)]
pub struct NewEvent {
    event: Event,
    body_hash: String,
    decision: String,
    case: Arc<Case>,
    transitions: Vec<Transition>,
    received_at: Timestamp,
    texts: texts::EventTexts,
}

impl NewEvent {
    /// A new event to store.
    ///
    /// - `body_hash`: `sha256:` of the event's canonical JSON: a retry with
    ///   the same body is recognised, a different body under the same id is
    ///   a conflict;
    /// - `decision`: the decision as JSON text, as returned to the client,
    ///   stored as it is;
    /// - `case`: the case opened from the decision (shared with the stream
    ///   messages that announce it, so the threshold monitor need not read
    ///   it back), and `transitions`, those of opening it;
    /// - `received_at`: when the server received it.
    pub fn new(
        event: Event,
        body_hash: String,
        decision: String,
        case: Arc<Case>,
        transitions: Vec<Transition>,
        received_at: Timestamp,
    ) -> Result<NewEvent, StoreError> {
        let texts = texts::EventTexts::of(&event, &decision, &case, &transitions)?;
        Ok(NewEvent {
            event,
            body_hash,
            decision,
            case,
            transitions,
            received_at,
            texts,
        })
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// `sha256:` of the event's canonical JSON.
    pub fn body_hash(&self) -> &str {
        &self.body_hash
    }

    /// The decision as JSON text.
    pub fn decision(&self) -> &str {
        &self.decision
    }

    /// The case as opened.
    pub fn case(&self) -> &Arc<Case> {
        &self.case
    }

    /// The transitions of opening it.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// When the server received it.
    pub fn received_at(&self) -> Timestamp {
        self.received_at
    }
}

/// What storing one event of a batch did.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// Stored now.
    Created,
    /// Stored before with the same body: here it is.
    Duplicate(Box<StoredEvent>),
    /// Stored before with a different body.
    Conflict,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    /// The event's id.
    pub id: String,
    /// The event.
    pub event: Event,
    /// `sha256:` of the body.
    pub body_hash: String,
    /// The decision as first made.
    pub decision: serde_json::Value,
    /// The case now.
    pub case: Case,
    /// Bumped by every update of the case.
    pub version: i64,
    /// When the server received it.
    pub received_at: Timestamp,
}

/// One entry of the journal.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JournalEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event it is about (`None` for policy rollouts and the like).
    pub event_id: Option<String>,
    /// `transition`, `policy_rollout`, ...
    pub kind: String,
    /// What happened (a transition as JSON, a rollout record, ...).
    pub body: serde_json::Value,
    /// The previous entry's hash (`sha256:` of zeros for the first).
    pub prev_hash: String,
    /// `sha256:` over the previous hash and this entry's content.
    pub hash: String,
}

/// Filters of `GET /v1/events`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only cases in this state (`dispatched`, `accepted`, ...).
    pub state: Option<String>,
    /// Only cases handled by this unit.
    pub unit: Option<String>,
    /// Only cases this department leads or assists.
    pub department: Option<String>,
    /// Only open cases past a deadline at this instant.
    pub overdue_at: Option<Timestamp>,
    /// Page size (1..=1000).
    pub limit: usize,
    /// Where the previous page ended (opaque to clients).
    pub cursor: Option<String>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The events.
    pub events: Vec<StoredEvent>,
    /// Pass this as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// How an update of a case went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// Written; the new version.
    Ok(i64),
    /// Someone else updated it first: read again and retry.
    Stale,
    /// No such event.
    Missing,
}

/// One case update of [`Store::update_cases`].
#[derive(Debug, Clone, Copy)]
pub struct CaseChange<'a> {
    /// The event.
    pub id: &'a str,
    /// The version the case was read at.
    pub expected_version: i64,
    /// The case now.
    pub case: &'a Case,
    /// What happened to it.
    pub transitions: &'a [Transition],
}

/// A notification waiting to be delivered to a webhook.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Its id.
    pub id: i64,
    /// The webhook's name (from the config).
    pub target: String,
    /// The JSON to post.
    pub payload: serde_json::Value,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The journal entry of the transition it reports (`None` for an
    /// alert, and for items queued by a Whistle before schema version 5):
    /// a receiver that keeps the last one holds an anchor for the chain's
    /// end (`whistle verify --anchor`).
    pub journal: Option<JournalAnchor>,
}

/// A journal entry's place in the chain and its hash: what a webhook's
/// receiver is given with a transition, and what `whistle verify --anchor`
/// checks a store against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalAnchor {
    /// The entry's number, from 1.
    pub seq: i64,
    /// Its `sha256:` hash.
    pub hash: String,
}

/// A policy version that went live.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicyVersion {
    /// `sha256:` content hash.
    pub hash: String,
    /// When it went live.
    pub activated_at: Timestamp,
    /// Who or what made it live (`startup`, `file watch`, a token's name).
    pub by: String,
    /// The files: relative path → text.
    pub files: Vec<(String, String)>,
    /// A short summary in words.
    pub summary: String,
}

/// The result of checking the journal's hash chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: i64,
    /// The first entry whose hash or link does not hold, if any.
    pub first_broken: Option<i64>,
    /// Why it is broken.
    pub reason: Option<String>,
    /// The chain's last entry, when the chain holds to its end.
    pub last: Option<JournalAnchor>,
    /// What SQLite's page check found wrong with the database file
    /// (`None`: nothing; a damaged page of any table, not only the
    /// journal's).
    pub damaged: Option<String>,
}

/// Resolves once a commit is on disk (see [`Store::insert_events_committed`]).
pub type Durable =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send>>;

/// A [`Durable`] for a commit that is on disk already (or for nothing).
pub fn durable_now() -> Durable {
    Box::pin(std::future::ready(Ok(())))
}

/// Everything the server persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a batch of events in one durable transaction (group commit):
    /// when this returns `Ok`, every `Created` event, its case, its
    /// journal entries and its outbox items are on disk.
    async fn insert_events(&self, batch: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError>;

    /// [`Store::insert_events`] in two steps, for a caller that pipelines
    /// batches: returns once the batch is committed (the next one may be
    /// stored), with a future that resolves once it is durable. Nothing
    /// may be acknowledged before that future resolves `Ok`. A backend
    /// whose commit is durable when it returns hands back a ready future.
    async fn insert_events_committed(
        &self,
        batch: Vec<NewEvent>,
    ) -> Result<(Vec<Inserted>, Durable), StoreError> {
        let inserted = self.insert_events(batch).await?;
        Ok((inserted, durable_now()))
    }

    /// Why the store refuses every write from now on, if it does (a flush
    /// to disk failed): the server is then not ready.
    fn write_failure(&self) -> Option<String> {
        None
    }

    /// One event.
    async fn get_event(&self, id: &str) -> Result<Option<StoredEvent>, StoreError>;

    /// Several events, in any order; ids not stored are left out.
    async fn get_events(&self, ids: &[&str]) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.get_event(id).await?);
        }
        Ok(out)
    }

    /// A page of events, newest first.
    async fn list_events(&self, q: &ListQuery) -> Result<Page, StoreError>;

    /// Replaces a case if its version is still `expected_version`, appending
    /// the transitions to the journal and the outbox in the same transaction.
    async fn update_case(
        &self,
        id: &str,
        expected_version: i64,
        case: &Case,
        transitions: &[Transition],
    ) -> Result<Updated, StoreError>;

    /// Several [`Store::update_case`]s in one transaction, so that one
    /// commit (one fsync) covers them all: each is applied or not by its
    /// own version check; the results are in the order of `changes`.
    async fn update_cases(&self, changes: &[CaseChange<'_>]) -> Result<Vec<Updated>, StoreError> {
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            out.push(
                self.update_case(c.id, c.expected_version, c.case, c.transitions)
                    .await?,
            );
        }
        Ok(out)
    }

    /// The journal entries of one event, in order.
    async fn journal_for(&self, event_id: &str) -> Result<Vec<JournalEntry>, StoreError>;

    /// Appends an entry that is not about one event (a rollout, a rollback).
    async fn append_journal(
        &self,
        kind: &str,
        body: serde_json::Value,
    ) -> Result<JournalEntry, StoreError>;

    /// Every case that is not closed, with its version: the timers are
    /// rebuilt from these at start-up.
    async fn open_cases(&self) -> Result<Vec<(i64, Case)>, StoreError>;

    /// Events reported at or after `since`, by `reported_at`: the `repeats`
    /// windows are rebuilt from these at start-up.
    async fn events_since(&self, since: Timestamp) -> Result<Vec<Event>, StoreError>;

    /// Claims up to `limit` outbox items due at `now` for `lease` seconds:
    /// those of webhook `target` only, or of any (`None`).
    async fn outbox_claim(
        &self,
        now: Timestamp,
        lease: u64,
        limit: usize,
        target: Option<&str>,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Marks an item delivered.
    async fn outbox_done(&self, id: i64) -> Result<(), StoreError>;

    /// Schedules another attempt.
    async fn outbox_retry(
        &self,
        id: i64,
        next_at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Records a policy version that went live.
    async fn record_policy(&self, v: &PolicyVersion) -> Result<(), StoreError>;

    /// Policy versions, newest first.
    async fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError>;

    /// The latest recording of the version with this content hash (a
    /// version rolled back to is recorded again), if it ever went live.
    async fn policy_version(&self, hash: &str) -> Result<Option<PolicyVersion>, StoreError>;

    /// Checks the journal's hash chain from the start.
    async fn verify(&self) -> Result<Verified, StoreError>;

    /// Number of open cases.
    async fn open_count(&self) -> Result<i64, StoreError>;

    /// Passes the case of every event reported in `[from, until)` to
    /// `each`, in report order, without holding them all in memory
    /// (assessment, and rebuilding the threshold monitor). Returns how
    /// many were passed.
    async fn cases_reported(
        &self,
        from: Timestamp,
        until: Timestamp,
        each: &mut (dyn FnMut(Case, Timestamp) + Send),
    ) -> Result<u64, StoreError>;

    /// [`Store::cases_reported`], each case with its transitions in the
    /// order they were made (from the journal): what an assessment of a
    /// past period replays with [`Case::as_of`].
    async fn histories_reported(
        &self,
        from: Timestamp,
        until: Timestamp,
        each: &mut (dyn FnMut(Case, Vec<Transition>) + Send),
    ) -> Result<u64, StoreError>;

    /// The current cases of the given event ids (those that exist), in
    /// one read: what the threshold monitor observes after transitions.
    async fn cases_of(&self, ids: &[String]) -> Result<Vec<Case>, StoreError>;

    /// Stores threshold alerts raised and cleared (a clear completes the
    /// open alert of its threshold and group), queueing each for the
    /// webhooks, and the monitor's clock, in one transaction: the stored
    /// alerts are then complete up to `clock`.
    async fn record_alerts(&self, alerts: &[Alert], clock: &MonitorClock)
    -> Result<(), StoreError>;

    /// The clock last recorded with [`Store::record_alerts`], if any.
    async fn monitor_clock(&self) -> Result<Option<MonitorClock>, StoreError>;

    /// Alerts, newest raised first, at most `limit`; only those not
    /// cleared if `open_only`.
    async fn alerts(
        &self,
        open_only: bool,
        limit: usize,
        before: Option<AlertCursor>,
    ) -> Result<Vec<StoredAlert>, StoreError>;
}

/// Where a page of alerts ends: alerts are listed newest raised first,
/// and the next page starts after this one's last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCursor {
    /// The last alert's `raised_at`, in nanoseconds.
    pub raised_ns: i64,
    /// Its id.
    pub id: i64,
}

/// How far the stored threshold alerts are complete: the monitor had
/// judged every instant up to `at` under the policy whose content hash is
/// `policy`. A restart on the same policy replays the monitor's clock from
/// there, so what passed while the server was down is dated when it
/// happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorClock {
    /// The last instant judged.
    pub at: Timestamp,
    /// The content hash of the policy it was judged under.
    pub policy: String,
}

/// A threshold alert as stored: its raise, and its clear once it cleared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredAlert {
    /// Its id.
    pub id: i64,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// The raise, as posted (`{"kind": "alert", "threshold", "group", ...}`).
    pub raised: serde_json::Value,
    /// When it cleared (`None` while open).
    pub cleared_at: Option<Timestamp>,
    /// The clear, as posted.
    pub cleared: Option<serde_json::Value>,
}
