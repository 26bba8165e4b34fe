//! Compiled conditions and their evaluation.
//!
//! Names are resolved at compile time: a field becomes an [`Field`], a symbol
//! compared with `grade` becomes the grade's index, with `weekday` the day's
//! number. Evaluation never fails: a missing field, or values of different
//! types, make a comparison false (LANGUAGE.md section 5).

use std::sync::Arc;

use serde_json::Value;

use crate::model::{GradeId, LevelId};

/// A value a field or constant yields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// A number (percentages as fractions, durations in seconds).
    Num(f64),
    /// A string or symbol.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// A grade, compared by severity.
    Grade(GradeId),
    /// Missing, null, or a JSON array/object: compares false with anything.
    Missing,
}

/// A constant operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// A number.
    Num(f64),
    /// A string or symbol.
    Str(Arc<str>),
    /// A boolean.
    Bool(bool),
    /// A grade.
    Grade(GradeId),
}

impl Const {
    /// The constant as a value.
    pub fn val(&self) -> Val<'_> {
        match self {
            Const::Num(n) => Val::Num(*n),
            Const::Str(s) => Val::Str(s),
            Const::Bool(b) => Val::Bool(*b),
            Const::Grade(g) => Val::Grade(*g),
        }
    }
}

/// What `repeats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepeatsBy {
    /// The event's location, or its grid when it has none.
    Location,
    /// The unit at a level (`repeats(7d, grid)` is level 0).
    Level(LevelId),
}

/// A field of the event or its context.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `attr.a.b`
    Attr(AttrPath),
    /// `source`, as its index in [`crate::event::Source::ALL`].
    Source,
    /// `category`
    Category,
    /// `location`
    Location,
    /// A level name: the id of the event's unit at that level.
    Unit(LevelId),
    /// `hour`, 0–23 in the policy time zone.
    Hour,
    /// `weekday`, 1 (mon) – 7 (sun).
    Weekday,
    /// `month`, 1–12.
    Month,
    /// `grade` (assist, escalate and empower conditions only).
    Grade,
    /// `reopened`
    Reopened,
    /// `repeats(W[, by])`: index into the route's repeats queries.
    Repeats {
        /// Window in seconds.
        window: u64,
        /// Grouping.
        by: RepeatsBy,
    },
}

/// The path of an `attr` field, and its slot: every use of the same path in
/// one policy shares a slot, so that deciding an event looks each path up in
/// its `attr` tree once, however many rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The keys after `attr.`.
    pub keys: Box<[Box<str>]>,
    /// The path's slot, from 1; 0 while unassigned (never cached).
    pub slot: u16,
}

impl AttrPath {
    /// A path without a slot yet.
    pub fn new(keys: Box<[Box<str>]>) -> AttrPath {
        AttrPath { keys, slot: 0 }
    }
}

impl std::ops::Deref for AttrPath {
    type Target = [Box<str>];
    fn deref(&self) -> &[Box<str>] {
        &self.keys
    }
}

/// An operand: a field or a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A field.
    Field(Field),
    /// A constant.
    Const(Const),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
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

impl From<whistle_grammar::ast::CmpOp> for Op {
    fn from(o: whistle_grammar::ast::CmpOp) -> Op {
        use whistle_grammar::ast::CmpOp;
        match o {
            CmpOp::Eq => Op::Eq,
            CmpOp::Ne => Op::Ne,
            CmpOp::Lt => Op::Lt,
            CmpOp::Le => Op::Le,
            CmpOp::Gt => Op::Gt,
            CmpOp::Ge => Op::Ge,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Always true.
    True,
    /// Always false.
    False,
    /// All hold.
    And(Box<[Cond]>),
    /// Any holds.
    Or(Box<[Cond]>),
    /// Does not hold.
    Not(Box<Cond>),
    /// A comparison.
    Cmp(Operand, Op, Operand),
    /// Membership (`negated` for `not in`).
    In(Operand, bool, Box<[Const]>),
    /// `has attr.x`
    Has(Box<[Box<str>]>),
    /// A lone operand: holds when it is `true`.
    Truthy(Operand),
}

/// What a condition can read while deciding one event.
pub trait Env {
    /// The value of a field.
    fn field(&self, f: &Field) -> Val<'_>;
    /// The event's `attr` object.
    fn attr(&self) -> &dyn AttrSource;
}

/// An event's `attr` object as conditions read it: the JSON object itself,
/// or a caller's own form of the same object (the simulator draws flat
/// attributes without building a JSON tree of allocated keys).
pub trait AttrSource {
    /// The value at `path` ([`attr_value`]).
    fn value(&self, path: &[Box<str>]) -> Val<'_>;
    /// Whether `path` is present and not null ([`attr_has`]).
    fn has(&self, path: &[Box<str>]) -> bool;
}

impl AttrSource for Value {
    fn value(&self, path: &[Box<str>]) -> Val<'_> {
        attr_value(self, path)
    }

    fn has(&self, path: &[Box<str>]) -> bool {
        attr_has(self, path)
    }
}

/// Looks up `attr.a.b` in an `attr` object.
pub fn attr_value<'a>(attr: &'a Value, path: &[Box<str>]) -> Val<'a> {
    let mut v = attr;
    for key in path {
        match v.get(&**key) {
            Some(next) => v = next,
            None => return Val::Missing,
        }
    }
    json_val(v)
}

/// Whether `attr.a.b` is present (and not null).
pub fn attr_has(attr: &Value, path: &[Box<str>]) -> bool {
    path.iter()
        .try_fold(attr, |v, k| v.get(&**k))
        .is_some_and(|v| !v.is_null())
}

