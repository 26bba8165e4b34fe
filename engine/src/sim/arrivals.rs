//! The arrival stream: synthetic events made on the fly in time order
//! ([`Generator`]), or a replayed log put in time order ([`Replay`]).
//! Neither keeps more than a few thousand events in memory, whatever the
//! length of the period.
//!
//! Synthetic arrivals are a Poisson process per category whose rate is
//! constant within each hour: `per_day × month factor × weekday factor ×
//! hour share`, read in the policy's time zone. The generator draws from
//! its own seeded stream, so the draft and the baseline, each running its
//! own generator with the same seed, see exactly the same events.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use smallvec::SmallVec;

use super::dist::{AttrField, unit};
use crate::cond::{AttrSource, Val, attr_has, attr_value};
use crate::event::{CompactString, Event, Source};
use crate::lifecycle::Name;

/// Relative volume by month, weekday and hour of day.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Month factors, mean 1.
    pub monthly: [f64; 12],
    /// Weekday factors (Monday first), mean 1.
    pub weekday: [f64; 7],
    /// Share of a day's events in each hour, summing to 1.
    pub hourly: [f64; 24],
}

fn normalised<const N: usize>(v: Option<&[f64]>, mean: bool) -> Option<[f64; N]> {
    let v = v?;
    let mut a = [0.0; N];
    for (x, y) in a.iter_mut().zip(v) {
        *x = y.max(0.0);
    }
    let total: f64 = a.iter().sum();
    if total <= 0.0 {
        return Some([if mean { 1.0 } else { 1.0 / N as f64 }; N]);
    }
    let k = if mean { N as f64 / total } else { 1.0 / total };
    Some(a.map(|x| x * k))
}

impl Profile {
    /// A profile from the three lists (flat where a list is missing).
    pub fn new(
        monthly: Option<&[f64]>,
        weekday: Option<&[f64]>,
        hourly: Option<&[f64]>,
    ) -> Profile {
        Profile {
            monthly: normalised(monthly, true).unwrap_or([1.0; 12]),
            weekday: normalised(weekday, true).unwrap_or([1.0; 7]),
            hourly: normalised(hourly, false).unwrap_or([1.0 / 24.0; 24]),
        }
    }

    /// This profile with some lists replaced.
    pub fn with(
        &self,
        monthly: Option<&[f64]>,
        weekday: Option<&[f64]>,
        hourly: Option<&[f64]>,
    ) -> Profile {
        Profile {
            monthly: normalised(monthly, true).unwrap_or(self.monthly),
            weekday: normalised(weekday, true).unwrap_or(self.weekday),
            hourly: normalised(hourly, false).unwrap_or(self.hourly),
        }
    }

    /// Events per hour for `per_day` at a local month (1–12), weekday
    /// (1 = Monday) and hour.
    fn per_hour(&self, per_day: f64, month: i8, weekday: i8, hour: i8) -> f64 {
        let m = self
            .monthly
            .get((month - 1) as usize)
            .copied()
            .unwrap_or(1.0);
        let w = self
            .weekday
            .get((weekday - 1) as usize)
            .copied()
            .unwrap_or(1.0);
        let h = self.hourly.get(hour as usize).copied().unwrap_or(0.0);
        per_day * m * w * h
    }
}

/// One category's arrivals.
#[derive(Debug, Clone)]
pub struct CategoryArrivals {
    /// Its index in [`super::setup::Plan::categories`].
    pub plan: u32,
    /// Its name.
    pub name: Arc<str>,
    /// Mean events per day (already scaled).
    pub per_day: f64,
    /// Its profile.
    pub profile: Profile,
    /// Cumulative source shares in [`Source::ALL`] order.
    pub sources: [f64; 5],
    /// Chance of a repeat-prone location.
    pub repeat: f64,
    /// Its `attr` fields.
    pub attrs: Vec<AttrField>,
}

