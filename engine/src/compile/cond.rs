//! Conditions: AST → [`Cond`], resolving fields and symbols, and checking
//! them against `event.schema.json` when the bundle has one.

use std::sync::Arc;

use serde_json::Value;
use whistle_grammar::ast::{self, ExprKind, Literal};
use whistle_grammar::diag::Diagnostic;
use whistle_grammar::source::Span;

use crate::cond::{AttrPath, Cond, Const, Field, Op, Operand, RepeatsBy};
use crate::event::Source;
use crate::model::{GradeId, LevelId};
use crate::windows::Groupings;

use super::suggest;

/// Where a condition stands, which decides what it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A `grade ... when` line: `grade` is what is being decided.
    Grading,
    /// `assist`, `empower`, `escalate` and threshold conditions.
    AfterGrading,
}

/// What a condition can refer to.
pub struct Scope<'a> {
    /// Level names, lowest first.
    pub levels: &'a [Arc<str>],
    /// Grade names, lowest first.
    pub grades: &'a [Arc<str>],
    /// The bundle's schema for `attr`, if any.
    pub schema: Option<&'a Value>,
    /// Category names.
    pub categories: &'a [Arc<str>],
    /// The ids `areas.yaml` has at each level, lowest first (empty
    /// without an area tree).
    pub areas: &'a [rustc_hash::FxHashSet<String>],
}

/// The fields every condition may read, besides `attr.*`, the level names
/// and `repeats(W)`.
pub(crate) const BUILTIN_FIELDS: [&str; 8] = [
    "source", "category", "location", "hour", "weekday", "month", "reopened", "grade",
];

pub(super) const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Compiles conditions, collecting diagnostics.
pub struct CondCompiler<'a, 'd> {
    scope: &'a Scope<'a>,
    place: Place,
    diags: &'d mut Vec<Diagnostic>,
    /// What the `repeats` seen so far read.
    pub repeats: &'d mut RepeatsSeen,
}

/// What the `repeats` of the conditions compiled so far read.
#[derive(Debug, Clone, Default)]
pub struct RepeatsSeen {
    /// The longest window (`None`: no `repeats` yet).
    pub longest: Option<u64>,
    /// The levels any `repeats` groups by.
    pub levels: Vec<LevelId>,
    /// The groupings read.
    pub groupings: Groupings,
}

impl<'a, 'd> CondCompiler<'a, 'd> {
    /// A compiler for conditions at `place`.
    pub fn new(
        scope: &'a Scope<'a>,
        place: Place,
        diags: &'d mut Vec<Diagnostic>,
        repeats: &'d mut RepeatsSeen,
    ) -> Self {
        CondCompiler {
            scope,
            place,
            diags,
            repeats,
        }
    }

    /// A condition that reads no field: it holds for every event or for
    /// none, which is hardly what was meant (a field name misspelt as a
    /// string, `"none" > 0`, `when 1 == 1` left from a test).
    fn constant(&mut self, span: Span, holds: bool) {
        let (what, help) = if holds {
            (
                "always holds",
                "the line is unconditional: write it without `when`, or compare a field",
            )
        } else {
            (
                "never holds",
                "the line can never apply: compare a field (`attr.x`, `source`, `hour`, ...)",
            )
        };
        self.diags.push(
            Diagnostic::warning(
                "W0608",
                span,
                format!("this condition reads no field of the event: it {what}"),
            )
            .with_help(help),
        );
    }

