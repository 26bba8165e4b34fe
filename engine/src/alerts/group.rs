//! One threshold, compiled for the monitor: what each event contributes to
//! its group's value, the groups' running sums, and the alert target.

use std::collections::VecDeque;
use std::sync::Arc;

use super::packed::Packed;
use crate::cond::{Cond, Field, Op, Val, compare};
use crate::lifecycle::Name;
use crate::model::{GroupBy, Metric, Policy, Target, Threshold, ThresholdMetric, Units};
use rustc_hash::FxHashMap;

/// A small bit set: two bits per threshold, whether its `count(COND)`
/// holds and whether the event counts in its window now. Both in one word
/// keep a slot small (32 thresholds before the set spills to the heap), at
/// a million slots per 30-day window of a city; the word is a plain field
/// so that setting a bit is one instruction, not a vector's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bits {
    low: u64,
    /// Bits 64 and up, grown on demand.
    high: Option<Box<[u64]>>,
}

impl Bits {
    /// Threshold `t`'s `count(COND)` holds.
    pub fn cond(&self, t: usize) -> bool {
        self.get(2 * t)
    }

    pub fn set_cond(&mut self, t: usize, on: bool) {
        self.set(2 * t, on);
    }

    /// The event counts in threshold `t`'s window.
    pub fn live(&self, t: usize) -> bool {
        self.get(2 * t + 1)
    }

    pub fn set_live(&mut self, t: usize, on: bool) {
        self.set(2 * t + 1, on);
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        if i < 64 {
            return self.low & (1 << i) != 0;
        }
        let (w, bit) = (i / 64 - 1, i % 64);
        self.high
            .as_deref()
            .and_then(|h| h.get(w))
            .is_some_and(|word| word & (1 << bit) != 0)
    }

    #[inline]
    fn set(&mut self, i: usize, on: bool) {
        if i < 64 {
            let bit = 1 << i;
            self.low = (self.low & !bit) | (u64::from(on) * bit);
            return;
        }
        self.set_high(i / 64 - 1, 1 << (i % 64), on);
    }

    #[cold]
    fn set_high(&mut self, w: usize, bit: u64, on: bool) {
        let len = self.high.as_deref().map_or(0, <[u64]>::len);
        if len <= w {
            if !on {
                return;
            }
            let mut grown = vec![0; w + 1];
            if let Some(old) = self.high.as_deref() {
                grown[..len].copy_from_slice(old);
            }
            self.high = Some(grown.into_boxed_slice());
        }
        if let Some(word) = self.high.as_deref_mut().and_then(|h| h.get_mut(w)) {
            *word = (*word & !bit) | (u64::from(on) * bit);
        }
    }
}

/// What a threshold measures, per event.
#[derive(Debug, Clone)]
pub(super) enum Measure {
    /// `count(COND)` (`None`: every event) or the built-in `count`.
    Count {
        /// The condition.
        cond: Option<Cond>,
        /// Whether it reads what a later transition can change (`grade`,
        /// `reopened`, `repeats`): then it is evaluated on every observe,
        /// otherwise once, when the event is first seen.
        dynamic: bool,
    },
    /// A share metric: its index in the share order of `assess`.
    Share(usize),
    /// `mean_resolution_hours`.
    Mean,
}

impl Measure {
    /// Whether the value can change when a deadline passes.
    pub fn reads_deadlines(&self) -> bool {
        // on_time_response, on_time_resolution, overdue_rate.
        matches!(self, Measure::Share(0..=2))
    }
}

/// A group's running sums over the events in the window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct GroupAcc {
    /// Events that hold (shares), events (counts), seconds (mean).
    pub num: i64,
    /// Events that count.
    pub den: i64,
    /// Whether an alert is raised for the group.
    pub raised: bool,
}

/// A threshold as the monitor runs it.
#[derive(Debug, Clone)]
pub(super) struct Def {
    pub name: Arc<str>,
    pub display: Option<Arc<str>>,
    pub by: GroupBy,
    pub by_name: Arc<str>,
    /// Index of `by` among the monitor's kinds of group.
    pub kind: usize,
    /// Window in nanoseconds.
    pub window: i64,
    /// The index of `window` among the monitor's distinct windows, shortest
    /// first: its exits' lane.
    pub lane: usize,
    pub op: Op,
    pub bound: f64,
    pub alert: Target,
    pub measure: Measure,
    /// Indexed by the interned group id of `kind`.
    pub groups: Vec<GroupAcc>,
    /// A `count(COND)` whose COND is fixed when the event is first seen,
    /// grouped by something that never moves: an event for which COND
    /// does not hold adds to its group's `den` only, so its exit changes
    /// no value and needs no instant of its own (see [`Def::quiet`]).
    quiet_when_false: bool,
    /// Those events' exits, by instant: `den` is brought down lazily,
    /// before it is read ([`Def::let_leave`]).
    leaving: VecDeque<(i64, u32)>,
}

