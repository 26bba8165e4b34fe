//! Making commits durable after the writer's turn (group commit).
//!
//! The writer connection runs with `synchronous=NORMAL`: a commit writes
//! its WAL frames and returns without an `fsync`. What `synchronous=FULL`
//! would do at that commit — `fdatasync` the WAL — is done here instead,
//! once the writer is free: the next transaction's statements run while
//! the disk flushes the last one's frames, and one flush covers every
//! commit made before it started. Nothing is acknowledged before the flush
//! that covers it has returned, so the guarantee is FULL's; a process
//! that is killed loses nothing either way (its writes are in the kernel).
//!
//! SQLite itself flushes the WAL before every checkpoint copies it, so a
//! commit whose frames a checkpoint already moved into the database (and a
//! WAL that was restarted since) is durable too.
//!
//! A flush that fails is final: after a failed `fsync` the kernel may have
//! dropped the pages it could not write, and a later flush that succeeds
//! would not bring them back. Every write from then on is refused, until
//! the server is restarted (and SQLite recovers from what is on disk).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::store::StoreError;

/// Commit tickets and the flushes that cover them.
#[derive(Debug)]
pub(super) struct Syncer {
    wal: PathBuf,
    db: PathBuf,
    /// Tickets handed out: commits made.
    committed: AtomicU64,
    /// Every ticket up to this one is durable.
    synced: AtomicU64,
    /// One flush at a time; waiters behind it are usually covered by it.
    turn: Mutex<()>,
    /// Flushes made (for tests and for judging how well they coalesce).
    flushes: AtomicU64,
    /// Why a flush failed, once one did.
    failed: std::sync::OnceLock<String>,
}

impl Syncer {
    /// A syncer for the database file `db` (its WAL beside it).
    pub(super) fn new(db: &Path) -> Syncer {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Syncer {
            wal: PathBuf::from(wal),
            db: db.to_path_buf(),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            turn: Mutex::new(()),
            flushes: AtomicU64::new(0),
            failed: std::sync::OnceLock::new(),
        }
    }

    /// Call once a commit has returned: its ticket, for [`Syncer::durable`].
    pub(super) fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Returns once the commit of `ticket` is on disk.
    pub(super) async fn durable(&self, ticket: u64) -> Result<(), StoreError> {
        if self.synced.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let _turn = self.turn.lock().await;
        // The flush just before ours may have covered this commit.
        if self.synced.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        if let Some(why) = self.failed.get() {
            return Err(refused(why));
        }
        // Read before flushing: every commit counted here had written its
        // frames already, so this flush covers all of them.
        let covered = self.committed.load(Ordering::Acquire);
        let (wal, db) = (self.wal.clone(), self.db.clone());
        let started = std::time::Instant::now();
        let flushed = match tokio::task::spawn_blocking(move || flush(&wal, &db)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("flushing {}: {e}", self.wal.display())),
            Err(e) => Err(format!("flushing the WAL: {e}")),
        };
        if let Err(why) = flushed {
            tracing::error!("{why}: refusing every write until the server is restarted");
            let _ = self.failed.set(why.clone());
            return Err(refused(&why));
        }
        // What durability costs, for operators: how often and how long.
        metrics::histogram!("whistle_store_flush_seconds").record(started.elapsed().as_secs_f64());
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.synced.fetch_max(covered, Ordering::AcqRel);
        Ok(())
    }

    /// Why a flush failed, once one did.
    pub(super) fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    /// `Err` once a flush has failed: a write should not even start.
    pub(super) fn writable(&self) -> Result<(), StoreError> {
        self.failed.get().map_or(Ok(()), |why| Err(refused(why)))
    }

    /// Tickets handed out so far (commits made).
    #[cfg(test)]
    pub(super) fn tickets(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Flushes made so far.
    #[cfg(test)]
    pub(super) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

fn refused(why: &str) -> StoreError {
    StoreError(format!(
        "{why}; writes are refused until the server is restarted (check the disk first)"
    ))
}

/// `fdatasync`s the WAL. Without one (the last connection closed and
/// checkpointed it away) everything is in the database file: that is
/// flushed instead.
fn flush(wal: &Path, db: &Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(f) => f.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::open(db)?.sync_all(),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn one_flush_covers_every_commit_made_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"db").unwrap();
        std::fs::write(dir.path().join("x.db-wal"), b"wal").unwrap();
        let s = Arc::new(Syncer::new(&db));
        let tickets: Vec<u64> = (0..3).map(|_| s.committed()).collect();
        assert_eq!(tickets, [1, 2, 3]);
        s.durable(3).await.unwrap();
        assert_eq!(s.flushes(), 1);
        // Earlier tickets were covered by that flush.
        s.durable(1).await.unwrap();
        s.durable(2).await.unwrap();
        assert_eq!(s.flushes(), 1);
        // A later commit needs a flush of its own.
        let t = s.committed();
        s.durable(t).await.unwrap();
        assert_eq!(s.flushes(), 2);
        // Many waiters for commits made together mostly share flushes.
        let ts: Vec<u64> = (0..50).map(|_| s.committed()).collect();
        let waits = ts.into_iter().map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.durable(t).await })
        });
        for w in waits {
            w.await.unwrap().unwrap();
        }
        assert_eq!(
            s.flushes(),
            3,
            "all 50 were committed before the first flush"
        );
    }

    #[tokio::test]
    async fn without_a_wal_the_database_file_is_flushed_and_a_failed_flush_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"db").unwrap();
        let s = Syncer::new(&db);
        let t = s.committed();
        s.durable(t).await.unwrap();
        std::fs::remove_file(&db).unwrap();
        let t = s.committed();
        let e = s.durable(t).await.unwrap_err();
        assert!(e.0.contains("flushing") && e.0.contains("restarted"), "{e}");
        // A failed flush is final, even once a flush could succeed again.
        std::fs::write(&db, b"db").unwrap();
        let t = s.committed();
        let again = s.durable(t).await.unwrap_err();
        assert_eq!(again.0, e.0);
        assert_eq!(s.flushes(), 1);
    }
}
