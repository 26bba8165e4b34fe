//! The compiled policy: every name interned to a small index, every condition
//! compiled, every source place a [`SiteId`]. Nothing on the deciding path
//! compares names or walks the syntax tree.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::calendar::Calendar;
use crate::cond::Cond;
use crate::lifecycle::Name;

/// Index of a level in the escalation ladder, lowest (grid) first.
pub type LevelId = u8;
/// Index of a grade in severity order, lowest first.
pub type GradeId = u8;
/// Index of a department.
pub type DeptId = u16;
/// Index of a category.
pub type CategoryId = u32;
/// Index of a traced source place in [`Policy::sites`].
pub type SiteId = u32;

/// A source place a decision can be explained by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// What the rule did, in words (`grade red when attr.people_trapped > 0`).
    pub what: String,
    /// File relative to the bundle.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

/// A respond or resolve limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Whole working days (only for `working` limits; plain limits fold days into `seconds`).
    pub days: u32,
    /// Seconds (of working time for `working` limits).
    pub seconds: u64,
    /// Whether the limit counts only working time.
    pub working: bool,
    /// Where the limit was written.
    pub site: SiteId,
}

/// A grade and its defaults.
#[derive(Debug, Clone)]
pub struct Grade {
    /// Its name.
    pub name: Arc<str>,
    /// The level that handles it by default.
    pub level: LevelId,
    /// The `grade` block's site (for the level).
    pub site: SiteId,
    /// Time to accept.
    pub respond: Limit,
    /// Time to resolve.
    pub resolve: Limit,
}

/// A department.
#[derive(Debug, Clone)]
pub struct Department {
    /// Its name.
    pub name: Arc<str>,
    /// Its display name.
    pub display: Option<Arc<str>>,
    /// Its level, if declared.
    pub level: Option<LevelId>,
    /// Not a government body (a property company, a utility).
    pub external: bool,
}

/// `assist D, D [when C]`
#[derive(Debug, Clone)]
pub struct AssistRule {
    /// The departments, in order.
    pub depts: SmallVec<[DeptId; 4]>,
    /// The condition; `None` always holds.
    pub when: Option<Cond>,
    /// Where it stands.
    pub site: SiteId,
}

/// `grade G [when C]`
#[derive(Debug, Clone)]
pub struct GradeRule {
    /// The grade it gives.
    pub grade: GradeId,
    /// The condition; `None` always holds.
    pub when: Option<Cond>,
    /// Where it stands.
    pub site: SiteId,
}

/// `limits G { ... }` of one category.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitOverride {
    /// Overrides the grade's respond limit.
    pub respond: Option<Limit>,
    /// Overrides the grade's resolve limit.
    pub resolve: Option<Limit>,
}

/// An `empower` line as it applies to one category.
#[derive(Debug, Clone)]
pub struct Empowerment {
    /// The level that may settle it on the spot.
    pub level: LevelId,
    /// The condition; `None` always holds.
    pub when: Option<Cond>,
    /// Where it stands.
    pub site: SiteId,
}

/// Levels a category may never be handled at (the relief list).
#[derive(Debug, Clone, Default)]
pub struct Relief {
    /// Bit `l` set: level `l` is forbidden.
    pub mask: u64,
    /// For each forbidden level, the `forbid` line's site.
    pub sites: SmallVec<[(LevelId, SiteId); 2]>,
}

impl Relief {
    /// Whether level `l` is forbidden.
    pub fn forbids(&self, l: LevelId) -> bool {
        l < 64 && self.mask & (1u64 << l) != 0
    }

    /// The site of the line that forbids `l`.
    pub fn site(&self, l: LevelId) -> Option<SiteId> {
        self.sites.iter().find(|(x, _)| *x == l).map(|(_, s)| *s)
    }
}