fn json_val(v: &Value) -> Val<'_> {
    match v {
        Value::Number(n) => n.as_f64().map_or(Val::Missing, Val::Num),
        Value::String(s) => Val::Str(s),
        Value::Bool(b) => Val::Bool(*b),
        _ => Val::Missing,
    }
}

fn operand<'a, E: Env + ?Sized>(o: &'a Operand, env: &'a E) -> Val<'a> {
    match o {
        Operand::Field(f) => env.field(f),
        Operand::Const(c) => c.val(),
    }
}

/// Compares two values; different types (or a missing value) compare false.
pub fn compare(a: Val<'_>, op: Op, b: Val<'_>) -> bool {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(&y),
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(&y)),
        (Val::Grade(x), Val::Grade(y)) => Some(x.cmp(&y)),
        _ => None,
    };
    let Some(ord) = ord else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
    }
}

impl Cond {
    /// Whether the condition holds.
    pub fn eval<E: Env + ?Sized>(&self, env: &E) -> bool {
        match self {
            Cond::True => true,
            Cond::False => false,
            Cond::And(xs) => xs.iter().all(|c| c.eval(env)),
            Cond::Or(xs) => xs.iter().any(|c| c.eval(env)),
            Cond::Not(c) => !c.eval(env),
            Cond::Cmp(a, op, b) => compare(operand(a, env), *op, operand(b, env)),
            Cond::In(a, negated, list) => {
                let v = operand(a, env);
                if matches!(v, Val::Missing) {
                    // A missing field is in no list and, being missing, not
                    // "not in" one either: both comparisons are false.
                    return false;
                }
                list.iter().any(|c| compare(v, Op::Eq, c.val())) != *negated
            }
            Cond::Has(path) => env.attr().has(path),
            Cond::Truthy(a) => operand(a, env) == Val::Bool(true),
        }
    }

    /// Visits every `attr` field path the condition compares (not `has`,
    /// which tests presence and is cheap enough uncached).
    pub fn attr_paths_mut(&mut self, f: &mut impl FnMut(&mut AttrPath)) {
        let mut visit = |o: &mut Operand| {
            if let Operand::Field(Field::Attr(p)) = o {
                f(p);
            }
        };
        match self {
            Cond::True | Cond::False | Cond::Has(_) => {}
            Cond::And(xs) | Cond::Or(xs) => xs.iter_mut().for_each(|c| c.attr_paths_mut(f)),
            Cond::Not(c) => c.attr_paths_mut(f),
            Cond::Cmp(a, _, b) => {
                visit(a);
                visit(b);
            }
            Cond::In(a, _, _) | Cond::Truthy(a) => visit(a),
        }
    }

    /// Whether the condition reads some field for which `pred` holds.
    pub fn reads_any(&self, pred: impl Fn(&Field) -> bool) -> bool {
        let mut fields = Vec::new();
        self.fields(&mut fields);
        fields.iter().any(pred)
    }

    /// Visits every field the condition reads.
    pub fn fields(&self, out: &mut Vec<Field>) {
        let mut push = |o: &Operand| {
            if let Operand::Field(f) = o {
                out.push(f.clone());
            }
        };
        match self {
            Cond::True | Cond::False => {}
            Cond::And(xs) | Cond::Or(xs) => xs.iter().for_each(|c| c.fields(out)),
            Cond::Not(c) => c.fields(out),
            Cond::Cmp(a, _, b) => {
                push(a);
                push(b);
            }
            Cond::In(a, _, _) | Cond::Truthy(a) => push(a),
            Cond::Has(p) => out.push(Field::Attr(AttrPath::new(p.clone()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Attrs(Value);
    impl Env for Attrs {
        fn field(&self, f: &Field) -> Val<'_> {
            match f {
                Field::Attr(p) => attr_value(&self.0, p),
                Field::Grade => Val::Grade(1),
                _ => Val::Missing,
            }
        }
        fn attr(&self) -> &dyn AttrSource {
            &self.0
        }
    }

    fn attr(name: &str) -> Operand {
        Operand::Field(Field::Attr(AttrPath::new(
            vec![name.into()].into_boxed_slice(),
        )))
    }

    #[test]
    fn mismatched_or_missing_values_compare_false() {
        let env = Attrs(serde_json::json!({"trapped": "none", "n": 5}));
        let gt0 = |a| Cond::Cmp(a, Op::Gt, Operand::Const(Const::Num(0.0)));
        assert!(!gt0(attr("trapped")).eval(&env));
        assert!(!gt0(attr("absent")).eval(&env));
        assert!(gt0(attr("n")).eval(&env));
        let ne = Cond::Cmp(attr("absent"), Op::Ne, Operand::Const(Const::Num(0.0)));
        assert!(!ne.eval(&env), "a missing field is not even unequal");
        let not_in = Cond::In(attr("absent"), true, vec![Const::Num(1.0)].into());
        assert!(!not_in.eval(&env));
    }

    #[test]
    fn grades_compare_by_severity() {
        let env = Attrs(Value::Null);
        let ge = |g| {
            Cond::Cmp(
                Operand::Field(Field::Grade),
                Op::Ge,
                Operand::Const(Const::Grade(g)),
            )
        };
        assert!(ge(0).eval(&env));
        assert!(ge(1).eval(&env));
        assert!(!ge(2).eval(&env));
    }

    #[test]
    fn has_and_truthy() {
        let env = Attrs(serde_json::json!({"a": {"b": true}, "z": null}));
        let path: Box<[Box<str>]> = vec!["a".into(), "b".into()].into();
        assert!(Cond::Has(path.clone()).eval(&env));
        assert!(!Cond::Has(vec!["z".into()].into()).eval(&env));
        assert!(Cond::Truthy(Operand::Field(Field::Attr(AttrPath::new(path)))).eval(&env));
    }
}
