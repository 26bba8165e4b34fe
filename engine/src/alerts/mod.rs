//! Threshold warnings (LANGUAGE.md section 3.5): each `threshold` block's
//! metric, per group, over a sliding window, and an [`Alert`] when a group
//! crosses its bound (raised) and when it goes back (cleared).
//!
//! The [`Monitor`] is incremental and pure: the caller tells it about
//! every case as it changes ([`Monitor::observe`]) and lets its clock run
//! ([`Monitor::advance`], at [`Monitor::next_due`]); the server and the
//! simulator run this very code.
//!
//! # Semantics
//!
//! - **Window.** At instant `now`, a threshold with window `W` counts the
//!   events the monitor has seen whose `reported_at` lies in
//!   `(now − W, now]`, or later than `now` (an event reported "in the
//!   future" counts from when it is seen). An event leaves the window at
//!   exactly `reported_at + W`. An event first seen when it is already
//!   outside every window is not counted at all.
//! - **Values.** `count(COND)` (and `count`) is the number of events in the
//!   window for which COND holds; a share metric is the share over the
//!   events that count for it (LANGUAGE.md section 6, from each event's
//!   [`Facts`](crate::lifecycle::Facts)); `mean_resolution_hours` the mean
//!   over resolved events. A share or mean with no event counting for it
//!   has no value and is never over the bound.
//! - **Groups.** An event counts under its lead department (its current
//!   lead: a reassignment moves it), its category as reported, or the
//!   unit of its grid at a level ([`crate::assess::UNKNOWN_UNIT`] where
//!   the area tree does not place it).
//! - **When values are re-evaluated.** Only at these instants, each
//!   exactly:
//!   1. on [`Monitor::observe`] at `now`: the case's facts at `now` replace
//!      what the monitor knew of it (and COND is evaluated again if it
//!      reads `grade`, `reopened` or `repeats`; otherwise once, when the
//!      event is first seen);
//!   2. at `reported_at + W`, when the event leaves a window;
//!   3. at `respond_by + 1 ns` and `resolve_by + 1 ns` of an event not yet
//!      accepted / resolved, when a threshold reads deadlines
//!      (`on_time_response`, `on_time_resolution`, `overdue_rate`): a
//!      deadline passes the first instant after it, as in `Facts` (a case
//!      accepted at its very deadline is on time).
//!
//!   Everything due at one instant is applied first, then each group whose
//!   sums changed is compared with the bound once, so a reassignment (out
//!   of one group, into another) or simultaneous exits never raise and
//!   clear in the same instant. Queued instants up to and including `now`
//!   are processed in time order before what `observe` brings at `now`,
//!   so the alerts do not depend on how often the caller advanced the
//!   clock (an event seen at the very instant another leaves is counted
//!   after the exit: the alert may clear and raise again at that instant).
//! - **Alerts.** A group's alert is raised when its value holds against
//!   the bound and it was not raised; cleared when it no longer holds. Each
//!   alert's `at` is the instant its value changed. Alerts of one instant
//!   come in threshold order, then in order of the groups' first
//!   appearance.
//! - **Clock.** The monitor's clock never goes back: an `observe` or
//!   `advance` at an instant earlier than one already seen is taken at the
//!   latest instant seen.
//! - **`repeats` in COND** counts the events the monitor has seen (not the
//!   event itself), by report time, as in deciding.

mod events;
mod group;
mod ids;
mod lane;
mod packed;
mod window;

use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};
use smallvec::SmallVec;

use crate::assess::UNKNOWN_UNIT;
use crate::cond::{Cond, Field, RepeatsBy};
use crate::lifecycle::{Case, Name};
use crate::model::{GroupBy, LevelId, Policy, Units};
use crate::windows::RepeatIndex;
use group::{Def, Measure, Tree};
use packed::Packed;
use window::{Table, What};