/// How a category routes: the responsibility list line, compiled. The
/// fallback is one of these too.
#[derive(Debug, Clone)]
pub struct Route {
    /// The category's name (`fallback` for the fallback).
    pub name: Arc<str>,
    /// Its display name.
    pub display: Option<Arc<str>>,
    /// The lead department.
    pub lead: DeptId,
    /// The `lead` line.
    pub lead_site: SiteId,
    /// `assist` lines in order.
    pub assists: Vec<AssistRule>,
    /// `grade` lines in order; the first that holds gives the grade.
    pub grades: Vec<GradeRule>,
    /// `limits` per grade.
    pub limits: Vec<(GradeId, LimitOverride, SiteId)>,
    /// `level` override.
    pub level: Option<(LevelId, SiteId)>,
    /// `empower` lines that name this category, in order.
    pub empower: Vec<Empowerment>,
    /// The relief list for this category.
    pub relief: Relief,
}

/// What a ladder step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionDef {
    /// Remind the current handler.
    Remind,
    /// Notify a level or a department.
    Notify(Target),
    /// Raise the handler level by N steps.
    Raise(u8),
    /// Raise the handler to a level.
    RaiseTo(LevelId),
    /// Summon departments.
    Whistle(SmallVec<[DeptId; 4]>),
}

/// Who a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A level (its unit for the event).
    Level(LevelId),
    /// A department.
    Department(DeptId),
}

/// When a step fires.
#[derive(Debug, Clone)]
pub enum TriggerDef {
    /// At a fraction of a limit.
    At {
        /// 0.5 for `at 50%`.
        fraction: f64,
        /// Which limit.
        clock: ClockKind,
    },
    /// As soon as the condition holds.
    When(Cond),
}

/// The two clocks of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockKind {
    /// Time to accept.
    Respond,
    /// Time to resolve.
    Resolve,
}

/// A step of a ladder.
#[derive(Debug, Clone)]
pub struct StepDef {
    /// When it fires.
    pub trigger: TriggerDef,
    /// What it does.
    pub actions: Vec<ActionDef>,
    /// The trigger as written (`at 50% respond`).
    pub label: Arc<str>,
    /// The actions as written (`raise to district`), as the transitions of
    /// a fired step name them ([`Name::lasting`]).
    pub action_labels: Vec<Name>,
    /// Where it stands.
    pub site: SiteId,
}

/// An escalation ladder.
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    /// Steps in source order.
    pub steps: Vec<StepDef>,
    /// Each step's label as cases hold it ([`Name::lasting`]), made once
    /// the policy is compiled.
    pub labels: Vec<Name>,
    /// Which `when` steps it has, made with `labels` (`None` in a ladder
    /// built by hand: then worked out when asked): most ladders have none
    /// that reads `repeats`, and a case's every transition asks.
    pub when: Option<WhenSteps>,
    /// The `escalate` block's site.
    pub site: Option<SiteId>,
}

/// What a ladder's `when` steps read, worked out once per policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WhenSteps {
    /// It has a `when` step.
    pub any: bool,
    /// One of them reads `repeats`: the only input that changes while a
    /// case is not decided again.
    pub history: bool,
}

impl WhenSteps {
    /// What `steps`' `when` steps read.
    pub fn of(steps: &[StepDef]) -> WhenSteps {
        let mut w = WhenSteps::default();
        for s in steps {
            if let TriggerDef::When(c) = &s.trigger {
                w.any = true;
                w.history |= crate::lifecycle::reads_history(c);
            }
        }
        w
    }
}

/// Area ids that contain one grid, one per level (lowest first); `None`
/// where the tree has no area at that level. Lasting names
/// ([`Name::lasting`]): the tree's ids are few, its cases many.
pub type Units = [Option<Name>; 8];

/// The jurisdiction tree, indexed by grid id.
#[derive(Debug, Clone, Default)]
pub struct AreaIndex {
    /// Grid id → its units. Keys are held in the table (grid ids are
    /// short): a lookup reads one bucket, not a bucket and a string on
    /// the heap, which at a city's volume is a cache miss per event.
    pub grids: FxHashMap<compact_str::CompactString, Arc<Units>>,
    /// Area id (district, street, community) → its display name, where
    /// `areas.yaml` gives one: reports show it beside the id.
    pub names: FxHashMap<Box<str>, Arc<str>>,
}

