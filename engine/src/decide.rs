//! Deciding one event (LANGUAGE.md sections 3 and 8): grade, level, unit,
//! lead, assist, on-the-spot handling, deadlines, the planned ladder, and
//! the trace of every line that shaped the decision.

use crate::lifecycle::Name;
use std::cell::{Cell, OnceCell, RefCell};

use jiff::Timestamp;
use serde_json::Value;
use smallvec::SmallVec;

use crate::calendar::Calendar;
use crate::cond::{AttrSource, Cond, Env, Field, RepeatsBy, Val};
use crate::event::{CompactString, Event};
use crate::model::{
    AreaIndex, CategoryId, ClockKind, DeptId, Grade, GradeId, LevelId, Limit, Policy, Route,
    SiteId, TriggerDef, Units,
};
use crate::windows::History;

/// A ladder step planned for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedStep {
    /// When it fires; `None` for `when` steps, which fire on a state change.
    pub at: Option<Timestamp>,
    /// Index of the step in the ladder of the decision's grade.
    pub step: u16,
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The event's id.
    pub event_id: CompactString,
    /// The event's category as reported.
    pub category: CompactString,
    /// The category's index; `None` when the fallback routed it.
    pub category_id: Option<CategoryId>,
    /// The grade.
    pub grade: GradeId,
    /// The level that handles it.
    pub level: LevelId,
    /// The id of the unit at that level that contains the event's grid.
    pub unit: Option<Name>,
    /// The lead department.
    pub lead: DeptId,
    /// Cooperating departments, in order, without duplicates or the lead.
    pub assist: SmallVec<[DeptId; 4]>,
    /// Settled on the spot under the empowerment list.
    pub on_the_spot: bool,
    /// Routed by the fallback.
    pub fallback: bool,
    /// When it was reported.
    pub reported_at: Timestamp,
    /// Accept by.
    pub respond_by: Timestamp,
    /// Resolve by.
    pub resolve_by: Timestamp,
    /// The ladder steps planned for it.
    pub ladder: SmallVec<[PlannedStep; 6]>,
    /// Every policy line that shaped the decision, in the order applied.
    pub trace: SmallVec<[SiteId; 12]>,
}

/// What deciding one event may know besides the event itself.
pub struct Context<'h> {
    /// Past events, for `repeats`.
    pub history: &'h dyn History,
    /// How many times the event was reopened.
    pub reopened: u32,
}

impl Default for Context<'_> {
    fn default() -> Self {
        Context {
            history: &crate::windows::NoHistory,
            reopened: 0,
        }
    }
}

struct DecideEnv<'a, A: AttrSource = Value> {
    ev: &'a Event,
    /// Its `attr` object: `ev.attr`, or the caller's form of it.
    attr: &'a A,
    /// The units above the event's grid, looked up in `areas` the first
    /// time a condition asks (a threshold's condition rarely does).
    units: OnceCell<Option<&'a Units>>,
    areas: &'a AreaIndex,
    calendar: &'a Calendar,
    grade: Option<GradeId>,
    reopened: u32,
    history: &'a dyn History,
    /// Hour, weekday (1 = Monday) and month, computed once if a condition asks.
    local: Cell<Option<(i8, i8, i8)>>,
    /// `attr` values looked up so far, by slot: a category's rules tend to
    /// read the same few attributes, and a lookup in the event's JSON tree
    /// costs several string comparisons.
    attrs: RefCell<SmallVec<[(u16, Val<'a>); 8]>>,
}

impl<'a, A: AttrSource> DecideEnv<'a, A> {
    fn local(&self) -> (i8, i8, i8) {
        if let Some(l) = self.local.get() {
            return l;
        }
        let tz = self.calendar.time_zone();
        let dt = tz
            .to_offset(self.ev.reported_at)
            .to_datetime(self.ev.reported_at);
        let l = (dt.hour(), dt.weekday().to_monday_one_offset(), dt.month());
        self.local.set(Some(l));
        l
    }

    fn units(&self) -> Option<&'a Units> {
        *self
            .units
            .get_or_init(|| self.areas.grids.get(self.ev.grid.as_str()).map(|u| &**u))
    }

    fn unit(&self, level: LevelId) -> Option<&str> {
        if level == 0 {
            return Some(&self.ev.grid);
        }
        self.units()
            .and_then(|u| u.get(level as usize))
            .and_then(|u| u.as_deref())
    }
}