fn ser_arc<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn ser_opt_arc<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&**v),
        None => s.serialize_none(),
    }
}

/// A threshold alert raised or cleared for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The threshold's name.
    #[serde(serialize_with = "ser_arc")]
    pub threshold: Arc<str>,
    /// Its display name.
    #[serde(
        serialize_with = "ser_opt_arc",
        skip_serializing_if = "Option::is_none"
    )]
    pub display: Option<Arc<str>>,
    /// What it groups by: `department`, `category` or a level.
    #[serde(serialize_with = "ser_arc")]
    pub by: Arc<str>,
    /// The group: a unit id, a department's or a category's name.
    pub group: String,
    /// The group's display name, where the policy gives one (a
    /// department's or a category's, or an area's in `areas.yaml`).
    #[serde(
        serialize_with = "ser_opt_arc",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Arc<str>>,
    /// `true`: raised; `false`: cleared.
    pub raised: bool,
    /// The instant the value crossed.
    pub at: Timestamp,
    /// The group's value then (0 for a share left without events).
    pub value: f64,
    /// The bound.
    pub bound: f64,
    /// Events the value was taken over (those counting for a share).
    pub counted: u64,
    /// Who is alerted, rendered (`street S01`, `department command`).
    pub notify: String,
}

/// Where the monitor keeps one event, remembered between calls of
/// [`Monitor::observe_with`] for that one event. Only ever a shortcut: a
/// hint that went stale (the event left every window, and its place may
/// have been reused) is noticed by the place's generation, and the event
/// is looked up by id.
///
/// A hint also carries what the monitor last saw of the event (its facts,
/// deadlines and lead), so that a change no threshold measures is taken
/// in without reading the event's slot at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    place: Option<(u32, u32)>,
    /// The caller's number for the event's grid (`u32::MAX`: none).
    grid: u32,
    /// The caller's number for the event's category (`u32::MAX`: none).
    category: u32,
    seen: Seen,
}

/// What the monitor last saw of one event: as the caller's [`Hint`]
/// holds it, the state a change is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    facts: Packed,
    /// Nanoseconds.
    respond_by: i64,
    resolve_by: i64,
    /// Its group id by department (`u32::MAX`: no threshold groups so).
    lead: u32,
}

impl Default for Hint {
    fn default() -> Hint {
        Hint {
            place: None,
            grid: u32::MAX,
            category: u32::MAX,
            seen: Seen::default(),
        }
    }
}

impl Hint {
    /// A hint for a new event whose grid the caller numbers (`grid`, the
    /// same number for the same grid every time): the monitor finds the
    /// grid's groups by that number instead of hashing its name.
    pub fn on_grid(grid: Option<u32>) -> Hint {
        Hint {
            grid: grid.unwrap_or(u32::MAX),
            ..Hint::default()
        }
    }

    /// The hint, for an event whose category the caller numbers as well
    /// (the same number for the same category name every time).
    pub fn in_category(self, category: Option<u32>) -> Hint {
        Hint {
            category: category.unwrap_or(u32::MAX),
            ..self
        }
    }

    /// The place the hint points at, whatever its generation (for tests
    /// and diagnostics: two events can be told to have shared one).
    pub fn place(&self) -> Option<u32> {
        self.place.map(|(i, _)| i)
    }
}

/// Group names of one kind, interned, each with its display name (looked
/// up once, when the group is first seen: a year raises tens of thousands
/// of alerts).
#[derive(Debug, Clone, Default)]
struct Names {
    ids: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    display: Vec<Option<Arc<str>>>,
    /// Group id by a number the name comes with (a department's id in the
    /// policy, the caller's number for a category), `u32::MAX` where not
    /// seen yet: hashing the name costs more than the rest of taking an
    /// event in.
    numbered: Vec<u32>,
    /// Per group, the case's name it was first seen under, where it came
    /// as one: a case whose name is that very one is in the group, told
    /// without reading either text.
    named: Vec<Option<Name>>,
}

