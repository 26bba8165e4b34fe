//! Threshold alerts, and the read that assessment and the threshold
//! monitor need: cases by report time.
//!
//! One row of `alerts` per episode: written when a group's alert is
//! raised, completed (`cleared_at`, `cleared_json`) when it clears. Each
//! raise and clear is also queued in the outbox for every webhook, in the
//! same transaction, with the threshold monitor's clock (`monitor_clock`,
//! one row): how far the stored alerts are complete.

use jiff::Timestamp;
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio_stream::StreamExt;
use whistle_engine::alerts::Alert;
use whistle_engine::lifecycle::{Case, Transition};

use super::read::parse_column;
use super::{Ctx, from_ns, ns};
use crate::store::{MonitorClock, StoreError, StoredAlert};

/// Passes the case of every event reported in `[from, until)` to `each`,
/// in report order, reading them one at a time (a year of cases never sits
/// in memory at once). Returns how many were passed.
pub(super) async fn cases_reported(
    pool: &SqlitePool,
    from: Timestamp,
    until: Timestamp,
    each: &mut (dyn FnMut(Case, Timestamp) + Send),
) -> Result<u64, StoreError> {
    let mut rows = sqlx::query(
        "SELECT id, case_json, received_at FROM events WHERE reported_at >= ? AND reported_at < ? \
         ORDER BY reported_at, id",
    )
    .bind(ns(from))
    .bind(ns(until))
    .fetch(pool);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        let row = row.ctx("reading cases by report time")?;
        let id: &str = row.try_get(0).ctx("reading a case's id")?;
        let case: Case = parse_column(&row, 1, || {
            format!("event {id:?}: stored case is not readable")
        })?;
        let received: i64 = row.try_get(2).ctx("reading when an event was received")?;
        each(case, from_ns(received, "an event's `received_at`")?);
        n += 1;
    }
    Ok(n)
}

/// [`cases_reported`], each case with its transitions in the order they
/// were made, from the journal. A case's journal comes as one JSON array
/// in the case's row: streamed row by row, a year's ten transitions per
/// case cost ten hand-offs between sqlx's worker and this task, which took
/// more time than reading them.
pub(super) async fn histories_reported(
    pool: &SqlitePool,
    from: Timestamp,
    until: Timestamp,
    each: &mut (dyn FnMut(Case, Vec<Transition>) + Send),
) -> Result<u64, StoreError> {
    let mut rows = sqlx::query(
        "SELECT e.id, e.case_json, \
           (SELECT '[' || group_concat(j.body, ',' ORDER BY j.seq) || ']' FROM journal j \
              WHERE j.event_id = e.id AND j.kind = 'transition') \
         FROM events e WHERE e.reported_at >= ? AND e.reported_at < ? \
         ORDER BY e.reported_at, e.id",
    )
    .bind(ns(from))
    .bind(ns(until))
    .fetch(pool);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        let row = row.ctx("reading cases and their journal by report time")?;
        let id: &str = row.try_get(0).ctx("reading a case's id")?;
        let case: Case = parse_column(&row, 1, || {
            format!("event {id:?}: stored case is not readable")
        })?;
        let journal: Option<&str> = row.try_get(2).ctx("reading a case's journal")?;
        let history = match journal {
            Some(text) => serde_json::from_str(text)
                .ctx_with(|| format!("event {id:?}: a journal entry is not a transition"))?,
            None => Vec::new(),
        };
        each(case, history);
        n += 1;
    }
    Ok(n)
}

/// The cases of the given ids that exist, read in chunks of 256 ids.
pub(super) async fn cases_of(pool: &SqlitePool, ids: &[String]) -> Result<Vec<Case>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(256) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!("SELECT id, case_json FROM events WHERE id IN ({marks})");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.as_str());
        }
        for row in q.fetch_all(pool).await.ctx("reading cases")? {
            let id: &str = row.try_get(0).ctx("reading a case's id")?;
            out.push(parse_column(&row, 1, || {
                format!("event {id:?}: stored case is not readable")
            })?);
        }
    }
    Ok(out)
}

