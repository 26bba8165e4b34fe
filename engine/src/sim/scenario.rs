//! Scenarios: the YAML a policy officer writes to say what a simulated
//! period looks like, described by `schemas/scenario.schema.json`.
//!
//! Parsing goes YAML → JSON value → schema check → typed [`Scenario`], so
//! that every shape error names the field it is about
//! (`arrivals.categories.fire_lane.per_day: -3 is less than the minimum of
//! 0`). Checks that need the policy (unknown categories, levels,
//! departments) are in [`super::setup`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

/// The scenario schema shipped with Whistle.
pub const SCENARIO_SCHEMA: &str = include_str!("../../../schemas/scenario.schema.json");

static VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCENARIO_SCHEMA).map_err(|e| e.to_string())?;
    crate::event::compile_schema(&schema)
});

/// A problem with a scenario, at a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The field, as a dotted path (`capacity.levels.grid.handlers`); empty
    /// for the scenario as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ScenarioError {
    /// An error at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.path, self.message)
        }
    }
}

/// Several problems, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl std::fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl From<ScenarioError> for ScenarioErrors {
    fn from(e: ScenarioError) -> ScenarioErrors {
        ScenarioErrors(vec![e])
    }
}

/// A scenario as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A title for the report.
    #[serde(default)]
    pub name: Option<String>,
    /// What the scenario is about.
    #[serde(default)]
    pub description: Option<String>,
    /// The simulated days.
    pub period: Period,
    /// The seed, unless the command line gives one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The area tree.
    #[serde(default)]
    pub areas: AreasSpec,
    /// Synthetic arrivals.
    #[serde(default)]
    pub arrivals: Option<ArrivalsSpec>,
    /// A replayed event log.
    #[serde(default)]
    pub replay: Option<ReplaySpec>,
    /// Handlers.
    pub capacity: CapacitySpec,
    /// Settling on the spot.
    #[serde(default)]
    pub on_the_spot: Option<OnTheSpotSpec>,
    /// Whistled departments.
    #[serde(default)]
    pub whistle: Option<WhistleSpec>,
    /// Reopening.
    #[serde(default)]
    pub reopen: Option<ReopenSpec>,
    /// Feedback and satisfaction.
    #[serde(default)]
    pub feedback: Option<FeedbackSpec>,
}

/// `period: {from, to, warmup_days}`: local dates, both included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// The first day.
    pub from: String,
    /// The last day.
    pub to: String,
    /// Days simulated before `from` and left out of the report, so that
    /// the period starts with the backlog a running system has.
    #[serde(default)]
    pub warmup_days: u32,
}

/// Where the area tree comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AreasSpec {
    /// `policy`: the bundle's own `areas.yaml`.
    Named(AreasWord),
    /// `{file: PATH}`.
    File {
        /// The file, relative to the scenario.
        file: String,
    },
    /// `{generate: {...}}`.
    Generate {
        /// The size.
        generate: TreeSize,
    },
}

impl Default for AreasSpec {
    fn default() -> AreasSpec {
        AreasSpec::Named(AreasWord::Policy)
    }
}

/// The one word `areas` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AreasWord {
    /// The policy bundle's `areas.yaml`.
    Policy,
}

/// The size of a generated area tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSize {
    /// Districts.
    #[serde(default = "one")]
    pub districts: u32,
    /// Streets per district.
    pub streets: u32,
    /// Communities per street.
    pub communities: u32,
    /// Grids per community.
    pub grids: u32,
}

impl TreeSize {
    /// How many grids the tree has.
    pub fn grid_count(&self) -> u64 {
        [self.districts, self.streets, self.communities, self.grids]
            .into_iter()
            .map(u64::from)
            .product()
    }
}

fn one() -> u32 {
    1
}

