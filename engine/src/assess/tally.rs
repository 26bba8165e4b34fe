//! [`Tally`]: the built-in metrics of many cases, added up per group.
//!
//! Each group keeps a fixed set of integer counters ([`Acc`]), so memory is
//! bounded by the number of groups (departments, units, categories), not by
//! the number of events, and two tallies merge by adding counters — the
//! result does not depend on the order cases were added in.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::lifecycle::{Case, Facts};
use crate::model::{Metric, Policy};

use super::report::{self, Report};

/// The share metrics, in the order of [`Acc::shares`].
pub(crate) const SHARES: [Metric; 9] = [
    Metric::OnTimeResponse,
    Metric::OnTimeResolution,
    Metric::OverdueRate,
    Metric::Satisfaction,
    Metric::FirstContact,
    Metric::EscalationRate,
    Metric::ReopenRate,
    Metric::ActiveDiscovery,
    Metric::SourceResolution,
];

/// The position of a share metric in [`SHARES`].
pub(crate) fn share_index(m: Metric) -> Option<usize> {
    SHARES.iter().position(|&s| s == m)
}

/// The group of a level's unit when the area tree does not place the grid.
pub const UNKNOWN_UNIT: &str = "unknown";

/// Counters of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Acc {
    /// Events.
    pub count: u64,
    /// Per share metric: cases where it holds, cases that count for it.
    pub shares: [[u64; 2]; 9],
    /// Sum of whole seconds from report to resolution, over resolved cases.
    pub resolution_secs: i64,
    /// Resolved cases.
    pub resolved: u64,
}

/// One case's part in a share: `None` when it does not count.
pub(crate) fn share_parts(f: &Facts) -> [Option<bool>; 9] {
    [
        f.on_time_response,
        f.on_time_resolution,
        Some(f.overdue),
        f.satisfied,
        f.first_contact,
        Some(f.escalated),
        Some(f.reopened),
        Some(f.active_discovery),
        f.source_resolution,
    ]
}

/// Whole seconds from report to resolution. `Facts` carries hours computed
/// from whole seconds, so rounding recovers them exactly and sums stay
/// integers (no drift, no dependence on the order of addition).
pub(crate) fn resolution_secs(f: &Facts) -> Option<i64> {
    f.resolution_hours
        .map(|h| crate::round::round(h * 3600.0) as i64)
}

impl Acc {
    /// One case's counters.
    pub(crate) fn of(f: &Facts) -> Acc {
        let mut a = Acc {
            count: 1,
            ..Acc::default()
        };
        for (slot, part) in a.shares.iter_mut().zip(share_parts(f)) {
            if let Some(hit) = part {
                slot[0] = u64::from(hit);
                slot[1] = 1;
            }
        }
        if let Some(s) = resolution_secs(f) {
            a.resolution_secs = s;
            a.resolved = 1;
        }
        a
    }

    pub(crate) fn merge(&mut self, o: &Acc) {
        self.count += o.count;
        for (a, b) in self.shares.iter_mut().zip(o.shares.iter()) {
            a[0] += b[0];
            a[1] += b[1];
        }
        self.resolution_secs = self.resolution_secs.saturating_add(o.resolution_secs);
        self.resolved += o.resolved;
    }

    /// The value of a metric: `None` for a share or mean no case counts for.
    pub(crate) fn value(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::Count => Some(self.count as f64),
            Metric::MeanResolutionHours => (self.resolved > 0)
                .then(|| self.resolution_secs as f64 / self.resolved as f64 / 3600.0),
            share => {
                let i = share_index(share)?;
                let [hits, counted] = self.shares[i];
                (counted > 0).then(|| hits as f64 / counted as f64)
            }
        }
    }
}

/// The counters of one kind of group, by interned group id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups {
    ids: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    accs: Vec<Acc>,
    /// Group index by the caller's number for a key ([`Groups::add`]),
    /// `u32::MAX` where not seen yet: hashing the name costs more than the
    /// rest of adding a case.
    numbered: Vec<u32>,
}

impl Groups {
    /// The index of a group, added empty on first sight.
    fn index(&mut self, key: &str) -> usize {
        if let Some(&i) = self.ids.get(key) {
            return i as usize;
        }
        let name: Arc<str> = key.into();
        self.ids.insert(
            Arc::clone(&name),
            u32::try_from(self.names.len()).unwrap_or(u32::MAX),
        );
        self.names.push(name);
        self.accs.push(Acc::default());
        self.names.len() - 1
    }