impl Names {
    fn intern(&mut self, policy: &Policy, by: GroupBy, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = s.into();
        self.names.push(Arc::clone(&name));
        self.display
            .push(crate::assess::display(policy, by, s).map(Arc::from));
        self.named.push(None);
        self.ids.insert(name, i);
        i
    }

    /// [`Names::intern`] for a name that comes with a number (the same
    /// number for the same name every time) and, perhaps, as a case's name.
    fn intern_numbered(
        &mut self,
        policy: &Policy,
        by: GroupBy,
        number: Option<usize>,
        s: &str,
        name: Option<&Name>,
    ) -> u32 {
        if let Some(&i) = number.and_then(|n| self.numbered.get(n))
            && i != u32::MAX
        {
            return i;
        }
        let i = self.intern(policy, by, s);
        if let Some(n) = number {
            if self.numbered.len() <= n {
                self.numbered.resize(n + 1, u32::MAX);
            }
            if let Some(slot) = self.numbered.get_mut(n) {
                *slot = i;
            }
        }
        if let Some(slot) = self.named.get_mut(i as usize)
            && slot.is_none()
        {
            *slot = name.cloned();
        }
        i
    }

    /// Whether group `i` is `name`'s: by pointer when it was first seen
    /// under that very name, else by text.
    fn is(&self, i: u32, name: &Name) -> bool {
        match self.named.get(i as usize) {
            Some(Some(n)) if n.ptr_eq(name) => true,
            _ => self.name(i) == name.as_str(),
        }
    }

    fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("?", |n| n)
    }

    fn display(&self, i: u32) -> Option<Arc<str>> {
        self.display.get(i as usize).cloned().flatten()
    }
}

/// Nanoseconds since the epoch, saturated to i64 (years 1677–2262).
fn ns(t: Timestamp) -> i64 {
    let n = t.as_nanosecond();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

fn instant(n: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(n)).unwrap_or(Timestamp::MAX)
}

fn key_of<'a>(by: GroupBy, case: &'a Case, units: Option<&'a Units>) -> &'a str {
    match by {
        GroupBy::Department => &case.lead,
        GroupBy::Category => &case.event.category,
        GroupBy::Level(0) => &case.event.grid,
        GroupBy::Level(l) => units
            .and_then(|u| u.get(l as usize))
            .and_then(|u| u.as_deref())
            .unwrap_or(UNKNOWN_UNIT),
    }
}

/// The threshold monitor; see the module documentation.
#[derive(Debug, Clone)]
pub struct Monitor {
    hash: Arc<str>,
    defs: Vec<Def>,
    /// The kinds of group the thresholds use; a slot's keys follow this order.
    kinds: Vec<GroupBy>,
    names: Vec<Names>,
    /// The kind index of `department`, whose key a reassignment can change.
    dept_kind: Option<usize>,
    table: Table,
    /// The distinct window lengths (ns); a window's exit lane is its index.
    windows: Vec<i64>,
    /// Nanoseconds; the latest instant seen.
    clock: i64,
    /// Some threshold reads deadlines.
    deadlines: bool,
    /// Report times of the events seen, when a COND reads `repeats`.
    repeats: Option<RepeatIndex>,
    dirty: Vec<(u32, u32)>,
    /// Per grid: its ids for the kinds grouped by level (the others
    /// `u32::MAX`), filled on first sight.
    /// Keys in the table, as [`crate::model::AreaIndex::grids`].
    by_grid: FxHashMap<compact_str::CompactString, SmallVec<[u32; 4]>>,
    /// The same by the caller's numbers for grids ([`Hint::on_grid`]): a
    /// city has thousands of grids, and hashing the name is a cache miss.
    by_grid_number: Vec<Option<SmallVec<[u32; 4]>>>,
    /// Bit per threshold (the first 64) whose `count` COND reads nothing
    /// but `category` and `source`.
    by_kind_defs: u64,
    /// Per category, per source: those CONDs' results, filled on first sight.
    by_kind: FxHashMap<Box<str>, [Option<u64>; crate::event::Source::ALL.len()]>,
    /// The packed facts' bits some threshold reads, and whether one reads
    /// the resolution seconds: a change elsewhere moves no sum.
    reads: (u32, bool),
    /// Some `count(COND)` is evaluated again on every observe.
    dynamic: bool,
    /// The units above each unit, for naming whom an alert notifies.
    tree: Arc<Tree>,
    /// When the next quiet event leaves its group's count of events
    /// ([`group::Def::let_leave`]), if any waits.
    leave_at: i64,
}

