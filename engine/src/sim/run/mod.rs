//! The discrete-event loop: one policy, one pass over the arrival stream,
//! on a simulated clock.
//!
//! Every event is decided by [`decide`] with a [`RepeatIndex`] of the
//! events before it (what [`crate::router::Router`] does), opened as a
//! [`Case`], and moved through its life only by [`apply`]: accepted when
//! its unit's duty desk gets to it, worked on when a handler of its pool is
//! free, resolved, rated, sometimes reopened. Escalation steps fire from
//! [`Action::Tick`] at [`Case::next_due`]; a raise before acceptance sends
//! the event to the higher level's desk, a raise while it waits in a queue
//! moves it to the higher level's queue, a whistle makes each summoned
//! department acknowledge after its delay. The simulator decides nothing
//! itself: grades, levels, deadlines, ladders and metrics are the engine's.
//!
//! Randomness: arrivals come from their own stream (see
//! [`super::arrivals`]); everything about handling one event is drawn from
//! a stream seeded by the run's seed and the event's index, in a fixed
//! order, so the draft and the baseline draw the same numbers for the same
//! event (common random numbers).
//!
//! Memory holds the open events (and, for the threshold windows and
//! `repeats`, a window of recent report times), never the whole period.

mod attrs;
mod life;
mod shift;

use jiff::Timestamp;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::arrivals::{Arrival, Skip, mix};
use super::capacity::{Pools, Waiting};
use super::dist::unit;
use super::setup::{Plan, Staffing};
use crate::alerts::{Alert, Hint, Monitor};
use crate::assess::{Numbers, Tally};
use crate::buckets::{BucketQueue, Timed};
use crate::decide::{Context, decide_in, decide_with_attr};
use crate::lifecycle::{Action, Case, Change, State, StepState, Transition, apply_into};
use crate::model::{DeptId, LevelId, Policy, Units};
use crate::prefetch::Spot;
use crate::radix::{RadixKey, signed};
use crate::sim::stats::Collect;
use crate::windows::RepeatIndex;

/// How far a run has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The simulated instant reached.
    pub at: Timestamp,
    /// Share of the period simulated, 0–1.
    pub fraction: f64,
    /// Events arrived so far.
    pub events: u64,
}

/// What happens next to an event (or a pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The duty desk accepts (valid while `arg` is the slot's accept ticket).
    Accept,
    /// A handler finishes.
    Finish,
    /// Settled on the spot.
    Spot,
    /// The reporter rates (`arg`: the rating).
    Feedback,
    /// The event comes back.
    Reopen,
    /// The ladder may have something due (valid while it is the slot's `tick_at`).
    Tick,
    /// A summoned department acknowledges (`arg`: its index in `summoned`).
    Ack,
    /// A pool's working hours begin (`slot`: the pool).
    Wake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: i64,
    seq: u64,
    slot: u32,
    generation: u32,
    kind: Kind,
    arg: u32,
}

/// `seq` is unique, so the key orders as `Ord` does: by instant, then
/// first queued first.
impl RadixKey for Due {
    fn key(&self) -> u128 {
        signed(self.at) << 64 | u128::from(self.seq)
    }
}

impl Timed for Due {
    fn second(&self) -> i64 {
        self.at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Accepting,
    Queued,
    Working,
    Spot,
    Settled,
}

/// One open event.
struct Slot {
    case: Option<Case>,
    generation: u32,
    rng: Pcg64Mcg,
    category: Option<u32>,
    phase: Phase,
    accept_ticket: u32,
    queue_ticket: u32,
    tick_at: i64,
    pool: u32,
    /// Working seconds of the handling under way.
    work: f64,
    /// When it joined its pool's queue (while queued), or when its
    /// handling began (while worked on).
    since: i64,
    /// It arrived in the period (not in the warm-up): its outcome is
    /// counted, as `whistle assess` counts the events reported in a period.
    of_period: bool,
    /// Level and lead it is counted under while open.
    counted: Option<(LevelId, DeptId)>,
    lead: DeptId,
    /// Its grid's index in the arrival plan (`u32::MAX`: a replayed event).
    grid: u32,
    /// Its grid's row in the tally when the event arrived (`u32::MAX`: the
    /// grid had none yet): a wake-up that may end the event's life asks for
    /// the row without a lookup of the grid, read cold at a city's volume.
    tally_row: u32,
    reopen_pending: bool,
    /// Where the threshold monitor keeps the event.
    hint: Hint,
    /// Its attributes, while the case holds none (see [`attrs`]).
    attr: attrs::SetAside,
    /// The steps buffer of the case the slot held last, for the next:
    /// warm where a fresh allocation would be a cold read.
    spare_steps: Vec<StepState>,
}

impl Slot {
    /// Its grid's row in the tally, if the grid had one when the event
    /// arrived (a grid's row never changes once made).
    fn known_row(&self) -> Option<usize> {
        (self.tally_row != u32::MAX).then_some(self.tally_row as usize)
    }
}

/// What a run found for one grid by its name, found by the grid's index in
/// the arrival plan; each part filled when first needed. One cache line
/// each: an arrival reads its grid's entry cold, once.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct GridIds<'a> {
    units: Option<Option<&'a Units>>,
    tally_row: Option<usize>,
    /// Where the names of the grid's first units lie: deciding an arrival
    /// clones the name of its unit, and a city's grid and community names
    /// are read cold.
    names: [Spot; NAMES_ASKED],
}

