//! The tables and indexes, created when missing.
//!
//! Instants are INTEGER nanoseconds since the Unix epoch (saturated to the
//! i64 range, years 1677–2262: an instant outside it sorts as that end);
//! JSON is TEXT, except an event's decision and case: a BLOB packed by
//! `store::pack` (zstd with a dictionary; rows written before packing
//! existed hold TEXT, and both are read).
//!
//! | table | columns |
//! | --- | --- |
//! | `events` | `id` (unique), `body_hash`, `event_json`, `decision_json`, `case_json`, `version`, and, copied from the case for filtering: `state`, `unit`, `lead`, `respond_by`, `resolve_by`, `accepted_at`, `reported_at`, `received_at`, `next_due`, and `departments` (JSON array of the case's departments, lead first: the keys of its `event_departments` rows) |
//! | `event_departments` | `department`, `received_at` (the event's, for paging by department), `event_id` (together the key), `role` (`lead` or `assist`): one row per department of the case, written in shards after the event (`keys.rs`) |
//! | `event_units` | `unit`, `received_at`, `event_id` (together the key): the case's unit, for paging by unit, written like `event_departments` |
//! | `key_marks` | `shard`, `merged`: per shard of the two tables above, the last event (by rowid) whose keys of that shard are in them |
//! | `journal` | `seq` (primary key, from 1), `event_id`, `kind`, `body` (canonical JSON, as hashed), `prev_hash`, `hash` |
//! | `outbox` | `id`, `target`, `payload`, `attempts` (failed ones), `next_at`, `lease_until`, `last_error`, `done`, `journal_seq` (the journal entry of the transition it reports; `NULL` for an alert) |
//! | `policy_versions` | `id`, `hash`, `activated_at`, `activated_by`, `files` (JSON `[[path, text], ...]`), `summary` |
//! | `alerts` | `id`, `threshold`, `grp` (the group), `by_kind`, `raised_at`, `raised_json`, `cleared_at`, `cleared_json`: one row per raised alert, completed when it clears |
//! | `monitor_clock` | one row: `at`, `policy` (a content hash): the threshold monitor's clock, written with the alerts; they are complete up to it |
//!
//! The schema's version is kept in `PRAGMA user_version`.

use sqlx::{Connection, SqliteConnection};

use super::Ctx;
use crate::store::StoreError;

/// The version of the schema this code writes. Version 1 had
/// `event_departments` keyed by event with a second index by department,
/// and no `events.departments`; [`V1_TO_V2`] upgrades it. Version 2 had an
/// index on `events (unit, ...)` and no `event_units` or `key_marks`;
/// [`V2_TO_V3`] upgrades it. Version 3 had no `monitor_clock` (created
/// with the other tables); a version 3 Whistle would not keep it, so it
/// may not open a version 4 database. Version 4 had no
/// `outbox.journal_seq`; [`V4_TO_V5`] adds it (the items queued before
/// stay without one).
pub(super) const VERSION: i64 = 5;

/// The open states, as an SQL list (the partial index and the queries that
/// use it must spell it the same way).
pub(super) const OPEN_STATES: &str = "('dispatched','accepted')";

/// The columns of `event_departments`: keyed by department alone (one
/// B-tree, written once per row); a case's rows are found from
/// `events.departments`.
macro_rules! departments_columns {
    () => {
        "(
        department  TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        event_id    TEXT NOT NULL,
        role        TEXT NOT NULL,
        PRIMARY KEY (department, received_at, event_id)
    ) WITHOUT ROWID"
    };
}

