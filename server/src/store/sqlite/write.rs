//! Everything that writes: all of it runs on the writer connection, with
//! the writer's mutex held.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, Connection, Row, SqliteConnection};
use whistle_engine::lifecycle::{Case, Transition};

use super::{Ctx, Tail, Writer, keys, ns, read};
use crate::store::journal::{self, canonical_json, chain_hash};
use crate::store::texts::{case_packed, transition_bodies};
use crate::store::{Inserted, JournalEntry, NewEvent, PolicyVersion, StoreError, Updated};

/// A write transaction takes the database's write lock at once, so that it
/// never has to upgrade a read lock (which can fail with "busy" when
/// another process reads).
const BEGIN: &str = "BEGIN IMMEDIATE";

/// The most rows one statement carries: a batch goes in chunks of this
/// size and one statement for the rest, so up to this many distinct
/// statements per table (each prepared once and cached: see
/// `WRITER_STATEMENTS` in the module above). A remainder in one exact-size
/// statement rather than in power-of-two pieces saves the writer's thread
/// two or three round trips per table per batch: 17–22% more events a
/// second at 4 × 50 (docs/BENCHMARKS.md, "Session 9").
pub(super) const MAX_ROWS: usize = 128;

const EVENTS_HEAD: &str = "INSERT INTO events (rowid, id, body_hash, event_json, decision_json, case_json, version, \
     state, unit, lead, respond_by, resolve_by, accepted_at, reported_at, received_at, next_due, \
     departments) VALUES ";
const EVENTS_TUPLE: &str = "(?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_CASE: &str = "UPDATE events SET case_json = ?, version = version + 1, state = ?, unit = ?, \
     lead = ?, respond_by = ?, resolve_by = ?, accepted_at = ?, next_due = ?, departments = ? \
     WHERE id = ? AND version = ? RETURNING received_at";

const JOURNAL_HEAD: &str =
    "INSERT INTO journal (seq, event_id, kind, body, prev_hash, hash) VALUES ";
const JOURNAL_TUPLE: &str = "(?, ?, ?, ?, ?, ?)";

const OUTBOX_HEAD: &str = "INSERT INTO outbox (target, payload, next_at, journal_seq) VALUES ";
const OUTBOX_TUPLE: &str = "(?, ?, ?, ?)";

/// The columns copied from a case for filtering.
struct CaseColumns<'a> {
    state: &'static str,
    unit: Option<&'a str>,
    lead: &'a str,
    respond_by: i64,
    resolve_by: i64,
    accepted_at: Option<i64>,
    next_due: Option<i64>,
    /// The case's departments, lead first, each once ([`departments_of`]).
    departments: Vec<&'a str>,
    /// The same as a JSON array: the `departments` column, which says which
    /// `event_departments` rows the event has.
    departments_json: String,
}

/// The departments of a case, the lead first, each once: the keys of its
/// `event_departments` rows.
fn departments_of(case: &Case) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(1 + case.assist.len());
    for d in std::iter::once(&case.lead).chain(&case.assist) {
        if !out.contains(&d.as_str()) {
            out.push(d.as_str());
        }
    }
    out
}

impl<'a> CaseColumns<'a> {
    fn of(case: &'a Case) -> CaseColumns<'a> {
        let departments = departments_of(case);
        let departments_json =
            serde_json::to_string(&departments).unwrap_or_else(|_| "[]".to_string());
        CaseColumns {
            departments,
            departments_json,
            state: case.state.as_str(),
            unit: case.unit.as_deref(),
            lead: case.lead.as_str(),
            respond_by: ns(case.respond_by),
            resolve_by: ns(case.resolve_by),
            accepted_at: case.accepted_at.map(ns),
            next_due: case.next_due().map(ns),
        }
    }
}

/// An event's row: its texts and columns.
pub(super) struct EventRow<'a> {
    ne: &'a NewEvent,
    columns: CaseColumns<'a>,
}

