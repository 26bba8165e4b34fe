//! The keys the event lists filter by, a case's unit (`event_units`) and
//! its departments (`event_departments`), written in shards after the
//! events rather than with them.
//!
//! **Why.** Both tables are ordered by key first, so that a unit's or a
//! department's events are found newest first without a scan. Written
//! with every batch, a batch of 50 events touched one leaf page per
//! distinct unit and department (about 45 of the shipped district's 206
//! units and 20 of its 26 departments), and each touched page is a 4 KiB
//! frame in the WAL at every commit: most of what the single writer wrote.
//! Without those two writes the ingest bench ran 60–70% faster
//! (docs/BENCHMARKS.md, "Session 9").
//!
//! **How.** A key belongs to one of [`SHARDS`] shards by a hash of its
//! table and name ([`shard`]). `key_marks` holds, per shard, the last
//! event (by rowid) whose keys of that shard are in the tables. Each batch
//! of new events also merges one shard, in turn: the waiting keys of that
//! shard, its own included, go in together and the shard's mark moves to
//! the batch's last event. A shard's keys thus wait at most [`SHARDS`]
//! batches, and each merge touches about 1/[`SHARDS`] of the pages.
//!
//! **Reading.** The events after a key's mark are those whose keys of its
//! shard are not in the tables yet: a list by unit or department reads the
//! table, and those events' own `unit` and `departments` columns, in one
//! snapshot (`read::list_events`).
//!
//! **Changing.** A case whose unit or departments change has its rows
//! replaced at once where its shard was merged past it, and its waiting
//! keys replaced otherwise. The writer keeps the waiting keys in memory
//! ([`Keys`]), rebuilt from the events after the marks when it is opened.
//!
//! The marks are rowids of `events`, handed out by the writer in arrival
//! order. SQLite's `VACUUM` may renumber the rowids of a table without an
//! INTEGER PRIMARY KEY, which would leave the marks pointing at other
//! events: Whistle never runs it, and docs/SERVER.md says not to.

use sqlx::{Row, SqliteConnection};

use super::Ctx;
use crate::store::StoreError;

/// How many shards the keys are split into. Part of the database's format:
/// `key_marks` has a row per shard.
pub(super) const SHARDS: usize = 64;

/// Which table a key goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// `event_units`: the case's unit.
    Units,
    /// `event_departments`: each of the case's departments.
    Departments,
}

/// The shard of a key: FNV-1a over the table's tag and the name. Part of
/// the database's format, like [`SHARDS`]: never change it.
pub(super) fn shard(table: Table, name: &str) -> usize {
    let tag: &[u8] = match table {
        Table::Units => b"u:",
        Table::Departments => b"d:",
    };
    let mut h: u32 = 0x811c_9dc5;
    for &b in tag.iter().chain(name.as_bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // A u32 always fits a usize on the platforms SQLite runs on.
    usize::try_from(h).unwrap_or(0) % SHARDS
}

/// One key of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) table: Table,
    /// The unit or the department.
    pub(super) name: String,
    /// A department's role, `lead` or `assist`; empty for a unit.
    pub(super) role: &'static str,
    pub(super) event_id: String,
    /// The event's `received_at` (the tables' second column).
    pub(super) received_at: i64,
    /// The event's rowid, against the shard's mark.
    pub(super) rowid: i64,
}

impl Key {
    pub(super) fn shard(&self) -> usize {
        shard(self.table, &self.name)
    }
}

/// The keys of an event: its unit, then its departments (the first leads).
pub(super) fn keys_of(
    rowid: i64,
    event_id: &str,
    received_at: i64,
    unit: Option<&str>,
    departments: &[&str],
) -> Vec<Key> {
    let key = |table, name: &str, role| Key {
        table,
        name: name.to_string(),
        role,
        event_id: event_id.to_string(),
        received_at,
        rowid,
    };
    let mut out = Vec::with_capacity(1 + departments.len());
    out.extend(unit.map(|u| key(Table::Units, u, "")));
    out.extend(departments.iter().enumerate().map(|(i, d)| {
        let role = if i == 0 { "lead" } else { "assist" };
        key(Table::Departments, d, role)
    }));
    out
}

/// The writer's view of the keys: the marks, the keys waiting per shard,
/// the next event's rowid and the shard the next batch merges.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    marks: [i64; SHARDS],
    waiting: Vec<Vec<Key>>,
    next_rowid: i64,
    turn: usize,
}

/// What a write transaction does to the [`Keys`], applied once it commits.
#[derive(Debug, Default)]
pub(super) struct Staged {
    /// In order: a key to wait (`true`) or to stop waiting (`false`).
    changes: Vec<(bool, Key)>,
    /// Rowids the transaction's new events took.
    rowids: i64,
    /// The shard merged, and its new mark.
    merged: Option<(usize, i64)>,
}

impl Staged {
    /// The key now waits for its shard's merge.
    pub(super) fn wait(&mut self, key: Key) {
        self.changes.push((true, key));
    }

    /// The key no longer waits (its case changed before the merge).
    pub(super) fn unwait(&mut self, key: Key) {
        self.changes.push((false, key));
    }