/// Synthetic arrivals, ready to generate.
#[derive(Debug, Clone)]
pub struct ArrivalPlan {
    /// Per category.
    pub categories: Vec<CategoryArrivals>,
    /// The grids events happen in, sorted.
    pub grids: Vec<Arc<str>>,
    /// Addresses per grid.
    pub locations_per_grid: u32,
    /// Repeat-prone locations per grid.
    pub hot_locations: u32,
    /// Unevenness over grids.
    pub grid_skew: f64,
    /// The expected number of events over the period.
    pub expected: f64,
    /// And over the warm-up before it.
    pub warmup_expected: f64,
}

impl ArrivalPlan {
    /// The events a run is expected to simulate: the period's and the
    /// warm-up's.
    pub fn simulated(&self) -> f64 {
        self.expected + self.warmup_expected
    }
}

/// Local month, weekday and hour of the UTC hour starting at `t` seconds.
fn local(tz: &TimeZone, t: i64) -> (i8, i8, i8) {
    let ts = Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH);
    let dt = tz.to_offset(ts).to_datetime(ts);
    (dt.month(), dt.weekday().to_monday_one_offset(), dt.hour())
}

/// Expected events in [start, end).
pub fn expected_total(plan: &ArrivalPlan, start: Timestamp, end: Timestamp, tz: &TimeZone) -> f64 {
    let mut total = 0.0;
    let mut t = start.as_second();
    while t < end.as_second() {
        let (m, w, h) = local(tz, t);
        let span = (end.as_second() - t).min(3600) as f64 / 3600.0;
        for c in &plan.categories {
            total += c.profile.per_hour(c.per_day, m, w, h) * span;
        }
        t += 3600;
    }
    total
}

/// One arriving event.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Its position in the stream (0, 1, ...): the key of its own random
    /// stream for handling, the same under both policies.
    pub index: u64,
    /// The event.
    pub event: Event,
    /// Its category's index in [`super::setup::Plan::categories`], if the
    /// scenario names it.
    pub category: Option<u32>,
    /// Its grid's index in [`ArrivalPlan::grids`], for a generated event:
    /// what a run keeps per grid is then found without hashing its name.
    pub grid: Option<u32>,
    /// How to draw its attributes again (a generated event's), for a
    /// caller that drops them and needs them later.
    pub redraw: Option<Redraw>,
    /// Its attributes, drawn flat instead of into `event.attr` (which is
    /// then `null`), from a generator [`Generator::drawing_flat`].
    pub drawn: Option<Drawn>,
}

/// A generated event's `attr` object whose every field is one key, as
/// drawn: the fields present, in the order drawn. Building the JSON
/// object instead costs an allocated key per field and a tree node, all
/// freed again once the event is decided; this is read in place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drawn(SmallVec<[(Name, Value); 3]>);

impl Drawn {
    /// The value of field `key`: the last drawn under that key, as the
    /// JSON object keeps it.
    fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// The same attributes as the JSON object (`null` when none).
    pub fn to_value(&self) -> Value {
        if self.0.is_empty() {
            return Value::Null;
        }
        let mut m = Map::new();
        for (k, v) in &self.0 {
            m.insert(k.as_str().to_string(), v.clone());
        }
        Value::Object(m)
    }

    /// Whether no field was drawn (the JSON object is `null`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AttrSource for Drawn {
    fn value(&self, path: &[Box<str>]) -> Val<'_> {
        match path.split_first() {
            Some((key, rest)) => self.get(key).map_or(Val::Missing, |v| attr_value(v, rest)),
            // The whole object is no value a condition compares.
            None => Val::Missing,
        }
    }

    fn has(&self, path: &[Box<str>]) -> bool {
        match path.split_first() {
            Some((key, rest)) => self.get(key).is_some_and(|v| attr_has(v, rest)),
            None => !self.is_empty(),
        }
    }
}