impl<'a> EventRow<'a> {
    fn of(ne: &'a NewEvent) -> EventRow<'a> {
        EventRow {
            ne,
            columns: CaseColumns::of(&ne.case),
        }
    }

    /// Binds the row, as the event of rowid `rowid`.
    fn bind(&self, rowid: i64, a: &mut SqliteArguments) -> Result<(), BoxDynError> {
        let (c, ne) = (&self.columns, self.ne);
        a.add(rowid)?;
        a.add(ne.event.id.as_str())?;
        a.add(ne.body_hash.as_str())?;
        a.add(ne.texts.event.as_str())?;
        a.add(ne.texts.decision.as_slice())?;
        a.add(ne.texts.case.as_slice())?;
        a.add(c.state)?;
        a.add(c.unit)?;
        a.add(c.lead)?;
        a.add(c.respond_by)?;
        a.add(c.resolve_by)?;
        a.add(c.accepted_at)?;
        a.add(ns(ne.event.reported_at))?;
        a.add(ns(ne.received_at))?;
        a.add(c.next_due)?;
        a.add(c.departments_json.as_str())
    }
}

/// A journal entry about to be written.
struct JournalRow<'a> {
    seq: i64,
    event_id: Option<&'a str>,
    kind: &'a str,
    body: Arc<str>,
    prev_hash: String,
    hash: String,
}

impl JournalRow<'_> {
    fn bind(&self, a: &mut SqliteArguments) -> Result<(), BoxDynError> {
        a.add(self.seq)?;
        a.add(self.event_id)?;
        a.add(self.kind)?;
        a.add(Arc::clone(&self.body))?;
        a.add(self.prev_hash.as_str())?;
        a.add(self.hash.as_str())
    }
}

/// Chains an entry after `tail` (moving `tail` to it).
fn chain<'a>(
    tail: &mut Tail,
    event_id: Option<&'a str>,
    kind: &'a str,
    body: Arc<str>,
) -> JournalRow<'a> {
    let seq = tail.seq + 1;
    let hash = chain_hash(&tail.hash, seq, event_id, kind, &body);
    let prev_hash = std::mem::replace(&mut tail.hash, hash.clone());
    tail.seq = seq;
    JournalRow {
        seq,
        event_id,
        kind,
        body,
        prev_hash,
        hash,
    }
}

/// Chains the transitions of event `id`.
fn chain_transitions<'a>(
    tail: &mut Tail,
    id: &'a str,
    bodies: &[Arc<str>],
    out: &mut Vec<JournalRow<'a>>,
) {
    for body in bodies {
        out.push(chain(tail, Some(id), journal::TRANSITION, Arc::clone(body)));
    }
}

/// Writes journal entries, and queues each transition for every webhook,
/// with its entry's number.
async fn write_entries(
    conn: &mut SqliteConnection,
    targets: &[Arc<str>],
    entries: &[JournalRow<'_>],
    queued_at: i64,
) -> Result<(), StoreError> {
    run_chunked(
        conn,
        JOURNAL_HEAD,
        JOURNAL_TUPLE,
        "",
        entries,
        "appending to the journal",
        JournalRow::bind,
    )
    .await?;
    if targets.is_empty() {
        return Ok(());
    }
    let items: Vec<(&Arc<str>, &JournalRow<'_>)> = entries
        .iter()
        .filter(|e| e.kind == journal::TRANSITION)
        .flat_map(|e| targets.iter().map(move |t| (t, e)))
        .collect();
    run_chunked(
        conn,
        OUTBOX_HEAD,
        OUTBOX_TUPLE,
        "",
        &items,
        "queueing notifications",
        |(t, e), a| {
            a.add(Arc::clone(t))?;
            a.add(Arc::clone(&e.body))?;
            a.add(queued_at)?;
            a.add(e.seq)
        },
    )
    .await
    .map(drop)
}

/// Runs `head tuple, tuple, ... tail` over the items with as few
/// statements as it can (see [`MAX_ROWS`]), binding each item's values into
/// its tuple, and returns the rows the statements return.
pub(super) async fn run_chunked<T>(
    conn: &mut SqliteConnection,
    head: &str,
    tuple: &str,
    tail: &str,
    items: &[T],
    what: &str,
    bind: impl Fn(&T, &mut SqliteArguments) -> Result<(), BoxDynError>,
) -> Result<Vec<SqliteRow>, StoreError> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let n = rest.len().min(MAX_ROWS);
        let (chunk, more) = rest.split_at(n);
        let mut sql = String::with_capacity(head.len() + n * (tuple.len() + 1) + tail.len());
        sql.push_str(head);
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(tuple);
        }
        sql.push_str(tail);
        let mut args = SqliteArguments::default();
        for item in chunk {
            bind(item, &mut args).ctx(what)?;
        }
        let rows = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(&mut *conn)
            .await
            .ctx(what)?;
        out.extend(rows);
        rest = more;
    }
    Ok(out)
}