/// Synthetic arrivals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsSpec {
    /// Scale rates to this many events over the period.
    #[serde(default)]
    pub total: Option<f64>,
    /// Month profile.
    #[serde(default)]
    pub monthly: Option<Vec<f64>>,
    /// Weekday profile.
    #[serde(default)]
    pub weekday: Option<Vec<f64>>,
    /// Hour profile.
    #[serde(default)]
    pub hourly: Option<Vec<f64>>,
    /// Source shares.
    #[serde(default)]
    pub sources: Option<BTreeMap<String, f64>>,
    /// Chance that an event is at one of its grid's repeat-prone locations.
    #[serde(default)]
    pub repeat_location: Option<f64>,
    /// Addresses per grid.
    #[serde(default)]
    pub locations_per_grid: Option<u32>,
    /// Repeat-prone locations per grid.
    #[serde(default)]
    pub hot_locations: Option<u32>,
    /// Unevenness over grids.
    #[serde(default)]
    pub grid_skew: Option<f64>,
    /// Per category.
    pub categories: BTreeMap<String, CategorySpec>,
}

/// One category's arrivals and handling.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategorySpec {
    /// Mean events per day.
    #[serde(default)]
    pub per_day: Option<f64>,
    /// Month profile.
    #[serde(default)]
    pub monthly: Option<Vec<f64>>,
    /// Weekday profile.
    #[serde(default)]
    pub weekday: Option<Vec<f64>>,
    /// Hour profile.
    #[serde(default)]
    pub hourly: Option<Vec<f64>>,
    /// Source shares.
    #[serde(default)]
    pub sources: Option<BTreeMap<String, f64>>,
    /// Chance of a repeat-prone location.
    #[serde(default)]
    pub repeat_location: Option<f64>,
    /// `attr` fields: a literal or a distribution, as written (the schema
    /// checked the shape; [`super::dist::AttrDist`] reads it).
    #[serde(default)]
    pub attr: BTreeMap<String, Value>,
    /// Handling time (overrides the pool's).
    #[serde(default)]
    pub handling: Option<DistSpec>,
    /// Reopen chance.
    #[serde(default)]
    pub reopen: Option<f64>,
}

/// A replayed log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySpec {
    /// The JSON-lines file, relative to the scenario.
    pub file: String,
    /// Per-category handling and reopen chances.
    #[serde(default)]
    pub categories: BTreeMap<String, CategorySpec>,
}

/// Which waiting event a free handler takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// The one accepted first.
    #[default]
    Fifo,
    /// The one whose resolve deadline comes first.
    Deadline,
}

/// Handlers per level and department.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// Queue order.
    #[serde(default)]
    pub queue: QueueOrder,
    /// One pool per unit of each level.
    pub levels: BTreeMap<String, PoolSpec>,
    /// A department's own pool per unit of its level.
    #[serde(default)]
    pub departments: BTreeMap<String, PoolSpec>,
}

/// A pool of handlers in each unit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Handlers per unit.
    pub handlers: u32,
    /// Working hours.
    #[serde(default)]
    pub hours: Option<String>,
    /// Dispatch to acceptance.
    #[serde(default)]
    pub accept: Option<DistSpec>,
    /// Working time per event.
    #[serde(default)]
    pub handling: Option<DistSpec>,
    /// A department's level.
    #[serde(default)]
    pub level: Option<String>,
    /// A department's time to acknowledge a whistle.
    #[serde(default)]
    pub ack: Option<DistSpec>,
}

/// `on_the_spot`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnTheSpotSpec {
    /// Time to settle.
    #[serde(default)]
    pub handling: Option<DistSpec>,
}

/// `whistle`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhistleSpec {
    /// Time to acknowledge.
    #[serde(default)]
    pub ack: Option<DistSpec>,
}

/// `reopen`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReopenSpec {
    /// Chance after an on-time resolution.
    #[serde(default)]
    pub on_time: Option<f64>,
    /// Chance after a late one.
    #[serde(default)]
    pub late: Option<f64>,
    /// Delay.
    #[serde(default)]
    pub delay: Option<DistSpec>,
}

/// `feedback`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSpec {
    /// Share of reporters who rate.
    #[serde(default)]
    pub share: Option<f64>,
    /// Delay after the resolution.
    #[serde(default)]
    pub delay: Option<DistSpec>,
    /// Shares of 1..5 stars after an on-time resolution.
    #[serde(default)]
    pub on_time: Option<Vec<f64>>,
    /// After a late one.
    #[serde(default)]
    pub late: Option<Vec<f64>>,
}

