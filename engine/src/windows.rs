//! Sliding windows over past events: what `repeats(W)` counts.
//!
//! `repeats(W)` counts earlier events of the same category and the same
//! location (or grid, without a location) whose `reported_at` lies in
//! `[t - W, t]`, where `t` is the event's own `reported_at`. It is counted by
//! report time, not arrival order: an event that arrives late is still
//! counted by the events reported after it, and sees only those reported
//! before it.

use jiff::Timestamp;
use rustc_hash::FxHashMap;

use crate::cond::RepeatsBy;
use crate::event::Event;
use crate::model::{LevelId, Units};

/// What the deciding code may ask about the past.
pub trait History {
    /// Earlier events of `category` with the same `key` (under grouping
    /// `by`) reported within `window` seconds before `at`.
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32;
}

/// No past at all: every `repeats` is 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn repeats(&self, _: &str, _: RepeatsBy, _: &str, _: u64, _: Timestamp) -> u32 {
        0
    }
}

type Times = Vec<i64>;
/// Category → key → sorted report times.
type ByCategory = FxHashMap<Box<str>, FxHashMap<Box<str>, Times>>;

/// Report times of past events, grouped by category and key, kept sorted.
#[derive(Debug, Clone, Default)]
pub struct RepeatIndex {
    by_location: ByCategory,
    by_level: Vec<ByCategory>,
    levels_used: Vec<LevelId>,
    horizon: u64,
    latest: i64,
    recorded: u64,
}

impl RepeatIndex {
    /// An index that keeps `horizon` seconds of history (the policy's
    /// longest `repeats` window) and also groups by the given levels.
    pub fn new(horizon: u64, levels_used: Vec<LevelId>) -> RepeatIndex {
        RepeatIndex {
            horizon,
            by_level: vec![FxHashMap::default(); levels_used.len()],
            levels_used,
            latest: i64::MIN,
            ..RepeatIndex::default()
        }
    }

    /// Records an event (after it was decided).
    pub fn record(&mut self, ev: &Event, units: Option<&Units>) {
        let t = ev.reported_at.as_second();
        let key = ev.location.as_deref().unwrap_or(&ev.grid);
        insert(&mut self.by_location, &ev.category, key, t);
        for (i, &level) in self.levels_used.iter().enumerate() {
            let unit = if level == 0 {
                Some(ev.grid.as_str())
            } else {
                units
                    .and_then(|u| u.get(level as usize))
                    .and_then(|u| u.as_deref())
            };
            if let (Some(unit), Some(map)) = (unit, self.by_level.get_mut(i)) {
                insert(map, &ev.category, unit, t);
            }
        }
        self.latest = self.latest.max(t);
        self.recorded += 1;
        // Forgetting is amortised: a sweep every 64k events keeps memory
        // bounded by the window, not by the whole history.
        if self.recorded.is_multiple_of(65_536) {
            self.prune();
        }
    }

    /// Drops report times older than the horizon before the latest one seen.
    pub fn prune(&mut self) {
        let cutoff = self
            .latest
            .saturating_sub(i64::try_from(self.horizon).unwrap_or(i64::MAX));
        let sweep = |m: &mut ByCategory| {
            m.retain(|_, keys| {
                keys.retain(|_, times| {
                    let old = times.partition_point(|&x| x < cutoff);
                    times.drain(..old);
                    !times.is_empty()
                });
                !keys.is_empty()
            });
        };
        sweep(&mut self.by_location);
        self.by_level.iter_mut().for_each(sweep);
    }
}

fn insert(
    map: &mut FxHashMap<Box<str>, FxHashMap<Box<str>, Times>>,
    category: &str,
    key: &str,
    t: i64,
) {
    let keys = match map.get_mut(category) {
        Some(k) => k,
        None => map.entry(category.into()).or_default(),
    };
    let times = match keys.get_mut(key) {
        Some(v) => v,
        None => keys.entry(key.into()).or_default(),
    };
    // Events mostly arrive in time order, so this is usually a push.
    let at = times.partition_point(|&x| x <= t);
    times.insert(at, t);
}

impl History for RepeatIndex {
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32 {
        let map = match by {
            RepeatsBy::Location => Some(&self.by_location),
            RepeatsBy::Level(l) => self
                .levels_used
                .iter()
                .position(|&x| x == l)
                .and_then(|i| self.by_level.get(i)),
        };
        let Some(times) = map.and_then(|m| m.get(category)).and_then(|k| k.get(key)) else {
            return 0;
        };
        let t = at.as_second();
        let from = t.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX));
        let lo = times.partition_point(|&x| x < from);
        let hi = times.partition_point(|&x| x <= t);
        u32::try_from(hi.saturating_sub(lo)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::event::parse_event;

    fn ev(at: &str, loc: &str) -> Event {
        parse_event(&format!(
            r#"{{"id":"x","category":"c","grid":"G1","location":"{loc}","reported_at":"{at}"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn counts_by_report_time_not_arrival_order() {
        let mut idx = RepeatIndex::new(30 * 86_400, vec![]);
        let week = 7 * 86_400;
        // Arrives first but was reported last.
        idx.record(&ev("2025-06-10T00:00:00Z", "gate"), None);
        let late = ev("2025-06-05T00:00:00Z", "gate");
        let n = idx.repeats("c", RepeatsBy::Location, "gate", week, late.reported_at);
        assert_eq!(n, 0, "an event reported later is not an earlier one");
        idx.record(&late, None);
        idx.record(&ev("2025-06-01T00:00:00Z", "gate"), None);
        idx.record(&ev("2025-05-01T00:00:00Z", "gate"), None);
        idx.record(&ev("2025-06-09T00:00:00Z", "other"), None);
        // In [06-03, 06-10]: the events of 06-05 and 06-10 (06-01 is too old).
        let at: Timestamp = "2025-06-10T00:00:00Z".parse().unwrap();
        assert_eq!(idx.repeats("c", RepeatsBy::Location, "gate", week, at), 2);
        assert_eq!(idx.repeats("d", RepeatsBy::Location, "gate", week, at), 0);
    }

    #[test]
    fn pruning_forgets_only_what_no_window_can_see() {
        let mut idx = RepeatIndex::new(86_400, vec![]);
        idx.record(&ev("2025-06-01T00:00:00Z", "g"), None);
        idx.record(&ev("2025-06-09T12:00:00Z", "g"), None);
        idx.record(&ev("2025-06-10T00:00:00Z", "g"), None);
        idx.prune();
        let at: Timestamp = "2025-06-10T00:00:00Z".parse().unwrap();
        assert_eq!(
            idx.repeats("c", RepeatsBy::Location, "g", 30 * 86_400, at),
            2
        );
    }
}
