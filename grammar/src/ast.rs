//! The typed syntax tree of a Whistle policy file.
//!
//! Every node keeps the [`Span`] it was parsed from, so that diagnostics and
//! decision traces can always point back at the source. The tree is exactly
//! what the text says: names are not resolved here (that is the engine's
//! `check`), and items keep their source order (the formatter and "first
//! matching line wins" both depend on it).

use crate::source::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The identifier text.
    pub name: String,
    /// Where it stands.
    pub span: Span,
}

impl Ident {
    /// A blank name at `span`: where a declaration lost its name to a
    /// syntax error, so that the rest of it can still be lowered.
    pub fn missing(span: Span) -> Ident {
        Ident {
            name: String::new(),
            span,
        }
    }
}

/// A string literal, escapes resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrLit {
    /// The value after escapes are resolved.
    pub value: String,
    /// Where the literal (quotes included) stands.
    pub span: Span,
}

impl StrLit {
    /// An empty string at `span`, where a declaration lost its name to a
    /// syntax error.
    pub fn missing(span: Span) -> StrLit {
        StrLit {
            value: String::new(),
            span,
        }
    }
}

/// A calendar date (`2025-10-01`), already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i16,
    /// Month, 1–12.
    pub month: i8,
    /// Day of month, 1–31 (valid for the month).
    pub day: i8,
}

/// A time of day (`09:00`), as minutes since midnight; `24:00` is allowed as an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    /// Minutes since midnight, 0..=1440.
    pub minutes: u16,
}

/// The unit of one part of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `d`
    Day,
    /// `h`
    Hour,
    /// `m`
    Minute,
    /// `s`
    Second,
}

/// A duration such as `1d12h` or `2h working`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Duration {
    /// The parts, one per unit, largest unit first (`30m2h` is read as
    /// `2h30m`, `1h1h` as `2h`).
    pub parts: Vec<(u64, TimeUnit)>,
    /// Whether only working time of the policy calendar counts.
    pub working: bool,
    /// Where it stands.
    pub span: Span,
}

impl Duration {
    /// Whole days written in the duration (`1d12h` → 1).
    pub fn days(&self) -> u64 {
        self.parts
            .iter()
            .filter(|(_, u)| *u == TimeUnit::Day)
            .map(|(n, _)| *n)
            .fold(0u64, u64::saturating_add)
    }

    /// The hours, minutes and seconds part in seconds (`1d12h` → 43200).
    pub fn sub_day_seconds(&self) -> u64 {
        self.parts
            .iter()
            .map(|&(n, u)| match u {
                TimeUnit::Day => 0,
                TimeUnit::Hour => n.saturating_mul(3600),
                TimeUnit::Minute => n.saturating_mul(60),
                TimeUnit::Second => n,
            })
            .fold(0u64, u64::saturating_add)
    }

    /// The whole duration in seconds of elapsed time (a day is 86 400 s).
    pub fn total_seconds(&self) -> u64 {
        self.days()
            .saturating_mul(86_400)
            .saturating_add(self.sub_day_seconds())
    }
}

/// A number as written, with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// The text as written (`0.50` stays `0.50` in the formatter).
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A literal value in a condition, threshold or target.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `12`, `0.5`
    Number(Number),
    /// `10%`, kept as written; `value` is the fraction (0.10).
    Percent(Number),
    /// `"text"`
    Str(StrLit),
    /// `true` / `false`
    Bool(bool, Span),
    /// `30m`, `2h working`
    Duration(Duration),
}