/// The columns of `event_units`, keyed like `event_departments`.
macro_rules! units_columns {
    () => {
        "(
        unit        TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        event_id    TEXT NOT NULL,
        PRIMARY KEY (unit, received_at, event_id)
    ) WITHOUT ROWID"
    };
}

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
        next_due      INTEGER,
        departments   TEXT
    )",
    "CREATE INDEX IF NOT EXISTS events_received ON events (received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_state ON events (state, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_reported ON events (reported_at)",
    concat!(
        "CREATE TABLE IF NOT EXISTS event_departments ",
        departments_columns!()
    ),
    concat!("CREATE TABLE IF NOT EXISTS event_units ", units_columns!()),
    "CREATE TABLE IF NOT EXISTS key_marks (
        shard  INTEGER NOT NULL PRIMARY KEY,
        merged INTEGER NOT NULL
    )",
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
        done        INTEGER NOT NULL DEFAULT 0,
        journal_seq INTEGER
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
    "CREATE TABLE IF NOT EXISTS monitor_clock (
        id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        at     INTEGER NOT NULL,
        policy TEXT NOT NULL
    )",
];

/// Upgrades a version 1 database: fills `events.departments` from the old
/// table (while it can still be read by event), then rebuilds the table
/// keyed by department.
const V1_TO_V2: &[&str] = &[
    "ALTER TABLE events ADD COLUMN departments TEXT",
    "UPDATE events SET departments = (
        SELECT json_group_array(department) FROM (
            SELECT department FROM event_departments d
            WHERE d.event_id = events.id
            ORDER BY d.role <> 'lead', d.department))",
    concat!("CREATE TABLE event_departments_v2 ", departments_columns!()),
    "INSERT INTO event_departments_v2 (department, received_at, event_id, role)
        SELECT department, received_at, event_id, role FROM event_departments",
    "DROP TABLE event_departments",
    "ALTER TABLE event_departments_v2 RENAME TO event_departments",
];

/// Upgrades a version 2 database: the index on `events (unit, ...)`
/// becomes the table `event_units`, with every event's unit in it (the
/// marks are then set past every event, by [`marks`]).
const V2_TO_V3: &[&str] = &[
    concat!("CREATE TABLE event_units ", units_columns!()),
    "INSERT INTO event_units (unit, received_at, event_id)
        SELECT unit, received_at, id FROM events WHERE unit IS NOT NULL",
    "DROP INDEX IF EXISTS events_unit",
];

/// Upgrades a version 4 database: an outbox item names the journal entry
/// of the transition it reports, so that a webhook's receiver holds an
/// anchor for the chain's end.
const V4_TO_V5: &[&str] = &["ALTER TABLE outbox ADD COLUMN journal_seq INTEGER"];

/// A mark per shard of `keys.rs`, where there is none: past every event
/// there is, whose keys are all in their tables (a new database has none;
/// an upgraded one has written them all).
fn marks() -> String {
    format!(
        "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {last}) \
         INSERT OR IGNORE INTO key_marks (shard, merged) \
         SELECT n, (SELECT coalesce(max(rowid), 0) FROM events) FROM s",
        last = super::keys::SHARDS - 1
    )
}

/// Creates what is missing and upgrades an older schema, in one
/// transaction, and checks the schema is not from a newer version.
pub(super) async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    // The version is read inside the write transaction: two processes
    // opening one old database upgrade it once, one after the other.
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .ctx("starting the schema transaction")?;
    let (found,): (i64,) = sqlx::query_as("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await
        .ctx("reading the schema version")?;
    if found > VERSION {
        return Err(StoreError(format!(
            "the database has schema version {found}, newer than this Whistle's {VERSION}: use a newer Whistle"
        )));
    }
    // Each step upgrades from its version to the next, in turn.
    let steps: [(i64, &[&str]); 4] = [(1, V1_TO_V2), (2, V2_TO_V3), (3, &[]), (4, V4_TO_V5)];
    for (from, step) in steps {
        if (1..=from).contains(&found) {
            tracing::info!(
                "upgrading the database from schema version {from} to {}",
                from + 1
            );
            for sql in step {
                sqlx::raw_sql(*sql)
                    .execute(&mut *tx)
                    .await
                    .ctx_with(|| format!("upgrading the schema from version {from}"))?;
            }
        }
    }
    for sql in TABLES {
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .ctx("creating the tables")?;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(marks()))
        .execute(&mut *tx)
        .await
        .ctx("setting the key marks")?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA user_version = {VERSION}"
    )))
    .execute(&mut *tx)
    .await
    .ctx("recording the schema version")?;
    tx.commit().await.ctx("committing the schema")
}
