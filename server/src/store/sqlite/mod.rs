//! The embedded store: one SQLite file, `whistle.db` in the data directory,
//! in WAL mode. A write returns once it is on disk: the writer commits
//! with `synchronous=NORMAL` and the WAL is flushed after its turn
//! ([`sync`]), which is `synchronous=FULL`'s guarantee with the flush
//! taken off the writer's critical path.
//!
//! SQLite has one writer at a time, so the store has one writer
//! connection behind a mutex, and every write goes through it; reads use a
//! small pool of read-only connections, which WAL lets run beside the
//! writer. Writes are grouped: [`Store::insert_events`] stores a whole batch
//! in one transaction, so one `fsync` covers hundreds of events.
//!
//! The journal's chain ([`crate::store::journal`]) needs the previous
//! entry's hash: the writer keeps the last `(seq, hash)` in memory, loaded
//! at open and after any write that failed or was cancelled (when it cannot
//! know whether its commit landed).
//!
//! The tables are described in `schema.rs`.

mod alerts;
mod keys;
mod outbox;
mod read;
mod schema;
mod sync;
#[cfg(test)]
pub(crate) mod tests;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::Mutex;
use whistle_engine::event::Event;
use whistle_engine::lifecycle::{Case, Transition};

use super::{
    CaseChange, Durable, Inserted, JournalEntry, ListQuery, NewEvent, OutboxItem, Page,
    PolicyVersion, Store, StoreError, StoredEvent, Updated, Verified, durable_now,
};
use sync::Syncer;

/// The file the store keeps in the data directory.
pub const FILE_NAME: &str = "whistle.db";

/// How long a connection waits for a lock held by another process (a
/// `whistle verify` reading, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read connections.
const READERS: u32 = 4;

/// How often the background checkpointer copies the WAL into the database.
/// Often, so that each copy (and its flush, which the next commits' flushes
/// queue behind on the disk) is small: at 25 ms rather than 100 the ingest
/// bench's p99 fell by 10–20% at the same rate, for a few percent more CPU
/// (docs/BENCHMARKS.md, "Session 6").
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// Prepared statements the writer keeps: every size of chunk
/// ([`write::MAX_ROWS`]) of the six multi-row statements of a batch (the
/// id lookup and the events, units, departments, journal and outbox
/// inserts), and room for the single-row ones. Smaller, and a writer whose
/// batch sizes vary would prepare its largest statements again and again.
const WRITER_STATEMENTS: usize = 6 * write::MAX_ROWS + 64;

/// The SQLite store. See the module documentation.
pub struct SqliteStore {
    writer: Mutex<Writer>,
    /// How the writer's connection is opened (again: [`SqliteStore::recover`]).
    writer_options: SqliteConnectOptions,
    /// Makes the writer's commits durable.
    sync: Arc<Syncer>,
    pool: SqlitePool,
    /// Webhook names: every transition is queued once for each.
    targets: Vec<Arc<str>>,
    path: PathBuf,
    /// The checkpointer runs while this lives.
    _checkpointer: Arc<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// The writer connection and the journal's tail.
struct Writer {
    conn: SqliteConnection,
    /// The last journal entry, `None` when it must be read again (after a
    /// write that failed or was cancelled).
    tail: Option<Tail>,
    /// The keys waiting for their shard ([`keys`]), `None` when they must
    /// be read again, like the tail.
    keys: Option<keys::Keys>,
}

/// The last entry of the journal: the next one links to it.
#[derive(Debug, Clone)]
struct Tail {
    seq: i64,
    hash: String,
}

impl Writer {
    /// The tail, read from the journal if it is not known. The writer's copy
    /// is left unknown: the caller puts the new tail back after its commit.
    async fn take_tail(&mut self) -> Result<Tail, StoreError> {
        match self.tail.take() {
            Some(t) => Ok(t),
            None => read::load_tail(&mut self.conn).await,
        }
    }

    /// The keys, read again if they are not known; left unknown like the
    /// tail until the caller's commit puts them back.
    async fn take_keys(&mut self) -> Result<keys::Keys, StoreError> {
        match self.keys.take() {
            Some(k) => Ok(k),
            None => keys::load(&mut self.conn).await,
        }
    }
}

/// Refuses a database file that exists but is empty. SQLite would take it
/// for a new database and the server would start a new store over it: a
/// store cut to nothing (a full disk while copying it, a botched restore)
/// would go unnoticed while new events begin a new journal. The server
/// leaves such a file only if it is killed in the instant between creating
/// a new store's file and writing its header, when it held nothing yet.
fn refuse_emptied(path: &Path) -> Result<(), StoreError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(StoreError(format!(
            "{} is empty (0 bytes) and holds no store: it was cut to nothing, or its making was cut short. \
             If it held events, restore it from a backup; to start a new store, delete it",
            path.display()
        )));
    }
    Ok(())
}