/// The rows of a batch for [`insert_events`].
pub(super) fn prepare(batch: &[NewEvent]) -> Vec<EventRow<'_>> {
    batch.iter().map(EventRow::of).collect()
}

/// Stores a batch in one transaction; see [`crate::store::Store::insert_events`].
///
/// One query finds which ids are stored already; the events that are new
/// (the first of the batch with an id) go in, under the rowids the writer
/// hands out, with their journal entries and outbox items, all in
/// multi-row statements, and with one shard's waiting keys (`keys.rs`:
/// their own units and departments wait for their shards' turns); the
/// others are read back to tell a duplicate from a conflict.
pub(super) async fn insert_events(
    w: &mut Writer,
    targets: &[Arc<str>],
    rows: &[EventRow<'_>],
) -> Result<Vec<Inserted>, StoreError> {
    let mut tail = w.take_tail().await?;
    let mut keys = w.take_keys().await?;
    let queued_at = ns(jiff::Timestamp::now());
    let mut tx = w
        .conn
        .begin_with(BEGIN)
        .await
        .ctx("starting a transaction")?;
    let existing = stored_ids(&mut tx, rows).await?;
    let mut seen = HashSet::with_capacity(rows.len());
    let mut fresh = Vec::with_capacity(rows.len());
    let mut new_keys = Vec::with_capacity(rows.len() * 3);
    let mut entries = Vec::with_capacity(rows.len() * 2);
    let mut again = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let ne = row.ne;
        let id = ne.event.id.as_str();
        if existing.contains(id) || !seen.insert(id) {
            again.push(i);
            continue;
        }
        let rowid = keys.rowid(fresh.len());
        fresh.push((rowid, row));
        new_keys.extend(keys::keys_of(
            rowid,
            id,
            ns(ne.received_at),
            row.columns.unit,
            &row.columns.departments,
        ));
        chain_transitions(&mut tail, id, &ne.texts.bodies, &mut entries);
    }
    run_chunked(
        &mut tx,
        EVENTS_HEAD,
        EVENTS_TUPLE,
        "",
        &fresh,
        "storing events",
        |(rowid, r), a| r.bind(*rowid, a),
    )
    .await?;
    let mut staged = keys::Staged::default();
    staged.took(fresh.len());
    let last_rowid = keys.rowid(fresh.len()) - 1;
    keys::merge_turn(&mut tx, &keys, &new_keys, last_rowid, &mut staged).await?;
    write_entries(&mut tx, targets, &entries, queued_at).await?;
    let mut out: Vec<Inserted> = (0..rows.len()).map(|_| Inserted::Created).collect();
    for i in again {
        let ne = rows[i].ne;
        let id = ne.event.id.as_str();
        let stored = read::fetch_event(&mut *tx, id)
            .await?
            .ok_or_else(|| StoreError(format!("event {id:?} is neither new nor stored")))?;
        out[i] = if stored.body_hash == ne.body_hash {
            Inserted::Duplicate(Box::new(stored))
        } else {
            Inserted::Conflict
        };
    }
    tx.commit().await.ctx("committing a batch of events")?;
    keys.apply(staged);
    w.tail = Some(tail);
    w.keys = Some(keys);
    Ok(out)
}

