//! Changing one stored case: read it, change it, store it if no one else
//! did meanwhile. Cases carry a version (optimistic concurrency): a write
//! over a version that moved on is refused by the store, and the case is
//! read and changed again, a few times before giving up.

use std::sync::Mutex;

use jiff::Timestamp;
use whistle_engine::lifecycle::{Case, Transition};
use whistle_engine::windows::RepeatIndex;

use super::error::ApiError;
use crate::store::{Store, Updated};

/// How many times a case is read and changed again before the change is
/// given up as busy.
const ATTEMPTS: usize = 8;

/// What [`change_case`] did.
pub(super) enum Changed {
    /// Stored at `version` (for the caller to announce: stream, timers).
    Stored {
        version: i64,
        /// Boxed: a case is large, and the other outcomes hold nothing.
        case: Box<Case>,
        transitions: Vec<Transition>,
    },
    /// The change had nothing to store.
    Nothing,
    /// No such event (or it was gone by the write).
    Missing,
    /// The case changed under every attempt.
    Busy,
}

/// Reads event `id`'s case from `store` and hands it to `change` with the
/// instant and the report `history`; stores what `change` makes of it with
/// the transitions it returns (`None`: nothing to store). An error of
/// `change` is returned as it is, and nothing is stored.
pub(super) async fn change_case(
    store: &dyn Store,
    history: &Mutex<RepeatIndex>,
    id: &str,
    mut change: impl FnMut(
        &mut Case,
        Timestamp,
        &RepeatIndex,
    ) -> Result<Option<Vec<Transition>>, ApiError>,
) -> Result<Changed, ApiError> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = store.get_event(id).await.map_err(ApiError::unavailable)? else {
            return Ok(Changed::Missing);
        };
        let mut case = stored.case;
        let transitions = {
            let history = history
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut case, Timestamp::now(), &history)?
        };
        let Some(transitions) = transitions else {
            return Ok(Changed::Nothing);
        };
        match store
            .update_case(id, stored.version, &case, &transitions)
            .await
            .map_err(ApiError::unavailable)?
        {
            Updated::Ok(version) => {
                return Ok(Changed::Stored {
                    version,
                    case: Box::new(case),
                    transitions,
                });
            }
            Updated::Stale => continue,
            Updated::Missing => return Ok(Changed::Missing),
        }
    }
    Ok(Changed::Busy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::Mutex;

    use whistle_engine::lifecycle::{Action, State, apply};
    use whistle_engine::windows::{NoHistory, RepeatIndex};

    use super::{Changed, change_case};
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;
    use crate::store::sqlite::tests::{accept, insert_one, new_event, open, policy, t};

    /// A store holding one open event `E1`, at version 1.
    async fn one_event() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path()).await;
        insert_one(&s, new_event(&policy(), "E1", "litter", "G1", "{}", 0)).await;
        (dir, s)
    }

    /// Another writer's `action` on `E1`, made from inside a change:
    /// between its read and its write.
    fn write_meanwhile(s: &SqliteStore, action: Action) {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let stored = s.get_event("E1").await.unwrap().unwrap();
                let mut case = stored.case;
                let ts = apply(&policy(), &mut case, action, t(5), &NoHistory).unwrap();
                s.update_case("E1", stored.version, &case, &ts)
                    .await
                    .unwrap();
            });
        });
    }

    fn whistle(department: &str) -> Action {
        Action::Whistle {
            departments: vec![department.into()],
        }
    }

    /// `E1` sent to grid `G2`, or back to `G1`.
    fn reassign(odd: bool) -> Action {
        Action::Reassign {
            unit: Some(if odd { "G2" } else { "G1" }.into()),
            lead: None,
        }
    }

    fn history() -> Mutex<RepeatIndex> {
        Mutex::new(RepeatIndex::new(0, Vec::new()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_case_changed_meanwhile_is_read_and_changed_again() {
        let (_dir, s) = one_event().await;
        let p = policy();
        let mut calls = 0;
        let changed = change_case(&s, &history(), "E1", |case, now, h| {
            calls += 1;
            if calls == 1 {
                write_meanwhile(&s, whistle("urban"));
            }
            Ok(Some(apply(&p, case, accept(), now, h).unwrap()))
        })
        .await
        .unwrap();
        assert_eq!(calls, 2);
        let Changed::Stored { version, case, .. } = changed else {
            panic!("not stored");
        };
        // Version 1, the whistle's 2, then this change's 3: nothing lost.
        assert_eq!(version, 3);
        assert_eq!(case.state, State::Accepted);
        let stored = s.get_event("E1").await.unwrap().unwrap();
        assert_eq!(stored.version, 3);
        let journal = s.journal_for("E1").await.unwrap();
        assert!(
            journal.iter().any(|e| e.body.to_string().contains("urban")),
            "the other writer's whistle is kept: {journal:?}"
        );
        assert!(
            case.summoned
                .iter()
                .any(|d| d.department.as_str() == "urban")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_case_that_keeps_changing_is_given_up_as_busy() {
        let (_dir, s) = one_event().await;
        let p = policy();
        let mut calls = 0;
        let changed = change_case(&s, &history(), "E1", |case, now, h| {
            calls += 1;
            write_meanwhile(&s, reassign(calls % 2 == 1));
            Ok(Some(apply(&p, case, accept(), now, h).unwrap()))
        })
        .await
        .unwrap();
        assert!(matches!(changed, Changed::Busy));
        assert_eq!(calls, super::ATTEMPTS);
        let stored = s.get_event("E1").await.unwrap().unwrap();
        assert_eq!(stored.case.state, State::Dispatched, "no accept was stored");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_stored_for_an_error_or_for_nothing_to_store() {
        let (_dir, s) = one_event().await;
        let refused = change_case(&s, &history(), "E1", |_, _, _| {
            Err(super::ApiError::unavailable("refused"))
        })
        .await;
        assert!(refused.is_err());
        let nothing = change_case(&s, &history(), "E1", |_, _, _| Ok(None))
            .await
            .unwrap();
        assert!(matches!(nothing, Changed::Nothing));
        assert_eq!(s.get_event("E1").await.unwrap().unwrap().version, 1);
        let mut called = false;
        let missing = change_case(&s, &history(), "E9", |_, _, _| {
            called = true;
            Ok(None)
        })
        .await
        .unwrap();
        assert!(matches!(missing, Changed::Missing));
        assert!(!called, "no case to change");
    }
}
