//! Everything that only reads: on the read pool (and, for the few reads a
//! write needs, on the writer's transaction).

use std::borrow::Cow;

use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Row, Sqlite, SqliteConnection, SqlitePool, TypeInfo, ValueRef};
use whistle_engine::event::Event;
use whistle_engine::lifecycle::Case;

use super::keys::{self, Table};
use super::schema::OPEN_STATES;
use super::{Ctx, Tail, from_ns, ns};
use crate::store::journal::{GENESIS, chain_hash};
use crate::store::pack::unpack;
use crate::store::{
    JournalAnchor, JournalEntry, ListQuery, Page, PolicyVersion, StoreError, StoredEvent, Verified,
};

/// The columns [`stored_event`] reads, in its order.
macro_rules! event_columns {
    () => {
        "e.id, e.event_json, e.body_hash, e.decision_json, e.case_json, e.version, e.received_at"
    };
}

/// How many journal entries [`verify`] reads at a time.
const VERIFY_PAGE: i64 = 4096;

/// The largest page of [`list_events`].
pub(super) const MAX_PAGE: usize = 1000;

/// The JSON of column `i`: TEXT as written by the first versions, or a
/// BLOB [`pack`]ed by the current one.
pub(super) fn json_column(row: &SqliteRow, i: usize) -> Result<Cow<'_, str>, String> {
    let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if raw.type_info().name() == "BLOB" {
        let packed: &[u8] = row.try_get(i).map_err(|e| e.to_string())?;
        unpack(packed).map(Cow::Owned)
    } else {
        row.try_get::<&str, _>(i)
            .map(Cow::Borrowed)
            .map_err(|e| e.to_string())
    }
}

/// Column `i`'s JSON, parsed; `what` names it in the error.
pub(super) fn parse_column<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    i: usize,
    what: impl Fn() -> String,
) -> Result<T, StoreError> {
    let text = json_column(row, i).map_err(|e| StoreError(format!("{}: {e}", what())))?;
    serde_json::from_str(&text).ctx_with(what)
}

fn stored_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let id: String = row.try_get(0).ctx("reading an event")?;
    let what = |part: &str| format!("event {id:?}: stored {part} is not readable");
    let event: Event = serde_json::from_str(row.try_get::<&str, _>(1).ctx_with(|| what("event"))?)
        .ctx_with(|| what("event"))?;
    let body_hash: String = row.try_get(2).ctx_with(|| what("body hash"))?;
    let decision = parse_column(row, 3, || what("decision"))?;
    let case: Case = parse_column(row, 4, || what("case"))?;
    let version: i64 = row.try_get(5).ctx_with(|| what("version"))?;
    let received_at = from_ns(
        row.try_get(6).ctx_with(|| what("received_at"))?,
        "received_at",
    )?;
    Ok(StoredEvent {
        id,
        event,
        body_hash,
        decision,
        case,
        version,
        received_at,
    })
}

/// One event, on any connection (the writer reads a duplicate's first copy
/// inside its transaction).
pub(super) async fn fetch_event<'e, E>(ex: E, id: &str) -> Result<Option<StoredEvent>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events e WHERE e.id = ?"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
    .ctx_with(|| format!("reading event {id:?}"))?;
    row.as_ref().map(stored_event).transpose()
}

pub(super) async fn get_event(
    pool: &SqlitePool,
    id: &str,
) -> Result<Option<StoredEvent>, StoreError> {
    fetch_event(pool, id).await
}

/// Several events, by id, with as few queries as the ids allow.
pub(super) async fn get_events(
    pool: &SqlitePool,
    ids: &[&str],
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(GET_MANY) {
        let mut sql = String::from(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.id IN ("
        ));
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "?" } else { ",?" });
        }
        sql.push(')');
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(pool).await.ctx("reading events")?;
        for row in &rows {
            out.push(stored_event(row)?);
        }
    }
    Ok(out)
}

/// Ids per query of [`get_events`].
const GET_MANY: usize = 256;

/// The journal's last entry (or the genesis before the first).
pub(super) async fn load_tail(conn: &mut SqliteConnection) -> Result<Tail, StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading the journal's last entry")?;
    Ok(match row {
        Some((seq, hash)) => Tail { seq, hash },
        None => Tail {
            seq: 0,
            hash: GENESIS.to_string(),
        },
    })
}

/// Where a page ended: the last event's `received_at` (stored form) and id,
/// as hex of `"{received_at}:{id}"`.
pub(super) fn encode_cursor(received_at: i64, id: &str) -> String {
    hex::encode(format!("{received_at}:{id}"))
}