impl<A: AttrSource> Env for DecideEnv<'_, A> {
    fn field(&self, f: &Field) -> Val<'_> {
        match f {
            Field::Attr(path) if path.slot == 0 => self.attr.value(path),
            Field::Attr(path) => {
                let mut seen = self.attrs.borrow_mut();
                if let Some((_, v)) = seen.iter().find(|(s, _)| *s == path.slot) {
                    return *v;
                }
                let v = self.attr.value(path);
                seen.push((path.slot, v));
                v
            }
            Field::Source => Val::Num(self.ev.source.index() as f64),
            Field::Category => Val::Str(&self.ev.category),
            Field::Location => self.ev.location.as_deref().map_or(Val::Missing, Val::Str),
            Field::Unit(l) => self.unit(*l).map_or(Val::Missing, Val::Str),
            Field::Hour => Val::Num(f64::from(self.local().0)),
            Field::Weekday => Val::Num(f64::from(self.local().1)),
            Field::Month => Val::Num(f64::from(self.local().2)),
            Field::Grade => self.grade.map_or(Val::Missing, Val::Grade),
            Field::Reopened => Val::Num(f64::from(self.reopened)),
            Field::Repeats { window, by } => {
                let key = match by {
                    RepeatsBy::Location => {
                        Some(self.ev.location.as_deref().unwrap_or(&self.ev.grid))
                    }
                    RepeatsBy::Level(l) => self.unit(*l),
                };
                key.map_or(Val::Missing, |k| {
                    let n = self.history.repeats(
                        &self.ev.category,
                        *by,
                        k,
                        *window,
                        self.ev.reported_at,
                    );
                    Val::Num(f64::from(n))
                })
            }
        }
    }

    fn attr(&self) -> &dyn AttrSource {
        self.attr
    }
}

fn plus(t: Timestamp, seconds: u64) -> Timestamp {
    // Whole seconds on the integer clock: much cheaper than duration
    // arithmetic, which this hot path does several times per decision.
    i64::try_from(seconds)
        .ok()
        .and_then(|s| t.as_second().checked_add(s))
        .and_then(|s| Timestamp::new(s, t.subsec_nanosecond()).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The instant a limit runs out for an event reported at `start`.
pub fn deadline(cal: &Calendar, start: Timestamp, limit: &Limit) -> Timestamp {
    if limit.working {
        match cal.add_working(start, limit.days, limit.seconds) {
            Some(t) => return t,
            // Working time there is, but not that much before the end of
            // the instants Whistle handles (year 9999): as late as an
            // instant goes, as a plain limit that long is. Counted as
            // plain time, it would fall before shorter limits' deadlines.
            None if cal.next_working_instant(start).is_some() => return Timestamp::MAX,
            None => {}
        }
    }
    // Without working time to count in, the limit runs as plain time.
    plus(start, u64::from(limit.days) * 86_400 + limit.seconds)
}

/// The instant `fraction` of a limit has elapsed, in the limit's own clock.
pub fn fraction_of(
    cal: &Calendar,
    start: Timestamp,
    due: Timestamp,
    limit: &Limit,
    fraction: f64,
) -> Timestamp {
    Span::of(cal, start, due, limit).at(cal, start, fraction)
}

/// A clock's length from its start to its deadline, measured once: the
/// several ladder steps planned on one clock then cost one walk of the
/// working calendar each instead of three.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// For a working limit: the first working instant and the working
    /// seconds from it to the deadline.
    working: Option<(Timestamp, f64)>,
    /// Plain seconds from the start to the deadline.
    plain: f64,
}

impl Span {
    fn of(cal: &Calendar, start: Timestamp, due: Timestamp, limit: &Limit) -> Span {
        let working = if limit.working {
            cal.next_working_instant(start)
                .map(|begin| (begin, cal.working_seconds_between(begin, due) as f64))
        } else {
            None
        };
        Span {
            working,
            plain: due.as_second().saturating_sub(start.as_second()).max(0) as f64,
        }
    }

    fn at(&self, cal: &Calendar, start: Timestamp, fraction: f64) -> Timestamp {
        if let Some((begin, total)) = self.working {
            let part = crate::round::round(total * fraction).max(0.0) as u64;
            if let Some(t) = cal.advance_working_seconds(begin, part) {
                return t;
            }
        }
        plus(
            start,
            crate::round::round(self.plain * fraction).max(0.0) as u64,
        )
    }
}

/// The respond and resolve limits of an event routed by `route` and graded
/// `grade` (defined by `gdef`): the category's `limits` line for that grade,
/// else the grade's own.
pub fn limits_for(route: &Route, grade: GradeId, gdef: &Grade) -> (Limit, Limit) {
    let over = route
        .limits
        .iter()
        .find(|(g, _, _)| *g == grade)
        .map(|(_, o, _)| o);
    let respond = over.and_then(|o| o.respond).unwrap_or(gdef.respond);
    let resolve = over.and_then(|o| o.resolve).unwrap_or(gdef.resolve);
    (respond, resolve)
}

/// The two clocks of an event (LANGUAGE.md section 3.4): when they started,
/// their limits, and the deadlines those give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clocks {
    /// When both clocks started (`reported_at`, or the instant of a reopen).
    pub start: Timestamp,
    /// Time to accept.
    pub respond: Limit,
    /// Time to resolve.
    pub resolve: Limit,
    /// Accept by.
    pub respond_by: Timestamp,
    /// Resolve by.
    pub resolve_by: Timestamp,
}