/// A duration or a distribution of durations, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DistSpec {
    /// A fixed duration.
    Fixed(String),
    /// One distribution key.
    Dist(DistKeys),
}

/// The distribution keys (exactly one is set; the schema sees to it).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistKeys {
    /// Always this.
    #[serde(default)]
    pub constant: Option<String>,
    /// Exponential with this mean.
    #[serde(default)]
    pub exponential: Option<String>,
    /// Uniform between the two.
    #[serde(default)]
    pub uniform: Option<[String; 2]>,
    /// Log-normal by median and 90th percentile.
    #[serde(default)]
    pub lognormal: Option<Quantiles<String>>,
    /// Gamma by mean and shape.
    #[serde(default)]
    pub gamma: Option<GammaSpec>,
}

/// `{median, p90}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantiles<T> {
    /// The median.
    pub median: T,
    /// The 90th percentile.
    pub p90: T,
}

/// `{mean, shape}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GammaSpec {
    /// The mean.
    pub mean: String,
    /// The shape (1 is exponential).
    pub shape: f64,
}

/// Parses and shape-checks a scenario. Errors name the field.
pub fn parse(yaml: &str) -> Result<Scenario, ScenarioErrors> {
    let value: Value = serde_saphyr::from_str(yaml).map_err(|e| {
        let message = e.without_snippet().to_string();
        // Advice to the reader's programmer, not to its user.
        let first = whistle_grammar::areas::plain_yaml(message.lines().next().unwrap_or("invalid YAML"))
            .replace(
                " rejected by the configured policy",
                " is not a number Whistle takes",
            );
        // The place is said once, before the message.
        let first = match first.rfind(" at line ") {
            Some(i) if e.location().is_some() => first[..i].to_string(),
            _ => first,
        };
        // The parser's limit on nodes, in its own terms ("budget breached:
        // Nodes { nodes: 250001 }"): what it guards against, in words.
        let first = if first.starts_with("budget breached") {
            "it expands to too many values (aliases that repeat aliases?): a scenario is a few hundred lines".to_string()
        } else {
            first
        };
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        ScenarioError::at("", format!("the scenario is not valid YAML{at}: {first}"))
    })?;
    from_value(value)
}

/// Shape-checks a scenario given as a JSON value.
pub fn from_value(value: Value) -> Result<Scenario, ScenarioErrors> {
    let validator = VALIDATOR
        .as_ref()
        .map_err(|e| ScenarioError::at("", format!("the scenario schema: {e}")))?;
    if !value.is_object() {
        return Err(ScenarioError::at(
            "",
            "a scenario is a mapping (`period: ...`, `capacity: ...`)",
        )
        .into());
    }
    if !validator.is_valid(&value) {
        return Err(ScenarioErrors(schema_errors(validator, &value)));
    }
    // The schema takes 2.0 for an integer; serde does not. The path says
    // which field, and the message says it in words.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e
            .inner()
            .to_string()
            .replace("expected u32", "expected a whole number")
            .replace("expected u64", "expected a whole number");
        ScenarioError::at(if path == "." { "" } else { &path }, message).into()
    })
}

/// One error per field; where the schema tried alternatives (`oneOf`),
/// the errors of the one alternative the value's shape chose (a mapping
/// with `generate`, a `{lognormal: ...}`), else what was expected instead
/// of every branch's complaint.
fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<ScenarioError> {
    let mut out: Vec<ScenarioError> = Vec::new();
    for e in validator.iter_errors(value).take(32) {
        describe(&e, &mut out);
    }
    // A failed `oneOf` also reports what each branch disliked; the
    // branch-level errors inside a field already reported are noise.
    let reported: Vec<String> = out.iter().map(|e| e.path.clone()).collect();
    out.retain(|e| {
        !reported
            .iter()
            .any(|p| p != &e.path && !p.is_empty() && e.path.starts_with(&format!("{p}.")))
    });
    out
}