/// The position a cursor stands for, or why it is not one.
pub(super) fn decode_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let bad = || {
        StoreError(format!(
            "the cursor {cursor:?} is not one this server gave out"
        ))
    };
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    Ok((at, id.to_string()))
}

/// A page of events, newest first by `(received_at, id)`.
///
/// `overdue_at` keeps the open cases (dispatched or accepted) that are
/// late at that instant by the clocks the ladder watches: not accepted in
/// this round (`accepted_at` unset) with `respond_by` before the instant,
/// or (open, hence not resolved) with `resolve_by` before it.
///
/// With a department or a unit, the page comes from two walks in one
/// snapshot: that key's rows in its table, and the events after the key's
/// shard's mark, whose keys of that shard are not in the table yet
/// (`keys.rs`); the two are merged by `(received_at, id)`.
pub(super) async fn list_events(pool: &SqlitePool, q: &ListQuery) -> Result<Page, StoreError> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let key = match (&q.department, &q.unit) {
        (Some(d), _) => Some((Table::Departments, d.as_str())),
        (None, Some(u)) => Some((Table::Units, u.as_str())),
        (None, None) => None,
    };
    let mut tx = pool.begin().await.ctx("listing events")?;
    let mut rows = match key {
        None => page(&mut tx, Walk::All, q, cursor.as_ref(), limit).await?,
        Some((table, name)) => {
            let mark = keys::mark(&mut tx, table, name).await?;
            let merged = page(&mut tx, Walk::Table(table, name), q, cursor.as_ref(), limit).await?;
            let waiting = page(
                &mut tx,
                Walk::After(mark, table, name),
                q,
                cursor.as_ref(),
                limit,
            )
            .await?;
            newest_first(merged, waiting)?
        }
    };
    tx.rollback().await.ctx("listing events")?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let mut events = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in &rows {
        events.push(stored_event(row)?);
        last = Some(row.try_get::<i64, _>(6).ctx("listing events")?);
    }
    let next_cursor = match (more, last, events.last()) {
        (true, Some(at), Some(e)) => Some(encode_cursor(at, &e.id)),
        _ => None,
    };
    Ok(Page {
        events,
        next_cursor,
    })
}