    /// Compiles one condition.
    pub fn compile(&mut self, e: &ast::Expr) -> Cond {
        match &e.kind {
            ExprKind::Or(xs) => Cond::Or(xs.iter().map(|x| self.compile(x)).collect()),
            ExprKind::And(xs) => Cond::And(xs.iter().map(|x| self.compile(x)).collect()),
            ExprKind::Not(x) => Cond::Not(Box::new(self.compile(x))),
            ExprKind::Paren(x) => self.compile(x),
            ExprKind::Has(path, span) => {
                self.schema_type(path, *span);
                Cond::Has(boxed_path(path))
            }
            ExprKind::Truthy(o) => match self.operand(o) {
                Some(Side::Field(f, s)) => {
                    if let Field::Attr(p) = &f {
                        self.check_type(p, s, &Const::Bool(true), Role::Compared);
                    }
                    Cond::Truthy(Operand::Field(f))
                }
                Some(Side::Const(Const::Bool(b), _)) => {
                    self.constant(e.span, b);
                    if b { Cond::True } else { Cond::False }
                }
                Some(Side::Symbol(name, span)) => {
                    self.unknown_field(&name, span);
                    Cond::False
                }
                Some(Side::Const(..)) => {
                    // A lone number or string is not `true`.
                    self.constant(e.span, false);
                    Cond::False
                }
                None => Cond::False,
            },
            ExprKind::Cmp { lhs, op, rhs } => {
                let (Some(l), Some(r)) = (self.operand(lhs), self.operand(rhs)) else {
                    return Cond::False;
                };
                let op = Op::from(*op);
                match (l, r) {
                    (Side::Field(f, fs), other) => {
                        let c = self.coerce(&f, fs, other, Role::Compared);
                        Cond::Cmp(
                            Operand::Field(f),
                            op,
                            c.map_or(Operand::Const(Const::Bool(false)), Operand::Const),
                        )
                    }
                    (other, Side::Field(f, fs)) => {
                        let c = self.coerce(&f, fs, other, Role::Compared);
                        Cond::Cmp(
                            c.map_or(Operand::Const(Const::Bool(false)), Operand::Const),
                            op,
                            Operand::Field(f),
                        )
                    }
                    (Side::Symbol(name, span), _) | (_, Side::Symbol(name, span)) => {
                        self.unknown_field(&name, span);
                        Cond::False
                    }
                    (Side::Const(a, _), Side::Const(b, _)) => {
                        let holds = crate::cond::compare(a.val(), op, b.val());
                        self.constant(e.span, holds);
                        if holds { Cond::True } else { Cond::False }
                    }
                }
            }
            ExprKind::In { lhs, negated, list } => {
                let Some(l) = self.operand(lhs) else {
                    return Cond::False;
                };
                if let Side::Symbol(name, span) = &l {
                    self.unknown_field(name, *span);
                    return Cond::False;
                }
                let Side::Field(f, fs) = l else {
                    let span = lhs.span();
                    self.diags.push(
                        Diagnostic::error("E0603", span, "the left side of `in` must be a field")
                            .with_help("write the field first: `source in [patrol, sensor]`"),
                    );
                    return Cond::False;
                };
                let items = list
                    .iter()
                    .filter_map(|o| {
                        let side = self.operand(o)?;
                        self.coerce(&f, fs, side, Role::Item { negated: *negated })
                    })
                    .collect();
                Cond::In(Operand::Field(f), *negated, items)
            }
        }
    }

    fn unknown_field(&mut self, name: &str, span: Span) {
        let known = BUILTIN_FIELDS
            .iter()
            .copied()
            .chain(self.scope.levels.iter().map(|l| &**l));
        self.diags.push(
            Diagnostic::error("E0102", span, format!("unknown field `{name}`")).with_help(
                suggest::help(
                    name,
                    known,
                    "fields are `attr.<name>`, `source`, `category`, `location`, a level name, `hour`, `weekday`, `month`, `reopened`, `repeats(W)`, and `grade` outside grading",
                ),
            ),
        );
    }