/// Whether a condition reads something a transition can change.
pub(super) fn is_dynamic(cond: &Cond) -> bool {
    cond.reads_any(|f| matches!(f, Field::Grade | Field::Reopened | Field::Repeats { .. }))
}

impl Def {
    pub fn new(policy: &Policy, t: &Threshold, kind: usize) -> Def {
        let measure = match &t.metric {
            ThresholdMetric::Count(cond) => Measure::Count {
                dynamic: cond.as_ref().is_some_and(is_dynamic),
                cond: cond.clone(),
            },
            ThresholdMetric::Builtin(Metric::Count) => Measure::Count {
                cond: None,
                dynamic: false,
            },
            ThresholdMetric::Builtin(Metric::MeanResolutionHours) => Measure::Mean,
            ThresholdMetric::Builtin(m) => {
                Measure::Share(crate::assess::share_index(*m).unwrap_or(0))
            }
        };
        Def {
            name: Arc::clone(&t.name),
            display: t.display.clone(),
            by: t.by,
            by_name: crate::assess::group_name(policy, t.by).into(),
            kind,
            window: i64::try_from(t.window)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000),
            lane: 0,
            op: t.op,
            bound: t.bound,
            alert: t.alert,
            quiet_when_false: matches!(
                measure,
                Measure::Count {
                    cond: Some(_),
                    dynamic: false
                }
            ) && t.by != GroupBy::Department,
            measure,
            groups: Vec::new(),
            leaving: VecDeque::new(),
        }
    }

    /// Whether an event whose COND holds as `cond_holds` adds to `den`
    /// only, for good: its exit moves no value, so unless the event leaves
    /// another window at the same end, it waits in [`Def::leaving`]
    /// instead of the monitor's queue.
    pub fn quiet(&self, cond_holds: bool) -> bool {
        self.quiet_when_false && !cond_holds
    }

    /// Remembers that a quiet event of group `g` leaves at `end`.
    pub fn will_leave(&mut self, end: i64, g: u32) {
        // Events mostly come in report order: a push at the back.
        if self.leaving.back().is_none_or(|&(e, _)| e <= end) {
            self.leaving.push_back((end, g));
        } else {
            let at = self.leaving.partition_point(|&(e, _)| e <= end);
            self.leaving.insert(at, (end, g));
        }
    }

    /// Takes the quiet events that left by `upto` out of their groups'
    /// `den`; returns when the next one leaves.
    pub fn let_leave(&mut self, upto: i64) -> Option<i64> {
        while let Some(&(end, g)) = self.leaving.front() {
            if end > upto {
                return Some(end);
            }
            self.leaving.pop_front();
            self.group_mut(g).den -= 1;
        }
        None
    }

    /// What one event contributes: `(num, den)`, read from its facts as
    /// the monitor keeps them: a share reads its own bits, not all the
    /// facts unpacked.
    pub fn part(&self, facts: Packed, cond_holds: bool) -> (i64, i64) {
        match &self.measure {
            Measure::Count { .. } => (i64::from(cond_holds), 1),
            Measure::Share(i) => match facts.share(*i) {
                Some(hit) => (i64::from(hit), 1),
                None => (0, 0),
            },
            Measure::Mean => facts.resolution_secs().map_or((0, 0), |s| (s, 1)),
        }
    }

    /// A group's value; `None` for a share or mean no event counts for.
    pub fn value(&self, g: &GroupAcc) -> Option<f64> {
        match self.measure {
            Measure::Count { .. } => Some(g.num as f64),
            Measure::Share(_) => (g.den > 0).then(|| g.num as f64 / g.den as f64),
            Measure::Mean => (g.den > 0).then(|| g.num as f64 / g.den as f64 / 3600.0),
        }
    }

    /// Whether a group's value is over the bound (a group without a value
    /// never is).
    pub fn holds(&self, g: &GroupAcc) -> bool {
        self.value(g)
            .is_some_and(|v| compare(Val::Num(v), self.op, Val::Num(self.bound)))
    }

    /// The group's sums, grown on first use.
    pub fn group_mut(&mut self, g: u32) -> &mut GroupAcc {
        let i = g as usize;
        if self.groups.len() <= i {
            self.groups.resize(i + 1, GroupAcc::default());
        }
        &mut self.groups[i]
    }

    /// Who is alerted for `group`, rendered: `street S01` (the level and,
    /// where the group determines it, its unit there: the unit containing
    /// a group of a lower level, or the only unit the tree has at that
    /// level), or `department command`.
    pub fn notify(&self, policy: &Policy, tree: &Tree, group: &str) -> String {
        match self.alert {
            Target::Department(d) => format!(
                "department {}",
                policy.departments.get(d as usize).map_or("?", |d| &*d.name)
            ),
            Target::Level(l) => {
                let level = policy.levels.get(l as usize).map_or("?", |n| &**n);
                let unit = match self.by {
                    // A group the tree does not place (`unknown`) is
                    // still inside the tree's only unit of that level.
                    GroupBy::Level(k) if k <= l => tree
                        .containing(policy, k, group, l)
                        .or_else(|| tree.only(l)),
                    _ => tree.only(l),
                };
                match unit {
                    Some(u) => format!("{level} {u}"),
                    None => level.to_string(),
                }
            }
        }
    }
}