/// Copies the WAL into the database every [`CHECKPOINT_EVERY`] on a
/// connection of its own (so on a thread of its own), while `alive` lives.
///
/// Without it, the commit that crosses `wal_autocheckpoint` copies tens of
/// megabytes on the writer's connection, and every write waits behind it.
/// A passive checkpoint never blocks the writer; the writer's autocheckpoint
/// stays as the backstop should this fall behind.
async fn checkpoints(mut conn: SqliteConnection, alive: std::sync::Weak<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!("checkpoint: {e}");
        }
    }
    let _ = conn.close().await;
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`: the directory, the
    /// database file and its tables. `webhook_targets` are the names of the
    /// configured webhooks: each transition is queued in the outbox for
    /// every one of them.
    pub async fn open(dir: &Path, webhook_targets: Vec<String>) -> Result<SqliteStore, StoreError> {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            StoreError(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        refuse_emptied(&path)?;
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Full)
            .pragma("temp_store", "memory");
        // The writer: 8 MiB of page cache, which holds the pages writes
        // touch (the tails of the tables and indexes). A larger one cost
        // more than it saved: SQLite walks the whole cache's hash table at
        // the end of each transaction (8% of the writer's time at 64 MiB).
        // Checkpoints run in the
        // background ([`checkpoints`]); the writer's own, every 8192 pages
        // (32 MiB) of WAL rather than SQLite's 1000, is the backstop.
        // NORMAL: the commit's flush is [`Syncer::durable`]'s, after the
        // writer's turn; see the module documentation.
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("cache_size", "-8192")
            .statement_cache_capacity(WRITER_STATEMENTS)
            .pragma("wal_autocheckpoint", "8192")
            .pragma("journal_size_limit", "67108864");
        let mut conn = writer_options
            .connect()
            .await
            .ctx_with(|| format!("cannot open {shown}"))?;
        schema::migrate(&mut conn)
            .await
            .map_err(|e| StoreError(format!("{shown}: {}", e.0)))?;
        let tail = read::load_tail(&mut conn).await?;
        let keys = keys::load(&mut conn).await?;
        let checkpointer = Arc::new(());
        let ckpt = base
            .clone()
            .connect()
            .await
            .ctx_with(|| format!("cannot open {shown} for checkpoints"))?;
        tokio::spawn(checkpoints(ckpt, Arc::downgrade(&checkpointer)));
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(0)
            .connect_with(base.read_only(true).pragma("cache_size", "-16384"))
            .await
            .ctx_with(|| format!("cannot open {shown} for reading"))?;
        Ok(SqliteStore {
            writer: Mutex::new(Writer {
                conn,
                tail: Some(tail),
                keys: Some(keys),
            }),
            writer_options,
            sync: Arc::new(Syncer::new(&path)),
            pool,
            targets: webhook_targets.into_iter().map(Arc::from).collect(),
            path,
            _checkpointer: checkpointer,
        })
    }

    /// Checks the journal's chain of the store in `dir`, and every page of
    /// the database file, without writing to it: an audit neither upgrades
    /// an older store's schema nor touches a read-only one. With an
    /// `anchor`, the chain must reach it and hold its hash there (see
    /// [`crate::store::OutboxItem::journal`]).
    pub async fn verify_read_only(
        dir: &Path,
        anchor: Option<&crate::store::JournalAnchor>,
    ) -> Result<Verified, StoreError> {
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true)
                    .busy_timeout(BUSY_TIMEOUT),
            )
            .await
            .ctx_with(|| format!("cannot open {shown} for reading"))?;
        let (found,): (i64,) = sqlx::query_as("PRAGMA user_version")
            .fetch_one(&pool)
            .await
            .ctx_with(|| format!("{shown}: reading the schema's version"))?;
        if found != schema::VERSION {
            pool.close().await;
            return Err(StoreError(format!(
                "{shown} has schema version {found}, and this Whistle reads version {}: start the server on it once to upgrade it, then verify",
                schema::VERSION
            )));
        }
        // The pages first: a damaged one may stop the journal's walk with
        // an error, and the audit should say what is damaged all the same.
        let damaged = read::damage(&pool).await;
        let verified = read::verify(&pool, anchor).await;
        pool.close().await;
        match (damaged, verified) {
            (Ok(damaged), Ok(v)) => Ok(Verified { damaged, ..v }),
            (Ok(Some(damaged)), Err(e)) => Err(StoreError(format!(
                "{shown} is damaged ({damaged}), and its journal cannot be read whole: {}",
                e.0
            ))),
            (Err(e), _) | (Ok(None), Err(e)) => Err(StoreError(format!("{shown}: {}", e.0))),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `write` on the writer connection; returns what it returned and
    /// the ticket of its commit, with the writer free again.
    async fn commit<T>(
        &self,
        write: impl AsyncFnOnce(&mut Writer) -> Result<T, StoreError>,
    ) -> Result<(T, u64), StoreError> {
        self.sync.writable()?;
        let out = {
            let mut w = self.writer.lock().await;
            self.recover(&mut w).await?;
            match write(&mut w).await {
                Ok(out) => out,
                Err(e) => {
                    // The write's transaction was dropped: its rollback
                    // is queued, and runs before this ping.
                    let _ = w.conn.ping().await;
                    if let Err(again) = self.recover(&mut w).await {
                        tracing::error!("{again}");
                    }
                    return Err(e);
                }
            }
        };
        Ok((out, self.sync.committed()))
    }

    /// Opens the writer's connection again when it is left counting a
    /// transaction SQLite no longer has: a commit that failed on a full
    /// disk is rolled back by SQLite itself, the connection's own
    /// ROLLBACK then fails, and every later `BEGIN` would be refused until
    /// a restart. The journal's tail and the keys are read again.
    async fn recover(&self, w: &mut Writer) -> Result<(), StoreError> {
        if !w.conn.is_in_transaction() {
            return Ok(());
        }
        let fresh = self
            .writer_options
            .connect()
            .await
            .ctx("opening the writer's connection again after a failed transaction")?;
        let old = std::mem::replace(&mut w.conn, fresh);
        // Closing rolls back whatever the old one still held.
        let _ = old.close().await;
        w.tail = None;
        w.keys = None;
        tracing::warn!(
            "the writer's connection was left inside a failed transaction (a full disk?); it was opened again"
        );
        Ok(())
    }

    /// [`SqliteStore::commit`], returning once the commit is on disk.
    async fn durably<T>(
        &self,
        write: impl AsyncFnOnce(&mut Writer) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (out, ticket) = self.commit(write).await?;
        self.sync.durable(ticket).await?;
        Ok(out)
    }

    /// Closes the connections, waiting for them to finish (dropping the
    /// store closes them too, in the background).
    pub async fn close(self) -> Result<(), StoreError> {
        self.pool.close().await;
        let w = self.writer.into_inner();
        w.conn.close().await.ctx("closing the database")
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_events(&self, batch: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        let (inserted, durable) = self.insert_events_committed(batch).await?;
        durable.await?;
        Ok(inserted)
    }

    fn write_failure(&self) -> Option<String> {
        self.sync.failure()
    }

    async fn insert_events_committed(
        &self,
        batch: Vec<NewEvent>,
    ) -> Result<(Vec<Inserted>, Durable), StoreError> {
        if batch.is_empty() {
            return Ok((Vec::new(), durable_now()));
        }
        let rows = write::prepare(&batch);
        let (inserted, ticket) = self
            .commit(async |w| write::insert_events(w, &self.targets, &rows).await)
            .await?;
        let sync = Arc::clone(&self.sync);
        Ok((
            inserted,
            Box::pin(async move { sync.durable(ticket).await }),
        ))
    }

    async fn get_event(&self, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        read::get_event(&self.pool, id).await
    }

    async fn get_events(&self, ids: &[&str]) -> Result<Vec<StoredEvent>, StoreError> {
        read::get_events(&self.pool, ids).await
    }

    async fn list_events(&self, q: &ListQuery) -> Result<Page, StoreError> {
        read::list_events(&self.pool, q).await
    }

    async fn update_case(
        &self,
        id: &str,
        expected_version: i64,
        case: &Case,
        transitions: &[Transition],
    ) -> Result<Updated, StoreError> {
        let update = write::prepare_update(id, case, transitions)?;
        self.durably(async |w| write::update_case(w, &self.targets, update, expected_version).await)
            .await
    }

    async fn update_cases(&self, changes: &[CaseChange<'_>]) -> Result<Vec<Updated>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let updates = changes
            .iter()
            .map(|c| {
                write::prepare_update(c.id, c.case, c.transitions).map(|u| (u, c.expected_version))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.durably(async |w| write::update_cases(w, &self.targets, &updates).await)
            .await
    }

    async fn journal_for(&self, event_id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        read::journal_for(&self.pool, event_id).await
    }

    async fn append_journal(
        &self,
        kind: &str,
        body: serde_json::Value,
    ) -> Result<JournalEntry, StoreError> {
        self.durably(async |w| write::append_journal(w, kind, body).await)
            .await
    }

    async fn open_cases(&self) -> Result<Vec<(i64, Case)>, StoreError> {
        read::open_cases(&self.pool).await
    }

    async fn events_since(&self, since: Timestamp) -> Result<Vec<Event>, StoreError> {
        read::events_since(&self.pool, since).await
    }

    async fn outbox_claim(
        &self,
        now: Timestamp,
        lease: u64,
        limit: usize,
        target: Option<&str>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.durably(async |w| outbox::outbox_claim(&mut w.conn, now, lease, limit, target).await)
            .await
    }

    async fn outbox_done(&self, id: i64) -> Result<(), StoreError> {
        self.durably(async |w| outbox::outbox_done(&mut w.conn, id).await)
            .await
    }

    async fn outbox_retry(
        &self,
        id: i64,
        next_at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        self.durably(async |w| outbox::outbox_retry(&mut w.conn, id, next_at, error).await)
            .await
    }

    async fn record_policy(&self, v: &PolicyVersion) -> Result<(), StoreError> {
        self.durably(async |w| write::record_policy(&mut w.conn, v).await)
            .await
    }

    async fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        read::policy_versions(&self.pool, None).await
    }

    async fn policy_version(&self, hash: &str) -> Result<Option<PolicyVersion>, StoreError> {
        Ok(read::policy_versions(&self.pool, Some(hash))
            .await?
            .into_iter()
            .next())
    }

    async fn verify(&self) -> Result<Verified, StoreError> {
        read::verify(&self.pool, None).await
    }

    async fn open_count(&self) -> Result<i64, StoreError> {
        read::open_count(&self.pool).await
    }

    async fn cases_reported(
        &self,
        from: Timestamp,
        until: Timestamp,
        each: &mut (dyn FnMut(Case, Timestamp) + Send),
    ) -> Result<u64, StoreError> {
        alerts::cases_reported(&self.pool, from, until, each).await
    }

    async fn histories_reported(
        &self,
        from: Timestamp,
        until: Timestamp,
        each: &mut (dyn FnMut(Case, Vec<Transition>) + Send),
    ) -> Result<u64, StoreError> {
        alerts::histories_reported(&self.pool, from, until, each).await
    }

    async fn cases_of(&self, ids: &[String]) -> Result<Vec<Case>, StoreError> {
        alerts::cases_of(&self.pool, ids).await
    }

    async fn record_alerts(
        &self,
        list: &[whistle_engine::alerts::Alert],
        clock: &super::MonitorClock,
    ) -> Result<(), StoreError> {
        self.durably(async |w| alerts::record_alerts(&mut w.conn, &self.targets, list, clock).await)
            .await
    }

    async fn monitor_clock(&self) -> Result<Option<super::MonitorClock>, StoreError> {
        alerts::monitor_clock(&self.pool).await
    }

    async fn alerts(
        &self,
        open_only: bool,
        limit: usize,
        before: Option<super::AlertCursor>,
    ) -> Result<Vec<super::StoredAlert>, StoreError> {
        alerts::alerts(&self.pool, open_only, limit, before).await
    }
}

/// Turns a database error into a [`StoreError`] that says what failed.
trait Ctx<T> {
    /// With a fixed description.
    fn ctx(self, what: &str) -> Result<T, StoreError>;
    /// With a description built only on failure.
    fn ctx_with(self, what: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T, E: std::fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError(format!("{what}: {e}")))
    }
    fn ctx_with(self, what: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|e| StoreError(format!("{}: {e}", what())))
    }
}

/// An instant as stored: nanoseconds since the epoch, saturated to i64.
fn ns(t: Timestamp) -> i64 {
    let n = t.as_nanosecond();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// A stored instant.
fn from_ns(v: i64, what: &str) -> Result<Timestamp, StoreError> {
    Timestamp::from_nanosecond(i128::from(v))
        .ctx_with(|| format!("stored {what} {v} is not an instant"))
}