    fn operand(&mut self, o: &ast::Operand) -> Option<Side> {
        Some(match o {
            ast::Operand::Attr(path, span) => {
                Side::Field(Field::Attr(AttrPath::new(boxed_path(path))), *span)
            }
            ast::Operand::Repeats { window, by, span } => {
                let w = window.total_seconds();
                if w == 0 && !window.working {
                    self.diags.push(
                        Diagnostic::warning(
                            "W0607",
                            window.span,
                            "a `repeats` window of no time counts only the earlier events reported at the very same instant",
                        )
                        .with_help("give the window a length, such as `repeats(7d)`"),
                    );
                }
                if window.working {
                    self.diags.push(Diagnostic::error(
                        "E0604",
                        window.span,
                        "a `repeats` window is plain time; `working` has no meaning here",
                    ));
                }
                let by = match by {
                    None => RepeatsBy::Location,
                    Some(i) if i.name == "location" => RepeatsBy::Location,
                    Some(i) => match self.level(&i.name) {
                        Some(l) => RepeatsBy::Level(l),
                        None if self.scope.levels.is_empty() => RepeatsBy::Location,
                        None => {
                            self.diags.push(
                                Diagnostic::error("E0102", i.span, format!("unknown level `{}`", i.name))
                                    .with_help("`repeats(W, L)` groups by a level of `levels`, or by `location`"),
                            );
                            RepeatsBy::Location
                        }
                    },
                };
                if let RepeatsBy::Level(l) = by
                    && !self.repeats.levels.contains(&l)
                {
                    self.repeats.levels.push(l);
                }
                self.repeats.longest = self.repeats.longest.max(Some(w));
                self.repeats.groupings = self.repeats.groupings.with(Groupings::of(by));
                Side::Field(Field::Repeats { window: w, by }, *span)
            }
            ast::Operand::Name(i) => {
                let span = i.span;
                let f = match i.name.as_str() {
                    "source" => Field::Source,
                    "category" => Field::Category,
                    "location" => Field::Location,
                    "hour" => Field::Hour,
                    "weekday" => Field::Weekday,
                    "month" => Field::Month,
                    "reopened" => Field::Reopened,
                    "grade" => {
                        if self.place == Place::Grading {
                            self.diags.push(
                                Diagnostic::error(
                                    "E0605",
                                    span,
                                    "`grade` cannot be read while the grade is being decided",
                                )
                                .with_help("`grade` may be used in `assist`, `empower` and `escalate` conditions"),
                            );
                        }
                        Field::Grade
                    }
                    name => match self.level(name) {
                        Some(l) => Field::Unit(l),
                        None => return Some(Side::Symbol(name.to_string(), span)),
                    },
                };
                Side::Field(f, span)
            }
            ast::Operand::Lit(l) => {
                let span = l.span();
                let c = match l {
                    Literal::Number(n) | Literal::Percent(n) => Const::Num(n.value),
                    Literal::Str(s) => Const::Str(s.value.as_str().into()),
                    Literal::Bool(b, _) => Const::Bool(*b),
                    Literal::Duration(d) => Const::Num(d.total_seconds() as f64),
                };
                Side::Const(c, span)
            }
        })
    }