    /// Adds one case's counters ([`Acc::of`]) to group `key`, which the
    /// caller may number (the same number for the same key every time).
    fn add(&mut self, number: Option<u32>, key: &str, part: &Acc) {
        let i = match number.map(|n| n as usize) {
            Some(n) => match self.numbered.get(n) {
                Some(&i) if i != u32::MAX => i as usize,
                _ => {
                    let i = self.index(key);
                    if self.numbered.len() <= n {
                        self.numbered.resize(n + 1, u32::MAX);
                    }
                    if let Some(slot) = self.numbered.get_mut(n) {
                        *slot = u32::try_from(i).unwrap_or(u32::MAX);
                    }
                    i
                }
            },
            None => self.index(key),
        };
        if let Some(a) = self.accs.get_mut(i) {
            a.merge(part);
        }
    }

    fn merge(&mut self, other: &Groups) {
        for (name, acc) in other.iter() {
            let i = self.index(name);
            if let Some(a) = self.accs.get_mut(i) {
                a.merge(acc);
            }
        }
    }

    /// Each group with its counters.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Acc)> {
        self.names.iter().zip(self.accs.iter())
    }
}

/// A caller's numbers for a case's groups ([`Tally::add_in_row`]): each
/// the same for the same name every time, `None` where it has none.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Numbers {
    /// For its lead department.
    pub lead: Option<u32>,
    /// For its category as reported.
    pub category: Option<u32>,
}

/// The built-in metrics of many cases, per department, per unit of each
/// level, per category and district-wide; see the module documentation.
///
/// A case is counted under its lead department at the time its facts were
/// taken (after a reassignment, the new lead), under the units of its
/// event's grid at every level (the grid itself at the lowest level;
/// [`UNKNOWN_UNIT`] where the area tree does not place it), and under its
/// category as reported (an unknown category under its own name).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub(crate) all: Acc,
    pub(crate) departments: Groups,
    /// Per level, its units' counters, less what waits in `fresh`.
    pub(crate) levels: Vec<Groups>,
    pub(crate) categories: Groups,
    /// Grid id → its row in `rows` and `fresh`.
    /// Keys in the table, as [`crate::model::AreaIndex::grids`].
    grids: FxHashMap<compact_str::CompactString, u32>,
    /// Per grid seen: its group's index at each level.
    rows: Vec<SmallVec<[u32; 8]>>,
    /// Per grid seen: cases added since the last [`Tally::fold`], not yet
    /// in `levels`. Adding a case touches one counter for all its levels;
    /// they are spread up the tree only when read.
    fresh: Vec<Acc>,
}

impl Tally {
    /// An empty tally for the groups of `policy`.
    pub fn new(policy: &Policy) -> Tally {
        Tally {
            levels: vec![Groups::default(); policy.levels.len()],
            ..Tally::default()
        }
    }

    /// Adds one event's facts (from [`Case::facts`]) under its lead
    /// department, its unit at each level, and its category.
    pub fn add(&mut self, policy: &Policy, case: &Case, facts: &Facts) {
        let row = self.row(policy, &case.event.grid);
        self.add_in_row(case, facts, row, Numbers::default());
    }

    /// [`Tally::add`] for a caller that keeps the row of the case's grid
    /// ([`Tally::row`]): a city has thousands of grids, and at a year's
    /// volume looking the name up again is a cache miss per case.
    /// `numbers`: the caller's numbers for the case's lead and category,
    /// where it keeps them.
    pub(crate) fn add_in_row(&mut self, case: &Case, facts: &Facts, row: usize, numbers: Numbers) {
        // Worked out once, added four times: adding counters is cheaper
        // than reading the facts again for each group.
        let part = Acc::of(facts);
        self.all.merge(&part);
        self.departments.add(numbers.lead, &case.lead, &part);
        self.categories
            .add(numbers.category, &case.event.category, &part);
        if let Some(acc) = self.fresh.get_mut(row) {
            acc.merge(&part);
        }
    }

    /// Asks the processor for row `row`'s counters (three cache lines per
    /// grid, tens of thousands of grids), for a case about to be added.
    pub(crate) fn prefetch_row(&self, row: usize) {
        if let Some(acc) = self.fresh.get(row) {
            crate::prefetch::value(acc);
        }
    }

    /// The row of a grid, made on first sight with its unit at each level.
    pub(crate) fn row(&mut self, policy: &Policy, grid: &str) -> usize {
        if let Some(&r) = self.grids.get(grid) {
            return r as usize;
        }
        let units = policy.units_of(grid);
        let at: SmallVec<[u32; 8]> = self
            .levels
            .iter_mut()
            .enumerate()
            .map(|(level, groups)| {
                let unit = if level == 0 {
                    Some(grid)
                } else {
                    units.and_then(|u| u.get(level)).and_then(|u| u.as_deref())
                };
                u32::try_from(groups.index(unit.unwrap_or(UNKNOWN_UNIT))).unwrap_or(u32::MAX)
            })
            .collect();
        let r = self.rows.len();
        self.rows.push(at);
        self.fresh.push(Acc::default());
        self.grids
            .insert(grid.into(), u32::try_from(r).unwrap_or(u32::MAX));
        r
    }