/// The area tree seen from its units rather than its grids, built once per
/// monitor: an alert names the unit above its group, and a scan of every
/// grid per alert cost more than the rest of the monitor on a city-sized
/// tree.
#[derive(Debug, Default)]
pub(super) struct Tree {
    /// Per level, unit → the units of one grid inside it (all of its
    /// grids share the units above it).
    up: Vec<FxHashMap<Name, Arc<Units>>>,
    /// Per level: the one unit the tree has there, if it has exactly one.
    only: Vec<Option<Name>>,
}

impl Tree {
    pub fn new(policy: &Policy) -> Tree {
        let levels = policy.levels.len().min(8);
        let mut up: Vec<FxHashMap<Name, Arc<Units>>> = vec![FxHashMap::default(); levels];
        let mut only: Vec<Option<Option<Name>>> = vec![None; levels];
        for units in policy.areas.grids.values() {
            for (k, seen) in only.iter_mut().enumerate() {
                let unit = units.get(k).and_then(|u| u.as_ref());
                if let (Some(u), Some(map)) = (unit, up.get_mut(k))
                    && k > 0
                {
                    map.entry(Name::clone(u))
                        .or_insert_with(|| Arc::clone(units));
                }
                *seen = match seen.take() {
                    None => Some(unit.cloned()),
                    Some(Some(f)) if unit.is_some_and(|u| *u == f) => Some(Some(f)),
                    Some(_) => Some(None),
                };
            }
        }
        Tree {
            up,
            only: only.into_iter().map(Option::flatten).collect(),
        }
    }

    /// The unit at level `l` containing unit `group` of level `k`.
    fn containing(&self, policy: &Policy, k: u8, group: &str, l: u8) -> Option<String> {
        if k == l {
            return Some(group.to_string());
        }
        let units = if k == 0 {
            policy.areas.grids.get(group)
        } else {
            self.up.get(k as usize).and_then(|m| m.get(group))
        };
        units
            .and_then(|u| u.get(l as usize))
            .and_then(|u| u.as_deref())
            .map(str::to_string)
    }

    /// The one unit the tree has at level `l`, if it has exactly one.
    fn only(&self, l: u8) -> Option<String> {
        self.only
            .get(l as usize)
            .and_then(|u| u.as_deref())
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    /// A threshold's two bits never touch another's, past the inline
    /// word too (a policy may have any number of thresholds).
    #[test]
    fn conds_and_windows_of_many_thresholds_stay_apart() {
        let mut b = Bits::default();
        let on = |t: usize| (t.is_multiple_of(3), t.is_multiple_of(5));
        for t in 0..100 {
            let (c, l) = on(t);
            b.set_cond(t, c);
            b.set_live(t, l);
        }
        for t in 0..100 {
            assert_eq!((b.cond(t), b.live(t)), on(t), "threshold {t}");
        }
        b.set_live(99, false);
        b.set_cond(0, false);
        assert!(!b.live(99) && !b.cond(0));
        assert!(b.cond(99) && b.live(0), "the other bit of each is kept");
    }
}