/// How a generated event's attributes were drawn: its category in the
/// [`ArrivalPlan`] and the generator's random state just before. Drawing
/// again from it ([`ArrivalPlan::redraw`]) gives the same object, at the
/// cost of a few draws instead of keeping the object for the event's life.
#[derive(Debug, Clone)]
pub struct Redraw {
    category: u32,
    rng: Pcg64Mcg,
}

impl ArrivalPlan {
    /// The attributes of the event `redraw` was taken from, drawn again.
    pub fn redraw(&self, redraw: &Redraw) -> Value {
        self.categories
            .get(redraw.category as usize)
            .map_or(Value::Null, |c| draw_attrs(c, &mut redraw.rng.clone()))
    }
}

/// A category's attribute object, drawn from `rng` (`null` when it has no
/// attribute fields, or none was drawn).
fn draw_attrs(cat: &CategoryArrivals, rng: &mut Pcg64Mcg) -> Value {
    let mut attr = Map::new();
    for f in &cat.attrs {
        f.draw_into(&mut attr, rng);
    }
    if attr.is_empty() {
        Value::Null
    } else {
        Value::Object(attr)
    }
}

/// Why a replayed line was not simulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The input line (from 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// A 64-bit mix (SplitMix64's finaliser): distinct, well-spread seeds from
/// a seed and a counter.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Appends a number's decimal digits (what `write!` does, without the
/// formatting machinery, on the path of every event).
fn push_number(s: &mut CompactString, n: u64) {
    s.push_str(itoa::Buffer::new().format(n));
}

/// Makes the synthetic events of a period, in time order.
pub struct Generator<'a> {
    plan: &'a ArrivalPlan,
    tz: TimeZone,
    rng: Pcg64Mcg,
    end: i64,
    hour: i64,
    t: f64,
    rate: f64,
    cum: Vec<f64>,
    grid_cum: Option<Vec<f64>>,
    grid_order: Vec<u32>,
    index: u64,
    /// Per category, its fields' keys when each is one key and the
    /// caller reads [`Arrival::drawn`] ([`Generator::drawing_flat`]).
    flat: Vec<Option<Vec<Name>>>,
}

