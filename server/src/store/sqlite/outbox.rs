//! The outbox: notifications written with the transitions they report,
//! claimed by a deliverer with a lease, then marked done or rescheduled.
//! All on the writer connection (claiming writes the lease).

use std::collections::HashMap;

use sqlx::{Arguments, Row, SqliteConnection};

use super::{Ctx, ns};
use crate::store::{JournalAnchor, OutboxItem, StoreError};

/// Claims due outbox items; see [`crate::store::Store::outbox_claim`].
///
/// A claimed item's `lease_until` and `next_at` both move to the end of the
/// lease: another claimer skips it until then, and if it is neither done
/// nor retried by then it is due again.
pub(super) async fn outbox_claim(
    conn: &mut SqliteConnection,
    now: jiff::Timestamp,
    lease: u64,
    limit: usize,
    target: Option<&str>,
) -> Result<Vec<OutboxItem>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let now = ns(now);
    let lease_ns = i64::try_from(lease)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000);
    let until = now.saturating_add(lease_ns);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "UPDATE outbox SET lease_until = ?1, next_at = ?1 WHERE id IN \
         (SELECT id FROM outbox WHERE done = 0 AND next_at <= ?2 AND lease_until <= ?2 \
          AND (?4 IS NULL OR target = ?4) \
          ORDER BY next_at, id LIMIT ?3) \
         RETURNING id, target, payload, attempts, journal_seq",
    )
    .bind(until)
    .bind(now)
    .bind(limit)
    .bind(target)
    .fetch_all(&mut *conn)
    .await
    .ctx("claiming outbox items")?;
    let seqs: Vec<i64> = rows.iter().filter_map(|r| r.4).collect();
    let hashes = hashes_of(conn, &seqs).await?;
    let mut items = rows
        .into_iter()
        .map(|(id, target, payload, attempts, seq)| {
            let payload = serde_json::from_str(&payload)
                .ctx_with(|| format!("outbox item {id}: stored payload is not JSON"))?;
            // An entry gone from the journal (deleted by hand) must not
            // hold up the webhook: the item goes without its anchor, and
            // `whistle verify` names the gap.
            let journal = seq.and_then(|seq| match hashes.get(&seq) {
                Some(hash) => Some(JournalAnchor {
                    seq,
                    hash: hash.clone(),
                }),
                None => {
                    tracing::warn!(
                        "outbox item {id}: its journal entry {seq} is missing; delivered without its anchor"
                    );
                    None
                }
            });
            Ok(OutboxItem {
                id,
                target,
                payload,
                attempts,
                journal,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    items.sort_by_key(|i| i.id);
    Ok(items)
}

/// The hashes of journal entries `seqs`, by number.
async fn hashes_of(
    conn: &mut SqliteConnection,
    seqs: &[i64],
) -> Result<HashMap<i64, String>, StoreError> {
    let rows = super::write::run_chunked(
        conn,
        "SELECT seq, hash FROM journal WHERE seq IN (",
        "?",
        ")",
        seqs,
        "reading the journal entries of outbox items",
        |seq, a| a.add(*seq),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>(0)
                    .ctx("reading a journal entry's number")?,
                r.try_get::<String, _>(1)
                    .ctx("reading a journal entry's hash")?,
            ))
        })
        .collect()
}

/// Marks an outbox item delivered.
pub(super) async fn outbox_done(conn: &mut SqliteConnection, id: i64) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE outbox SET done = 1, lease_until = 0 WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx_with(|| format!("marking outbox item {id} delivered"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError(format!("there is no outbox item {id}")));
    }
    Ok(())
}

/// Schedules another attempt at an outbox item, counting the failed one.
pub(super) async fn outbox_retry(
    conn: &mut SqliteConnection,
    id: i64,
    next_at: jiff::Timestamp,
    error: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, next_at = ?, lease_until = 0, last_error = ? \
         WHERE id = ?",
    )
    .bind(ns(next_at))
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await
    .ctx_with(|| format!("rescheduling outbox item {id}"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError(format!("there is no outbox item {id}")));
    }
    Ok(())
}