/// Which rows a [`page`] walks.
#[derive(Clone, Copy)]
enum Walk<'a> {
    /// Every event, newest first.
    All,
    /// A unit's or a department's rows in its table.
    Table(Table, &'a str),
    /// The events after a mark (by rowid) whose unit is, or whose
    /// departments include, the name: those whose key waits.
    After(i64, Table, &'a str),
}

/// Up to `limit + 1` events of `walk` that pass the query's filters,
/// newest first (one more than asked: whether there is a next page).
async fn page(
    conn: &mut SqliteConnection,
    walk: Walk<'_>,
    q: &ListQuery,
    cursor: Option<&(i64, String)>,
    limit: usize,
) -> Result<Vec<SqliteRow>, StoreError> {
    let mut sql = String::from(concat!("SELECT ", event_columns!(), " FROM "));
    // Each walk is written so that SQLite cannot pick another index: the
    // key's table by its key, or the events after the mark by rowid (a
    // filter on `state` or an ORDER BY would otherwise lead it to walk a
    // whole index of the events, older than the mark included).
    let (order_at, order_id) = match walk {
        Walk::All => {
            sql.push_str("events e WHERE 1 = 1");
            ("e.received_at", "e.id")
        }
        Walk::Table(Table::Departments, _) => {
            sql.push_str(
                "event_departments k CROSS JOIN events e ON e.id = k.event_id WHERE k.department = ?",
            );
            ("k.received_at", "k.event_id")
        }
        Walk::Table(Table::Units, _) => {
            sql.push_str("event_units k CROSS JOIN events e ON e.id = k.event_id WHERE k.unit = ?");
            ("k.received_at", "k.event_id")
        }
        Walk::After(_, table, _) => {
            sql.push_str(
                "events p CROSS JOIN events e ON e.rowid = p.rowid WHERE p.rowid > ? AND ",
            );
            sql.push_str(match table {
                Table::Departments => {
                    "EXISTS (SELECT 1 FROM json_each(e.departments) j WHERE j.value = ?)"
                }
                Table::Units => "e.unit = ?",
            });
            ("e.received_at", "e.id")
        }
    };
    if q.state.is_some() {
        sql.push_str(" AND e.state = ?");
    }
    if q.unit.is_some() {
        sql.push_str(" AND e.unit = ?");
    }
    if q.overdue_at.is_some() {
        sql.push_str(" AND e.state IN ");
        sql.push_str(OPEN_STATES);
        sql.push_str(" AND ((e.accepted_at IS NULL AND e.respond_by < ?) OR e.resolve_by < ?)");
    }
    if cursor.is_some() {
        sql.push_str(&format!(" AND ({order_at}, {order_id}) < (?, ?)"));
    }
    sql.push_str(&format!(
        " ORDER BY {order_at} DESC, {order_id} DESC LIMIT ?"
    ));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    match walk {
        Walk::All => {}
        Walk::Table(_, name) => query = query.bind(name),
        Walk::After(mark, _, name) => query = query.bind(mark).bind(name),
    }
    if let Some(s) = &q.state {
        query = query.bind(s.as_str());
    }
    if let Some(u) = &q.unit {
        query = query.bind(u.as_str());
    }
    if let Some(t) = q.overdue_at {
        query = query.bind(ns(t)).bind(ns(t));
    }
    if let Some((at, id)) = cursor {
        query = query.bind(*at).bind(id.as_str());
    }
    query = query.bind(i64::try_from(limit + 1).unwrap_or(i64::MAX));
    query.fetch_all(&mut *conn).await.ctx("listing events")
}

/// Two walks' rows, each newest first by `(received_at, id)`, as one list
/// in that order (an event is in one walk only: its key is either in the
/// table or waiting).
fn newest_first(a: Vec<SqliteRow>, b: Vec<SqliteRow>) -> Result<Vec<SqliteRow>, StoreError> {
    let order = |row: &SqliteRow| -> Result<(i64, String), StoreError> {
        Ok((
            row.try_get(6).ctx("listing events")?,
            row.try_get(0).ctx("listing events")?,
        ))
    };
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => order(x)? > order(y)?,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return Ok(out),
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

pub(super) async fn journal_for(
    pool: &SqlitePool,
    event_id: &str,
) -> Result<Vec<JournalEntry>, StoreError> {
    let rows: Vec<(i64, Option<String>, String, String, String, String)> = sqlx::query_as(
        "SELECT seq, event_id, kind, body, prev_hash, hash FROM journal WHERE event_id = ? ORDER BY seq",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await
    .ctx_with(|| format!("reading the journal of event {event_id:?}"))?;
    rows.into_iter()
        .map(|(seq, event_id, kind, body, prev_hash, hash)| {
            Ok(JournalEntry {
                seq,
                event_id,
                kind,
                body: serde_json::from_str(&body)
                    .ctx_with(|| format!("journal entry {seq}: body is not JSON"))?,
                prev_hash,
                hash,
            })
        })
        .collect()
}

pub(super) async fn open_cases(pool: &SqlitePool) -> Result<Vec<(i64, Case)>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, version, case_json FROM events WHERE state IN {OPEN_STATES}"
    )))
    .fetch_all(pool)
    .await
    .ctx("reading the open cases")?;
    rows.iter()
        .map(|row| {
            let id: &str = row.try_get(0).ctx("reading an open case's id")?;
            let version: i64 = row.try_get(1).ctx("reading an open case's version")?;
            let case = parse_column(row, 2, || {
                format!("event {id:?}: stored case is not readable")
            })?;
            Ok((version, case))
        })
        .collect()
}

pub(super) async fn events_since(
    pool: &SqlitePool,
    since: Timestamp,
) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, event_json FROM events WHERE reported_at >= ? ORDER BY reported_at, id",
    )
    .bind(ns(since))
    .fetch_all(pool)
    .await
    .ctx("reading recent events")?;
    rows.into_iter()
        .map(|(id, event)| {
            serde_json::from_str(&event)
                .ctx_with(|| format!("event {id:?}: stored event is not readable"))
        })
        .collect()
}

pub(super) async fn open_count(pool: &SqlitePool) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM events WHERE state IN {OPEN_STATES}"
    )))
    .fetch_one(pool)
    .await
    .ctx("counting the open cases")?;
    Ok(n)
}

/// Policy versions, newest first: all of them, or the recordings of one
/// content hash (newest first too).
pub(super) async fn policy_versions(
    pool: &SqlitePool,
    hash: Option<&str>,
) -> Result<Vec<PolicyVersion>, StoreError> {
    let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
        "SELECT hash, activated_at, activated_by, files, summary FROM policy_versions \
         WHERE ?1 IS NULL OR hash = ?1 ORDER BY activated_at DESC, id DESC",
    )
    .bind(hash)
    .fetch_all(pool)
    .await
    .ctx("reading the policy versions")?;
    rows.into_iter()
        .map(|(hash, activated_at, by, files, summary)| {
            Ok(PolicyVersion {
                activated_at: from_ns(activated_at, "activated_at")?,
                files: serde_json::from_str(&files)
                    .ctx_with(|| format!("policy version {hash}: stored files are not readable"))?,
                hash,
                by,
                summary,
            })
        })
        .collect()
}