impl Monitor {
    /// A monitor of `policy`'s thresholds, with no event seen yet.
    pub fn new(policy: &Policy) -> Monitor {
        let mut kinds: Vec<GroupBy> = Vec::new();
        let mut defs = Vec::with_capacity(policy.thresholds.len());
        let mut horizon = 0u64;
        let mut levels: Vec<LevelId> = Vec::new();
        for t in &policy.thresholds {
            let kind = match kinds.iter().position(|k| *k == t.by) {
                Some(k) => k,
                None => {
                    kinds.push(t.by);
                    kinds.len() - 1
                }
            };
            let def = Def::new(policy, t, kind);
            if let Measure::Count {
                cond: Some(cond), ..
            } = &def.measure
            {
                let mut fields = Vec::new();
                cond.fields(&mut fields);
                for f in fields {
                    if let Field::Repeats { window, by } = f {
                        horizon = horizon.max(window);
                        if let RepeatsBy::Level(l) = by
                            && !levels.contains(&l)
                        {
                            levels.push(l);
                        }
                    }
                }
            }
            defs.push(def);
        }
        let uses_repeats = defs.iter().any(
            |d| matches!(&d.measure, Measure::Count { cond: Some(c), .. } if reads_repeats(c)),
        );
        let by_kind_defs = by_kind_defs(&defs);
        let reads = reads(&defs);
        let dynamic = defs.iter().any(|d| {
            matches!(
                d.measure,
                Measure::Count {
                    cond: Some(_),
                    dynamic: true
                }
            )
        });
        let mut windows: Vec<i64> = defs.iter().map(|d| d.window).collect();
        windows.sort_unstable();
        windows.dedup();
        for def in &mut defs {
            def.lane = windows.partition_point(|&w| w < def.window);
        }
        Monitor {
            hash: Arc::clone(&policy.hash),
            deadlines: defs.iter().any(|d| d.measure.reads_deadlines()),
            dept_kind: kinds.iter().position(|k| *k == GroupBy::Department),
            names: vec![Names::default(); kinds.len()],
            kinds,
            defs,
            table: Table::new(windows.len()),
            windows,
            clock: i64::MIN,
            repeats: uses_repeats.then(|| RepeatIndex::new(horizon, levels)),
            dirty: Vec::new(),
            by_grid: FxHashMap::default(),
            by_grid_number: Vec::new(),
            by_kind_defs,
            by_kind: FxHashMap::default(),
            reads,
            dynamic,
            tree: Arc::new(Tree::new(policy)),
            leave_at: i64::MAX,
        }
    }

    /// The content hash of the policy the monitor was made for (a server
    /// builds a new monitor when the policy changes).
    pub fn policy_hash(&self) -> &str {
        &self.hash
    }

    /// Events held (those inside some window).
    pub fn events(&self) -> usize {
        self.table.len()
    }

    /// Whether the monitor holds event `id` (it observed it, and the event
    /// has not left every window since).
    pub fn knows(&self, id: &str) -> bool {
        self.table.find(id).is_some()
    }

    /// Instants queued (window exits and deadlines, stale ones included):
    /// with [`Monitor::events`], what the monitor's memory grows with.
    pub fn queued(&self) -> usize {
        self.table.queued()
    }