impl Literal {
    /// Where the literal stands.
    pub fn span(&self) -> Span {
        match self {
            Literal::Number(n) | Literal::Percent(n) => n.span,
            Literal::Str(s) => s.span,
            Literal::Bool(_, s) => *s,
            Literal::Duration(d) => d.span,
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `attr.a.b`: the keys after `attr`.
    Attr(Vec<String>, Span),
    /// `repeats(7d)` or `repeats(7d, grid)`.
    Repeats {
        /// The window before the event.
        window: Duration,
        /// `grid` (or another level) to group by instead of the location.
        by: Option<Ident>,
        /// Where the whole call stands.
        span: Span,
    },
    /// A field (`source`, `hour`, `grade`, a level name) or a symbol (`patrol`, `blue`).
    Name(Ident),
    /// A literal.
    Lit(Literal),
}

impl Operand {
    /// Where the operand stands.
    pub fn span(&self) -> Span {
        match self {
            Operand::Attr(_, s) | Operand::Repeats { span: s, .. } => *s,
            Operand::Name(i) => i.span,
            Operand::Lit(l) => l.span(),
        }
    }
}

/// A condition, as written (parentheses are kept so the formatter keeps them).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What kind of condition.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// The kinds of condition.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `a or b or c`
    Or(Vec<Expr>),
    /// `a and b`
    And(Vec<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// `( a )`
    Paren(Box<Expr>),
    /// `has attr.x`
    Has(Vec<String>, Span),
    /// `lhs OP rhs`
    Cmp {
        /// Left side.
        lhs: Operand,
        /// Operator.
        op: CmpOp,
        /// Right side.
        rhs: Operand,
    },
    /// `lhs in [..]` or `lhs not in [..]`
    In {
        /// Left side.
        lhs: Operand,
        /// `not in`.
        negated: bool,
        /// The list.
        list: Vec<Operand>,
    },
    /// A lone operand, true when it is `true` (e.g. `when attr.urgent`).
    Truthy(Operand),
}

/// A parsed file: its declarations in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    /// The declarations.
    pub decls: Vec<Decl>,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Decl {
    /// `policy "..." { ... }`
    Policy(PolicyDecl),
    /// `levels a < b < c`
    Levels(OrderDecl),
    /// `department x "..." { ... }`
    Department(DepartmentDecl),
    /// `grades a < b < c`
    Grades(OrderDecl),
    /// `grade x { ... }`
    Grade(GradeDecl),
    /// `category x "..." { ... }`
    Category(CategoryDecl),
    /// `fallback { ... }`
    Fallback(FallbackDecl),
    /// `empower L { ... }`
    Empower(EmpowerDecl),
    /// `relieve L { ... }`
    Relieve(RelieveDecl),
    /// `escalate [for G] { ... }`
    Escalate(EscalateDecl),
    /// `threshold x "..." { ... }`
    Threshold(ThresholdDecl),
    /// `assess G { ... }`
    Assess(AssessDecl),
    /// `target m >= 90%`
    Target(TargetDecl),
    /// `test "..." { ... }`
    Test(TestDecl),
    /// `calendar x { ... }`
    Calendar(CalendarDecl),
}

impl Decl {
    /// Where the whole declaration stands.
    pub fn span(&self) -> Span {
        match self {
            Decl::Policy(d) => d.span,
            Decl::Levels(d) | Decl::Grades(d) => d.span,
            Decl::Department(d) => d.span,
            Decl::Grade(d) => d.span,
            Decl::Category(d) => d.span,
            Decl::Fallback(d) => d.span,
            Decl::Empower(d) => d.span,
            Decl::Relieve(d) => d.span,
            Decl::Escalate(d) => d.span,
            Decl::Threshold(d) => d.span,
            Decl::Assess(d) => d.span,
            Decl::Target(d) => d.span,
            Decl::Test(d) => d.span,
            Decl::Calendar(d) => d.span,
        }
    }
}

/// The policy header.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDecl {
    /// The policy's name.
    pub name: StrLit,
    /// Its items in source order.
    pub items: Vec<PolicyItem>,
    /// Where it stands.
    pub span: Span,
}

/// An item of the policy header.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyItem {
    /// `version "2025.2"`
    Version(StrLit, Span),
    /// `effective 2025-03-01`
    Effective(Date, Span),
    /// `timezone "Asia/Shanghai"`
    Timezone(StrLit, Span),
    /// `calendar workdays`
    Calendar(Ident, Span),
}

/// An ordered list of names, lowest first: `levels` and `grades`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDecl {
    /// The names, lowest first.
    pub names: Vec<Ident>,
    /// Where it stands.
    pub span: Span,
}

/// A department.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentDecl {
    /// Its name.
    pub name: Ident,
    /// Its display name.
    pub display: Option<StrLit>,
    /// Whether a `{ ... }` block was written (the formatter keeps it).
    pub has_block: bool,
    /// `level L`
    pub level: Vec<Ident>,
    /// `external`: not a government department (a property company, a utility).
    pub external: Option<Span>,
    /// Where it stands.
    pub span: Span,
}

/// A respond or resolve limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// `respond` or `resolve`.
    pub clock: Clock,
    /// The duration.
    pub duration: Duration,
    /// Where the item stands.
    pub span: Span,
}

/// The two clocks of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// Time to accept.
    Respond,
    /// Time to resolve.
    Resolve,
}

impl Clock {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Respond => "respond",
            Clock::Resolve => "resolve",
        }
    }
}

