//! From a shape-checked [`Scenario`] to what a run needs: the [`Plan`]
//! (everything that does not depend on the policy, shared by the draft and
//! the baseline so that both see the same arrivals), and per policy its
//! [`Staffing`] (pools resolved to the policy's levels and departments).
//! Every check here names the field it is about.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::areas;
use super::arrivals::{ArrivalPlan, CategoryArrivals, Profile, expected_total};
use super::dist::{AttrField, Dist};
use super::hours::Hours;
use super::scenario::{
    AreasSpec, CategorySpec, DistSpec, PoolSpec, QueueOrder, Scenario, ScenarioError,
    ScenarioErrors,
};
use crate::calendar::Calendar;
use crate::event::Source;
use crate::model::{AreaIndex, DeptId, LevelId, Policy};

/// The most events one run simulates, in expectation: a billion, a
/// hundred years of a large city. A scenario asking for more (a rate
/// written in the wrong unit, say) would otherwise run for days.
pub const MAX_EVENTS: f64 = 1e9;

/// Most grids a generated area tree may have: a million grids is far
/// beyond any city, and the schema's 99⁴ would not fit in memory.
pub const MAX_GRIDS: u64 = 1_000_000;

/// What the command line may change in a scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The seed (else the scenario's, else 1).
    pub seed: Option<u64>,
    /// Scale the arrivals to about this many events over the period.
    pub events: Option<f64>,
}

/// A category's handling and reopening, for synthetic and replayed events.
#[derive(Debug, Clone)]
pub struct CategoryPlan {
    /// Its name.
    pub name: Arc<str>,
    /// Handling time at any level (overrides the pool's).
    pub handling: Option<Dist>,
    /// Reopen chance (overrides the scenario's).
    pub reopen: Option<f64>,
}

/// A pool as written, before it meets a policy.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    /// Handlers per unit.
    pub handlers: u32,
    /// Working hours.
    pub hours: Hours,
    /// Dispatch to acceptance.
    pub accept: Dist,
    /// Working time per event.
    pub handling: Dist,
}

/// The scenario, ready to run under any policy.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The title.
    pub name: String,
    /// What it is about.
    pub description: Option<String>,
    /// The seed.
    pub seed: u64,
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
    /// The period, [start, end): local midnights in `tz`.
    pub start: Timestamp,
    /// Where the run starts: `warmup_days` local days before `start`
    /// (`start` without a warm-up). What happens before `start` is
    /// simulated and not counted.
    pub run_from: Timestamp,
    /// Days simulated before the period.
    pub warmup_days: u32,
    /// The end (exclusive).
    pub end: Timestamp,
    /// The time zone the period and profiles are read in (the draft's).
    pub tz: TimeZone,
    /// The area tree replacing each policy's own (`None`: each keeps its own).
    pub areas: Option<Arc<AreaIndex>>,
    /// Synthetic arrivals (`None` for a replay).
    pub arrivals: Option<ArrivalPlan>,
    /// The replayed file, as written (relative to the scenario).
    pub replay: Option<String>,
    /// Categories the scenario says something about.
    pub categories: Vec<CategoryPlan>,
    /// Category name → index in `categories`.
    pub category_index: FxHashMap<Box<str>, u32>,
    /// Queue order.
    pub queue: QueueOrder,
    /// Pools per level name.
    pub levels: BTreeMap<String, PoolPlan>,
    /// Pools per department name, with the level written and the time to acknowledge.
    pub departments: BTreeMap<String, (PoolPlan, Option<String>, Option<Dist>)>,
    /// Time to settle on the spot.
    pub on_the_spot: Dist,
    /// Time to acknowledge a whistle.
    pub ack: Dist,
    /// Reopen chance after an on-time resolution.
    pub reopen_on_time: f64,
    /// After a late one.
    pub reopen_late: f64,
    /// Delay of a reopen.
    pub reopen_delay: Dist,
    /// Share of reporters who rate.
    pub feedback_share: f64,
    /// Delay of the rating.
    pub feedback_delay: Dist,
    /// Cumulative shares of 1..5 stars, on time.
    pub ratings_on_time: [f64; 5],
    /// Late.
    pub ratings_late: [f64; 5],
}

/// Reads a file the scenario names (the caller does the reading: the
/// engine touches no files).
pub type ReadFile<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