/// The ids of a batch that are stored already.
async fn stored_ids(
    conn: &mut SqliteConnection,
    rows: &[EventRow<'_>],
) -> Result<HashSet<String>, StoreError> {
    let found = run_chunked(
        conn,
        "SELECT id FROM events WHERE id IN (",
        "?",
        ")",
        rows,
        "looking up stored events",
        |r, a| a.add(r.ne.event.id.as_str()),
    )
    .await?;
    found
        .iter()
        .map(|r| r.try_get::<String, _>(0).ctx("looking up stored events"))
        .collect()
}

/// A case update serialised for [`update_case`].
pub(super) struct CaseUpdate<'a> {
    id: &'a str,
    case_json: Vec<u8>,
    columns: CaseColumns<'a>,
    bodies: Vec<Arc<str>>,
}

/// Serialises a case update (before taking the writer's lock).
pub(super) fn prepare_update<'a>(
    id: &'a str,
    case: &'a Case,
    transitions: &[Transition],
) -> Result<CaseUpdate<'a>, StoreError> {
    Ok(CaseUpdate {
        id,
        case_json: case_packed(id, case)?,
        columns: CaseColumns::of(case),
        bodies: transition_bodies(id, transitions)?,
    })
}

/// Replaces a case; see [`crate::store::Store::update_case`].
pub(super) async fn update_case(
    w: &mut Writer,
    targets: &[Arc<str>],
    u: CaseUpdate<'_>,
    expected_version: i64,
) -> Result<Updated, StoreError> {
    let out = update_cases(w, targets, &[(u, expected_version)]).await?;
    Ok(out.first().copied().unwrap_or(Updated::Missing))
}