    /// Call when an event is opened or any of its transitions happens (the
    /// case after it), at `now`. Returns the alerts raised or cleared by
    /// that and by everything due before it (in time order).
    pub fn observe(&mut self, policy: &Policy, case: &Case, now: Timestamp) -> Vec<Alert> {
        self.observe_with(policy, case, now, &mut Hint::default())
    }

    /// A monitor for a caller that follows every event with a [`Hint`] of
    /// its own, from the first [`Monitor::observe_with`] of it, and never
    /// gives two events the same id: it keeps no index of ids, and takes in
    /// anew an event whose hint does not hold (one that had left every
    /// window). [`Monitor::observe`] must not be used with it: an event
    /// without its hint is taken for a new one. The simulator's runs are
    /// such callers.
    pub fn with_hints(policy: &Policy) -> Monitor {
        let mut m = Monitor::new(policy);
        m.table = std::mem::take(&mut m.table).without_ids();
        m
    }

    /// [`Monitor::observe`], for a caller that keeps one [`Hint`] per
    /// event it follows: the monitor then finds the event where it left it
    /// instead of looking its id up (at a city's volume, a cache miss in
    /// an index of megabytes per call).
    pub fn observe_with(
        &mut self,
        policy: &Policy,
        case: &Case,
        now: Timestamp,
        hint: &mut Hint,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        let (now_ns, now) = self.tick(now);
        self.run_until(policy, now_ns, &mut out);
        if self.defs.is_empty() {
            return out;
        }
        let (facts, pending) = case.facts_pending(now);
        let facts = Packed::pack(&facts, pending);
        let id = &case.event.id;
        // The generation, not the id, tells a hint still good: the case's
        // id lives on the heap, where at a city's volume reading it is a
        // cache miss per call.
        let found = match hint.place {
            Some((i, g)) if self.table.holds(i, g) => Some((i, Some(hint.seen))),
            _ => self.table.find(id).map(|i| (i, None)),
        };
        let at = match found {
            Some((i, seen)) => self
                .update(policy, i, case, facts, seen)
                .map(|seen| (i, seen)),
            None => self.insert(policy, case, facts, now_ns, hint),
        };
        hint.seen = at.map(|(_, seen)| seen).unwrap_or_default();
        hint.place = at.map(|(i, _)| (i, self.table.generation(i)));
        self.evaluate(policy, now_ns, &mut out);
        if self.deadlines {
            // Only deadlines go stale (a case met them); exits never do.
            self.table.drop_stale();
        }
        out
    }

    /// Asks the processor for what the next [`Monitor::observe_with`]
    /// with `hint` will read first (the event's place, far out of cache at
    /// a city's volume), so that the wait overlaps with the caller's work
    /// until then.
    pub fn prefetch(&self, hint: &Hint) {
        if let Some((i, _)) = hint.place {
            // The slot too: a change a threshold measures reads it.
            self.table.prefetch_place(i);
        }
    }

    /// Asks the processor for where the groups of the caller's grid number
    /// `grid` ([`Hint::on_grid`]) are found: a city has tens of thousands
    /// of grids. Call it early for an event about to be observed the
    /// first time, then [`Monitor::prefetch_groups`].
    pub fn prefetch_grid(&self, grid: Option<u32>) {
        if let Some(k) = self.grid_keys(grid) {
            crate::prefetch::value(k);
        }
    }

    /// Where grid number `grid`'s group ids are kept (filled or not).
    fn grid_keys(&self, grid: Option<u32>) -> Option<&Option<SmallVec<[u32; 4]>>> {
        grid.and_then(|n| self.by_grid_number.get(n as usize))
    }