/// How many of a grid's units (from the grid up) an arrival asks for the
/// names of: the coarser levels' few names stay in cache by themselves.
const NAMES_ASKED: usize = 4;

impl<'a> GridIds<'a> {
    /// Grid `i`'s entry (`None` for a replayed event's `u32::MAX`).
    fn of<'g>(grids: &'g mut Vec<GridIds<'a>>, i: u32) -> Option<&'g mut GridIds<'a>> {
        let i = usize::try_from(i)
            .ok()
            .filter(|&i| i != u32::MAX as usize)?;
        if grids.len() <= i {
            grids.resize(i + 1, GridIds::default());
        }
        grids.get_mut(i)
    }
}

/// Which changes of a case the policy's thresholds can see. Telling the
/// monitor about a change none of them measures changes nothing, so the
/// run skips it (the monitor follows deadlines passing by itself).
#[derive(Debug, Clone, Copy, Default)]
struct Needs {
    any: bool,
    accept: bool,
    resolve: bool,
    feedback: bool,
    raise: bool,
}

impl Needs {
    fn of(policy: &Policy) -> Needs {
        use crate::model::{Metric as M, ThresholdMetric as T};
        let mut n = Needs {
            any: !policy.thresholds.is_empty(),
            ..Needs::default()
        };
        for t in &policy.thresholds {
            let T::Builtin(m) = t.metric else { continue };
            n.accept |= matches!(m, M::OnTimeResponse | M::OverdueRate);
            n.resolve |= matches!(
                m,
                M::OnTimeResolution
                    | M::OverdueRate
                    | M::FirstContact
                    | M::SourceResolution
                    | M::MeanResolutionHours
            );
            n.feedback |= m == M::Satisfaction;
            n.raise |= m == M::EscalationRate;
        }
        n
    }
}

/// One run of one policy over a plan.
pub struct Run<'a> {
    needs: Needs,
    /// Some condition reads attributes after deciding: cases keep theirs.
    attrs_later: bool,
    policy: &'a Policy,
    plan: &'a Plan,
    staff: &'a Staffing,
    history: RepeatIndex,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// What is due, in order; the clock only moves forward, in seconds,
    /// and most steps are due within days: a bucket queue fits.
    heap: BucketQueue<Due>,
    seq: u64,
    pools: Pools,
    /// Per staff kind: the working stretch its calendar is in.
    shifts: Vec<shift::Shift>,
    pub(crate) stats: Collect,
    pub(crate) tally: Tally,
    /// Per grid of the arrival plan, by index: what was looked up by its
    /// name once (a city has thousands of grids, and at a year's volume
    /// hashing the name again is a cache miss per event).
    grids: Vec<GridIds<'a>>,
    monitor: Monitor,
    /// Alerts of the current instant, netted when the clock moves on
    /// ([`Monitor::settle`], as the server nets a batch).
    alerts_now: Vec<Alert>,
    buf: Vec<Transition>,
    now: i64,
    /// Where the run starts: the warm-up's first instant, or `start`.
    run_from: i64,
    /// The period has begun: what happens is counted.
    counting: bool,
    start: i64,
    end: i64,
    days: Vec<i64>,
    next_day: usize,
    events: u64,
}