/// Replaces cases in one transaction (one fsync); see
/// [`crate::store::Store::update_cases`].
///
/// Per case, a read checks its version and finds its unit and
/// departments, then one UPDATE replaces it, and the keys of a case whose
/// unit or departments changed (a reassignment, a whistle, a re-decided
/// grade: most updates change neither) are replaced ([`rekey`]); the
/// journal entries and outbox items of every case that matched then go in
/// with multi-row statements. When none matched, nothing is committed.
pub(super) async fn update_cases(
    w: &mut Writer,
    targets: &[Arc<str>],
    updates: &[(CaseUpdate<'_>, i64)],
) -> Result<Vec<Updated>, StoreError> {
    let mut tail = w.take_tail().await?;
    let mut keys = w.take_keys().await?;
    let queued_at = ns(jiff::Timestamp::now());
    let mut tx = w
        .conn
        .begin_with(BEGIN)
        .await
        .ctx("starting a transaction")?;
    let mut out = Vec::with_capacity(updates.len());
    let mut applied = Vec::with_capacity(updates.len());
    let mut staged = keys::Staged::default();
    // One case after another, in order: a case changed twice in one call
    // must lose the keys its first change wrote.
    for (u, expected_version) in updates {
        let (id, c) = (u.id, &u.columns);
        let found: Option<(i64, i64, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT rowid, version, unit, departments FROM events WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .ctx_with(|| format!("reading the case of event {id:?}"))?;
        let before = match found {
            None => {
                out.push(Updated::Missing);
                continue;
            }
            Some((_, version, _, _)) if version != *expected_version => {
                out.push(Updated::Stale);
                continue;
            }
            Some((rowid, _, unit, departments)) => Before {
                rowid,
                unit,
                departments,
            },
        };
        let (received_at,): (i64,) = sqlx::query_as(UPDATE_CASE)
            .bind(u.case_json.as_slice())
            .bind(c.state)
            .bind(c.unit)
            .bind(c.lead)
            .bind(c.respond_by)
            .bind(c.resolve_by)
            .bind(c.accepted_at)
            .bind(c.next_due)
            .bind(c.departments_json.as_str())
            .bind(id)
            .bind(*expected_version)
            .fetch_one(&mut *tx)
            .await
            .ctx_with(|| format!("updating the case of event {id:?}"))?;
        rekey(&mut tx, &keys, &mut staged, id, received_at, &before, c).await?;
        applied.push(u);
        out.push(Updated::Ok(expected_version.saturating_add(1)));
    }
    if applied.is_empty() {
        tx.rollback().await.ctx("ending a transaction")?;
        w.tail = Some(tail);
        w.keys = Some(keys);
        return Ok(out);
    }
    let mut entries = Vec::new();
    for u in &applied {
        chain_transitions(&mut tail, u.id, &u.bodies, &mut entries);
    }
    write_entries(&mut tx, targets, &entries, queued_at).await?;
    tx.commit().await.ctx("committing case updates")?;
    keys.apply(staged);
    w.tail = Some(tail);
    w.keys = Some(keys);
    Ok(out)
}

/// A case's row before its update: what its keys were.
struct Before {
    rowid: i64,
    unit: Option<String>,
    /// The `departments` column (a JSON array, lead first).
    departments: Option<String>,
}

/// Replaces the keys of event `id` whose unit or departments changed from
/// `before` to `c`: its rows, where its shard was merged past it, and its
/// waiting keys otherwise (see `keys.rs`).
async fn rekey(
    conn: &mut SqliteConnection,
    keys: &keys::Keys,
    staged: &mut keys::Staged,
    id: &str,
    received_at: i64,
    before: &Before,
    c: &CaseColumns<'_>,
) -> Result<(), StoreError> {
    let unit_changed = before.unit.as_deref() != c.unit;
    let departments_changed = before.departments.as_deref() != Some(c.departments_json.as_str());
    if !unit_changed && !departments_changed {
        return Ok(());
    }
    let names: Option<Vec<String>> = before
        .departments
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    if departments_changed && names.is_none() {
        // A row without a readable column (never written so): its rows are
        // found by a scan. Such an event has no waiting keys: opening the
        // store would have refused it.
        sqlx::query("DELETE FROM event_departments WHERE event_id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await
            .ctx_with(|| format!("updating the departments of event {id:?}"))?;
    }
    let names: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
    let changed = |k: &keys::Key| match k.table {
        keys::Table::Units => unit_changed,
        keys::Table::Departments => departments_changed,
    };
    let old = keys::keys_of(
        before.rowid,
        id,
        received_at,
        before.unit.as_deref(),
        &names,
    );
    for k in old.into_iter().filter(changed) {
        if keys.merged(&k) {
            keys::delete(conn, &k).await?;
        } else {
            staged.unwait(k);
        }
    }
    let new = keys::keys_of(before.rowid, id, received_at, c.unit, &c.departments);
    let mut rows = Vec::new();
    for k in new.into_iter().filter(changed) {
        if keys.merged(&k) {
            rows.push(k);
        } else {
            staged.wait(k);
        }
    }
    keys::insert(conn, &rows.iter().collect::<Vec<_>>()).await
}

/// Appends an entry about no event; see [`crate::store::Store::append_journal`].
pub(super) async fn append_journal(
    w: &mut Writer,
    kind: &str,
    body: serde_json::Value,
) -> Result<JournalEntry, StoreError> {
    let text: Arc<str> = Arc::from(canonical_json(&body));
    let mut tail = w.take_tail().await?;
    let row = chain(&mut tail, None, kind, text);
    write_entries(&mut w.conn, &[], std::slice::from_ref(&row), 0).await?;
    let entry = JournalEntry {
        seq: row.seq,
        event_id: None,
        kind: kind.to_string(),
        body,
        prev_hash: row.prev_hash,
        hash: row.hash,
    };
    w.tail = Some(tail);
    Ok(entry)
}

/// Records a policy version.
pub(super) async fn record_policy(
    conn: &mut SqliteConnection,
    v: &PolicyVersion,
) -> Result<(), StoreError> {
    let files = serde_json::to_string(&v.files).ctx("policy files do not serialise")?;
    sqlx::query(
        "INSERT INTO policy_versions (hash, activated_at, activated_by, files, summary) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(v.hash.as_str())
    .bind(ns(v.activated_at))
    .bind(v.by.as_str())
    .bind(files)
    .bind(v.summary.as_str())
    .execute(&mut *conn)
    .await
    .ctx_with(|| format!("recording policy version {}", v.hash))?;
    Ok(())
}