impl Clocks {
    /// Starts both clocks at `start`.
    pub fn start(cal: &Calendar, start: Timestamp, respond: Limit, resolve: Limit) -> Clocks {
        Clocks {
            start,
            respond,
            resolve,
            respond_by: deadline(cal, start, &respond),
            resolve_by: deadline(cal, start, &resolve),
        }
    }

    /// The instant a ladder step with this trigger is due: `P%` of its
    /// limit after the start, in the limit's own clock; `None` for `when`
    /// steps, which fire on a state change.
    pub fn instant(&self, cal: &Calendar, trigger: &TriggerDef) -> Option<Timestamp> {
        self.planner(cal).instant(trigger)
    }

    /// Plans the instants of several steps on these clocks, measuring each
    /// clock once.
    pub fn planner<'c>(&'c self, cal: &'c Calendar) -> Planner<'c> {
        Planner {
            clocks: self,
            cal,
            respond: Cell::new(None),
            resolve: Cell::new(None),
        }
    }
}

/// The instants of ladder steps on one event's [`Clocks`]; see
/// [`Clocks::planner`].
pub struct Planner<'c> {
    clocks: &'c Clocks,
    cal: &'c Calendar,
    respond: Cell<Option<Span>>,
    resolve: Cell<Option<Span>>,
}

impl Planner<'_> {
    /// As [`Clocks::instant`].
    pub fn instant(&self, trigger: &TriggerDef) -> Option<Timestamp> {
        let TriggerDef::At { fraction, clock } = trigger else {
            return None;
        };
        let c = self.clocks;
        let (cell, due, limit) = match clock {
            ClockKind::Respond => (&self.respond, c.respond_by, &c.respond),
            ClockKind::Resolve => (&self.resolve, c.resolve_by, &c.resolve),
        };
        let span = cell.get().unwrap_or_else(|| {
            let s = Span::of(self.cal, c.start, due, limit);
            cell.set(Some(s));
            s
        });
        Some(span.at(self.cal, c.start, *fraction))
    }
}

/// Whether `cond` holds for `ev`, reading every field exactly as [`decide`]
/// does, with `grade` already known (an `escalate ... when` condition).
pub fn holds(
    policy: &Policy,
    ev: &Event,
    cond: &Cond,
    grade: Option<GradeId>,
    ctx: &Context<'_>,
) -> bool {
    let env = DecideEnv {
        ev,
        attr: &ev.attr,
        units: OnceCell::new(),
        areas: &policy.areas,
        calendar: &policy.calendar,
        grade,
        reopened: ctx.reopened,
        history: ctx.history,
        local: Cell::new(None),
        attrs: RefCell::default(),
    };
    cond.eval(&env)
}

/// Decides one event under `policy`.
pub fn decide(policy: &Policy, ev: &Event, ctx: &Context<'_>) -> Decision {
    decide_in(policy, ev, policy.units_of(&ev.grid), ctx)
}

/// [`decide`], for a caller that has looked up the units of the event's
/// grid already ([`Policy::units_of`]), to record the event in its history
/// with them too.
pub fn decide_in(
    policy: &Policy,
    ev: &Event,
    units: Option<&Units>,
    ctx: &Context<'_>,
) -> Decision {
    decide_with_attr(policy, ev, &ev.attr, units, ctx)
}