/// Adds what `e` says to `out`, once per field.
fn describe(e: &jsonschema::ValidationError<'_>, out: &mut Vec<ScenarioError>) {
    use jsonschema::error::ValidationErrorKind as Kind;
    let path = dotted(&e.instance_path().to_string());
    let schema_path = e.schema_path().to_string();
    let message = match e.kind() {
        Kind::OneOfNotValid { context } => {
            if let Some(branch) = chosen_branch(&path, context) {
                for inner in branch {
                    describe(inner, out);
                }
                return;
            }
            one_of_hint(&path, &schema_path, e.instance())
        }
        Kind::OneOfMultipleValid { .. } => one_of_hint(&path, &schema_path, e.instance()),
        Kind::AdditionalProperties { unexpected } => format!(
            "unknown field{} {}",
            if unexpected.len() == 1 { "" } else { "s" },
            unexpected
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Pattern { .. } if schema_path.contains("duration") => format!(
            "{} is not a duration such as \"30m\", \"1h30m\" or \"2d\"",
            e.instance()
        ),
        Kind::Pattern { .. } if schema_path.contains("date") => {
            format!("{} is not a date such as \"2026-01-01\"", e.instance())
        }
        // The validator's words ("has less than 1 property") are its own.
        Kind::MinProperties { limit } => {
            let has = e.instance().as_object().map_or(0, serde_json::Map::len);
            format!(
                "has {has} entr{}; give at least {limit}",
                plural_y(has as u64)
            )
        }
        // Every list of the schema has one length (12 months, 7 days).
        Kind::MinItems { limit } | Kind::MaxItems { limit } => {
            let has = e.instance().as_array().map_or(0, Vec::len);
            format!("has {has} item{}; give {limit}", plural_s(has as u64))
        }
        _ => e.masked().to_string(),
    };
    // One error per field, except that a missing key and an unknown one
    // at the same place are told together: `capactiy` is the typo that
    // explains the missing `capacity`.
    let together = matches!(
        e.kind(),
        Kind::AdditionalProperties { .. } | Kind::Required { .. }
    );
    match out.iter_mut().find(|o| o.path == path) {
        None => out.push(ScenarioError::at(path, message)),
        Some(o) if together && !o.message.contains(&message) => {
            o.message.push_str("; ");
            o.message.push_str(&message);
        }
        Some(_) => {}
    }
}

fn plural_y(n: u64) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

fn plural_s(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The one alternative of a failed `oneOf` whose shape the value has: the
/// only branch that found nothing wrong at the value itself (its type,
/// its keys), only further in. `None` when no branch, or several, did.
fn chosen_branch<'a, 'e>(
    path: &str,
    branches: &'a [Vec<jsonschema::ValidationError<'e>>],
) -> Option<&'a [jsonschema::ValidationError<'e>]> {
    let mut chosen = branches.iter().filter(|errors| {
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| dotted(&e.instance_path().to_string()).len() > path.len())
    });
    let first = chosen.next()?;
    chosen.next().is_none().then_some(first.as_slice())
}

fn one_of_hint(path: &str, schema_path: &str, instance: &Value) -> String {
    if path.is_empty() {
        return "give either `arrivals` (synthetic events) or `replay` (an event log), not both and not neither".into();
    }
    if path == "areas" {
        return format!(
            "{instance} is not `policy`, `{{file: PATH}}` or `{{generate: {{streets: N, communities: N, grids: N}}}}`"
        );
    }
    if schema_path.contains("attr_dist") || path.contains(".attr.") {
        return format!(
            "{instance} is not a value or one of {{bernoulli: P}}, {{poisson: MEAN}}, {{uniform: [A, B]}}, {{integer: [A, B]}}, {{normal: {{mean, sd}}}}, {{lognormal: {{median, p90}}}}, {{choice: {{VALUE: WEIGHT}}}}, {{constant: V}} (with an optional `present: P`)"
        );
    }
    format!(
        "{instance} is not a duration (\"30m\") or one of {{constant: D}}, {{exponential: MEAN}}, {{uniform: [MIN, MAX]}}, {{lognormal: {{median: D, p90: D}}}}, {{gamma: {{mean: D, shape: K}}}}"
    )
}

