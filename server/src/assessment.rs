//! The assessment of a period from the store, shared by
//! `GET /v1/assessment` and `whistle assess`.

use jiff::Timestamp;
use whistle_engine::Policy;
use whistle_engine::assess::{Period, Report, Tally};

use crate::store::{Store, StoreError};

/// How many events [`period_report`] reads between two progress calls.
pub const PROGRESS_EVERY: u64 = 4096;

/// The report of `period` as it stands at `now`: the events reported in
/// it, each with its facts at the period's end (or `now`, for a period
/// still running). A case of a period that has ended is rebuilt from its
/// transitions as it stood at the end, so that what happened to it since
/// (an acceptance, a raise, a reassignment, a reopen, a rating) does not
/// count in the period, and the report of a past period stays the same
/// whenever it is asked for. `read` is told how many events have been
/// read so far, every [`PROGRESS_EVERY`] events (a year of a city's
/// events takes tens of seconds).
pub async fn period_report<S: Store + ?Sized>(
    store: &S,
    policy: &Policy,
    period: &Period,
    now: Timestamp,
    read: &mut (dyn FnMut(u64) + Send),
) -> Result<Report, StoreError> {
    let at = period.facts_at(now);
    let mut tally = Tally::new(policy);
    let mut n = 0u64;
    let mut tick = || {
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) {
            read(n);
        }
    };
    if at < now {
        store
            .histories_reported(period.from, period.until, &mut |case, history| {
                let then = case.as_of(policy, &history, at);
                tally.add(policy, &then, &then.facts(at));
                tick();
            })
            .await?;
    } else {
        // Nothing has happened after `now`: the cases are as they stand.
        store
            .cases_reported(period.from, period.until, &mut |case, _| {
                tally.add(policy, &case, &case.facts(at));
                tick();
            })
            .await?;
    }
    let mut report = tally.report(policy);
    report.period = Some(period.describe(at));
    Ok(report)
}