    fn level(&self, name: &str) -> Option<LevelId> {
        self.scope
            .levels
            .iter()
            .position(|l| &**l == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    fn grade(&self, name: &str) -> Option<GradeId> {
        self.scope
            .grades
            .iter()
            .position(|g| &**g == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// Turns the other side of a comparison with field `f` into a constant of
    /// the field's kind (a grade, a weekday number, a source, a string).
    fn coerce(&mut self, f: &Field, fspan: Span, other: Side, role: Role) -> Option<Const> {
        let symbol = matches!(other, Side::Symbol(..));
        let (c, span) = match other {
            Side::Const(c, s) => (c, s),
            Side::Symbol(name, s) => (Const::Str(name.as_str().into()), s),
            Side::Field(_, s) => {
                self.diags.push(
                    Diagnostic::error("E0603", s, "a field can only be compared with a value")
                        .with_help("compare a field with a number, a string or a name"),
                );
                return None;
            }
        };
        match (f, &c) {
            (Field::Grade, Const::Str(name)) => match self.grade(name) {
                Some(g) => Some(Const::Grade(g)),
                None if self.scope.grades.is_empty() => None,
                None => {
                    self.diags.push(Diagnostic::error(
                        "E0102",
                        span,
                        format!("unknown grade `{name}`"),
                    ));
                    None
                }
            },
            (Field::Weekday, Const::Str(name)) => match WEEKDAYS.iter().position(|d| **d == **name)
            {
                Some(i) => Some(Const::Num((i + 1) as f64)),
                None => {
                    self.diags.push(
                        Diagnostic::error("E0102", span, format!("unknown weekday `{name}`"))
                            .with_help(
                                "weekdays are `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`",
                            ),
                    );
                    None
                }
            },
            // Sources compare by their index, so deciding compares no strings.
            (Field::Source, Const::Str(name)) => {
                match Source::ALL.iter().position(|s| s.as_str() == &**name) {
                    Some(i) => Some(Const::Num(i as f64)),
                    None => {
                        self.diags.push(
                        Diagnostic::error("E0102", span, format!("unknown source `{name}`"))
                            .with_help("sources are `patrol`, `citizen`, `hotline`, `sensor`, `department`"),
                    );
                        None
                    }
                }
            }
            // A bare name is a category of the policy; one it does not
            // declare (routed by the fallback) is written as a string, so
            // a slip of the keyboard cannot make a line that never holds.
            (Field::Category, Const::Str(name))
                if symbol && !self.scope.categories.iter().any(|c| **c == **name) =>
            {
                self.diags.push(
                    Diagnostic::error("E0102", span, format!("unknown category `{name}`"))
                        .with_help(suggest::help(
                            name,
                            self.scope.categories.iter().map(|c| &**c),
                            format!(
                                "a category the policy does not declare (routed by the fallback) is written as a string: `\"{name}\"`"
                            ),
                        )),
                );
                None
            }
            (Field::Unit(l), Const::Str(id))
                if self
                    .scope
                    .areas
                    .get(usize::from(*l))
                    .is_some_and(|ids| !ids.contains(&**id)) =>
            {
                let level = self.scope.levels.get(usize::from(*l)).map_or("", |n| &**n);
                let known = self.scope.areas.get(usize::from(*l)).into_iter().flatten();
                self.diags.push(
                    Diagnostic::warning(
                        "W0902",
                        span,
                        format!("`areas.yaml` has no {level} `{id}`"),
                    )
                    .with_help(suggest::help(
                        id,
                        known.map(String::as_str),
                        "only an event on a grid `areas.yaml` does not place can match it; check the id against `areas.yaml`",
                    )),
                );
                Some(c)
            }
            (Field::Attr(p), _) => {
                self.check_type(p, fspan, &c, role);
                Some(c)
            }
            (Field::Grade | Field::Weekday | Field::Source, _)
            | (
                Field::Hour | Field::Month | Field::Reopened | Field::Repeats { .. },
                Const::Str(_) | Const::Bool(_) | Const::Grade(_),
            ) => {
                let message = match role {
                    Role::Compared => "this comparison mixes types and is always false".to_string(),
                    Role::Item { negated } => {
                        let (name, kind) = field_kind(f);
                        let effect = if negated {
                            "never matches, so `not in` excludes no event by it"
                        } else {
                            "never matches"
                        };
                        format!("`{name}` is {kind}: this item {effect}")
                    }
                };
                self.diags.push(Diagnostic::warning("W0606", span, message));
                Some(c)
            }
            (
                Field::Hour | Field::Month | Field::Reopened | Field::Repeats { .. },
                Const::Num(n),
            ) if never_taken(f, *n) => {
                let (name, range) = match f {
                    Field::Hour => ("hour", "from 0 to 23"),
                    Field::Month => ("month", "from 1 to 12"),
                    Field::Reopened => ("reopened", "never negative"),
                    _ => ("repeats", "never negative"),
                };
                let message = match role {
                    Role::Compared => format!(
                        "`{name}` is {range}: a comparison with {n} comes out the same for every event"
                    ),
                    Role::Item { negated: false } => {
                        format!("`{name}` is {range}: the item {n} never matches")
                    }
                    Role::Item { negated: true } => format!(
                        "`{name}` is {range}: the item {n} never matches, so `not in` excludes no event by it"
                    ),
                };
                self.diags.push(Diagnostic::warning("W0607", span, message));
                Some(c)
            }
            _ => Some(c),
        }
    }

    /// The schema type of `attr.<path>`; reports a path the schema does not
    /// define. `None` also when the schema cannot tell (a reference that
    /// leaves the document, a pattern the checker cannot read, a
    /// combination of schemas): a path is only ever refused for sure.
    fn schema_type(&mut self, path: &[String], span: Span) -> Option<Vec<String>> {
        let schema = self.scope.schema?;
        let mut node = resolved(schema, schema)?;
        for key in path {
            let named = node.get("properties").and_then(|p| p.get(key.as_str()));
            let next = match named {
                Some(n) => Some(n),
                None => by_pattern(node, key)?,
            };
            match next {
                Some(n) => node = resolved(schema, n)?,
                None => {
                    if node
                        .get("additionalProperties")
                        .is_some_and(|a| a != &Value::Bool(false))
                        || COMBINED.iter().any(|k| node.get(*k).is_some())
                    {
                        return None;
                    }
                    self.diags.push(
                        Diagnostic::error(
                            "E0601",
                            span,
                            format!(
                                "`attr.{}` is not defined in `event.schema.json`",
                                path.join(".")
                            ),
                        )
                        .with_help("add it to the schema's `properties`, or fix the name"),
                    );
                    return None;
                }
            }
        }
        Some(match node.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect(),
            _ => return None,
        })
    }

    fn check_type(&mut self, path: &[Box<str>], span: Span, c: &Const, role: Role) {
        let path: Vec<String> = path.iter().map(|k| k.to_string()).collect();
        let Some(types) = self.schema_type(&path, span) else {
            return;
        };
        let ok = match c {
            Const::Num(_) => types.iter().any(|t| t == "number" || t == "integer"),
            Const::Str(_) => types.iter().any(|t| t == "string"),
            Const::Bool(_) => types.iter().any(|t| t == "boolean"),
            Const::Grade(_) => false,
        };
        if !ok {
            let what = match c {
                Const::Num(_) => "a number",
                Const::Str(_) => "a string",
                Const::Bool(_) => "a boolean",
                Const::Grade(_) => "a grade",
            };
            let against = match role {
                Role::Compared => "is compared with",
                Role::Item { .. } => "is looked up in a list holding",
            };
            self.diags.push(Diagnostic::error(
                "E0602",
                span,
                format!(
                    "`attr.{}` is {} in `event.schema.json` but {against} {what}",
                    path.join("."),
                    types.join(" or ")
                ),
            ));
        }
    }
}

/// Where the value a field meets stands: the other side of a comparison,
/// or an item of an `in` list. A value of the wrong type makes a
/// comparison false, but only drops one item of a list — and for `not in`
/// that item then excludes nothing, so the warnings say which.
#[derive(Clone, Copy)]
enum Role {
    Compared,
    Item { negated: bool },
}

enum Side {
    Field(Field, Span),
    Const(Const, Span),
    Symbol(String, Span),
}

fn boxed_path(path: &[String]) -> Box<[Box<str>]> {
    path.iter().map(|k| k.as_str().into()).collect()
}

/// A built-in field's name and the kind of value it holds, for warnings
/// about list items of another kind.
fn field_kind(f: &Field) -> (&'static str, &'static str) {
    match f {
        Field::Grade => ("grade", "a grade"),
        Field::Weekday => ("weekday", "a weekday (`mon` .. `sun`)"),
        Field::Source => ("source", "a source"),
        Field::Hour => ("hour", "a number"),
        Field::Month => ("month", "a number"),
        Field::Reopened => ("reopened", "a number"),
        Field::Repeats { .. } => ("repeats", "a number"),
        Field::Attr(_) | Field::Category | Field::Location | Field::Unit(_) => ("field", "a value"),
    }
}

/// Whether a number lies outside every value the field takes: then any
/// comparison with it comes out the same for every event.
fn never_taken(f: &Field, n: f64) -> bool {
    match f {
        Field::Hour => !(0.0..=23.0).contains(&n),
        Field::Month => !(1.0..=12.0).contains(&n),
        Field::Reopened | Field::Repeats { .. } => n < 0.0,
        _ => false,
    }
}

/// Keywords that let other schemas add properties to a node: a path they
/// might define is not refused.
const COMBINED: [&str; 6] = [
    "allOf",
    "anyOf",
    "oneOf",
    "if",
    "dependentSchemas",
    "unevaluatedProperties",
];

/// `node` with its `$ref` followed (a `#/…` pointer into `root`, the
/// schema document; chains of them too), or `None` for one that leaves the
/// document or goes round in circles.
fn resolved<'v>(root: &'v Value, mut node: &'v Value) -> Option<&'v Value> {
    for _ in 0..32 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => node = root.pointer(r.strip_prefix('#')?)?,
            None => return Some(node),
        }
    }
    None
}

/// The schema `patternProperties` gives `key`: `Some(None)` when no
/// pattern matches it, `None` when a pattern cannot be read here (the
/// schema's regular expressions are ECMA 262's; most read the same).
fn by_pattern<'v>(node: &'v Value, key: &str) -> Option<Option<&'v Value>> {
    let Some(patterns) = node.get("patternProperties").and_then(Value::as_object) else {
        return Some(None);
    };
    for (pattern, schema) in patterns {
        if regex::Regex::new(pattern).ok()?.is_match(key) {
            return Some(Some(schema));
        }
    }
    Some(None)
}