    /// The transaction's new events took `n` rowids.
    pub(super) fn took(&mut self, n: usize) {
        self.rowids = i64::try_from(n).unwrap_or(i64::MAX);
    }
}

impl Keys {
    /// Whether the key's shard was merged past its event: its row is in
    /// the table (or is to be removed from it).
    pub(super) fn merged(&self, key: &Key) -> bool {
        key.rowid <= self.marks[key.shard()]
    }

    /// The rowid for the `i`-th new event of a transaction.
    pub(super) fn rowid(&self, i: usize) -> i64 {
        self.next_rowid
            .saturating_add(i64::try_from(i).unwrap_or(i64::MAX))
    }

    /// Applies what a committed transaction staged.
    pub(super) fn apply(&mut self, staged: Staged) {
        if let Some((s, mark)) = staged.merged {
            self.waiting[s].clear();
            self.marks[s] = mark;
        }
        for (wait, key) in staged.changes {
            let s = key.shard();
            if wait {
                if key.rowid > self.marks[s] {
                    self.waiting[s].push(key);
                }
            } else {
                self.waiting[s].retain(|k| {
                    !(k.table == key.table && k.name == key.name && k.event_id == key.event_id)
                });
            }
        }
        self.next_rowid = self.next_rowid.saturating_add(staged.rowids);
        if staged.merged.is_some() {
            self.turn = (self.turn + 1) % SHARDS;
        }
    }
}

const UNITS_HEAD: &str = "INSERT OR IGNORE INTO event_units (unit, received_at, event_id) VALUES ";
const UNITS_TUPLE: &str = "(?, ?, ?)";
const DEPARTMENTS_HEAD: &str =
    "INSERT OR IGNORE INTO event_departments (department, received_at, event_id, role) VALUES ";
const DEPARTMENTS_TUPLE: &str = "(?, ?, ?, ?)";

/// Writes keys into their tables.
pub(super) async fn insert(conn: &mut SqliteConnection, keys: &[&Key]) -> Result<(), StoreError> {
    let (units, departments): (Vec<&Key>, Vec<&Key>) =
        keys.iter().partition(|k| k.table == Table::Units);
    super::write::run_chunked(
        conn,
        UNITS_HEAD,
        UNITS_TUPLE,
        "",
        &units,
        "storing the events' units",
        |k, a| {
            use sqlx::Arguments;
            a.add(k.name.as_str())?;
            a.add(k.received_at)?;
            a.add(k.event_id.as_str())
        },
    )
    .await?;
    super::write::run_chunked(
        conn,
        DEPARTMENTS_HEAD,
        DEPARTMENTS_TUPLE,
        "",
        &departments,
        "storing the events' departments",
        |k, a| {
            use sqlx::Arguments;
            a.add(k.name.as_str())?;
            a.add(k.received_at)?;
            a.add(k.event_id.as_str())?;
            a.add(k.role)
        },
    )
    .await?;
    Ok(())
}

/// Removes a key's row from its table.
pub(super) async fn delete(conn: &mut SqliteConnection, key: &Key) -> Result<(), StoreError> {
    let sql = match key.table {
        Table::Units => {
            "DELETE FROM event_units WHERE unit = ? AND received_at = ? AND event_id = ?"
        }
        Table::Departments => {
            "DELETE FROM event_departments WHERE department = ? AND received_at = ? AND event_id = ?"
        }
    };
    sqlx::query(sql)
        .bind(key.name.as_str())
        .bind(key.received_at)
        .bind(key.event_id.as_str())
        .execute(&mut *conn)
        .await
        .ctx_with(|| format!("updating the keys of event {:?}", key.event_id))?;
    Ok(())
}

/// Merges the shard whose turn it is, with the keys of the transaction's
/// new events (`new`): writes its waiting keys and moves its mark to the
/// last new event (`last_rowid`).
pub(super) async fn merge_turn(
    conn: &mut SqliteConnection,
    keys: &Keys,
    new: &[Key],
    last_rowid: i64,
    staged: &mut Staged,
) -> Result<(), StoreError> {
    merge(conn, keys, keys.turn, new, last_rowid, staged).await
}

/// Merges shard `s`; see [`merge_turn`].
async fn merge(
    conn: &mut SqliteConnection,
    keys: &Keys,
    s: usize,
    new: &[Key],
    last_rowid: i64,
    staged: &mut Staged,
) -> Result<(), StoreError> {
    let due: Vec<&Key> = keys.waiting[s]
        .iter()
        .chain(new.iter().filter(|k| k.shard() == s))
        .collect();
    insert(conn, &due).await?;
    sqlx::query("UPDATE key_marks SET merged = ? WHERE shard = ?")
        .bind(last_rowid)
        .bind(i64::try_from(s).unwrap_or(0))
        .execute(&mut *conn)
        .await
        .ctx("moving a shard's mark")?;
    staged.merged = Some((s, last_rowid));
    for k in new.iter().filter(|k| k.shard() != s) {
        staged.wait(k.clone());
    }
    Ok(())
}