/// Stores raised and cleared alerts and the monitor's clock in one
/// transaction, queueing each alert for every webhook in `targets`.
pub(super) async fn record_alerts(
    conn: &mut SqliteConnection,
    targets: &[std::sync::Arc<str>],
    alerts: &[Alert],
    clock: &MonitorClock,
) -> Result<(), StoreError> {
    let queued_at = ns(Timestamp::now());
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .ctx("starting a transaction")?;
    for a in alerts {
        let json = crate::alerts::alert_json(a).map_err(StoreError)?;
        if a.raised {
            sqlx::query(
                "INSERT INTO alerts (threshold, grp, by_kind, raised_at, raised_json) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&*a.threshold)
            .bind(&a.group)
            .bind(&*a.by)
            .bind(ns(a.at))
            .bind(&json)
            .execute(&mut *tx)
            .await
            .ctx("storing an alert")?;
        } else {
            sqlx::query(
                "UPDATE alerts SET cleared_at = ?, cleared_json = ? \
                 WHERE threshold = ? AND grp = ? AND cleared_at IS NULL",
            )
            .bind(ns(a.at))
            .bind(&json)
            .bind(&*a.threshold)
            .bind(&a.group)
            .execute(&mut *tx)
            .await
            .ctx("clearing an alert")?;
        }
        for t in targets {
            sqlx::query("INSERT INTO outbox (target, payload, next_at) VALUES (?, ?, ?)")
                .bind(&**t)
                .bind(&json)
                .bind(queued_at)
                .execute(&mut *tx)
                .await
                .ctx("queueing an alert for a webhook")?;
        }
    }
    sqlx::query(
        "INSERT INTO monitor_clock (id, at, policy) VALUES (1, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, policy = excluded.policy",
    )
    .bind(ns(clock.at))
    .bind(&clock.policy)
    .execute(&mut *tx)
    .await
    .ctx("recording the threshold monitor's clock")?;
    tx.commit().await.ctx("committing alerts")
}

/// The threshold monitor's clock, as last recorded.
pub(super) async fn monitor_clock(pool: &SqlitePool) -> Result<Option<MonitorClock>, StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT at, policy FROM monitor_clock WHERE id = 1")
            .fetch_optional(pool)
            .await
            .ctx("reading the threshold monitor's clock")?;
    row.map(|(at, policy)| {
        Ok(MonitorClock {
            at: from_ns(at, "monitor_clock.at")?,
            policy,
        })
    })
    .transpose()
}

/// A row of `alerts`: id, raised_at, raised_json, cleared_at, cleared_json.
type AlertRow = (i64, i64, String, Option<i64>, Option<String>);

/// Alerts, newest raised first; only those not cleared if `open_only`.
pub(super) async fn alerts(
    pool: &SqlitePool,
    open_only: bool,
    limit: usize,
    before: Option<crate::store::AlertCursor>,
) -> Result<Vec<StoredAlert>, StoreError> {
    let sql = if open_only {
        "SELECT id, raised_at, raised_json, cleared_at, cleared_json FROM alerts \
         WHERE cleared_at IS NULL AND (raised_at < ?1 OR (raised_at = ?1 AND id < ?2)) \
         ORDER BY raised_at DESC, id DESC LIMIT ?3"
    } else {
        "SELECT id, raised_at, raised_json, cleared_at, cleared_json FROM alerts \
         WHERE raised_at < ?1 OR (raised_at = ?1 AND id < ?2) \
         ORDER BY raised_at DESC, id DESC LIMIT ?3"
    };
    // No cursor: before everything.
    let (raised_ns, id) = before.map_or((i64::MAX, i64::MAX), |c| (c.raised_ns, c.id));
    let rows: Vec<AlertRow> = sqlx::query_as(sql)
        .bind(raised_ns)
        .bind(id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .ctx("reading alerts")?;
    rows.into_iter()
        .map(|(id, raised_at, raised, cleared_at, cleared)| {
            let what = || format!("alert {id}: stored JSON is not readable");
            Ok(StoredAlert {
                id,
                raised_at: from_ns(raised_at, "raised_at")?,
                raised: serde_json::from_str(&raised).ctx_with(what)?,
                cleared_at: cleared_at.map(|c| from_ns(c, "cleared_at")).transpose()?,
                cleared: cleared
                    .map(|c| serde_json::from_str(&c).ctx_with(what))
                    .transpose()?,
            })
        })
        .collect()
}