/// An item inside a `grade` block.
#[derive(Debug, Clone, PartialEq)]
pub enum GradeItem {
    /// `level L`
    Level(Ident, Span),
    /// `respond D` / `resolve D`
    Limit(Limit),
}

/// `grade red { level street respond 30m resolve 72h }`
#[derive(Debug, Clone, PartialEq)]
pub struct GradeDecl {
    /// The grade.
    pub name: Ident,
    /// Items in source order.
    pub items: Vec<GradeItem>,
    /// Where it stands.
    pub span: Span,
}

/// A category: one line of the responsibility list.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryDecl {
    /// Its name.
    pub name: Ident,
    /// Its display name.
    pub display: Option<StrLit>,
    /// Items in source order.
    pub items: Vec<CategoryItem>,
    /// Where it stands.
    pub span: Span,
}

/// An item of a category or of the fallback.
#[derive(Debug, Clone, PartialEq)]
pub enum CategoryItem {
    /// `lead D`
    Lead(Ident, Span),
    /// `assist D, D [when C]`
    Assist(Vec<Ident>, Option<Expr>, Span),
    /// `grade G [when C]`
    Grade(Ident, Option<Expr>, Span),
    /// `limits G { respond D resolve D }`
    Limits(Ident, Vec<Limit>, Span),
    /// `level L`
    Level(Ident, Span),
}

impl CategoryItem {
    /// Where the item stands.
    pub fn span(&self) -> Span {
        match self {
            CategoryItem::Lead(_, s)
            | CategoryItem::Assist(_, _, s)
            | CategoryItem::Grade(_, _, s)
            | CategoryItem::Limits(_, _, s)
            | CategoryItem::Level(_, s) => *s,
        }
    }
}

/// `fallback { lead command grade yellow }`
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackDecl {
    /// Items in source order (the same kinds as a category's).
    pub items: Vec<CategoryItem>,
    /// Where it stands.
    pub span: Span,
}

/// `empower L { resolve a, b when C }`
#[derive(Debug, Clone, PartialEq)]
pub struct EmpowerDecl {
    /// The level empowered.
    pub level: Ident,
    /// `resolve` lines.
    pub items: Vec<EmpowerItem>,
    /// Where it stands.
    pub span: Span,
}

/// `resolve a, b when C`
#[derive(Debug, Clone, PartialEq)]
pub struct EmpowerItem {
    /// The categories.
    pub categories: Vec<Ident>,
    /// The condition, if any.
    pub when: Option<Expr>,
    /// Where it stands.
    pub span: Span,
}

/// `relieve L { forbid a, b }`
#[derive(Debug, Clone, PartialEq)]
pub struct RelieveDecl {
    /// The level relieved.
    pub level: Ident,
    /// `forbid` lines.
    pub items: Vec<RelieveItem>,
    /// Where it stands.
    pub span: Span,
}

/// `forbid a, b`
#[derive(Debug, Clone, PartialEq)]
pub struct RelieveItem {
    /// The categories.
    pub categories: Vec<Ident>,
    /// Where it stands.
    pub span: Span,
}

/// `escalate [for G] { steps }`
#[derive(Debug, Clone, PartialEq)]
pub struct EscalateDecl {
    /// The grade this ladder is for; `None` for the default ladder.
    pub grade: Option<Ident>,
    /// Steps in source order.
    pub steps: Vec<Step>,
    /// Where it stands.
    pub span: Span,
}

/// One step of a ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub actions: Vec<Action>,
    /// Where it stands.
    pub span: Span,
}

/// When a step fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `at P% respond|resolve`
    At {
        /// The percentage of the limit.
        percent: Number,
        /// Which limit.
        clock: Clock,
    },
    /// `when C`
    When(Expr),
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `remind`
    Remind(Span),
    /// `notify X`
    Notify(Ident, Span),
    /// `raise N`
    Raise(Number, Span),
    /// `raise to L`
    RaiseTo(Ident, Span),
    /// `whistle D, D`
    Whistle(Vec<Ident>, Span),
}

impl Action {
    /// Where the action stands.
    pub fn span(&self) -> Span {
        match self {
            Action::Remind(s)
            | Action::Notify(_, s)
            | Action::Raise(_, s)
            | Action::RaiseTo(_, s)
            | Action::Whistle(_, s) => *s,
        }
    }
}

/// What a threshold or an assess block groups by.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    /// `department`
    Department(Span),
    /// `category`
    Category(Span),
    /// A level name.
    Level(Ident),
}

