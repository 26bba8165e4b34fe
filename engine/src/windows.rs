//! Sliding windows over past events: what `repeats(W)` counts.
//!
//! `repeats(W)` counts earlier events of the same category and the same
//! location (or grid, without a location) whose `reported_at` lies in
//! `[t - W, t]`, where `t` is the event's own `reported_at`. It is counted by
//! report time, not arrival order: an event that arrives late is still
//! counted by the events reported after it, and sees only those reported
//! before it.
//!
//! `repeats` always asks about the event's own category, so a category
//! that no condition an event of it can evaluate reads `repeats` in is not
//! recorded at all ([`Asked`]).

use std::hash::Hasher;

use hashbrown::{HashTable, hash_table};
use jiff::Timestamp;
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use crate::cond::RepeatsBy;
use crate::event::Event;
use crate::inline::InlineStr;
use crate::model::{LevelId, Units};
use crate::times::Times;

/// How late an event of a file (`whistle route`, `diff --replay`) may be,
/// behind the latest report before it, and still see its whole `repeats`
/// window: exports are mostly in report order, and a week covers a
/// device that uploads after days offline.
pub const LATE_IN_A_FILE: u64 = 7 * 86_400;

/// What the deciding code may ask about the past.
pub trait History {
    /// Earlier events of `category` with the same `key` (under grouping
    /// `by`) reported within `window` seconds before `at`.
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32;

    /// [`History::repeats`] asked for an event the history already holds
    /// (deciding it again: a reopen, a redecision): one of the events of
    /// its very second is itself, and is not counted. A history that
    /// holds no events by their instants counts as `repeats` does.
    fn repeats_but_itself(
        &self,
        category: &str,
        by: RepeatsBy,
        key: &str,
        window: u64,
        at: Timestamp,
    ) -> u32 {
        self.repeats(category, by, key, window, at)
    }
}

/// The history as an event it already holds sees it: deciding that event
/// again counts the events before it, as deciding it the first time did,
/// not the event itself.
pub struct ExceptItself<'a>(pub &'a dyn History);

impl History for ExceptItself<'_> {
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32 {
        self.0.repeats_but_itself(category, by, key, window, at)
    }
}

/// No past at all: every `repeats` is 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn repeats(&self, _: &str, _: RepeatsBy, _: &str, _: u64, _: Timestamp) -> u32 {
        0
    }
}

/// Groupings `repeats` counts by: bit 0 for `location`, bit `l + 1` for
/// level `l` (a level past the 62nd takes the last bit, shared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Groupings(u64);

impl Groupings {
    /// No grouping.
    pub const NONE: Groupings = Groupings(0);
    /// Every grouping.
    pub const ALL: Groupings = Groupings(u64::MAX);

    /// The one grouping `by`.
    pub fn of(by: RepeatsBy) -> Groupings {
        Groupings(match by {
            RepeatsBy::Location => 1,
            RepeatsBy::Level(l) => 1 << (u32::from(l) + 1).min(63),
        })
    }

    /// Both sets.
    #[must_use]
    pub fn with(self, other: Groupings) -> Groupings {
        Groupings(self.0 | other.0)
    }

    /// Whether `by` is in the set.
    pub fn has(self, by: RepeatsBy) -> bool {
        self.0 & Groupings::of(by).0 != 0
    }

    /// Whether every grouping of `other` is in the set.
    pub fn holds(self, other: Groupings) -> bool {
        other.0 & !self.0 == 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Which categories `repeats` is ever asked about, and by which
/// groupings: those a condition of the category's own reads, plus those
/// read by conditions outside every category (asked of all). An event is
/// recorded only under the groupings asked of its category: a `repeats(1d,
/// grid)` in one category's lines must not make every other category's
/// events cost a second entry in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// Groupings read by a condition outside every category (lists,
    /// ladders, threshold counts): asked of every category.
    pub every: Groupings,
    /// Groupings the fallback's conditions read: asked of undeclared
    /// categories.
    pub fallback: Groupings,
    /// Each declared category: the groupings its own conditions read.
    pub categories: FxHashMap<Box<str>, Groupings>,
}

impl Asked {
    /// Every category is asked about, by every grouping.
    pub fn all() -> Asked {
        Asked {
            every: Groupings::ALL,
            ..Asked::default()
        }
    }