/// Walks the journal in `seq` order, checking that the entries follow each
/// other from 1 without a gap, that each links to the one before (the
/// first to the genesis hash), and that each hash is that of its content.
/// Reports the first entry that fails, and counts all entries.
///
/// With an `anchor` (an entry as someone outside the store saw it: a
/// webhook's receiver), the chain must also reach that entry and hold its
/// hash there: entries cut from the end, or a chain rewritten from some
/// entry on, cannot be told from the store alone.
pub(super) async fn verify(
    pool: &SqlitePool,
    anchor: Option<&JournalAnchor>,
) -> Result<Verified, StoreError> {
    let mut entries = 0i64;
    let mut broken: Option<(i64, String)> = None;
    let mut expect_seq = 1i64;
    let mut expect_prev = GENESIS.to_string();
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT seq, event_id, kind, body, prev_hash, hash FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(VERIFY_PAGE)
        .fetch_all(pool)
        .await
        .ctx("reading the journal")?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let seq: i64 = row.try_get(0).ctx("reading the journal")?;
            entries += 1;
            after = seq;
            if broken.is_some() {
                continue;
            }
            let what = || format!("journal entry {seq} is not readable");
            let event_id: Option<&str> = row.try_get(1).ctx_with(what)?;
            let kind: &str = row.try_get(2).ctx_with(what)?;
            let body: &str = row.try_get(3).ctx_with(what)?;
            let prev_hash: &str = row.try_get(4).ctx_with(what)?;
            let hash: &str = row.try_get(5).ctx_with(what)?;
            let reason = if seq != expect_seq {
                Some(if seq == expect_seq + 1 {
                    format!("entry {expect_seq} is missing")
                } else if seq > expect_seq {
                    format!("entries {expect_seq} to {} are missing", seq - 1)
                } else {
                    format!("its seq should be {expect_seq}")
                })
            } else if prev_hash != expect_prev {
                Some(if seq == 1 {
                    "does not start from the genesis hash".to_string()
                } else {
                    format!("does not link to entry {}", seq - 1)
                })
            } else if chain_hash(prev_hash, seq, event_id, kind, body) != hash {
                Some("hash does not match its content".to_string())
            } else {
                anchor.filter(|a| a.seq == seq && a.hash != hash).map(|a| {
                    format!(
                        "its hash is {hash}, and the anchor says {}: the journal was rewritten at or before it",
                        a.hash
                    )
                })
            };
            match reason {
                Some(r) => broken = Some((seq, r)),
                None => {
                    expect_seq = seq + 1;
                    hash.clone_into(&mut expect_prev);
                }
            }
        }
    }
    if broken.is_none()
        && let Some(a) = anchor
        && a.seq >= expect_seq
    {
        let reason = match expect_seq - 1 {
            0 => format!(
                "the journal is empty, and the anchor names entry {}: every entry was cut",
                a.seq
            ),
            last => format!(
                "the journal ends at entry {last}, and the anchor names entry {}: entries were cut from its end",
                a.seq
            ),
        };
        broken = Some((expect_seq, reason));
    }
    let last = (broken.is_none() && expect_seq > 1).then(|| JournalAnchor {
        seq: expect_seq - 1,
        hash: expect_prev,
    });
    let (first_broken, reason) = match broken {
        Some((seq, r)) => (Some(seq), Some(r)),
        None => (None, None),
    };
    Ok(Verified {
        entries,
        first_broken,
        reason,
        last,
        damaged: None,
    })
}

/// What SQLite's `quick_check` finds wrong with every page of the
/// database (its structure, not the rows' meaning), as one line; `None`
/// when it finds nothing. It reads the whole file.
pub(super) async fn damage(pool: &SqlitePool) -> Result<Option<String>, StoreError> {
    let rows: Vec<(String,)> = match sqlx::query_as("PRAGMA quick_check(20)")
        .fetch_all(pool)
        .await
    {
        Ok(rows) => rows,
        // A page too damaged to walk stops the check itself: that is its
        // finding, not a failure to check.
        Err(sqlx::Error::Database(e)) if is_corrupt(e.code().as_deref()) => {
            return Ok(Some(e.message().to_string()));
        }
        Err(e) => return Err(e).ctx("checking the database's pages"),
    };
    let found: Vec<String> = rows
        .into_iter()
        .map(|(r,)| r)
        .filter(|r| r != "ok")
        .collect();
    Ok((!found.is_empty()).then(|| found.join("; ")))
}

/// Whether an SQLite result code (primary or extended, in decimal) says
/// the file is damaged: `SQLITE_CORRUPT` or `SQLITE_NOTADB`.
fn is_corrupt(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 11 | 26))
}