impl AreaIndex {
    /// Indexes a tree by grid: level `i` is depth `i` of the tree (grids,
    /// communities, streets, districts).
    pub fn of(tree: &whistle_grammar::areas::AreaTree) -> AreaIndex {
        let mut idx = AreaIndex::default();
        for path in tree.paths() {
            let mut units: Units = Default::default();
            for (slot, id) in units.iter_mut().zip(path.iter()) {
                // Each case names its unit: a lasting name costs no
                // reference count to clone (see [`Name`]).
                *slot = Some(Name::lasting(id));
            }
            idx.grids.insert(path[0].as_str().into(), Arc::new(units));
        }
        let mut name = |id: &str, name: &Option<String>| {
            if let Some(n) = name {
                idx.names.insert(id.into(), n.as_str().into());
            }
        };
        for d in &tree.districts {
            name(&d.id, &d.name);
            for s in &d.streets {
                name(&s.id, &s.name);
                for c in &s.communities {
                    name(&c.id, &c.name);
                }
            }
        }
        idx
    }

    /// The display name of an area, if `areas.yaml` gives it one.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.names.get(id).map(|n| &**n)
    }
}

/// The policy's names as its cases hold them: made once, lasting
/// ([`Name::lasting`]), so that opening a case clones them without a
/// reference count. Empty in a policy built by hand: then names are made
/// from the policy's text as needed.
#[derive(Debug, Clone, Default)]
pub struct CaseNames {
    /// The content hash.
    pub hash: Option<Name>,
    /// By level id.
    pub levels: Vec<Name>,
    /// By grade id.
    pub grades: Vec<Name>,
    /// By department id.
    pub departments: Vec<Name>,
}

impl CaseNames {
    /// The names of `policy`, and its ladders' step labels.
    pub fn make(policy: &mut Policy) {
        policy.case_names = CaseNames {
            hash: Some(Name::lasting(&policy.hash)),
            levels: policy.levels.iter().map(|l| Name::lasting(l)).collect(),
            grades: policy
                .grades
                .iter()
                .map(|g| Name::lasting(&g.name))
                .collect(),
            departments: policy
                .departments
                .iter()
                .map(|d| Name::lasting(&d.name))
                .collect(),
        };
        let ladders =
            std::iter::once(&mut policy.ladder).chain(policy.grade_ladders.iter_mut().flatten());
        for l in ladders {
            l.labels = l.steps.iter().map(|s| Name::lasting(&s.label)).collect();
            l.when = Some(WhenSteps::of(&l.steps));
        }
    }
}

/// The compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Header name.
    pub name: Arc<str>,
    /// Header version.
    pub version: Arc<str>,
    /// Header effective date.
    pub effective: Option<Arc<str>>,
    /// `sha256:` content hash of the bundle.
    pub hash: Arc<str>,
    /// Its names as cases hold them.
    pub case_names: CaseNames,
    /// The policy time zone's calendar (or an always-working one).
    pub calendar: Calendar,
    /// Level names, lowest first.
    pub levels: Vec<Arc<str>>,
    /// Grades, lowest severity first.
    pub grades: Vec<Grade>,
    /// Departments.
    pub departments: Vec<Department>,
    /// Categories.
    pub categories: Vec<Route>,
    /// Category name → index.
    pub category_index: FxHashMap<Box<str>, CategoryId>,
    /// The fallback route for unknown categories.
    pub fallback: Route,
    /// Relief lines for categories the policy does not declare (routed by the fallback).
    pub undeclared_relief: FxHashMap<Box<str>, Relief>,
    /// The default ladder.
    pub ladder: Ladder,
    /// Ladders by grade, replacing the default.
    pub grade_ladders: Vec<Option<Ladder>>,
    /// The area tree.
    pub areas: AreaIndex,
    /// Longest `repeats` window in seconds (history older than this can be forgotten).
    pub max_repeats_window: u64,
    /// The categories `repeats` is ever asked about (the others need no history).
    pub repeats_asked: crate::windows::Asked,
    /// Threshold warnings.
    pub thresholds: Vec<Threshold>,
    /// Assessment blocks.
    pub assessments: Vec<Assessment>,
    /// Targets.
    pub targets: Vec<TargetDef>,
    /// Levels that `repeats(W, L)` groups by.
    pub repeats_levels: Vec<LevelId>,
    /// The bundle's `event.schema.json` for `attr`, compiled.
    pub attr_validator: Option<Arc<jsonschema::Validator>>,
    /// Traced places.
    pub sites: Vec<Site>,
    /// JSON fragments for writing decisions fast.
    pub rendered: crate::render::Rendered,
}