    /// Asks the processor for the sums of the groups above grid number
    /// `grid` (best some time after [`Monitor::prefetch_grid`], which
    /// brings where they are).
    pub fn prefetch_groups(&self, grid: Option<u32>) {
        let Some(Some(keys)) = self.grid_keys(grid) else {
            return;
        };
        for def in &self.defs {
            if let Some(acc) = keys.get(def.kind).and_then(|&g| def.groups.get(g as usize)) {
                crate::prefetch::value(acc);
            }
        }
    }

    /// Advances the clock: windows slide, deadlines pass; returns alerts
    /// raised or cleared by that.
    pub fn advance(&mut self, policy: &Policy, now: Timestamp) -> Vec<Alert> {
        let mut out = Vec::new();
        let (now_ns, _) = self.tick(now);
        self.run_until(policy, now_ns, &mut out);
        out
    }

    /// The next instant at which [`Monitor::advance`] could change
    /// anything (for timers), if any.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.table.peek().map(|d| instant(d.at))
    }

    /// Nets the alerts of several observations made at one instant `at`:
    /// everything seen at one instant is taken in before a group is
    /// compared with its bound, so a group raised and cleared again among
    /// them (a batch with its overdue event first) alerts nothing, and a
    /// group that did change reports its value after all of them. Alerts
    /// at other instants (deadlines passing before `at`) are kept as they
    /// are.
    pub fn settle(&self, policy: &Policy, alerts: Vec<Alert>, at: Timestamp) -> Vec<Alert> {
        let mut out: Vec<Option<Alert>> = Vec::with_capacity(alerts.len());
        // Per group changed at `at`: its place in `out` and how often it flipped.
        let mut at_now: FxHashMap<(Arc<str>, String), (usize, u32)> = FxHashMap::default();
        for a in alerts {
            if a.at != at {
                out.push(Some(a));
                continue;
            }
            let key = (a.threshold.clone(), a.group.clone());
            match at_now.get_mut(&key) {
                Some((i, flips)) => {
                    *flips += 1;
                    if let Some(slot) = out.get_mut(*i) {
                        *slot = Some(a);
                    }
                }
                None => {
                    at_now.insert(key, (out.len(), 1));
                    out.push(Some(a));
                }
            }
        }
        for (i, flips) in at_now.values() {
            let Some(slot) = out.get_mut(*i) else {
                continue;
            };
            if flips % 2 == 0 {
                *slot = None;
            } else if let Some(a) = slot
                && let Some(mut now) = self.current(policy, &a.threshold, &a.group, at)
            {
                now.raised = a.raised;
                *a = now;
            }
        }
        out.into_iter().flatten().collect()
    }

    /// An alert for every group raised now, as of `at` (a server that
    /// rebuilt its monitor compares these with the alerts it had stored).
    pub fn raised(&self, policy: &Policy, at: Timestamp) -> Vec<Alert> {
        let mut out = Vec::new();
        for def in &self.defs {
            for (g, acc) in def.groups.iter().enumerate() {
                if acc.raised {
                    let g = u32::try_from(g).unwrap_or(u32::MAX);
                    out.push(self.alert(policy, def, g, true, at));
                }
            }
        }
        out
    }

    /// One group's state as an alert (`raised` as it stands, the value
    /// now), or `None` for a threshold or group the monitor does not know.
    pub fn current(
        &self,
        policy: &Policy,
        threshold: &str,
        group: &str,
        at: Timestamp,
    ) -> Option<Alert> {
        let def = self.defs.iter().find(|d| &*d.name == threshold)?;
        let g = *self.names.get(def.kind)?.ids.get(group)?;
        let acc = def.groups.get(g as usize)?;
        Some(self.alert(policy, def, g, acc.raised, at))
    }

    /// The monitor's clock moved to `now` (never back).
    fn tick(&mut self, now: Timestamp) -> (i64, Timestamp) {
        let n = ns(now);
        if n >= self.clock {
            self.clock = n;
            (n, now)
        } else {
            (self.clock, instant(self.clock))
        }
    }

    /// Processes every queued instant up to `now`, one instant at a time.
    fn run_until(&mut self, policy: &Policy, now: i64, out: &mut Vec<Alert>) {
        while let Some(first) = self.table.peek().filter(|d| d.at <= now) {
            let at = first.at;
            while let Some(d) = self.table.peek().filter(|d| d.at == at) {
                self.table.pop();
                // The queue's next item is another event's, read cold.
                if let Some(n) = self.table.peek() {
                    self.table.prefetch(&n);
                }
                if self.table.is_live(&d) {
                    match d.what() {
                        What::Exit => self.exit(d.slot, at),
                        What::Respond | What::Resolve => self.deadline(d.slot, d.what()),
                    }
                }
            }
            self.evaluate(policy, at, out);
            if self.deadlines {
                self.table.drop_stale();
            }
        }
        self.let_leave(now);
    }

    /// Compares every group whose sums changed with its bound, at `at`.
    fn evaluate(&mut self, policy: &Policy, at: i64, out: &mut Vec<Alert>) {
        if self.dirty.is_empty() {
            return;
        }
        // A group listed twice flips at most once (after its flip, its
        // state is what it holds), so only the few that flip are sorted
        // into threshold and group order.
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut flipped = 0;
        for k in 0..dirty.len() {
            let (t, g) = dirty[k];
            let Some(def) = self.defs.get_mut(t as usize) else {
                continue;
            };
            let acc = *def.group_mut(g);
            let now_holds = def.holds(&acc);
            if now_holds != acc.raised {
                def.group_mut(g).raised = now_holds;
                dirty.swap(flipped, k);
                flipped += 1;
            }
        }
        dirty.truncate(flipped);
        if flipped > 0 {
            // An alert says how many events its value was taken over.
            self.let_leave(at);
        }
        dirty.sort_unstable();
        for &(t, g) in &dirty {
            if let Some(def) = self.defs.get(t as usize) {
                let raised = def.groups.get(g as usize).is_some_and(|a| a.raised);
                out.push(self.alert(policy, def, g, raised, instant(at)));
            }
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn alert(&self, policy: &Policy, def: &Def, g: u32, raised: bool, at: Timestamp) -> Alert {
        let names = self.names.get(def.kind);
        let group = names.map_or("?", |n| n.name(g)).to_string();
        let acc = def.groups.get(g as usize).copied().unwrap_or_default();
        Alert {
            threshold: Arc::clone(&def.name),
            display: def.display.clone(),
            by: Arc::clone(&def.by_name),
            notify: def.notify(policy, &self.tree, &group),
            name: names.and_then(|n| n.display(g)),
            group,
            raised,
            at,
            value: def.value(&acc).unwrap_or(0.0),
            bound: def.bound,
            counted: u64::try_from(acc.den).unwrap_or(0),
        }
    }
}

fn by_kind_defs(defs: &[Def]) -> u64 {
    let mut mask = 0;
    for (t, def) in defs.iter().enumerate().take(64) {
        if let Measure::Count { cond: Some(c), .. } = &def.measure {
            let mut fields = Vec::new();
            c.fields(&mut fields);
            if fields
                .iter()
                .all(|f| matches!(f, Field::Category | Field::Source))
            {
                mask |= 1 << t;
            }
        }
    }
    mask
}

fn reads(defs: &[Def]) -> (u32, bool) {
    let mut mask = 0;
    let mut secs = false;
    for def in defs {
        match def.measure {
            Measure::Count { .. } => {}
            Measure::Share(i) => mask |= packed::Packed::share_bits(i),
            Measure::Mean => {
                mask |= packed::Packed::RESOLUTION;
                secs = true;
            }
        }
    }
    (mask, secs)
}

fn reads_repeats(c: &Cond) -> bool {
    c.reads_any(|f| matches!(f, Field::Repeats { .. }))
}