impl GroupKey {
    /// The key as written.
    pub fn as_str(&self) -> &str {
        match self {
            GroupKey::Department(_) => "department",
            GroupKey::Category(_) => "category",
            GroupKey::Level(i) => &i.name,
        }
    }

    /// Where it stands.
    pub fn span(&self) -> Span {
        match self {
            GroupKey::Department(s) | GroupKey::Category(s) => *s,
            GroupKey::Level(i) => i.span,
        }
    }
}

/// The metric of a threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// A built-in metric by name.
    Builtin(Ident),
    /// `count(COND)`; `count()` counts every event.
    Count(Option<Expr>, Span),
}

/// A threshold warning.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdDecl {
    /// Its name.
    pub name: Ident,
    /// Its display name.
    pub display: Option<StrLit>,
    /// Items in source order.
    pub items: Vec<ThresholdItem>,
    /// Where it stands.
    pub span: Span,
}

/// An item of a threshold.
// `Metric` is the big one, but a threshold has only a few items; boxing it
// would only make the tree harder to match on.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdItem {
    /// `metric M by G over W`
    Metric {
        /// The metric.
        metric: MetricExpr,
        /// The grouping.
        by: GroupKey,
        /// The sliding window.
        over: Duration,
        /// Where it stands.
        span: Span,
    },
    /// `when > 10%`
    When(CmpOp, Literal, Span),
    /// `alert L`
    Alert(Ident, Span),
}

/// `assess G { m weight N ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct AssessDecl {
    /// What is assessed.
    pub by: GroupKey,
    /// The weights in source order.
    pub weights: Vec<Weight>,
    /// Where it stands.
    pub span: Span,
}

/// `metric weight N`
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The metric.
    pub metric: Ident,
    /// The weight.
    pub weight: Number,
    /// Where it stands.
    pub span: Span,
}

/// `target m >= 90%`
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDecl {
    /// The metric.
    pub metric: Ident,
    /// The comparison.
    pub op: CmpOp,
    /// The bound.
    pub value: Literal,
    /// Where it stands.
    pub span: Span,
}

/// A test block.
#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    /// The test's name.
    pub name: StrLit,
    /// `event {...}` lines, decided in order.
    pub events: Vec<TestEvent>,
    /// `expect {...}` blocks (one is expected; the checker says so otherwise).
    pub expects: Vec<Expect>,
    /// Items in source order, as indices into `events` / `expects`.
    pub order: Vec<TestItemRef>,
    /// Where it stands.
    pub span: Span,
}

/// Which item of a test comes next in source order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestItemRef {
    /// `events[i]`
    Event(usize),
    /// `expects[i]`
    Expect(usize),
}

/// `event { JSON }`
#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    /// The JSON text as written.
    pub json: String,
    /// The parsed JSON value.
    pub value: serde_json::Value,
    /// Where the JSON object stands.
    pub span: Span,
}

/// `expect { key: value, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The entries in source order.
    pub entries: Vec<ExpectEntry>,
    /// Where it stands.
    pub span: Span,
}

/// `key: value`
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectEntry {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: ExpectValue,
    /// Where it stands.
    pub span: Span,
}

/// A value in an `expect` block.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectValue {
    /// A name: `red`, `urban`, `S01`.
    Name(Ident),
    /// `"2025-06-03T10:15:00+08:00"`
    Str(StrLit),
    /// `true` / `false`
    Bool(bool, Span),
    /// `12`
    Number(Number),
    /// `[fire, property]`
    List(Vec<Ident>, Span),
}

/// A working-time calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarDecl {
    /// Its name.
    pub name: Ident,
    /// Items in source order.
    pub items: Vec<CalendarItem>,
    /// Where it stands.
    pub span: Span,
}

/// `mon` or `mon..fri`
#[derive(Debug, Clone, PartialEq)]
pub struct DaySpec {
    /// First day.
    pub from: Ident,
    /// Last day of a range.
    pub to: Option<Ident>,
}

/// An item of a calendar.
#[derive(Debug, Clone, PartialEq)]
pub enum CalendarItem {
    /// `week mon..fri 09:00-12:00, 13:30-18:00`
    Week {
        /// The days.
        days: Vec<DaySpec>,
        /// The intervals.
        intervals: Vec<(TimeOfDay, TimeOfDay)>,
        /// Where it stands.
        span: Span,
    },
    /// `holiday D[..D] ["label"]`
    Holiday(Date, Option<Date>, Option<StrLit>, Span),
    /// `workday D[..D] ["label"]`
    Workday(Date, Option<Date>, Option<StrLit>, Span),
}