impl<'a> Generator<'a> {
    /// The same generator, drawing the attributes of a category whose
    /// every field is one key into [`Arrival::drawn`] instead of
    /// `event.attr`: the same values, from the same draws.
    pub fn drawing_flat(mut self) -> Generator<'a> {
        self.flat = self
            .plan
            .categories
            .iter()
            .map(|c| {
                c.attrs
                    .iter()
                    .map(|f| f.key().map(Name::lasting))
                    .collect::<Option<Vec<Name>>>()
            })
            .collect();
        self
    }

    /// A generator over [start, end) with a seed.
    pub fn new(
        plan: &'a ArrivalPlan,
        tz: &TimeZone,
        start: Timestamp,
        end: Timestamp,
        seed: u64,
    ) -> Generator<'a> {
        let mut rng = Pcg64Mcg::seed_from_u64(mix(seed ^ 0xA771_7A15));
        let n = plan.grids.len();
        let mut grid_order: Vec<u32> = (0..u32::try_from(n).unwrap_or(u32::MAX)).collect();
        let grid_cum = (plan.grid_skew > 0.0 && n > 1).then(|| {
            // A seeded shuffle, so that the busiest grids are not simply the first ids.
            for i in (1..grid_order.len()).rev() {
                let j = (unit(&mut rng) * (i + 1) as f64) as usize;
                grid_order.swap(i, j.min(i));
            }
            let mut acc = 0.0;
            let w: Vec<f64> = (0..n)
                .map(|k| {
                    acc += 1.0 / ((k + 1) as f64).powf(plan.grid_skew);
                    acc
                })
                .collect();
            w.iter().map(|x| x / acc).collect()
        });
        let mut g = Generator {
            plan,
            tz: tz.clone(),
            rng,
            end: end.as_second(),
            hour: start.as_second(),
            t: start.as_second() as f64,
            rate: 0.0,
            cum: Vec::with_capacity(plan.categories.len()),
            grid_cum,
            grid_order,
            index: 0,
            flat: Vec::new(),
        };
        g.enter_hour();
        g
    }

    /// Sets the category rates of the hour starting at `self.hour`.
    fn enter_hour(&mut self) {
        let (m, w, h) = local(&self.tz, self.hour);
        self.cum.clear();
        let mut acc = 0.0;
        for c in &self.plan.categories {
            acc += c.profile.per_hour(c.per_day, m, w, h) / 3600.0;
            self.cum.push(acc);
        }
        self.rate = acc;
    }

    fn pick_grid(&mut self) -> usize {
        let u = unit(&mut self.rng);
        let n = self.plan.grids.len();
        let k = match &self.grid_cum {
            Some(cum) => cum.partition_point(|&c| c <= u).min(n.saturating_sub(1)),
            None => ((u * n as f64) as usize).min(n.saturating_sub(1)),
        };
        self.grid_order.get(k).map_or(0, |&g| g as usize)
    }

    fn make(&mut self, at: i64) -> Option<Arrival> {
        let u = unit(&mut self.rng) * self.rate;
        let ci = self
            .cum
            .partition_point(|&c| c <= u)
            .min(self.cum.len().checked_sub(1)?);
        let plan = self.plan;
        let cat = plan.categories.get(ci)?;
        let gi = self.pick_grid();
        let grid = plan.grids.get(gi)?;
        let us = unit(&mut self.rng);
        let source = Source::ALL
            .get(cat.sources.partition_point(|&c| c <= us))
            .copied()
            .unwrap_or_default();
        let repeat = unit(&mut self.rng) < cat.repeat;
        let spots = if repeat {
            plan.hot_locations
        } else {
            plan.locations_per_grid
        };
        let spot = ((unit(&mut self.rng) * f64::from(spots)) as u32).min(spots - 1);
        let mut location = CompactString::with_capacity(grid.len() + 8);
        location.push_str(grid);
        location.push_str(if repeat { "-H" } else { "-A" });
        push_number(&mut location, u64::from(spot));
        let redraw = (!cat.attrs.is_empty()).then(|| Redraw {
            category: u32::try_from(ci).unwrap_or(u32::MAX),
            rng: self.rng.clone(),
        });
        let (attr, drawn) = match self.flat.get(ci).and_then(Option::as_ref) {
            Some(keys) => {
                let mut d = Drawn::default();
                for (f, key) in cat.attrs.iter().zip(keys) {
                    if let Some(v) = f.draw(&mut self.rng) {
                        d.0.push((key.clone(), v));
                    }
                }
                (Value::Null, Some(d))
            }
            None => (draw_attrs(cat, &mut self.rng), None),
        };
        let mut id = CompactString::with_capacity(12);
        id.push('S');
        push_number(&mut id, self.index);
        let event = Event {
            id,
            // `from`, not `to_string`: the latter formats an `Arc<str>`
            // through `Display`, several times the cost of a copy.
            category: CompactString::from(&*cat.name),
            grid: CompactString::from(&**grid),
            source,
            reported_at: Timestamp::from_second(at).ok()?,
            location: Some(location),
            attr,
            reporter: None,
            description: None,
        };
        let index = self.index;
        self.index += 1;
        Some(Arrival {
            index,
            event,
            category: Some(cat.plan),
            grid: u32::try_from(gi).ok(),
            redraw,
            drawn,
        })
    }
}

impl Iterator for Generator<'_> {
    type Item = Result<Arrival, Skip>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.hour >= self.end {
                return None;
            }
            let hour_end = (self.hour + 3600).min(self.end);
            if self.rate > 0.0 {
                // Memoryless: a gap that crosses the hour's end is drawn
                // again from there at the next hour's rate.
                let gap = -(1.0 - unit(&mut self.rng)).ln() / self.rate;
                let t = self.t + gap;
                if t < hour_end as f64 {
                    self.t = t;
                    return self.make(t.floor() as i64).map(Ok);
                }
            }
            self.hour = hour_end;
            self.t = hour_end as f64;
            if self.hour < self.end {
                self.enter_hour();
            }
        }
    }
}