fn dist_or(spec: Option<&DistSpec>, path: &str, default: Dist) -> Result<Dist, ScenarioError> {
    spec.map_or(Ok(default), |s| Dist::from_spec(s, path))
}

fn date(text: &str, path: &str) -> Result<Date, ScenarioError> {
    text.parse::<Date>()
        .map_err(|e| ScenarioError::at(path, format!("\"{text}\" is not a date: {e}")))
}

fn midnight(d: Date, tz: &TimeZone, path: &str) -> Result<Timestamp, ScenarioError> {
    d.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| ScenarioError::at(path, e.to_string()))
}

/// Cumulative shares of 1..5 stars.
fn ratings(v: Option<&Vec<f64>>, path: &str, default: [f64; 5]) -> Result<[f64; 5], ScenarioError> {
    let raw: [f64; 5] = match v {
        None => default,
        Some(v) => {
            let mut a = [0.0; 5];
            for (x, y) in a.iter_mut().zip(v) {
                *x = *y;
            }
            a
        }
    };
    let total: f64 = raw.iter().sum();
    if total <= 0.0 {
        return Err(ScenarioError::at(path, "the shares must not all be 0"));
    }
    let mut acc = 0.0;
    Ok(raw.map(|x| {
        acc += x / total;
        acc
    }))
}

/// A pool's plan; every field at fault is named, not only the first.
fn pool_plan(spec: &PoolSpec, path: &str) -> Result<PoolPlan, Vec<ScenarioError>> {
    let hours = match &spec.hours {
        None => Ok(Hours::Always),
        Some(h) => Hours::parse(h).map_err(|m| ScenarioError::at(format!("{path}.hours"), m)),
    };
    let accept = dist_or(
        spec.accept.as_ref(),
        &format!("{path}.accept"),
        Dist::Constant(0.0),
    );
    let handling = dist_or(
        spec.handling.as_ref(),
        &format!("{path}.handling"),
        Dist::Exponential(3600.0),
    );
    match (hours, accept, handling) {
        (Ok(hours), Ok(accept), Ok(handling)) => Ok(PoolPlan {
            handlers: spec.handlers.max(1),
            hours,
            accept,
            handling,
        }),
        (h, a, d) => Err([h.err(), a.err(), d.err()].into_iter().flatten().collect()),
    }
}

/// Cumulative source shares when a scenario gives none: patrol 40%,
/// citizen 35%, hotline 15%, sensor 5%, department 5%.
const DEFAULT_SOURCES: [f64; 5] = [0.40, 0.75, 0.90, 0.95, 1.0];

/// Source shares as cumulative weights in [`Source::ALL`] order.
pub(crate) fn source_weights(
    spec: Option<&BTreeMap<String, f64>>,
    path: &str,
    default: [f64; 5],
) -> Result<[f64; 5], ScenarioError> {
    let Some(map) = spec else { return Ok(default) };
    let mut w = [0.0; 5];
    for (name, share) in map {
        let i = Source::ALL
            .iter()
            .position(|s| s.as_str() == name)
            .ok_or_else(|| ScenarioError::at(format!("{path}.{name}"), "not a source"))?;
        w[i] = *share;
    }
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return Err(ScenarioError::at(path, "the shares must not all be 0"));
    }
    let mut acc = 0.0;
    Ok(w.map(|x| {
        acc += x / total;
        acc
    }))
}

fn category_plan(name: &str, c: &CategorySpec, path: &str) -> Result<CategoryPlan, ScenarioError> {
    Ok(CategoryPlan {
        name: name.into(),
        handling: c
            .handling
            .as_ref()
            .map(|h| Dist::from_spec(h, &format!("{path}.handling")))
            .transpose()?,
        reopen: c.reopen,
    })
}