    /// The groupings `repeats` may be asked about `category` by.
    pub fn groupings(&self, category: &str) -> Groupings {
        let own = self
            .categories
            .get(category)
            .copied()
            .unwrap_or(self.fallback);
        self.every.with(own)
    }

    /// Whether `repeats` may be asked about `category` at all.
    pub fn asks(&self, category: &str) -> bool {
        !self.groupings(category).is_empty()
    }

    /// Whether history recorded for `self` holds every category and
    /// grouping `other` asks about.
    pub fn covers(&self, other: &Asked) -> bool {
        let undeclared = |a: &Asked| a.every.with(a.fallback);
        undeclared(self).holds(undeclared(other))
            && self
                .categories
                .keys()
                .chain(other.categories.keys())
                .all(|c| self.groupings(c).holds(other.groupings(c)))
    }
}

/// One category and key under one grouping, with its report times: 48
/// bytes with no allocation of its own for keys up to 22 bytes seen once
/// (a year of a city's events holds about a million of these at once).
/// The key's hash is not kept: it is worked out again only when the
/// table grows or shrinks.
#[derive(Debug, Clone)]
struct Entry {
    /// The grouping (0: by location; `i + 1`: by the `i`-th level used)
    /// in the top 32 bits, the interned category below.
    group: u64,
    key: InlineStr,
    times: Times,
}

/// Calls `f` with each grouping and key `ev` is recorded under: its
/// location (or grid) when asked by location, and its unit at each level
/// asked.
fn each_key<'e>(
    levels_used: &[LevelId],
    ev: &'e Event,
    units: Option<&'e Units>,
    category: u32,
    asked: Groupings,
    mut f: impl FnMut(u64, &'e str),
) {
    if asked.has(RepeatsBy::Location) {
        f(
            group_of(0, category),
            ev.location.as_deref().unwrap_or(&ev.grid),
        );
    }
    for (i, &level) in levels_used.iter().enumerate() {
        if !asked.has(RepeatsBy::Level(level)) {
            continue;
        }
        let unit = if level == 0 {
            Some(ev.grid.as_str())
        } else {
            units
                .and_then(|u| u.get(level as usize))
                .and_then(|u| u.as_deref())
        };
        if let Some(unit) = unit {
            f(
                group_of(u8::try_from(i + 1).unwrap_or(u8::MAX), category),
                unit,
            );
        }
    }
}

fn group_of(by: u8, category: u32) -> u64 {
    (u64::from(by) << 32) | u64::from(category)
}

fn category_of(group: u64) -> u32 {
    (group & 0xffff_ffff) as u32
}

/// The table's hash of a grouping and key: FxHash folded to 32 bits and
/// spread over 64, so that the bits the table takes from the top are as
/// varied as those from the bottom.
fn hash_of(group: u64, key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u64(group);
    h.write(key);
    let h = h.finish();
    u64::from((h >> 32) as u32 ^ h as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn rehash(e: &Entry) -> u64 {
    hash_of(e.group, e.key.as_bytes())
}

/// Report times of past events, grouped by category and key, kept sorted.
///
/// One flat table for every grouping: a `repeats` lookup is one probe of
/// one table whose cell holds the key and the times inline, where nested
/// maps (by category, then by key, then a vector) cost a cache miss at
/// each level.
#[derive(Debug, Clone, Default)]
pub struct RepeatIndex {
    table: HashTable<Entry>,
    /// Category names interned, with the groupings asked of each: the
    /// policy's few hundred, and names it does not declare while events of
    /// them are in the window.
    categories: FxHashMap<Box<str>, (u32, Groupings)>,
    next_category: u32,
    asked: Asked,
    levels_used: Vec<LevelId>,
    horizon: u64,
    /// How late (seconds behind the latest report seen) an event may be
    /// reported and still see its whole window; `None`: a sixteenth of
    /// the horizon.
    late: Option<u64>,
    latest: i64,
    pruned_at: i64,
    recorded: u64,
}

impl RepeatIndex {
    /// An index that keeps `horizon` seconds of history (the policy's
    /// longest `repeats` window) and also groups by the given levels.
    ///
    /// History is kept for the horizon and a sixteenth more before the
    /// latest report seen (see [`RepeatIndex::late_within`] for more): an
    /// event that arrives up to that sixteenth late is counted exactly; one
    /// later than that sees none of its window that lies further back.
    pub fn new(horizon: u64, levels_used: Vec<LevelId>) -> RepeatIndex {
        RepeatIndex::asking(horizon, Asked::all(), levels_used)
    }

    /// The index a policy's deciding needs: its longest window and levels,
    /// recording only the categories it asks about.
    pub fn for_policy(policy: &crate::model::Policy) -> RepeatIndex {
        RepeatIndex::asking(
            policy.max_repeats_window,
            policy.repeats_asked.clone(),
            policy.repeats_levels.clone(),
        )
    }

    /// As [`RepeatIndex::new`], recording only the categories `asked` holds.
    pub fn asking(horizon: u64, asked: Asked, levels_used: Vec<LevelId>) -> RepeatIndex {
        RepeatIndex {
            horizon,
            asked,
            levels_used,
            latest: i64::MIN,
            pruned_at: i64::MIN,
            ..RepeatIndex::default()
        }
    }

    /// Keeps `seconds` more of history, so that an event reported up to
    /// that long before the latest report seen (an app that uploads a
    /// day's reports the next morning) still sees its whole window. The
    /// memory grows with it: the history of `horizon + seconds`.
    #[must_use]
    pub fn late_within(mut self, seconds: u64) -> RepeatIndex {
        self.late = Some(seconds);
        self
    }

    /// How late an event may be and still be counted exactly (seconds).
    pub fn late_seconds(&self) -> u64 {
        self.late.unwrap_or(self.horizon / 16)
    }

    /// The interned id of a category about to be recorded and the
    /// groupings asked of it, or `None` when no condition ever asks about
    /// it.
    fn intern(&mut self, category: &str) -> Option<(u32, Groupings)> {
        if let Some(&c) = self.categories.get(category) {
            return Some(c);
        }
        let asked = self.asked.groupings(category);
        if asked.is_empty() {
            return None;
        }
        let c = (self.next_category, asked);
        self.next_category = c.0.saturating_add(1);
        self.categories.insert(category.into(), c);
        Some(c)
    }

    /// Records an event (after it was decided).
    pub fn record(&mut self, ev: &Event, units: Option<&Units>) {
        let t = ev.reported_at.as_second();
        self.latest = self.latest.max(t);
        let Some((category, asked)) = self.intern(ev.category.as_str()) else {
            return;
        };
        let mut keys: SmallVec<[(u64, &str); 4]> = SmallVec::new();
        each_key(&self.levels_used, ev, units, category, asked, |g, k| {
            keys.push((g, k));
        });
        for (group, key) in keys {
            self.insert(group, key, t);
        }
        self.recorded += 1;
        // Forgetting is amortised: a sweep each time report times have
        // moved on by an eighth of the horizon.
        if self.recorded.is_multiple_of(4096)
            && self.latest.saturating_sub(self.pruned_at) >= self.slack()
        {
            self.prune();
        }
    }

    /// An eighth of the horizon: how far report times move between
    /// sweeps. Each sweep reads every key (at a city's volume, a hundred
    /// megabytes); a sixteenth made the sweeps 2% of a simulated year.
    fn slack(&self) -> i64 {
        i64::try_from(self.horizon / 8).unwrap_or(i64::MAX)
    }

    /// Report times before this are forgotten (or about to be): the
    /// horizon and the lateness allowed before the latest report seen.
    /// Queries never look further back, so what they count does not
    /// depend on when the sweeps ran.
    fn floor(&self) -> i64 {
        let keep = i64::try_from(self.horizon)
            .unwrap_or(i64::MAX)
            .saturating_add(i64::try_from(self.late_seconds()).unwrap_or(i64::MAX));
        self.latest.saturating_sub(keep)
    }

    /// Drops report times no query can see any more (see [`RepeatIndex::new`]).
    pub fn prune(&mut self) {
        let cutoff = self.floor();
        // Category ids are dense: a flag per id is cheaper than a set.
        let mut live = vec![false; self.next_category as usize];
        self.table.retain(|e| {
            if !e.times.keep_from(cutoff) {
                return false;
            }
            if let Some(l) = live.get_mut(category_of(e.group) as usize) {
                *l = true;
            }
            true
        });
        // Give memory back only after a real drop in volume: shrinking to
        // fit at every sweep would make the next inserts grow it again.
        if self.table.len() < self.table.capacity() / 4 {
            self.table.shrink_to_fit(rehash);
        }
        // Undeclared category names are forgotten with their events.
        self.categories
            .retain(|_, (c, _)| live.get(*c as usize).copied().unwrap_or(false));
        self.pruned_at = self.latest;
    }

    /// Asks the processor for the entries that counting `repeats` for
    /// `ev` and recording it will read: at a city's volume each is far out
    /// of cache, and the caller knows the next event well before deciding
    /// it. Only a hint: a key not recorded yet has nothing to ask for.
    pub fn prefetch(&self, ev: &Event, units: Option<&Units>) {
        let Some(&(category, asked)) = self.categories.get(ev.category.as_str()) else {
            return;
        };
        each_key(
            &self.levels_used,
            ev,
            units,
            category,
            asked,
            |group, key| {
                // The first cell whose tag matches: telling it is the key would
                // read the entry, which is what is asked for.
                let cell = self
                    .table
                    .find_bucket_index(hash_of(group, key.as_bytes()), |_| true);
                if let Some(e) = cell.and_then(|i| self.table.get_bucket(i)) {
                    crate::prefetch::value(e);
                }
            },
        );
    }

    fn insert(&mut self, group: u64, key: &str, t: i64) {
        let hash = hash_of(group, key.as_bytes());
        let is = |e: &Entry| e.group == group && e.key.is(key);
        match self.table.entry(hash, is, rehash) {
            hash_table::Entry::Occupied(o) => o.into_mut().times.insert(t),
            hash_table::Entry::Vacant(v) => {
                v.insert(Entry {
                    group,
                    key: InlineStr::new(key),
                    times: Times::one(t),
                });
            }
        }
    }
}

impl History for RepeatIndex {
    fn repeats(&self, category: &str, by: RepeatsBy, key: &str, window: u64, at: Timestamp) -> u32 {
        self.count(category, by, key, window, at, false)
    }

    fn repeats_but_itself(
        &self,
        category: &str,
        by: RepeatsBy,
        key: &str,
        window: u64,
        at: Timestamp,
    ) -> u32 {
        self.count(category, by, key, window, at, true)
    }
}

impl RepeatIndex {
    /// Events within `window` up to `at`, one of those of `at`'s own
    /// second left out with `but_one` (when there is one: an event that
    /// left the index is not there to leave out).
    fn count(
        &self,
        category: &str,
        by: RepeatsBy,
        key: &str,
        window: u64,
        at: Timestamp,
        but_one: bool,
    ) -> u32 {
        let by = match by {
            RepeatsBy::Location => 0,
            RepeatsBy::Level(l) => match self.levels_used.iter().position(|&x| x == l) {
                Some(i) => u8::try_from(i + 1).unwrap_or(u8::MAX),
                None => return 0,
            },
        };
        let Some(&(category, _)) = self.categories.get(category) else {
            return 0;
        };
        let group = group_of(by, category);
        let found = self.table.find(hash_of(group, key.as_bytes()), |e| {
            e.group == group && e.key.is(key)
        });
        let Some(e) = found else {
            return 0;
        };
        let times = &e.times;
        let t = at.as_second();
        let from = t
            .saturating_sub(i64::try_from(window).unwrap_or(i64::MAX))
            .max(self.floor());
        let lo = times.partition_point(|x| x < from);
        let hi = times.partition_point(|x| x <= t);
        let itself = usize::from(but_one && hi > times.partition_point(|x| x < t));
        u32::try_from(hi.saturating_sub(lo).saturating_sub(itself)).unwrap_or(u32::MAX)
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

    /// An event reported days before the latest (an app offline for a
    /// weekend) sees its whole window when the index allows that much
    /// lateness, and only the part within the default sixteenth when not.
    #[test]
    fn a_late_event_sees_its_window_within_the_lateness_allowed() {
        let week = 7 * 86_400;
        let run = |idx: RepeatIndex| {
            let mut idx = idx;
            idx.record(&ev("2026-05-27T12:00:00Z", "gate"), None);
            idx.record(&ev("2026-06-05T00:00:00Z", "gate"), None);
            for _ in 0..5000 {
                idx.record(&ev("2026-06-05T00:00:00Z", "elsewhere"), None);
            }
            idx.prune();
            let late: Timestamp = "2026-06-02T12:00:00Z".parse().unwrap();
            idx.repeats("c", RepeatsBy::Location, "gate", week, late)
        };
        assert_eq!(
            run(RepeatIndex::new(week, vec![]).late_within(3 * 86_400)),
            1
        );
        assert_eq!(run(RepeatIndex::new(week, vec![])), 0);
        assert_eq!(RepeatIndex::new(week, vec![]).late_seconds(), week / 16);
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

    fn event(cat: &str, grid: &str, loc: Option<&str>, at: &str) -> Event {
        let loc = loc.map_or(String::new(), |l| format!(r#","location":"{l}""#));
        parse_event(&format!(
            r#"{{"id":"x","category":"{cat}","grid":"{grid}"{loc},"reported_at":"{at}"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn groupings_categories_and_long_keys_are_kept_apart() {
        let mut units: Units = Default::default();
        units[1] = Some("C01".into());
        let mut idx = RepeatIndex::new(86_400, vec![0, 1]);
        let long = "a-location-id-longer-than-twenty-two-bytes";
        for (cat, loc) in [
            ("c", Some(long)),
            ("c", Some(long)),
            ("d", Some(long)),
            ("c", None),
        ] {
            idx.record(&event(cat, "G1", loc, "2025-06-10T00:00:00Z"), Some(&units));
        }
        let at: Timestamp = "2025-06-10T00:00:00Z".parse().unwrap();
        let n = |cat: &str, by: RepeatsBy, key: &str| idx.repeats(cat, by, key, 3600, at);
        assert_eq!(
            n("c", RepeatsBy::Location, long),
            2,
            "a key kept on the heap"
        );
        assert_eq!(n("c", RepeatsBy::Location, &long[1..]), 0);
        assert_eq!(n("d", RepeatsBy::Location, long), 1, "categories apart");
        assert_eq!(
            n("c", RepeatsBy::Location, "G1"),
            1,
            "no location: the grid"
        );
        assert_eq!(n("c", RepeatsBy::Level(0), "G1"), 3, "by grid: all of c");
        assert_eq!(n("c", RepeatsBy::Level(1), "C01"), 3, "by community");
        assert_eq!(n("d", RepeatsBy::Level(1), "C01"), 1);
        assert_eq!(n("c", RepeatsBy::Level(2), "C01"), 0, "a level not indexed");
        assert_eq!(
            n("e", RepeatsBy::Location, long),
            0,
            "a category never seen"
        );
    }

    #[test]
    fn names_of_categories_are_forgotten_with_their_events() {
        let mut idx = RepeatIndex::new(86_400, vec![]);
        idx.record(&event("once", "G1", None, "2025-06-01T00:00:00Z"), None);
        idx.record(&event("c", "G1", None, "2025-06-10T00:00:00Z"), None);
        assert_eq!(idx.categories.len(), 2);
        idx.prune();
        assert_eq!(idx.categories.len(), 1, "only `c` has events in the window");
        // A name seen again gets a new id, not one still in use.
        idx.record(&event("once", "G1", None, "2025-06-10T00:00:01Z"), None);
        let at: Timestamp = "2025-06-10T00:00:01Z".parse().unwrap();
        assert_eq!(idx.repeats("once", RepeatsBy::Location, "G1", 60, at), 1);
        assert_eq!(idx.repeats("c", RepeatsBy::Location, "G1", 60, at), 1);
    }

    /// A category nobody asks about is not kept, yet its events still
    /// move the clock the floor is taken from, so what the asked category
    /// counts is the same as in an index that keeps everything.
    #[test]
    fn only_the_categories_asked_about_are_kept() {
        let asked = Asked {
            categories: [
                ("c".into(), Groupings::of(RepeatsBy::Location)),
                ("d".into(), Groupings::NONE),
            ]
            .into_iter()
            .collect(),
            ..Asked::default()
        };
        let week = 7 * 86_400;
        let mut some = RepeatIndex::asking(week, asked, vec![]);
        let mut all = RepeatIndex::new(week, vec![]);
        let days = [
            ("c", 4),
            ("c", 8),
            ("d", 9),
            ("c", 10),
            ("zz", 11),
            ("d", 12),
        ];
        for (cat, day) in days {
            let e = event(cat, "G1", None, &format!("2025-06-{day:02}T00:00:00Z"));
            some.record(&e, None);
            all.record(&e, None);
        }
        assert_eq!(some.categories.len(), 1, "only c is kept");
        assert_eq!(all.categories.len(), 3);
        let at: Timestamp = "2025-06-12T00:00:00Z".parse().unwrap();
        let c = |i: &RepeatIndex, window: u64, at: Timestamp| {
            i.repeats("c", RepeatsBy::Location, "G1", window, at)
        };
        assert_eq!((c(&some, week, at), c(&all, week, at)), (2, 2));
        // The floor follows the latest report of any category (06-12 less
        // 7 days and a sixteenth: 06-04 13:30), so 06-04 is out of reach
        // in both, though c's own latest report is 06-10.
        let at: Timestamp = "2025-06-10T00:00:00Z".parse().unwrap();
        assert_eq!((c(&some, 2 * week, at), c(&all, 2 * week, at)), (2, 2));
        let d = |i: &RepeatIndex| i.repeats("d", RepeatsBy::Location, "G1", week, at);
        assert_eq!((d(&some), d(&all)), (0, 1), "d is not kept");
    }

    /// An event is recorded only under the groupings asked of its
    /// category; those counts are what an index keeping every grouping
    /// gives.
    #[test]
    fn only_the_groupings_asked_are_kept() {
        let mut units: Units = Default::default();
        units[1] = Some("C01".into());
        let by = |b: &[RepeatsBy]| {
            b.iter()
                .fold(Groupings::NONE, |g, &b| g.with(Groupings::of(b)))
        };
        let asked = Asked {
            every: by(&[RepeatsBy::Level(1)]),
            categories: [
                ("c".into(), by(&[RepeatsBy::Location])),
                ("d".into(), by(&[RepeatsBy::Level(0)])),
            ]
            .into_iter()
            .collect(),
            ..Asked::default()
        };
        let mut some = RepeatIndex::asking(86_400, asked, vec![0, 1]);
        let mut all = RepeatIndex::new(86_400, vec![0, 1]);
        for (cat, loc) in [
            ("c", Some("L1")),
            ("c", Some("L1")),
            ("d", Some("L1")),
            ("d", None),
        ] {
            let e = event(cat, "G1", loc, "2025-06-10T00:00:00Z");
            some.record(&e, Some(&units));
            all.record(&e, Some(&units));
        }
        let at: Timestamp = "2025-06-10T00:00:00Z".parse().unwrap();
        let n =
            |i: &RepeatIndex, cat: &str, b: RepeatsBy, key: &str| i.repeats(cat, b, key, 3600, at);
        let asked = [
            ("c", RepeatsBy::Location, "L1", 2),
            ("c", RepeatsBy::Level(1), "C01", 2),
            ("d", RepeatsBy::Level(0), "G1", 2),
            ("d", RepeatsBy::Level(1), "C01", 2),
        ];
        for (cat, b, key, want) in asked {
            assert_eq!(
                (n(&some, cat, b, key), n(&all, cat, b, key)),
                (want, want),
                "{cat} {b:?}"
            );
        }
        assert_eq!(
            n(&some, "c", RepeatsBy::Level(0), "G1"),
            0,
            "c by grid: not kept"
        );
        assert_eq!(n(&all, "c", RepeatsBy::Level(0), "G1"), 2);
        assert_eq!(
            n(&some, "d", RepeatsBy::Location, "L1"),
            0,
            "d by location: not kept"
        );
        assert_eq!(
            some.table.len(),
            4,
            "c by location and community, d by grid and community"
        );
    }

    /// What a query counts depends on the events recorded, never on when
    /// the sweeps ran: a late query sees the same with or without them.
    #[test]
    fn counts_do_not_depend_on_when_sweeps_run() {
        let horizon = 16 * 86_400;
        let (mut swept, mut kept) = (
            RepeatIndex::new(horizon, vec![]),
            RepeatIndex::new(horizon, vec![]),
        );
        for day in 1..=28 {
            let e = event("c", "G1", None, &format!("2025-06-{day:02}T00:00:00Z"));
            swept.record(&e, None);
            swept.prune();
            kept.record(&e, None);
        }
        for at in [
            "2025-06-28T00:00:00Z",
            "2025-06-20T00:00:00Z",
            "2025-06-05T00:00:00Z",
        ] {
            let at: Timestamp = at.parse().unwrap();
            let n = |i: &RepeatIndex| i.repeats("c", RepeatsBy::Location, "G1", horizon, at);
            assert_eq!(n(&swept), n(&kept), "at {at}");
        }
        let at: Timestamp = "2025-06-28T00:00:00Z".parse().unwrap();
        // 06-12 .. 06-28: the window (the floor, 06-11, lies before it).
        assert_eq!(
            swept.repeats("c", RepeatsBy::Location, "G1", horizon, at),
            17
        );
    }
}
