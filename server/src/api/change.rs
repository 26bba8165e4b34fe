//! Changing one stored case: read it, change it, store it if no one else
//! did meanwhile. Cases carry a version (optimistic concurrency): a write
//! over a version that moved on is refused by the store, and the case is
//! read and changed again, a few times before giving up.

use jiff::Timestamp;
use whistle_engine::lifecycle::{Case, Transition};
use whistle_engine::windows::RepeatIndex;

use super::error::ApiError;
use crate::state::AppState;
use crate::store::Updated;

/// How many times a case is read and changed again before the change is
/// given up as busy.
const ATTEMPTS: usize = 8;

/// What [`change_case`] did.
pub(super) enum Changed {
    /// Stored at `version`, and announced (stream, timers).
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

/// Reads event `id`'s case and hands it to `change` with the instant and
/// the report history; stores what `change` makes of it with the
/// transitions it returns (`None`: nothing to store). An error of `change`
/// is returned as it is, and nothing is stored.
pub(super) async fn change_case(
    state: &AppState,
    id: &str,
    mut change: impl FnMut(
        &mut Case,
        Timestamp,
        &RepeatIndex,
    ) -> Result<Option<Vec<Transition>>, ApiError>,
) -> Result<Changed, ApiError> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = state
            .store
            .get_event(id)
            .await
            .map_err(ApiError::unavailable)?
        else {
            return Ok(Changed::Missing);
        };
        let mut case = stored.case;
        let transitions = {
            let history = state
                .history
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut case, Timestamp::now(), &history)?
        };
        let Some(transitions) = transitions else {
            return Ok(Changed::Nothing);
        };
        match state
            .store
            .update_case(id, stored.version, &case, &transitions)
            .await
            .map_err(ApiError::unavailable)?
        {
            Updated::Ok(version) => {
                state.announce(id, &case, &transitions);
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