/// Checks everything that does not need the policy and builds the plan.
/// `draft` gives the time zone, its calendar and (for `areas: policy`) the
/// grids; `read` reads an `areas.file`.
pub fn plan(
    scenario: &Scenario,
    draft: &Policy,
    options: Options,
    read: ReadFile<'_>,
) -> Result<Plan, ScenarioErrors> {
    let mut errors = Vec::new();
    let tz = draft.calendar.time_zone().clone();
    let from = date(&scenario.period.from, "period.from");
    let to = date(&scenario.period.to, "period.to");
    let (from, to) = match (from, to) {
        (Ok(a), Ok(b)) if b >= a => (a, b),
        (Ok(a), Ok(b)) => {
            // Said, and the rest checked on the days it names, so that
            // every other problem is said in the same run.
            errors.push(ScenarioError::at(
                "period.to",
                "the period ends before it starts",
            ));
            (b, a)
        }
        (a, b) => {
            return Err(ScenarioErrors(
                [a.err(), b.err()].into_iter().flatten().collect(),
            ));
        }
    };
    // Checked on the dates, before any instant: a period of millennia
    // would otherwise fail on the calendar's last day, in the date
    // library's words. The period's days are `from` to `to`, both in.
    if to
        .since(from)
        .map_or(true, |span| span.get_days() + 1 > 10 * 366)
    {
        return Err(ScenarioError::at("period", "a period is at most ten years").into());
    }
    let start = midnight(from, &tz, "period.from")?;
    let too_late = |_| ScenarioError::at("period.to", "a period ends on 9999-12-30 at the latest");
    let end = to
        .tomorrow()
        .map_err(too_late)
        .and_then(|d| midnight(d, &tz, "period.to"))?;
    let warmup_days = scenario.period.warmup_days;
    let run_from = from
        .checked_sub(jiff::Span::new().days(i64::from(warmup_days)))
        .map_err(|e| ScenarioError::at("period.warmup_days", e.to_string()))
        .and_then(|d| midnight(d, &tz, "period.warmup_days"))?;

    let areas = match &scenario.areas {
        AreasSpec::Named(_) => None,
        AreasSpec::Generate { generate: g } if g.grid_count() > MAX_GRIDS => {
            return Err(ScenarioError::at(
                "areas.generate",
                format!(
                    "{} × {} × {} × {} is {} grids; a generated tree holds at most {MAX_GRIDS}",
                    g.districts,
                    g.streets,
                    g.communities,
                    g.grids,
                    g.grid_count()
                ),
            )
            .into());
        }
        AreasSpec::Generate { generate: g } => Some(Arc::new(AreaIndex::of(&areas::generate(
            g.districts,
            g.streets,
            g.communities,
            g.grids,
        )))),
        AreasSpec::File { file } => {
            let text = read(file).map_err(|e| ScenarioError::at("areas.file", e))?;
            let tree: whistle_grammar::areas::AreaTree =
                serde_saphyr::from_str(&text).map_err(|e| {
                    let m = e.without_snippet().to_string();
                    let at = e
                        .location()
                        .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                        .unwrap_or_default();
                    // The message may end with the place itself.
                    let why = whistle_grammar::areas::plain_yaml(m.lines().next().unwrap_or(""));
                    let why = if at.is_empty() {
                        why.as_str()
                    } else {
                        why.trim_end_matches(at.as_str())
                    };
                    ScenarioError::at(
                        "areas.file",
                        format!("`{file}` is not an area tree{at}: {why}"),
                    )
                })?;
            // As `whistle check` holds a bundle's `areas.yaml` to: a unit
            // listed twice would merge silently and change the counts.
            let dups = whistle_grammar::areas::duplicate_ids(&tree);
            if !dups.is_empty() {
                return Err(ScenarioError::at(
                    "areas.file",
                    format!(
                        "`{file}`: area id{} {} appear{} more than once",
                        if dups.len() > 1 { "s" } else { "" },
                        dups.iter()
                            .map(|d| format!("`{d}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if dups.len() > 1 { "" } else { "s" },
                    ),
                )
                .into());
            }
            Some(Arc::new(AreaIndex::of(&tree)))
        }
    };
    let grid_ids = areas::grids(areas.as_deref().unwrap_or(&draft.areas));

    let mut categories = Vec::new();
    if scenario.arrivals.is_none() && scenario.replay.is_some() && options.events.is_some() {
        return Err(ScenarioError::at(
            "events",
            "`events` scales synthetic arrivals; a replay simulates the events of its log as they are",
        )
        .into());
    }
    let specs = match (&scenario.arrivals, &scenario.replay) {
        (Some(a), _) => (&a.categories, "arrivals.categories"),
        (None, Some(r)) => (&r.categories, "replay.categories"),
        (None, None) => {
            return Err(ScenarioError::at(
                "",
                "give either `arrivals` (synthetic events) or `replay` (an event log)",
            )
            .into());
        }
    };
    for (name, c) in specs.0 {
        match category_plan(name, c, &format!("{}.{name}", specs.1)) {
            Ok(p) => categories.push(p),
            Err(e) => errors.push(e),
        }
    }
    let category_index = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (Box::from(&*c.name), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();

    let arrivals = match &scenario.arrivals {
        None => None,
        Some(a) => {
            if grid_ids.is_empty() {
                errors.push(match &scenario.areas {
                    AreasSpec::File { file } => ScenarioError::at(
                        "areas.file",
                        format!("synthetic events need grids, and `{file}` has none"),
                    ),
                    _ => ScenarioError::at(
                        "areas",
                        "synthetic events need grids: the policy has no areas.yaml; give `areas: {file: ...}` or `areas: {generate: ...}`",
                    ),
                });
            }
            zero_profiles("arrivals", [&a.monthly, &a.weekday, &a.hourly], &mut errors);
            let base = Profile::new(
                a.monthly.as_deref(),
                a.weekday.as_deref(),
                a.hourly.as_deref(),
            );
            let default_sources =
                source_weights(a.sources.as_ref(), "arrivals.sources", DEFAULT_SOURCES)
                    .unwrap_or_else(|e| {
                        errors.push(e);
                        DEFAULT_SOURCES
                    });
            let mut cats = Vec::new();
            for (i, (name, c)) in a.categories.iter().enumerate() {
                let path = format!("arrivals.categories.{name}");
                zero_profiles(&path, [&c.monthly, &c.weekday, &c.hourly], &mut errors);
                let profile = base.with(
                    c.monthly.as_deref(),
                    c.weekday.as_deref(),
                    c.hourly.as_deref(),
                );
                let sources = match source_weights(
                    c.sources.as_ref(),
                    &format!("{path}.sources"),
                    default_sources,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let mut attrs = Vec::new();
                for (field, spec) in &c.attr {
                    match AttrField::from_spec(field, spec, &format!("{path}.attr.{field}")) {
                        Ok(f) => attrs.push(f),
                        Err(e) => errors.push(e),
                    }
                }
                cats.push(CategoryArrivals {
                    plan: u32::try_from(i).unwrap_or(u32::MAX),
                    name: name.as_str().into(),
                    per_day: c.per_day.unwrap_or(0.0),
                    profile,
                    sources,
                    repeat: c.repeat_location.or(a.repeat_location).unwrap_or(0.0),
                    attrs,
                });
            }
            if cats.iter().all(|c| c.per_day <= 0.0) {
                errors.push(ScenarioError::at(
                    "arrivals.categories",
                    "no category has a `per_day` above 0: nothing would arrive",
                ));
            }
            let mut plan = ArrivalPlan {
                categories: cats,
                grids: grid_ids,
                locations_per_grid: a.locations_per_grid.unwrap_or(500).max(1),
                hot_locations: a.hot_locations.unwrap_or(3).max(1),
                grid_skew: a.grid_skew.unwrap_or(0.0),
                expected: 0.0,
                warmup_expected: 0.0,
            };
            let natural = expected_total(&plan, start, end, &tz);
            // A warm-up adds its days at the same rates.
            let want = options.events.or(a.total);
            if let Some(n) = want
                && natural > 0.0
            {
                let k = n / natural;
                for c in &mut plan.categories {
                    c.per_day *= k;
                }
            }
            plan.expected = expected_total(&plan, start, end, &tz);
            plan.warmup_expected = expected_total(&plan, run_from, start, &tz);
            if natural == 0.0 && plan.categories.iter().any(|c| c.per_day > 0.0) {
                errors.push(ScenarioError::at(
                    "arrivals",
                    "the profiles give every hour of the period a weight of 0: nothing would arrive (check `monthly`, `weekday` and `hourly`, here and in the categories, against the period's months and days)",
                ));
            } else if plan.expected < 0.5 && plan.categories.iter().any(|c| c.per_day > 0.0) {
                // A report of nothing would pass for a quiet period.
                errors.push(ScenarioError::at(
                    if options.events.is_some() { "events" } else { "arrivals" },
                    format!(
                        "about {:.2} events are expected over the period: nothing to simulate (raise the rates, `total` or `events`)",
                        plan.expected
                    ),
                ));
            } else if !natural.is_finite() {
                // Scaled, rates whose sum overflows would come to none.
                errors.push(ScenarioError::at(
                    "arrivals.categories",
                    "the rates are too large to add up over the period",
                ));
            } else if plan.simulated().is_nan() || plan.simulated() > MAX_EVENTS {
                // `events`: the command line's `--events`, a job's field.
                let (at, scale) = match (options.events, a.total) {
                    (Some(_), _) => ("events", "a smaller `events`"),
                    (None, Some(_)) => ("arrivals.total", "a smaller `total`"),
                    (None, None) => ("arrivals.categories", "`arrivals.total` or `events`"),
                };
                errors.push(ScenarioError::at(
                    at,
                    format!(
                        "the arrivals come to about {:.3e} events over the period and its warm-up; one run simulates at most {MAX_EVENTS:.0e} (scale them with {scale})",
                        plan.simulated()
                    ),
                ));
            }
            Some(plan)
        }
    };

    let mut levels = BTreeMap::new();
    for (name, spec) in &scenario.capacity.levels {
        match pool_plan(spec, &format!("capacity.levels.{name}")) {
            Ok(p) => {
                levels.insert(name.clone(), p);
            }
            Err(e) => errors.extend(e),
        }
    }
    let mut departments = BTreeMap::new();
    for (name, spec) in &scenario.capacity.departments {
        let path = format!("capacity.departments.{name}");
        let ack = spec
            .ack
            .as_ref()
            .map(|a| Dist::from_spec(a, &format!("{path}.ack")))
            .transpose();
        match (pool_plan(spec, &path), ack) {
            (Ok(p), Ok(ack)) => {
                departments.insert(name.clone(), (p, spec.level.clone(), ack));
            }
            (p, ack) => {
                errors.extend(p.err().into_iter().flatten());
                errors.extend(ack.err());
            }
        }
    }

    let spot = scenario
        .on_the_spot
        .as_ref()
        .and_then(|s| s.handling.as_ref());
    let ack = scenario.whistle.as_ref().and_then(|w| w.ack.as_ref());
    let reopen = scenario.reopen.clone().unwrap_or_default();
    let feedback = scenario.feedback.clone().unwrap_or_default();
    let mut dist = |spec: Option<&DistSpec>, path: &str, default: Dist| {
        dist_or(spec, path, default.clone()).unwrap_or_else(|e| {
            errors.push(e);
            default
        })
    };
    let on_the_spot = dist(spot, "on_the_spot.handling", Dist::Exponential(1200.0));
    let ack = dist(ack, "whistle.ack", Dist::Exponential(600.0));
    let reopen_delay = dist(
        reopen.delay.as_ref(),
        "reopen.delay",
        Dist::Exponential(2.0 * 86_400.0),
    );
    let feedback_delay = dist(
        feedback.delay.as_ref(),
        "feedback.delay",
        Dist::Exponential(86_400.0),
    );
    let ratings_on_time = ratings(
        feedback.on_time.as_ref(),
        "feedback.on_time",
        [0.01, 0.02, 0.05, 0.32, 0.60],
    )
    .map_err(|e| errors.push(e))
    .unwrap_or([0.2, 0.4, 0.6, 0.8, 1.0]);
    let ratings_late = ratings(
        feedback.late.as_ref(),
        "feedback.late",
        [0.10, 0.15, 0.25, 0.30, 0.20],
    )
    .map_err(|e| errors.push(e))
    .unwrap_or([0.2, 0.4, 0.6, 0.8, 1.0]);
    if !errors.is_empty() {
        // The names the draft does not know are told in the same run
        // (`staff` would tell them only once the values are right).
        let (root, categories) = match (&scenario.arrivals, &scenario.replay) {
            (Some(a), _) => ("arrivals.categories", Some(&a.categories)),
            (None, Some(r)) => ("replay.categories", Some(&r.categories)),
            (None, None) => ("arrivals.categories", None),
        };
        let names = unknown_names(
            draft,
            root,
            &mut categories
                .into_iter()
                .flat_map(|c| c.keys().map(String::as_str)),
            &mut scenario.capacity.levels.keys().map(String::as_str),
            &mut scenario.capacity.departments.keys().map(String::as_str),
        );
        for (path, message) in names {
            if !errors.iter().any(|e| e.path == path) {
                errors.push(ScenarioError::at(path, message));
            }
        }
        // And the levels left without a pool: beside an unknown level, the
        // one it was probably meant to be.
        for level in &draft.levels {
            if !scenario.capacity.levels.contains_key(&**level) {
                errors.push(no_pool(level));
            }
        }
        return Err(ScenarioErrors(errors));
    }
    Ok(Plan {
        name: scenario.name.clone().unwrap_or_else(|| "simulation".into()),
        description: scenario.description.clone(),
        seed: options.seed.or(scenario.seed).unwrap_or(1),
        from,
        to,
        start,
        run_from,
        warmup_days,
        end,
        tz,
        areas,
        arrivals,
        replay: scenario.replay.as_ref().map(|r| r.file.clone()),
        categories,
        category_index,
        queue: scenario.capacity.queue,
        levels,
        departments,
        on_the_spot,
        ack,
        reopen_on_time: reopen.on_time.unwrap_or(0.02),
        reopen_late: reopen.late.unwrap_or(0.06),
        reopen_delay,
        feedback_share: feedback.share.unwrap_or(0.5),
        feedback_delay,
        ratings_on_time,
        ratings_late,
    })
}

/// A pool resolved against a policy: its plan and its working calendar
/// (`None`: around the clock).
#[derive(Debug, Clone)]
pub struct PoolKind {
    /// How it is staffed.
    pub plan: PoolPlan,
    /// When it works.
    pub calendar: Option<Calendar>,
    /// `grid` or `urban@street`, for reports.
    pub label: String,
}

/// The plan's pools resolved against one policy.
#[derive(Debug, Clone)]
pub struct Staffing {
    /// Pool kinds; each level's and each staffed department's.
    pub kinds: Vec<PoolKind>,
    /// For each level id, its pool kind.
    pub level_kind: Vec<u32>,
    /// For each department id, the level where it has its own pool, and the kind.
    pub dept_kind: Vec<Option<(LevelId, u32)>>,
    /// For each department id, its time to acknowledge a whistle.
    pub dept_ack: Vec<Option<Dist>>,
    /// Notes that do not stop the run (for the baseline: names it does not know).
    pub notes: Vec<String>,
}

/// One policy's role in a run: the draft must know every name the
/// scenario uses; the baseline may not (what it lacks is noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The policy under study.
    Draft,
    /// The policy it is compared with.
    Baseline,
}

impl Role {
    /// `draft` or `baseline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Draft => "draft",
            Role::Baseline => "baseline",
        }
    }
}

/// What a scenario names that `policy` does not know, as (field, message):
/// categories (under `cat_root`), levels and departments of `capacity`.
fn unknown_names(
    policy: &Policy,
    cat_root: &str,
    categories: &mut dyn Iterator<Item = &str>,
    levels: &mut dyn Iterator<Item = &str>,
    departments: &mut dyn Iterator<Item = &str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in categories {
        if policy.category(name).is_none() {
            out.push((
                format!("{cat_root}.{name}"),
                format!("the policy has no category `{name}`; its events would go to the fallback"),
            ));
        }
    }
    for name in levels {
        if policy.level_id(name).is_none() {
            let known: Vec<&str> = policy.levels.iter().map(|l| &**l).collect();
            out.push((
                format!("capacity.levels.{name}"),
                format!(
                    "the policy has no level `{name}` (its levels: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    for name in departments {
        if policy.dept_id(name).is_none() {
            out.push((format!("capacity.departments.{name}"), no_department(name)));
        }
    }
    out
}

fn no_pool(level: &str) -> ScenarioError {
    ScenarioError::at(
        "capacity.levels",
        format!("no pool for the level `{level}`: every level of the policy needs one"),
    )
}

fn no_department(name: &str) -> String {
    format!("the policy has no department `{name}`")
}

/// Resolves the plan's pools and categories against a policy.
pub fn staff(plan: &Plan, policy: &Policy, role: Role) -> Result<Staffing, ScenarioErrors> {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let mut problem = |path: String, message: String, errors: &mut Vec<ScenarioError>| {
        if role == Role::Draft {
            errors.push(ScenarioError::at(path, message));
        } else {
            notes.push(format!("`{path}`: {message} (in the baseline)"));
        }
    };
    let list = |names: &mut dyn Iterator<Item = &str>| names.collect::<Vec<_>>().join(", ");
    let cat_root = if plan.arrivals.is_some() {
        "arrivals.categories"
    } else {
        "replay.categories"
    };
    // Departments are told in the loop below, which skips them.
    for (path, message) in unknown_names(
        policy,
        cat_root,
        &mut plan.categories.iter().map(|c| &*c.name),
        &mut plan.levels.keys().map(String::as_str),
        &mut std::iter::empty(),
    ) {
        problem(path, message, &mut errors);
    }
    let tz = policy.calendar.time_zone().clone();
    let mut kinds = Vec::new();
    let mut level_kind = Vec::new();
    for level in &policy.levels {
        match plan.levels.get(&**level) {
            Some(p) => {
                level_kind.push(u32::try_from(kinds.len()).unwrap_or(u32::MAX));
                kinds.push(PoolKind {
                    calendar: p.hours.calendar(&policy.calendar, &tz),
                    plan: p.clone(),
                    label: level.to_string(),
                });
            }
            None => errors.push(no_pool(level)),
        }
    }
    let mut dept_kind = vec![None; policy.departments.len()];
    let mut dept_ack = vec![None; policy.departments.len()];
    for (name, (p, level, ack)) in &plan.departments {
        let path = format!("capacity.departments.{name}");
        let Some(d) = policy.dept_id(name) else {
            problem(path, no_department(name), &mut errors);
            continue;
        };
        let level_id = match level {
            Some(l) => match policy.level_id(l) {
                Some(id) => id,
                None => {
                    errors.push(ScenarioError::at(
                        format!("{path}.level"),
                        format!(
                            "the policy has no level `{l}` (its levels: {})",
                            list(&mut policy.levels.iter().map(|l| &**l))
                        ),
                    ));
                    continue;
                }
            },
            None => match policy.departments.get(d as usize).and_then(|x| x.level) {
                Some(l) => l,
                None => {
                    errors.push(ScenarioError::at(
                        path,
                        format!("the policy gives `{name}` no level; say which with `level:`"),
                    ));
                    continue;
                }
            },
        };
        let level_name = policy.levels.get(level_id as usize).map_or("?", |l| &**l);
        if let Some(slot) = dept_kind.get_mut(d as usize) {
            *slot = Some((level_id, u32::try_from(kinds.len()).unwrap_or(u32::MAX)));
        }
        if let Some(slot) = dept_ack.get_mut(d as usize) {
            slot.clone_from(ack);
        }
        kinds.push(PoolKind {
            calendar: p.hours.calendar(&policy.calendar, &tz),
            plan: p.clone(),
            label: format!("{name}@{level_name}"),
        });
    }
    if !errors.is_empty() {
        return Err(ScenarioErrors(errors));
    }
    Ok(Staffing {
        kinds,
        level_kind,
        dept_kind,
        dept_ack,
        notes,
    })
}

impl Staffing {
    /// The pool kind that handles an event led by `lead` at `level`.
    pub fn kind_for(&self, level: LevelId, lead: DeptId) -> u32 {
        match self.dept_kind.get(lead as usize).copied().flatten() {
            Some((l, k)) if l == level => k,
            _ => self
                .level_kind
                .get(level as usize)
                .or(self.level_kind.last())
                .copied()
                .unwrap_or(0),
        }
    }
}

/// The policy a run uses: `policy` itself, or a copy with the scenario's
/// area tree.
///
/// The tree is copied deep: the draft's and the baseline's runs go on two
/// threads, and nothing either reads at every event is shared with the
/// other (the units' names are lasting, and cloning them writes nothing).
pub fn with_areas(plan: &Plan, policy: &Policy) -> Policy {
    let mut p = policy.clone();
    if let Some(a) = &plan.areas {
        p.areas = deep_copy(a);
    }
    p
}

/// `areas` with each grid's units allocated anew.
fn deep_copy(areas: &AreaIndex) -> AreaIndex {
    let grids = areas
        .grids
        .iter()
        .map(|(grid, units)| (grid.clone(), Arc::new((**units).clone())))
        .collect();
    AreaIndex {
        grids,
        names: areas.names.clone(),
    }
}

/// A month, weekday or hour profile whose weights are all 0 would send
/// nothing at all (or, taken as flat, everything): either way not what
/// was meant.
fn zero_profiles(at: &str, lists: [&Option<Vec<f64>>; 3], errors: &mut Vec<ScenarioError>) {
    for (name, list) in ["monthly", "weekday", "hourly"].into_iter().zip(lists) {
        if list.as_ref().is_some_and(|l| l.iter().all(|w| *w <= 0.0)) {
            errors.push(ScenarioError::at(
                format!("{at}.{name}"),
                "the weights must not all be 0",
            ));
        }
    }
}