/// Merges every shard, so that every key is in its table (for tests and
/// tools that read the tables directly).
#[cfg(test)]
pub(super) async fn merge_all(
    conn: &mut SqliteConnection,
    keys: &mut Keys,
) -> Result<(), StoreError> {
    let last = keys.next_rowid - 1;
    for s in 0..SHARDS {
        let mut staged = Staged::default();
        merge(conn, keys, s, &[], last, &mut staged).await?;
        keys.apply(staged);
    }
    Ok(())
}

/// Reads the marks, and rebuilds the waiting keys from the events after
/// them.
pub(super) async fn load(conn: &mut SqliteConnection) -> Result<Keys, StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT shard, merged FROM key_marks")
        .fetch_all(&mut *conn)
        .await
        .ctx("reading the key marks")?;
    let mut marks = [i64::MIN; SHARDS];
    for (s, mark) in rows {
        if let Some(m) = usize::try_from(s).ok().and_then(|s| marks.get_mut(s)) {
            *m = mark;
        }
    }
    if let Some(s) = marks.iter().position(|&m| m == i64::MIN) {
        return Err(StoreError(format!(
            "the database has no mark for key shard {s}: it is damaged"
        )));
    }
    let (last,): (i64,) = sqlx::query_as("SELECT coalesce(max(rowid), 0) FROM events")
        .fetch_one(&mut *conn)
        .await
        .ctx("reading the last event")?;
    let from = marks.iter().copied().min().unwrap_or(0);
    let rows = sqlx::query(
        "SELECT rowid, id, received_at, unit, departments FROM events WHERE rowid > ? ORDER BY rowid",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await
    .ctx("reading the events whose keys wait")?;
    let mut waiting = vec![Vec::new(); SHARDS];
    for row in rows {
        let rowid: i64 = row.try_get(0).ctx("reading the events whose keys wait")?;
        let id: String = row.try_get(1).ctx("reading the events whose keys wait")?;
        let received_at: i64 = row.try_get(2).ctx("reading the events whose keys wait")?;
        let unit: Option<String> = row.try_get(3).ctx("reading the events whose keys wait")?;
        let departments: Option<String> =
            row.try_get(4).ctx("reading the events whose keys wait")?;
        let departments: Vec<String> = departments
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .ctx_with(|| format!("event {id:?}: its departments are not readable"))?
            .unwrap_or_default();
        let names: Vec<&str> = departments.iter().map(String::as_str).collect();
        for key in keys_of(rowid, &id, received_at, unit.as_deref(), &names) {
            let s = key.shard();
            if rowid > marks[s] {
                waiting[s].push(key);
            }
        }
    }
    Ok(Keys {
        marks,
        waiting,
        next_rowid: last.saturating_add(1),
        turn: 0,
    })
}

/// The mark of a key's shard, read in the reader's snapshot.
pub(super) async fn mark(
    conn: &mut SqliteConnection,
    table: Table,
    name: &str,
) -> Result<i64, StoreError> {
    let s = i64::try_from(shard(table, name)).unwrap_or(0);
    let (mark,): (i64,) = sqlx::query_as("SELECT merged FROM key_marks WHERE shard = ?")
        .bind(s)
        .fetch_one(&mut *conn)
        .await
        .ctx("reading a key mark")?;
    Ok(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_spread_and_fixed() {
        // Fixed: the marks on disk depend on them.
        assert_eq!(shard(Table::Units, "S01"), shard(Table::Units, "S01"));
        assert_ne!(
            (0..200)
                .map(|i| shard(Table::Units, &format!("C{i:04}")))
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            1
        );
        let used: std::collections::BTreeSet<usize> = (0..1000)
            .map(|i| shard(Table::Departments, &format!("d{i}")))
            .collect();
        assert_eq!(used.len(), SHARDS, "every shard gets keys");
    }

    #[test]
    fn a_key_waits_until_its_shard_is_merged_past_it() {
        let mut keys = Keys {
            marks: [0; SHARDS],
            waiting: vec![Vec::new(); SHARDS],
            next_rowid: 1,
            turn: 0,
        };
        let k = keys_of(1, "E1", 5, Some("S01"), &["urban", "fire"]);
        assert_eq!(k.len(), 3);
        assert_eq!((k[1].role, k[2].role), ("lead", "assist"));
        let mut staged = Staged::default();
        for key in &k {
            staged.wait(key.clone());
        }
        staged.rowids = 1;
        keys.apply(staged);
        assert_eq!(keys.next_rowid, 2);
        assert!(k.iter().all(|key| !keys.merged(key)));
        let s = k[0].shard();
        assert!(keys.waiting[s].contains(&k[0]));
        // A key that stops waiting leaves its shard's queue.
        let d = k[2].shard();
        let mut staged = Staged::default();
        staged.unwait(k[2].clone());
        keys.apply(staged);
        assert!(!keys.waiting[d].contains(&k[2]));
        // Merging the unit's shard past the event puts it in the table.
        keys.apply(Staged {
            merged: Some((s, 1)),
            ..Staged::default()
        });
        assert!(keys.merged(&k[0]) && keys.waiting[s].is_empty());
    }
}