/// A replayed log put in time order within a window, cut to the period.
pub struct Replay<I> {
    input: I,
    window: usize,
    heap: BinaryHeap<Reverse<(Timestamp, u64, Keyed)>>,
    seq: u64,
    index: u64,
    released: Option<Timestamp>,
    start: Timestamp,
    end: Timestamp,
    categories: FxHashMap<Box<str>, u32>,
    /// Lines skipped, said in input order.
    pending: std::collections::VecDeque<Skip>,
    outside: u64,
    /// Events skipped for being too far out of time order.
    late: u64,
    /// Events taken in the period.
    taken: u64,
    /// The ids of the last events taken (twice the window), each with its
    /// line: one seen again is the same event logged twice (a retry, two
    /// exports run together), not a second event. Only recent ones: the
    /// memory stays bounded whatever the log's length.
    recent: FxHashMap<compact_str::CompactString, u64>,
    recent_order: std::collections::VecDeque<compact_str::CompactString>,
    /// The zone a skipped line's `reported_at` is written in.
    zone: TimeZone,
}

/// An event with its input line, ordered by nothing else (the heap key
/// is the time and the input order).
#[derive(Debug)]
struct Keyed(u64, Event);

impl PartialEq for Keyed {
    fn eq(&self, o: &Keyed) -> bool {
        self.0 == o.0
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, o: &Keyed) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Keyed {
    fn cmp(&self, o: &Keyed) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

impl<I: Iterator<Item = Result<(u64, Event), Skip>>> Replay<I> {
    /// Replays `input` (events with their line numbers) over [start, end),
    /// reordering up to `window` events.
    pub fn new(
        input: I,
        start: Timestamp,
        end: Timestamp,
        categories: FxHashMap<Box<str>, u32>,
        window: usize,
    ) -> Replay<I> {
        Replay {
            input,
            window: window.max(1),
            heap: BinaryHeap::new(),
            seq: 0,
            index: 0,
            released: None,
            start,
            end,
            categories,
            pending: std::collections::VecDeque::new(),
            outside: 0,
            late: 0,
            taken: 0,
            recent: FxHashMap::default(),
            recent_order: std::collections::VecDeque::new(),
            zone: TimeZone::UTC,
        }
    }

    /// Writes the instants of skipped lines in `zone` (the policy's, as
    /// the log most likely has them), not in UTC.
    #[must_use]
    pub fn in_zone(mut self, zone: TimeZone) -> Replay<I> {
        self.zone = zone;
        self
    }

    /// Remembers the id of an event taken at `line`.
    fn remember(&mut self, id: &compact_str::CompactString, line: u64) {
        self.recent.insert(id.clone(), line);
        self.recent_order.push_back(id.clone());
        if self.recent_order.len() > 2 * self.window
            && let Some(old) = self.recent_order.pop_front()
        {
            self.recent.remove(&old);
        }
    }

    /// Events read so far that were reported outside the period (left out).
    pub fn outside(&self) -> u64 {
        self.outside
    }

    /// Whether so many events were too far out of time order (more than
    /// a tenth of those in the period) that the log is not in time order
    /// at all (newest first, or several logs run together): a year
    /// simulated on what is left would pass for the whole. The numbers:
    /// those skipped, and all the period's.
    pub fn out_of_order(&self) -> Option<(u64, u64)> {
        let all = self.taken + self.late;
        (self.late > 0 && self.late * 10 > all).then_some((self.late, all))
    }
}

impl<I: Iterator<Item = Result<(u64, Event), Skip>>> Iterator for Replay<I> {
    type Item = Result<Arrival, Skip>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(s) = self.pending.pop_front() {
                return Some(Err(s));
            }
            while self.heap.len() < self.window {
                match self.input.next() {
                    None => break,
                    Some(Err(s)) => return Some(Err(s)),
                    Some(Ok((line, ev))) => {
                        if ev.reported_at < self.start || ev.reported_at >= self.end {
                            self.outside += 1;
                            continue;
                        }
                        if let Some(&first) = self.recent.get(&ev.id) {
                            self.pending.push_back(Skip {
                                line,
                                reason: format!(
                                    "event `{}` was already taken from line {first}: the same event logged twice",
                                    ev.id
                                ),
                            });
                            continue;
                        }
                        if self.released.is_some_and(|r| ev.reported_at < r) {
                            self.late += 1;
                            self.pending.push_back(Skip {
                                line,
                                reason: format!(
                                    "`reported_at` {} is {} lines or more out of time order",
                                    ev.reported_at
                                        .display_with_offset(self.zone.to_offset(ev.reported_at)),
                                    self.window
                                ),
                            });
                            continue;
                        }
                        self.remember(&ev.id, line);
                        self.taken += 1;
                        self.seq += 1;
                        self.heap
                            .push(Reverse((ev.reported_at, self.seq, Keyed(line, ev))));
                    }
                }
                if !self.pending.is_empty() {
                    break;
                }
            }
            if !self.pending.is_empty() {
                continue;
            }
            let Reverse((at, _, Keyed(_, event))) = self.heap.pop()?;
            self.released = Some(at);
            let index = self.index;
            self.index += 1;
            let category = self.categories.get(event.category.as_str()).copied();
            return Some(Ok(Arrival {
                index,
                event,
                category,
                grid: None,
                redraw: None,
                drawn: None,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn plan(per_day: f64, hourly: Option<&[f64]>) -> ArrivalPlan {
        ArrivalPlan {
            categories: vec![CategoryArrivals {
                plan: 0,
                name: "c".into(),
                per_day,
                profile: Profile::new(None, None, hourly),
                sources: [0.5, 1.0, 1.0, 1.0, 1.0],
                repeat: 0.0,
                attrs: vec![],
            }],
            grids: vec!["G1".into(), "G2".into()],
            locations_per_grid: 10,
            hot_locations: 2,
            grid_skew: 0.0,
            expected: 0.0,
            warmup_expected: 0.0,
        }
    }

    #[test]
    fn a_day_profile_shapes_the_stream() {
        let mut hourly = [0.0; 24];
        hourly[9] = 1.0;
        let p = plan(1000.0, Some(&hourly));
        let tz = TimeZone::UTC;
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-11T00:00:00Z".parse().unwrap();
        assert!((expected_total(&p, start, end, &tz) - 10_000.0).abs() < 1e-6);
        let evs: Vec<Arrival> = Generator::new(&p, &tz, start, end, 7)
            .map(Result::unwrap)
            .collect();
        assert!((evs.len() as f64 - 10_000.0).abs() < 400.0, "{}", evs.len());
        assert!(
            evs.windows(2)
                .all(|w| w[0].event.reported_at <= w[1].event.reported_at)
        );
        assert!(evs.iter().all(|a| {
            let t = a.event.reported_at.as_second().rem_euclid(86_400);
            (9 * 3600..10 * 3600).contains(&t)
        }));
        let patrol = evs
            .iter()
            .filter(|a| a.event.source == Source::Patrol)
            .count();
        assert!((patrol as f64 / evs.len() as f64 - 0.5).abs() < 0.03);
        // The same seed makes the same stream.
        let again: Vec<Arrival> = Generator::new(&p, &tz, start, end, 7)
            .map(Result::unwrap)
            .collect();
        assert_eq!(evs.len(), again.len());
        assert!(evs.iter().zip(&again).all(|(a, b)| a.event == b.event));
    }

    /// A plan of 500 events a day whose category has four fields (a
    /// count, a measure present half the time, a flag, a choice) and
    /// those of `more`.
    fn with_fields(more: Value) -> ArrivalPlan {
        let mut spec: Value = serde_json::json!({
            "vehicles": {"poisson": 2.0},
            "area_m2": {"uniform": [1.0, 9.0], "present": 0.5},
            "blocks_road": {"bernoulli": 0.3},
            "kind": {"choice": {"car": 0.7, "truck": 0.3}},
        });
        if let (Some(all), Some(more)) = (spec.as_object_mut(), more.as_object()) {
            all.extend(more.clone());
        }
        let mut p = plan(500.0, None);
        p.categories[0].attrs = spec
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| AttrField::from_spec(k, v, "test").unwrap())
            .collect();
        p
    }

    /// Every generated event's attributes come back the same when drawn
    /// again, from any point of the stream, after later events were made.
    #[test]
    fn attributes_drawn_again_are_the_same() {
        let p = with_fields(serde_json::json!({}));
        let tz = TimeZone::UTC;
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-03T00:00:00Z".parse().unwrap();
        let evs: Vec<Arrival> = Generator::new(&p, &tz, start, end, 3)
            .map(Result::unwrap)
            .collect();
        assert!(evs.len() > 500);
        let mut partial = 0;
        for a in &evs {
            let r = a.redraw.as_ref().expect("a category with fields");
            assert_eq!(p.redraw(r), a.event.attr, "event {}", a.event.id);
            partial += usize::from(a.event.attr.get("area_m2").is_none());
        }
        assert!(partial > 0, "some objects leave out a field");
        // No fields, nothing to draw again.
        let bare = plan(500.0, None);
        let first = Generator::new(&bare, &tz, start, end, 3).next();
        assert!(first.unwrap().unwrap().redraw.is_none());
    }

    /// Drawn flat, a category's attributes are the same values from the
    /// same draws (the rest of the stream unchanged), and conditions read
    /// them as they read the JSON object; a category with a nested field
    /// is drawn into the object as before.
    #[test]
    fn attributes_drawn_flat_read_as_the_object() {
        let mut p = with_fields(serde_json::json!({
            "site": {"constant": {"floor": 3, "gate": "east"}},
        }));
        let mut nested = p.categories[0].clone();
        nested.plan = 1;
        nested.name = "n".into();
        nested
            .attrs
            .push(AttrField::from_spec("site.floor", &serde_json::json!(4), "test").unwrap());
        p.categories.push(nested);
        let tz = TimeZone::UTC;
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-03T00:00:00Z".parse().unwrap();
        let stream = || Generator::new(&p, &tz, start, end, 3);
        let as_object: Vec<Arrival> = stream().map(Result::unwrap).collect();
        let flat: Vec<Arrival> = stream().drawing_flat().map(Result::unwrap).collect();
        assert_eq!(as_object.len(), flat.len());
        let paths: Vec<Vec<Box<str>>> = [
            "vehicles",
            "area_m2",
            "blocks_road",
            "kind",
            "site",
            "site.floor",
            "site.gate",
            "site.floor.x",
            "missing",
            "vehicles.x",
        ]
        .iter()
        .map(|p| p.split('.').map(Box::from).collect())
        .collect();
        let (mut drawn, mut absent) = (0, 0);
        for (a, f) in as_object.iter().zip(&flat) {
            assert!(a.drawn.is_none());
            let mut event = f.event.clone();
            match &f.drawn {
                Some(d) => {
                    drawn += 1;
                    absent += usize::from(d.value(&paths[1]) == Val::Missing);
                    assert!(f.event.attr.is_null());
                    assert_eq!(d.to_value(), a.event.attr, "event {}", a.event.id);
                    for path in &paths {
                        assert_eq!(d.value(path), a.event.attr.value(path), "{path:?}");
                        assert_eq!(d.has(path), a.event.attr.has(path), "{path:?}");
                    }
                    event.attr = d.to_value();
                }
                // The nested category.
                None => assert_eq!(f.event.category, "n"),
            }
            assert_eq!(event, a.event);
            let r = f.redraw.as_ref().expect("a category with fields");
            assert_eq!(p.redraw(r), a.event.attr);
        }
        assert!(
            drawn > 200 && drawn < flat.len(),
            "{drawn} of {}",
            flat.len()
        );
        assert!(absent > 0, "some objects leave out a field");
    }

    /// An event of category `c` as a replayed log has it.
    fn replayed(id: &str, at: &str) -> Event {
        crate::event::parse_event(&format!(
            r#"{{"id":"{id}","category":"c","grid":"G","reported_at":"{at}"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_replay_is_put_in_order_and_cut_to_the_period() {
        let input = vec![
            Ok((1, replayed("a", "2026-01-01T02:00:00Z"))),
            Ok((2, replayed("b", "2026-01-01T01:00:00Z"))),
            Err(Skip {
                line: 3,
                reason: "bad".into(),
            }),
            Ok((4, replayed("c", "2025-12-31T23:00:00Z"))),
            Ok((5, replayed("d", "2026-01-01T03:00:00Z"))),
        ];
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let mut cats = FxHashMap::default();
        cats.insert(Box::from("c"), 0);
        let out: Vec<_> = Replay::new(input.into_iter(), start, end, cats, 8).collect();
        let ids: Vec<String> = out
            .iter()
            .map(|r| match r {
                Ok(a) => a.event.id.to_string(),
                Err(s) => format!("skip {}", s.line),
            })
            .collect();
        assert_eq!(ids, ["skip 3", "b", "a", "d"]);
        assert!(matches!(&out[1], Ok(a) if a.index == 0 && a.category == Some(0)));
    }

    /// A line skipped for being out of order gives its time in the zone
    /// the replay is told (the policy's), as the log has it.
    #[test]
    fn a_late_line_is_named_in_the_policys_zone() {
        let input = vec![
            Ok((1, replayed("a", "2026-01-01T10:00:00+08:00"))),
            Ok((2, replayed("b", "2026-01-01T11:00:00+08:00"))),
            Ok((3, replayed("c", "2026-01-01T12:00:00+08:00"))),
            Ok((4, replayed("d", "2026-01-01T09:00:00+08:00"))),
        ];
        let start: Timestamp = "2025-12-31T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let zone = TimeZone::get("Asia/Shanghai").unwrap();
        let skipped: Vec<String> =
            Replay::new(input.into_iter(), start, end, FxHashMap::default(), 2)
                .in_zone(zone)
                .filter_map(|r| r.err().map(|s| s.reason))
                .collect();
        assert_eq!(
            skipped,
            ["`reported_at` 2026-01-01T09:00:00+08:00 is 2 lines or more out of time order"]
        );
    }

    /// An id seen again among the last events taken is the same event
    /// logged twice: skipped, naming the line that had it, and the skips
    /// come in input order. One far behind (past twice the window) is
    /// no longer remembered: the memory stays bounded.
    #[test]
    fn an_event_logged_twice_is_skipped_once_near() {
        let ids = ["a", "b", "a", "b", "c", "d", "e", "f", "a"];
        let input = ids.iter().enumerate().map(|(i, id)| {
            Ok((
                i as u64 + 1,
                replayed(id, &format!("2026-01-01T01:{i:02}:00Z")),
            ))
        });
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let out: Vec<String> = Replay::new(input, start, end, FxHashMap::default(), 2)
            .map(|r| match r {
                Ok(a) => a.event.id.to_string(),
                Err(s) => format!("skip {}: {}", s.line, s.reason),
            })
            .collect();
        assert_eq!(
            out,
            [
                "a",
                "skip 3: event `a` was already taken from line 1: the same event logged twice",
                "skip 4: event `b` was already taken from line 2: the same event logged twice",
                "b",
                "c",
                "d",
                "e",
                "f",
                "a",
            ]
        );
    }
}