impl Policy {
    /// The ladder that applies to a grade.
    pub fn ladder_for(&self, grade: GradeId) -> &Ladder {
        self.grade_ladders
            .get(grade as usize)
            .and_then(Option::as_ref)
            .unwrap_or(&self.ladder)
    }

    /// Looks up a grade by name.
    pub fn grade_id(&self, name: &str) -> Option<GradeId> {
        at_address(&self.case_names.grades, name)
            .or_else(|| position_of(self.grades.iter().map(|g| &*g.name), name))
            .and_then(|i| u8::try_from(i).ok())
    }

    /// The units of a grid at each level, if the area tree places it.
    pub fn units_of(&self, grid: &str) -> Option<&Units> {
        self.areas.grids.get(grid).map(|u| &**u)
    }

    /// Looks up a level by name.
    pub fn level_id(&self, name: &str) -> Option<LevelId> {
        at_address(&self.case_names.levels, name)
            .or_else(|| position_of(self.levels.iter().map(|l| &**l), name))
            .and_then(|i| u8::try_from(i).ok())
    }

    /// Looks up a department by name.
    pub fn dept_id(&self, name: &str) -> Option<DeptId> {
        at_address(&self.case_names.departments, name)
            .or_else(|| position_of(self.departments.iter().map(|d| &*d.name), name))
            .and_then(|i| u16::try_from(i).ok())
    }

    /// [`Policy::dept_id`] of a case's name for a department: a case
    /// holds the policy's lasting names, found by pointer alone.
    pub fn dept_of(&self, name: &Name) -> Option<DeptId> {
        by_pointer(&self.case_names.departments, name).or_else(|| self.dept_id(name))
    }

    /// [`Policy::grade_id`] of a case's name for a grade, as
    /// [`Policy::dept_of`].
    pub fn grade_of(&self, name: &Name) -> Option<GradeId> {
        by_pointer(&self.case_names.grades, name).or_else(|| self.grade_id(name))
    }

    /// The route of a category name, or `None` for the fallback.
    pub fn category(&self, name: &str) -> Option<(CategoryId, &Route)> {
        let id = *self.category_index.get(name)?;
        self.categories.get(id as usize).map(|r| (id, r))
    }
}

/// The id of `name` among the policy's lasting names, found by pointer
/// (`None` for a name that is not one of them, or an id that does not fit).
fn by_pointer<I: TryFrom<usize>>(names: &[Name], name: &Name) -> Option<I> {
    names
        .iter()
        .position(|n| n.ptr_eq(name))
        .and_then(|i| I::try_from(i).ok())
}

/// Where `name` is among the policy's lasting names by its address alone:
/// a case's names are those (see [`CaseNames`]), and comparing text would
/// read both names for every candidate.
fn at_address(names: &[Name], name: &str) -> Option<usize> {
    names
        .iter()
        .position(|n| std::ptr::eq(n.as_str().as_ptr(), name.as_ptr()) && n.len() == name.len())
}

/// Where `name` is among `names`: first by address, as a case's names are
/// the policy's own (shared, not copied), then by text.
fn position_of<'a>(names: impl Iterator<Item = &'a str> + Clone, name: &str) -> Option<usize> {
    names
        .clone()
        .position(|n| std::ptr::eq(n, name))
        .or_else(|| names.into_iter().position(|n| n == name))
}