const WEEK: i64 = 7 * 86_400;
/// How many alert records a report keeps (the counts cover them all).
const FIRST_ALERTS: usize = 200;

impl<'a> Run<'a> {
    /// A run of `policy` (with the plan's area tree already applied) staffed by `staff`.
    pub fn new(policy: &'a Policy, plan: &'a Plan, staff: &'a Staffing) -> Run<'a> {
        let (start, end) = (plan.start.as_second(), plan.end.as_second());
        // Each day's backlog is sampled at its end (the next midnight):
        // sampled at its start, the first day would always read 0.
        let mut days = Vec::new();
        let mut d = plan.from;
        while d <= plan.to {
            let Ok(next) = d.tomorrow() else { break };
            match next.to_zoned_datetime(plan.tz.clone()) {
                Ok(z) => days.push(z.timestamp().as_second().min(end)),
                Err(_) => days.push(end),
            }
            d = next;
        }
        let weeks = usize::try_from((end - start + WEEK - 1) / WEEK)
            .unwrap_or(1)
            .max(1);
        let stats = fresh_stats(policy, weeks, days.len());
        let run_from = plan.run_from.as_second().min(start);
        Run {
            needs: Needs::of(policy),
            attrs_later: attrs::reads_attrs_later(policy),
            policy,
            plan,
            staff,
            history: RepeatIndex::for_policy(policy),
            slots: Vec::new(),
            free: Vec::new(),
            heap: BucketQueue::default(),
            seq: 0,
            pools: Pools::default(),
            shifts: vec![shift::Shift::default(); staff.kinds.len()],
            stats,
            tally: Tally::new(policy),
            grids: Vec::new(),
            // Every slot keeps its event's hint: no index of ids needed.
            monitor: Monitor::with_hints(policy),
            alerts_now: Vec::new(),
            buf: Vec::with_capacity(16),
            now: run_from,
            run_from,
            counting: run_from >= start,
            start,
            end,
            days,
            next_day: 0,
            events: 0,
        }
    }

    /// Runs the whole period; `progress` is called now and then.
    pub fn run(
        &mut self,
        arrivals: impl Iterator<Item = Result<Arrival, Skip>>,
        progress: &mut dyn FnMut(Progress),
    ) {
        let mut arrivals = arrivals.peekable();
        // The arrival whose `repeats` entries were asked for.
        let mut asked = u64::MAX;
        loop {
            let next_arrival = loop {
                match arrivals.peek() {
                    Some(Err(_)) => {
                        if let Some(Err(s)) = arrivals.next() {
                            self.skip(s);
                        }
                    }
                    Some(Ok(a)) => {
                        if a.index != asked {
                            // Wake-ups due before it run first: time for
                            // the entries to arrive.
                            asked = a.index;
                            let units = self.ask_units(a.grid, &a.event.grid);
                            self.history.prefetch(&a.event, units);
                        }
                        break Some(ceil_second(a.event.reported_at));
                    }
                    None => break None,
                }
            };
            let next_due = self.heap.peek().map(|d| d.at);
            let t = match (next_arrival, next_due) {
                (None, None) => break,
                (Some(a), Some(d)) => a.min(d),
                (Some(a), None) => a,
                (None, Some(d)) => d,
            };
            if t >= self.end {
                break;
            }
            self.clock_to(t);
            // At one instant, what was already due goes first (a handler
            // freed at 10:00 takes the queue before a 10:00 arrival joins it).
            if next_due == Some(t) {
                if let Some(d) = self.heap.pop() {
                    self.prefetch_next();
                    self.due(d);
                }
            } else if let Some(Ok(a)) = arrivals.next() {
                self.arrive(a);
                if self.events.is_multiple_of(1 << 16) {
                    progress(self.progress());
                }
            }
        }
        self.clock_to(self.end);
        self.flush_alerts();
        self.close_period();
        progress(self.progress());
    }

    /// Asks for the slot the next wake-up will read while this one works.
    fn prefetch_next(&self) {
        if let Some(n) = self.heap.peek()
            && n.kind != Kind::Wake
            && let Some(s) = self.slots.get(n.slot as usize)
        {
            crate::prefetch::value(s);
        }
    }

    fn progress(&self) -> Progress {
        let span = (self.end - self.run_from).max(1) as f64;
        Progress {
            at: ts(self.now),
            fraction: ((self.now - self.run_from) as f64 / span).clamp(0.0, 1.0),
            events: self.events,
        }
    }

    /// An event on a grid the area tree does not place: its units' pools
    /// and thresholds cannot be told apart, so the report says so.
    #[cold]
    fn unplaced(&mut self, grid: &str) {
        self.stats.unplaced += 1;
        let first = &mut self.stats.unplaced_first;
        if first.len() < 5 && !first.iter().any(|g| g == grid) {
            first.push(grid.to_string());
        }
    }

    fn skip(&mut self, s: Skip) {
        self.stats.skipped += 1;
        if self.stats.skipped_first.len() < 10 {
            self.stats
                .skipped_first
                .push(format!("line {}: {}", s.line, s.reason));
        }
    }

    /// Moves the clock to `t`: daily backlog samples and threshold windows
    /// catch up first.
    fn clock_to(&mut self, t: i64) {
        if t != self.now {
            self.flush_alerts();
        }
        if !self.counting && t >= self.start {
            self.end_warmup();
        }
        while let Some(&day) = self.days.get(self.next_day) {
            // The last day ends with the period: `close_period` samples it.
            if day > t || day >= self.end {
                break;
            }
            self.advance_monitor(day);
            self.stats.sample();
            self.next_day += 1;
        }
        self.advance_monitor(t);
        self.now = t;
    }

    /// The warm-up is over: everything it simulated stays (open events,
    /// queues, handlers at work, the threshold windows), and every count
    /// starts again from the period's first instant, as a running system's
    /// report would.
    fn end_warmup(&mut self) {
        // Alerts of instants before the period are the warm-up's.
        self.advance_monitor(self.start - 1);
        self.flush_alerts();
        let mut fresh = fresh_stats(self.policy, self.stats.week_arrivals.len(), self.days.len());
        let old = &mut self.stats;
        fresh.open_by_level = std::mem::take(&mut old.open_by_level);
        fresh.open_by_dept = std::mem::take(&mut old.open_by_dept);
        fresh.queued_by_level = std::mem::take(&mut old.queued_by_level);
        fresh.open_now = old.open_now;
        fresh.totals.peak_open = old.open_now;
        for (row, &open) in fresh.levels.iter_mut().zip(&fresh.open_by_level) {
            row.peak_backlog = open;
        }
        fresh.skipped = old.skipped;
        fresh.skipped_first = std::mem::take(&mut old.skipped_first);
        fresh.unplaced = old.unplaced;
        fresh.unplaced_first = std::mem::take(&mut old.unplaced_first);
        self.stats = fresh;
        self.pools.restart_counts();
        // The tally needs no reset: it only ever takes the period's own
        // events (`Slot::of_period`).
        self.counting = true;
    }

    fn advance_monitor(&mut self, t: i64) {
        if self.monitor.next_due().is_some_and(|d| ceil_second(d) <= t) {
            let alerts = self.monitor.advance(self.policy, ts(t));
            self.record_alerts(alerts);
        }
    }

    fn record_alerts(&mut self, alerts: Vec<Alert>) {
        if self.alerts_now.is_empty() {
            self.alerts_now = alerts;
        } else {
            self.alerts_now.extend(alerts);
        }
    }

    /// Counts the alerts of the current instant: a group raised and
    /// cleared within it (two arrivals in one second) is no alert.
    fn flush_alerts(&mut self) {
        if self.alerts_now.is_empty() {
            return;
        }
        let now = std::mem::take(&mut self.alerts_now);
        let alerts = self.monitor.settle(self.policy, now, ts(self.now));
        for a in alerts {
            let k = self
                .policy
                .thresholds
                .iter()
                .position(|t| t.name == a.threshold);
            let week = self.week(a.at.as_second());
            let s = &mut self.stats.alerts;
            if a.raised {
                s.raised += 1;
                if let Some(k) = k {
                    if let Some(series) = self.stats.week_alerts.get_mut(k) {
                        Collect::bump(series, week);
                    }
                    if let Some(g) = self.stats.alert_groups.get_mut(k) {
                        g.insert(a.group.clone());
                    }
                }
            } else {
                s.cleared += 1;
            }
            if let Some(row) = k.and_then(|k| s.by_threshold.get_mut(k)) {
                if a.raised {
                    row.raised += 1;
                } else {
                    row.cleared += 1;
                }
            }
            if s.first.len() < FIRST_ALERTS {
                // The run's clock ticks in whole seconds: a deadline that
                // passes one nanosecond after it reads as the second it
                // was seen at, not `…00.000000001Z`.
                let a = Alert {
                    at: ts(ceil_second(a.at)),
                    ..a
                };
                if let Ok(v) = serde_json::to_value(&a) {
                    s.first.push(v);
                }
            }
        }
    }

    fn week(&self, t: i64) -> usize {
        usize::try_from((t - self.start).max(0) / WEEK).unwrap_or(0)
    }

    fn push(&mut self, at: i64, slot: u32, kind: Kind, arg: u32) {
        let generation = self.slots.get(slot as usize).map_or(0, |s| s.generation);
        self.push_gen(at, slot, generation, kind, arg);
    }

    fn push_gen(&mut self, at: i64, slot: u32, generation: u32, kind: Kind, arg: u32) {
        self.seq += 1;
        self.heap.push(Due {
            at: at.max(self.now),
            seq: self.seq,
            slot,
            generation,
            kind,
            arg,
        });
    }

    fn arrive(&mut self, a: Arrival) {
        let policy = self.policy;
        let now = self.now;
        self.events += 1;
        self.stats.totals.events += 1;
        let mut ev = a.event;
        let redraw = a.redraw;
        let mut drawn = a.drawn;
        if self.attrs_later
            && let Some(d) = drawn.take()
        {
            // Conditions read the case's attributes after deciding.
            ev.attr = d.to_value();
        }
        if self.needs.any {
            self.monitor.prefetch_grid(a.grid);
        }
        let units = self.units_of(a.grid, &ev.grid);
        if units.is_none() {
            self.unplaced(&ev.grid);
        }
        let ctx = Context {
            history: &self.history,
            reopened: 0,
        };
        let d = match &drawn {
            Some(attr) => decide_with_attr(policy, &ev, attr, units, &ctx),
            None => decide_in(policy, &ev, units, &ctx),
        };
        self.history.record(&ev, units);
        if self.needs.any {
            self.monitor.prefetch_groups(a.grid);
        }
        let week = self.week(now);
        Collect::bump(&mut self.stats.week_arrivals, week);
        if let Some(s) = self.stats.week_by_grade.get_mut(d.grade as usize) {
            Collect::bump(s, week);
        }
        if let Some(g) = self.stats.grades.get_mut(d.grade as usize) {
            g.events += 1;
        }
        self.stats.totals.on_the_spot += u64::from(d.on_the_spot);
        self.stats.totals.fallback += u64::from(d.fallback);
        let mut opened = std::mem::take(&mut self.buf);
        opened.clear();
        let rng = Pcg64Mcg::seed_from_u64(mix(self.plan.seed ^ mix(a.index)));
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    case: None,
                    generation: 0,
                    rng: rng.clone(),
                    category: None,
                    phase: Phase::New,
                    accept_ticket: 0,
                    queue_ticket: 0,
                    tick_at: i64::MAX,
                    pool: 0,
                    work: 0.0,
                    since: 0,
                    of_period: false,
                    counted: None,
                    lead: 0,
                    grid: u32::MAX,
                    tally_row: u32::MAX,
                    reopen_pending: false,
                    hint: Hint::default(),
                    attr: attrs::SetAside::default(),
                    spare_steps: Vec::new(),
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let steps = self
            .slots
            .get_mut(slot as usize)
            .map(|s| std::mem::take(&mut s.spare_steps))
            .unwrap_or_default();
        let case =
            Case::open_unlogged_into(policy, ev, &d, ts(now), &self.history, &mut opened, steps);
        let counted = Some((d.level, d.lead));
        let row = a
            .grid
            .and_then(|g| self.grids.get(g as usize))
            .and_then(|g| g.tally_row)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(u32::MAX);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.case = Some(case);
            s.rng = rng;
            s.category = a.category;
            s.phase = Phase::New;
            s.tick_at = i64::MAX;
            s.counted = counted;
            s.of_period = self.counting;
            s.lead = d.lead;
            s.grid = a.grid.unwrap_or(u32::MAX);
            s.tally_row = row;
            s.reopen_pending = false;
            s.hint = Hint::on_grid(a.grid).in_category(a.category);
        }
        self.stats.open_move(None, counted);
        self.after(slot, &opened, true);
        self.buf = opened;
        // The next arrival takes the slot freed last.
        if let Some(s) = self.free.last().and_then(|&i| self.slots.get(i as usize)) {
            crate::prefetch::value(s);
        }
        if !self.attrs_later
            && let Some(s) = self.slots.get_mut(slot as usize)
            && let Some(case) = &mut s.case
        {
            s.attr = match drawn {
                // Drawn flat: the case never held them.
                Some(d) if !d.is_empty() => {
                    redraw.map_or(attrs::SetAside::Nothing, attrs::SetAside::Redraw)
                }
                Some(_) => attrs::SetAside::Nothing,
                None => attrs::SetAside::take(&mut case.event.attr, redraw),
            };
        }
        self.dispatch(slot);
    }