    /// Spreads the fresh counters of every grid to its units at each level.
    pub(crate) fn fold(&mut self) {
        for (row, fresh) in self.rows.iter().zip(self.fresh.iter_mut()) {
            if fresh.count == 0 {
                continue;
            }
            for (groups, &i) in self.levels.iter_mut().zip(row.iter()) {
                if let Some(a) = groups.accs.get_mut(i as usize) {
                    a.merge(fresh);
                }
            }
            *fresh = Acc::default();
        }
    }

    /// The tally with every fresh counter folded in.
    fn folded(&self) -> std::borrow::Cow<'_, Tally> {
        if self.fresh.iter().all(|f| f.count == 0) {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut t = self.clone();
        t.fold();
        std::borrow::Cow::Owned(t)
    }

    /// Adds another tally's counts to this one (a tally of other cases).
    pub fn merge(&mut self, other: &Tally) {
        self.fold();
        let other = other.folded();
        self.all.merge(&other.all);
        self.departments.merge(&other.departments);
        self.categories.merge(&other.categories);
        if self.levels.len() < other.levels.len() {
            self.levels.resize(other.levels.len(), Groups::default());
            // Rows are per level: rebuilt on next sight.
            self.grids.clear();
            self.rows.clear();
            self.fresh.clear();
        }
        for (a, b) in self.levels.iter_mut().zip(other.levels.iter()) {
            a.merge(b);
        }
    }

    /// Events added so far.
    pub fn count(&self) -> u64 {
        self.all.count
    }

    /// Every metric per group, the scores of the `assess` blocks, and the
    /// targets.
    pub fn report(&self, policy: &Policy) -> Report {
        report::build(&self.folded(), policy)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use crate::decide::{Context, decide};
    use crate::windows::NoHistory;

    fn policy() -> Policy {
        let text = r#"
policy "t" { version "1" timezone "Asia/Shanghai" }
levels grid < street
grades blue < red
grade blue { level grid respond 2h resolve 24h }
grade red  { level street respond 30m resolve 72h }
department urban "城管" { level street }
department grid_team "网格" { level grid }
category a { lead urban  grade red when attr.n > 1  grade blue }
category b { lead grid_team  grade blue }
fallback { lead urban grade blue }
"#;
        crate::compile_texts(&[("p.whistle", text)]).expect("compiles")
    }

    fn case(p: &Policy, i: usize, category: &str) -> Case {
        let ev = crate::event::parse_event(&format!(
            r#"{{"id":"E{i}","category":"{category}","grid":"G{}","reported_at":"2026-06-01T09:0{}:00+08:00","attr":{{"n":{}}}}}"#,
            i % 3,
            i % 10,
            i % 4
        ))
        .expect("an event");
        let d = decide(p, &ev, &Context::default());
        Case::open(p, ev, &d, ev_time(), &NoHistory).0
    }

    fn ev_time() -> jiff::Timestamp {
        "2026-06-01T10:00:00+08:00".parse().expect("a time")
    }

    /// A caller's numbers for a case's lead and category find the same
    /// groups as their names: the report is the same with or without them,
    /// and with them for some cases only.
    #[test]
    fn numbered_groups_are_the_named_ones() {
        let p = policy();
        let categories = ["a", "b", "zzz"];
        let cases: Vec<Case> = (0..24)
            .map(|i| case(&p, i, categories[i % categories.len()]))
            .collect();
        let at = ev_time();
        let mut by_name = Tally::new(&p);
        let mut numbered = Tally::new(&p);
        let mut some = Tally::new(&p);
        for (i, c) in cases.iter().enumerate() {
            let facts = c.facts(at);
            by_name.add(&p, c, &facts);
            let numbers = Numbers {
                lead: p.dept_id(&c.lead).map(u32::from),
                category: Some(u32::try_from(i % categories.len()).expect("small")),
            };
            let row = numbered.row(&p, &c.event.grid);
            numbered.add_in_row(c, &facts, row, numbers);
            let row = some.row(&p, &c.event.grid);
            some.add_in_row(
                c,
                &facts,
                row,
                if i % 2 == 0 {
                    numbers
                } else {
                    Numbers::default()
                },
            );
        }
        let want = by_name.report(&p);
        assert_eq!(want.groups.len(), numbered.report(&p).groups.len());
        assert_eq!(numbered.report(&p), want);
        assert_eq!(some.report(&p), want);
        assert_eq!(numbered.departments.iter().count(), 2);
        assert_eq!(numbered.categories.iter().count(), 3);
    }
}