/// The built-in metrics of LANGUAGE.md section 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Share accepted by the respond deadline.
    OnTimeResponse,
    /// Share resolved by the resolve deadline.
    OnTimeResolution,
    /// Share past a deadline.
    OverdueRate,
    /// Share of feedback ratings of 4 or 5.
    Satisfaction,
    /// Share resolved by the first unit that received them.
    FirstContact,
    /// Share raised at least once.
    EscalationRate,
    /// Share reopened at least once.
    ReopenRate,
    /// Share from `patrol` and `sensor`.
    ActiveDiscovery,
    /// Share resolved at grid or community level.
    SourceResolution,
    /// Mean hours from report to resolution.
    MeanResolutionHours,
    /// Number of events.
    Count,
}

impl Metric {
    /// Every metric with its name.
    pub const ALL: [(Metric, &'static str); 11] = [
        (Metric::OnTimeResponse, "on_time_response"),
        (Metric::OnTimeResolution, "on_time_resolution"),
        (Metric::OverdueRate, "overdue_rate"),
        (Metric::Satisfaction, "satisfaction"),
        (Metric::FirstContact, "first_contact"),
        (Metric::EscalationRate, "escalation_rate"),
        (Metric::ReopenRate, "reopen_rate"),
        (Metric::ActiveDiscovery, "active_discovery"),
        (Metric::SourceResolution, "source_resolution"),
        (Metric::MeanResolutionHours, "mean_resolution_hours"),
        (Metric::Count, "count"),
    ];

    /// Looks a metric up by name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
    }

    /// The metric's name.
    pub fn name(self) -> &'static str {
        Metric::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    /// Whether the metric is a share in [0, 1] (and so can be weighted in a score).
    pub fn is_share(self) -> bool {
        !matches!(self, Metric::MeanResolutionHours | Metric::Count)
    }

    /// Whether a lower value is better (a score then counts `1 - value`).
    pub fn lower_is_better(self) -> bool {
        matches!(
            self,
            Metric::OverdueRate | Metric::EscalationRate | Metric::ReopenRate
        )
    }
}

/// What a threshold or an assessment groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// The lead department.
    Department,
    /// The category.
    Category,
    /// The unit at a level.
    Level(LevelId),
}

/// What a threshold measures.
#[derive(Debug, Clone)]
pub enum ThresholdMetric {
    /// A built-in metric.
    Builtin(Metric),
    /// `count(COND)`: events for which the condition holds.
    Count(Option<Cond>),
}

/// A threshold warning, compiled.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// Its name.
    pub name: Arc<str>,
    /// Its display name.
    pub display: Option<Arc<str>>,
    /// What it measures.
    pub metric: ThresholdMetric,
    /// Grouping.
    pub by: GroupBy,
    /// Sliding window in seconds.
    pub window: u64,
    /// The comparison with the bound.
    pub op: crate::cond::Op,
    /// The bound (shares as fractions).
    pub bound: f64,
    /// Who is alerted.
    pub alert: Target,
    /// Where it stands.
    pub site: SiteId,
}

/// An `assess` block, compiled.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// What is scored.
    pub by: GroupBy,
    /// Metrics and weights (summing to 100).
    pub weights: Vec<(Metric, f64)>,
    /// Where it stands.
    pub site: SiteId,
}

/// A `target` line, compiled.
#[derive(Debug, Clone)]
pub struct TargetDef {
    /// The metric.
    pub metric: Metric,
    /// The comparison.
    pub op: crate::cond::Op,
    /// The bound.
    pub bound: f64,
    /// Where it stands.
    pub site: SiteId,
}

#[cfg(test)]
mod tests {
    use super::position_of;

    /// A name is found by its address when it is the policy's own, and by
    /// its text when it is a copy; never a different name of one length.
    #[test]
    fn names_are_found_by_address_or_text() {
        let names = ["blue".to_string(), "teal".to_string(), "red".to_string()];
        let all = || names.iter().map(String::as_str);
        assert_eq!(position_of(all(), &names[1]), Some(1), "the policy's own");
        let copy = String::from("teal");
        assert_eq!(position_of(all(), &copy), Some(1), "a copy");
        assert_eq!(position_of(all(), "red"), Some(2));
        assert_eq!(position_of(all(), "gray"), None, "same length, other text");
        assert_eq!(position_of(all(), &names[0][..2]), None, "a prefix of one");
    }
}