    /// The units of an arrival's grid, by the grid's index in the arrival
    /// plan where it has one.
    fn units_of(&mut self, index: Option<u32>, grid: &str) -> Option<&'a Units> {
        let policy = self.policy;
        match self.grid_ids(index, grid) {
            Some(ids) => ids.units.flatten(),
            None => policy.units_of(grid),
        }
    }

    /// The units of an arrival about to come, asked for with their names.
    fn ask_units(&mut self, index: Option<u32>, grid: &str) -> Option<&'a Units> {
        let policy = self.policy;
        let Some(ids) = self.grid_ids(index, grid) else {
            return policy.units_of(grid);
        };
        let units = ids.units.flatten();
        if let Some(u) = units {
            crate::prefetch::value(u);
        }
        ids.names.iter().for_each(|n| n.ask());
        units
    }

    /// What the run keeps of grid number `index`, its units filled.
    fn grid_ids(&mut self, index: Option<u32>, grid: &str) -> Option<&GridIds<'a>> {
        let policy = self.policy;
        let ids = GridIds::of(&mut self.grids, index?)?;
        if ids.units.is_none() {
            let units = policy.units_of(grid);
            ids.units = Some(units);
            for (spot, name) in ids.names.iter_mut().zip(units.into_iter().flatten()) {
                *spot = name.as_ref().map(Spot::of).unwrap_or_default();
            }
        }
        Some(ids)
    }

    /// Sends an event to its pool's duty desk (or settles it on the spot).
    fn dispatch(&mut self, slot: u32) {
        let now = self.now;
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(case) = &s.case else { return };
        if case.on_the_spot && case.state == State::Dispatched {
            let t = now + self.plan.on_the_spot.seconds(&mut s.rng);
            s.phase = Phase::Spot;
            self.push(t, slot, Kind::Spot, 0);
            return;
        }
        let level = s.counted.map_or(0, |(l, _)| l);
        let kind = self.staff.kind_for(level, s.lead);
        let Some(k) = self.staff.kinds.get(kind as usize) else {
            return;
        };
        let pool = self.pools.get(
            kind,
            case.unit.as_ref(),
            level,
            k.plan.handlers,
            self.plan.queue,
        );
        let delay = k.plan.accept.seconds(&mut s.rng);
        let mut spare = shift::Shift::default();
        let shift = self.shifts.get_mut(kind as usize).unwrap_or(&mut spare);
        let at = shift.advance(k.calendar.as_ref(), now, delay);
        s.pool = pool;
        s.phase = Phase::Accepting;
        s.accept_ticket = s.accept_ticket.wrapping_add(1);
        let ticket = s.accept_ticket;
        self.push(at, slot, Kind::Accept, ticket);
    }

    fn due(&mut self, d: Due) {
        if d.kind == Kind::Wake {
            if let Some(p) = self.pools.pools.get_mut(d.slot as usize) {
                p.wake_at = i64::MAX;
            }
            self.try_start(d.slot);
            return;
        }
        let Some(s) = self.slots.get_mut(d.slot as usize) else {
            return;
        };
        if s.generation != d.generation || s.case.is_none() {
            return;
        }
        // What the lifecycle, the monitor and (at the end of a life) the
        // tally read of the event is cold: asked for now, most of it
        // arrives while the work before it is done.
        if let Some(case) = &s.case {
            case.prefetch_steps();
        }
        if self.needs.any {
            self.monitor.prefetch(&s.hint);
        }
        // An acceptance queues the event, a finish frees a handler who
        // takes the next: both read the pool after the lifecycle's work.
        if matches!(d.kind, Kind::Accept | Kind::Finish) {
            self.pools.prefetch(s.pool);
        }
        // A life ends at its rating, or, unrated, at its resolution.
        if matches!(d.kind, Kind::Feedback | Kind::Finish | Kind::Spot) {
            let row = s
                .known_row()
                .or_else(|| self.grids.get(s.grid as usize).and_then(|g| g.tally_row));
            if let Some(row) = row {
                self.tally.prefetch_row(row);
            }
        }
        match d.kind {
            Kind::Accept => {
                if s.phase == Phase::Accepting && s.accept_ticket == d.arg {
                    self.accept(d.slot);
                }
            }
            Kind::Finish => self.finish(d.slot),
            Kind::Spot => {
                if self.act(d.slot, Action::Resolve { note: None }) {
                    self.settle(d.slot);
                }
            }
            Kind::Feedback => {
                let rating = u8::try_from(d.arg).unwrap_or(5);
                self.act(
                    d.slot,
                    Action::Feedback {
                        rating,
                        comment: None,
                    },
                );
                if self
                    .slots
                    .get(d.slot as usize)
                    .is_some_and(|s| !s.reopen_pending)
                {
                    self.finalize(d.slot);
                }
            }
            Kind::Reopen => self.reopen(d.slot),
            Kind::Tick => {
                if s.tick_at == d.at {
                    s.tick_at = i64::MAX;
                    let now = self.now;
                    let due = s
                        .case
                        .as_ref()
                        .and_then(|c| c.wake_at(ts(now)))
                        .map(ceil_second);
                    match due {
                        Some(t) if t <= now => {
                            self.act(d.slot, Action::Tick);
                        }
                        // The step that was due was skipped (accepted in
                        // time): only the next one needs a wake-up.
                        Some(t) => {
                            s.tick_at = t;
                            self.push(t, d.slot, Kind::Tick, 0);
                        }
                        None => {}
                    }
                }
            }
            Kind::Ack => {
                let dept = s
                    .case
                    .as_ref()
                    .and_then(|c| c.summoned.get(d.arg as usize))
                    .map(|m| String::from(m.department.as_str()));
                if let Some(department) = dept {
                    // A late or closed event refuses: nothing to count.
                    self.act(d.slot, Action::Ack { department });
                }
            }
            Kind::Wake => {}
        }
    }

    /// Applies an action at `now` and follows what it caused. Returns
    /// whether it was applied.
    fn act(&mut self, slot: u32, action: Action) -> bool {
        let policy = self.policy;
        let now = ts(self.now);
        let is_ack = matches!(action, Action::Ack { .. });
        let Some(case) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.case.as_mut())
        else {
            return false;
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let ok = apply_into(policy, case, action, now, &self.history, &mut buf).is_ok();
        if !ok && !is_ack {
            self.stats.totals.refused += 1;
        }
        if ok {
            self.after(slot, &buf, false);
        }
        self.buf = buf;
        ok
    }

    /// What the run found.
    pub fn into_report(mut self, role: crate::sim::setup::Role) -> crate::sim::stats::RunReport {
        // Folded in place, the report reads the tally without a copy.
        self.tally.fold();
        crate::sim::outcome::report(
            self.policy,
            self.plan,
            self.staff,
            &self.pools,
            self.stats,
            &self.tally,
            role,
        )
    }
}

/// Empty counters for a run of `policy` over `weeks` and `days`.
fn fresh_stats(policy: &Policy, weeks: usize, days: usize) -> Collect {
    let mut stats = Collect::new(policy, weeks, days, policy.thresholds.len());
    stats.alerts.by_threshold = policy
        .thresholds
        .iter()
        .map(|t| crate::sim::stats::ThresholdRow {
            threshold: t.name.to_string(),
            ..Default::default()
        })
        .collect();
    stats
}

/// The first whole second at or after `t` (the clock ticks in seconds; a
/// step due at 10:00:00.5 fires at 10:00:01, never before it is due).
fn ceil_second(t: Timestamp) -> i64 {
    t.as_second() + i64::from(t.subsec_nanosecond() > 0)
}

fn ts(t: i64) -> Timestamp {
    Timestamp::from_second(t).unwrap_or(Timestamp::MAX)
}
