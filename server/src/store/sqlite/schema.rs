//! The tables and indexes, created when missing.
//!
//! Instants are INTEGER nanoseconds since the Unix epoch (saturated to the
//! i64 range, years 1677–2262: an instant outside it sorts as that end);
//! JSON is TEXT.
//!
//! | table | columns |
//! | --- | --- |
//! | `events` | `id` (unique), `body_hash`, `event_json`, `decision_json`, `case_json`, `version`, and, copied from the case for filtering: `state`, `unit`, `lead`, `respond_by`, `resolve_by`, `accepted_at`, `reported_at`, `received_at`, `next_due` |
//! | `event_departments` | `event_id`, `department`, `role` (`lead` or `assist`), `received_at` (the event's, for paging by department): one row per department of the case |
//! | `journal` | `seq` (primary key, from 1), `event_id`, `kind`, `body` (canonical JSON, as hashed), `prev_hash`, `hash` |
//! | `outbox` | `id`, `target`, `payload`, `attempts` (failed ones), `next_at`, `lease_until`, `last_error`, `done` |
//! | `policy_versions` | `id`, `hash`, `activated_at`, `activated_by`, `files` (JSON `[[path, text], ...]`), `summary` |
//! | `alerts` | `id`, `threshold`, `grp` (the group), `by_kind`, `raised_at`, `raised_json`, `cleared_at`, `cleared_json`: one row per raised alert, completed when it clears |
//!
//! The schema's version is kept in `PRAGMA user_version`.

use sqlx::{Connection, SqliteConnection};

use super::Ctx;
use crate::store::StoreError;

/// The version of the schema this code writes.
pub(super) const VERSION: i64 = 1;

/// The open states, as an SQL list (the partial index and the queries that
/// use it must spell it the same way).
pub(super) const OPEN_STATES: &str = "('dispatched','accepted')";

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS events (
        id            TEXT NOT NULL PRIMARY KEY,
        body_hash     TEXT NOT NULL,
        event_json    TEXT NOT NULL,
        decision_json TEXT NOT NULL,
        case_json     TEXT NOT NULL,
        version       INTEGER NOT NULL,
        state         TEXT NOT NULL,
        unit          TEXT,
        lead          TEXT NOT NULL,
        respond_by    INTEGER NOT NULL,
        resolve_by    INTEGER NOT NULL,
        accepted_at   INTEGER,
        reported_at   INTEGER NOT NULL,
        received_at   INTEGER NOT NULL,
        next_due      INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS events_received ON events (received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_state ON events (state, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_unit ON events (unit, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_reported ON events (reported_at)",
    "CREATE TABLE IF NOT EXISTS event_departments (
        event_id   TEXT NOT NULL,
        department TEXT NOT NULL,
        role       TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (event_id, department)
    ) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS event_departments_department
        ON event_departments (department, received_at, event_id)",
    "CREATE TABLE IF NOT EXISTS journal (
        seq       INTEGER NOT NULL PRIMARY KEY,
        event_id  TEXT,
        kind      TEXT NOT NULL,
        body      TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS journal_event ON journal (event_id)
        WHERE event_id IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS outbox (
        id          INTEGER NOT NULL PRIMARY KEY,
        target      TEXT NOT NULL,
        payload     TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        done        INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_at, id) WHERE done = 0",
    "CREATE TABLE IF NOT EXISTS policy_versions (
        id           INTEGER NOT NULL PRIMARY KEY,
        hash         TEXT NOT NULL,
        activated_at INTEGER NOT NULL,
        activated_by TEXT NOT NULL,
        files        TEXT NOT NULL,
        summary      TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS alerts (
        id           INTEGER NOT NULL PRIMARY KEY,
        threshold    TEXT NOT NULL,
        grp          TEXT NOT NULL,
        by_kind      TEXT NOT NULL,
        raised_at    INTEGER NOT NULL,
        raised_json  TEXT NOT NULL,
        cleared_at   INTEGER,
        cleared_json TEXT
    )",
    "CREATE INDEX IF NOT EXISTS alerts_open ON alerts (threshold, grp) WHERE cleared_at IS NULL",
    "CREATE INDEX IF NOT EXISTS alerts_raised ON alerts (raised_at)",
];

/// Creates what is missing, in one transaction, and checks the schema is
/// not from a newer version.
pub(super) async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let (found,): (i64,) = sqlx::query_as("PRAGMA user_version")
        .fetch_one(&mut *conn)
        .await
        .ctx("reading the schema version")?;
    if found > VERSION {
        return Err(StoreError(format!(
            "the database has schema version {found}, newer than this Whistle's {VERSION}: use a newer Whistle"
        )));
    }
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .ctx("starting the schema transaction")?;
    for sql in TABLES {
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .ctx("creating the tables")?;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA user_version = {VERSION}"
    )))
    .execute(&mut *tx)
    .await
    .ctx("recording the schema version")?;
    tx.commit().await.ctx("committing the schema")
}