/// `/capacity/levels/grid` → `capacity.levels.grid`; array indices as `[i]`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// Parses a Whistle duration (`30m`, `1h30m`, `1.5h`, `2d`) into seconds.
pub fn duration_seconds(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'd' | 'h' | 'm' | 's' => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                total += n * match c {
                    'd' => 86_400.0,
                    'h' => 3_600.0,
                    'm' => 60.0,
                    _ => 1.0,
                };
                any = true;
            }
            _ => return None,
        }
    }
    (any && number.is_empty() && total.is_finite()).then_some(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const MINIMAL: &str = "
period: {from: 2026-01-01, to: 2026-01-31}
arrivals:
  categories:
    fire_lane: {per_day: 10}
capacity:
  levels:
    grid: {handlers: 2}
";

    #[test]
    fn a_minimal_scenario_parses() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.period.from, "2026-01-01");
        assert_eq!(s.areas, AreasSpec::Named(AreasWord::Policy));
        let a = s.arrivals.unwrap();
        assert_eq!(a.categories["fire_lane"].per_day, Some(10.0));
        assert_eq!(s.capacity.levels["grid"].handlers, 2);
        assert_eq!(s.capacity.queue, QueueOrder::Fifo);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = MINIMAL.replace("per_day: 10", "per_day: -3");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "arrivals.categories.fire_lane.per_day");
        assert!(e.0[0].message.contains("minimum"), "{e}");

        let bad = MINIMAL.replace("handlers: 2", "handlers: 2, handlng: 1h");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "capacity.levels.grid");
        assert!(e.0[0].message.contains("`handlng`"), "{e}");

        let bad = MINIMAL.replace(
            "handlers: 2",
            "handlers: 2, handling: {exponential: 3 hours}",
        );
        let e = parse(&bad).unwrap_err();
        assert_eq!(
            e.0[0].path, "capacity.levels.grid.handling.exponential",
            "{e}"
        );
        assert!(e.0[0].message.contains("not a duration"), "{e}");
        // No alternative has this shape: what the field takes is listed.
        let bad = MINIMAL.replace("handlers: 2", "handlers: 2, handling: {exponentia: 3h}");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "capacity.levels.grid.handling", "{e}");
        assert!(e.0[0].message.contains("{exponential: MEAN}"), "{e}");

        let bad = MINIMAL.replace("2026-01-31", "31/01/2026");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "period.to");
        assert!(e.0[0].message.contains("not a date"), "{e}");

        let e = parse("period: [").unwrap_err();
        assert!(e.0[0].message.contains("not valid YAML"), "{e}");

        let bad = MINIMAL.replace("arrivals:", "replay: {file: x.jsonl}\narrivals:");
        let e = parse(&bad).unwrap_err();
        assert!(e.0[0].message.contains("either `arrivals`"), "{e}");

        // A whole number written as 2.0 passes the schema, not the reader:
        // the field is still named.
        let bad = MINIMAL.replace("handlers: 2", "handlers: 2.0");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "capacity.levels.grid.handlers", "{e}");
        assert!(e.0[0].message.contains("expected a whole number"), "{e}");

        // A reopen chance of 1 would reopen every event for ever.
        let bad = MINIMAL.replace("arrivals:", "reopen: {on_time: 1}\narrivals:");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.0[0].path, "reopen.on_time", "{e}");

        // Aliases of aliases (a "billion laughs") are refused in words.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in ["b", "c", "d", "e", "f"]
            .iter()
            .zip(["a", "b", "c", "d", "e"])
        {
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.0[0].message.contains("expands to too many values"), "{e}");
        assert!(!e.0[0].message.contains("Nodes {"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("30m"), Some(1800.0));
        assert_eq!(duration_seconds("1h30m"), Some(5400.0));
        assert_eq!(duration_seconds("1.5h"), Some(5400.0));
        assert_eq!(duration_seconds("2d"), Some(172_800.0));
        assert_eq!(duration_seconds("2"), None);
        assert_eq!(duration_seconds(""), None);
        assert_eq!(duration_seconds("h"), None);
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted(""), "");
        assert_eq!(dotted("/a/b"), "a.b");
        assert_eq!(dotted("/a/3/b"), "a[3].b");
    }
}