/// [`decide_in`], with the event's `attr` object read from `attr` instead
/// of `ev.attr` (which is then not read): the same object in the caller's
/// own form. Generic rather than `dyn`: a decision reads several
/// attributes, and the JSON object's reads stay inlined.
pub fn decide_with_attr<A: AttrSource>(
    policy: &Policy,
    ev: &Event,
    attr: &A,
    units: Option<&Units>,
    ctx: &Context<'_>,
) -> Decision {
    let (category_id, route): (Option<CategoryId>, &Route) = match policy.category(&ev.category) {
        Some((id, r)) => (Some(id), r),
        None => (None, &policy.fallback),
    };
    let mut env = DecideEnv {
        ev,
        attr,
        units: OnceCell::from(units),
        areas: &policy.areas,
        calendar: &policy.calendar,
        grade: None,
        reopened: ctx.reopened,
        history: ctx.history,
        local: Cell::new(None),
        attrs: RefCell::default(),
    };
    let mut trace: SmallVec<[SiteId; 12]> = SmallVec::new();

    // Grade: the first line whose condition holds.
    let (grade, site) = route
        .grades
        .iter()
        .find(|r| r.when.as_ref().is_none_or(|c| c.eval(&env)))
        .map_or((0, None), |r| (r.grade, Some(r.site)));
    trace.extend(site);
    env.grade = Some(grade);
    let gdef = &policy.grades[grade as usize];

    // Level: the category's override, else the grade's; then empowerment.
    let (mut level, level_site) = route.level.unwrap_or((gdef.level, gdef.site));
    trace.push(level_site);
    let mut on_the_spot = false;
    if let Some(e) = route
        .empower
        .iter()
        .find(|e| e.when.as_ref().is_none_or(|c| c.eval(&env)))
    {
        level = e.level;
        on_the_spot = true;
        trace.push(e.site);
    }
    // Relief: a level the category may never be handled at is skipped upward.
    let relief = if category_id.is_some() {
        Some(&route.relief)
    } else {
        policy.undeclared_relief.get(ev.category.as_str())
    };
    if let Some(relief) = relief {
        let top = u8::try_from(policy.levels.len().saturating_sub(1)).unwrap_or(0);
        while relief.forbids(level) && level < top {
            trace.extend(relief.site(level));
            level += 1;
            on_the_spot = false;
        }
        // Relieved at the top too: there is nowhere higher, and the trace
        // says why it stays.
        if relief.forbids(level) {
            trace.extend(relief.site(level));
            on_the_spot = false;
        }
    }
    // Without an area tree (or for a grid it does not list) the unit is unknown.
    let unit = units
        .and_then(|u| u.get(level as usize))
        .and_then(Clone::clone);

    // Departments.
    trace.push(route.lead_site);
    let mut assist: SmallVec<[DeptId; 4]> = SmallVec::new();
    for rule in &route.assists {
        if rule.when.as_ref().is_none_or(|c| c.eval(&env)) {
            for &d in &rule.depts {
                if d != route.lead && !assist.contains(&d) {
                    assist.push(d);
                }
            }
            trace.push(rule.site);
        }
    }

    // Deadlines: the category's `limits` for this grade, else the grade's.
    let (respond, resolve) = limits_for(route, grade, gdef);
    trace.push(respond.site);
    if resolve.site != respond.site {
        trace.push(resolve.site);
    }
    let cal = &policy.calendar;
    let clocks = Clocks::start(cal, ev.reported_at, respond, resolve);
    let (respond_by, resolve_by) = (clocks.respond_by, clocks.resolve_by);

    // The ladder, planned.
    let ladder_def = policy.ladder_for(grade);
    trace.extend(ladder_def.site);
    let planner = clocks.planner(cal);
    let ladder = ladder_def
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| PlannedStep {
            at: planner.instant(&s.trigger),
            step: u16::try_from(i).unwrap_or(u16::MAX),
        })
        .collect();

    Decision {
        event_id: ev.id.clone(),
        category: ev.category.clone(),
        category_id,
        grade,
        level,
        unit,
        lead: route.lead,
        assist,
        on_the_spot,
        fallback: category_id.is_none(),
        reported_at: ev.reported_at,
        respond_by,
        resolve_by,
        ladder,
        trace,
    }
}
