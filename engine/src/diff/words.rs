//! Policy parts in words: conditions, limits, ladder steps, thresholds,
//! written back the way an officer writes them, with names instead of the
//! compiled indices; and the semantic diff rendered as lines such as
//! `fire_lane: lead urban → fire; red resolve 72h → 48h`.
//!
//! The same rendering also serves as the identity of a part when two
//! policies are compared: two conditions are the same when they read the
//! same here, whatever their layout in the source and whatever indices the
//! two compilations gave to grades and levels.

use std::fmt::{self, Write as _};

use crate::cond::{Cond, Const, Field, Op, Operand, RepeatsBy};
use crate::event::Source;
use crate::model::{ActionDef, ClockKind, GroupBy, Limit, Policy, Target, TriggerDef};

use super::semantic::{Change, ChangeKind, Section, SemanticDiff};

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A plain duration: days from four days up when whole (`30d`), else
/// hours, minutes and seconds (`72h`, `1h30m`), the way limits are written.
pub(crate) fn duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let days = seconds / 86_400;
    if seconds.is_multiple_of(86_400) && days >= 4 {
        return format!("{days}d");
    }
    hms(seconds)
}

fn hms(seconds: u64) -> String {
    let mut s = String::new();
    let (h, m, sec) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        let _ = write!(s, "{h}h");
    }
    if m > 0 {
        let _ = write!(s, "{m}m");
    }
    if sec > 0 {
        let _ = write!(s, "{sec}s");
    }
    s
}

/// A respond or resolve limit (`72h`, `5d working`, `4h working`).
pub(crate) fn limit(l: &Limit) -> String {
    if !l.working {
        return duration(l.seconds);
    }
    let mut s = String::new();
    if l.days > 0 {
        let _ = write!(s, "{}d", l.days);
    }
    if l.seconds > 0 || l.days == 0 {
        s.push_str(&if l.seconds == 0 {
            "0s".to_string()
        } else {
            hms(l.seconds)
        });
    }
    s + " working"
}

/// A number as an officer writes it (`3`, `0.5`).
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A fraction as a percentage (`0.1` → `10%`).
pub(crate) fn percent(x: f64) -> String {
    // Rounding away binary noise: 0.07 * 100 is 7.000000000000001.
    let p = (x * 100.0 * 1e6).round() / 1e6;
    format!("{}%", number(p))
}

/// A comparison operator as written.
pub(crate) fn op(o: Op) -> &'static str {
    match o {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

fn name_at(names: &[std::sync::Arc<str>], i: usize) -> String {
    names
        .get(i)
        .map_or_else(|| format!("#{i}"), |n| n.to_string())
}

/// A level's name.
pub(crate) fn level(p: &Policy, l: u8) -> String {
    name_at(&p.levels, usize::from(l))
}

/// A grade's name.
pub(crate) fn grade(p: &Policy, g: u8) -> String {
    p.grades
        .get(usize::from(g))
        .map_or_else(|| format!("#{g}"), |x| x.name.to_string())
}

/// A department's name.
pub(crate) fn dept(p: &Policy, d: u16) -> String {
    p.departments
        .get(usize::from(d))
        .map_or_else(|| format!("#{d}"), |x| x.name.to_string())
}

fn field(p: &Policy, f: &Field) -> String {
    match f {
        Field::Attr(path) => {
            let keys: Vec<&str> = path.iter().map(|k| &**k).collect();
            format!("attr.{}", keys.join("."))
        }
        Field::Source => "source".into(),
        Field::Category => "category".into(),
        Field::Location => "location".into(),
        Field::Unit(l) => level(p, *l),
        Field::Hour => "hour".into(),
        Field::Weekday => "weekday".into(),
        Field::Month => "month".into(),
        Field::Grade => "grade".into(),
        Field::Reopened => "reopened".into(),
        Field::Repeats { window, by } => match by {
            RepeatsBy::Location => format!("repeats({})", duration(*window)),
            RepeatsBy::Level(l) => format!("repeats({}, {})", duration(*window), level(p, *l)),
        },
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && !matches!(
            s,
            "and" | "or" | "not" | "in" | "has" | "true" | "false" | "when"
        )
}

/// A constant, read in the light of the field it is compared with: a
/// source's or weekday's number back to its name, a grade to its name.
fn constant(p: &Policy, c: &Const, against: Option<&Field>) -> String {
    match (c, against) {
        (Const::Num(n), Some(Field::Source)) if n.fract() == 0.0 => Source::ALL
            .get(*n as usize)
            .map_or_else(|| number(*n), |s| s.as_str().to_string()),
        (Const::Num(n), Some(Field::Weekday)) if n.fract() == 0.0 && *n >= 1.0 => WEEKDAYS
            .get(*n as usize - 1)
            .map_or_else(|| number(*n), |d| (*d).to_string()),
        (Const::Num(n), _) => number(*n),
        (Const::Str(s), _) if is_ident(s) => s.to_string(),
        (Const::Str(s), _) => serde_json::to_string(&**s).unwrap_or_else(|_| s.to_string()),
        (Const::Bool(b), _) => b.to_string(),
        (Const::Grade(g), _) => grade(p, *g),
    }
}

fn operand(p: &Policy, o: &Operand, other: &Operand) -> String {
    match (o, other) {
        (Operand::Field(f), _) => field(p, f),
        (Operand::Const(c), Operand::Field(f)) => constant(p, c, Some(f)),
        (Operand::Const(c), Operand::Const(_)) => constant(p, c, None),
    }
}

/// A condition in canonical form (`attr.people_trapped > 0 or reopened >= 1`).
pub(crate) fn cond(p: &Policy, c: &Cond) -> String {
    match c {
        Cond::True => "true".into(),
        Cond::False => "false".into(),
        Cond::And(xs) => xs
            .iter()
            .map(|x| match x {
                Cond::Or(_) => format!("({})", cond(p, x)),
                _ => cond(p, x),
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Cond::Or(xs) => xs
            .iter()
            .map(|x| cond(p, x))
            .collect::<Vec<_>>()
            .join(" or "),
        Cond::Not(x) => match &**x {
            Cond::Has(_) | Cond::Truthy(_) | Cond::True | Cond::False => {
                format!("not {}", cond(p, x))
            }
            _ => format!("not ({})", cond(p, x)),
        },
        Cond::Cmp(a, o, b) => format!("{} {} {}", operand(p, a, b), op(*o), operand(p, b, a)),
        Cond::In(a, negated, list) => {
            let f = match a {
                Operand::Field(f) => Some(f),
                Operand::Const(_) => None,
            };
            let items: Vec<String> = list.iter().map(|c| constant(p, c, f)).collect();
            let lhs = match a {
                Operand::Field(f) => field(p, f),
                Operand::Const(c) => constant(p, c, None),
            };
            let kw = if *negated { "not in" } else { "in" };
            format!("{lhs} {kw} [{}]", items.join(", "))
        }
        Cond::Has(path) => {
            let keys: Vec<&str> = path.iter().map(|k| &**k).collect();
            format!("has attr.{}", keys.join("."))
        }
        Cond::Truthy(a) => match a {
            Operand::Field(f) => field(p, f),
            Operand::Const(c) => constant(p, c, None),
        },
    }
}

/// `X when C`, or `X` alone for an unconditional line.
pub(crate) fn when(p: &Policy, what: String, c: Option<&Cond>) -> String {
    match c {
        Some(c) => format!("{what} when {}", cond(p, c)),
        None => what,
    }
}

fn target(p: &Policy, t: Target) -> String {
    match t {
        Target::Level(l) => level(p, l),
        Target::Department(d) => dept(p, d),
    }
}

fn clock(c: ClockKind) -> &'static str {
    match c {
        ClockKind::Respond => "respond",
        ClockKind::Resolve => "resolve",
    }
}

/// A ladder step (`at 50% respond -> raise to district, whistle police, fire`).
pub(crate) fn step(p: &Policy, trigger: &TriggerDef, actions: &[ActionDef]) -> String {
    let t = match trigger {
        TriggerDef::At { fraction, clock: c } => format!("at {} {}", percent(*fraction), clock(*c)),
        TriggerDef::When(c) => format!("when {}", cond(p, c)),
    };
    let a: Vec<String> = actions
        .iter()
        .map(|a| match a {
            ActionDef::Remind => "remind".to_string(),
            ActionDef::Notify(x) => format!("notify {}", target(p, *x)),
            ActionDef::Raise(n) => format!("raise {n}"),
            ActionDef::RaiseTo(l) => format!("raise to {}", level(p, *l)),
            ActionDef::Whistle(ds) => {
                let names: Vec<String> = ds.iter().map(|d| dept(p, *d)).collect();
                format!("whistle {}", names.join(", "))
            }
        })
        .collect();
    format!("{t} -> {}", a.join(", "))
}

/// What a threshold or an assessment groups by (`street`, `department`).
pub(crate) fn group(p: &Policy, g: GroupBy) -> String {
    match g {
        GroupBy::Department => "department".into(),
        GroupBy::Category => "category".into(),
        GroupBy::Level(l) => level(p, l),
    }
}

/// A bound of a metric: a share as a percentage, anything else as a number.
pub(crate) fn bound(share: bool, x: f64) -> String {
    if share { percent(x) } else { number(x) }
}

/// One change in words, without its subject.
fn part(c: &Change) -> String {
    let aspect = if c.aspect.is_empty() {
        String::new()
    } else {
        format!("{} ", c.aspect)
    };
    match (c.change, &c.old, &c.new) {
        (ChangeKind::Changed, None, Some(new)) => format!("{aspect}{new}"),
        (ChangeKind::Changed, old, new) => format!(
            "{aspect}{} → {}",
            old.as_deref().unwrap_or("(none)"),
            new.as_deref().unwrap_or("(none)")
        ),
        (ChangeKind::Added, _, Some(new)) => format!("{aspect}added: {new}"),
        (ChangeKind::Added, _, None) => format!("{aspect}added"),
        (ChangeKind::Removed, Some(old), _) => format!("{aspect}removed: {old}"),
        (ChangeKind::Removed, None, _) => format!("{aspect}removed"),
    }
}

impl fmt::Display for SemanticDiff {
    /// One heading per section, one line per subject, its changes joined
    /// with `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no change in meaning");
        }
        let mut section = None;
        let mut i = 0;
        while let Some(c) = self.changes.get(i) {
            if section != Some(c.section) {
                section = Some(c.section);
                writeln!(f, "{}:", c.section.title())?;
            }
            let same = self.changes[i..]
                .iter()
                .take_while(|x| x.section == c.section && x.subject == c.subject)
                .count();
            let parts: Vec<String> = self.changes[i..i + same].iter().map(part).collect();
            // A subject named like its section (`policy`, `calendar`) is not
            // repeated.
            if c.subject == c.section.title() || c.section == Section::Fallback {
                writeln!(f, "  {}", parts.join("; "))?;
            } else {
                writeln!(f, "  {}: {}", c.subject, parts.join("; "))?;
            }
            i += same;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(duration(72 * 3600), "72h");
        assert_eq!(duration(30 * 86_400), "30d");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(15 * 60), "15m");
        let l = |days, seconds, working| Limit {
            days,
            seconds,
            working,
            site: 0,
        };
        assert_eq!(limit(&l(5, 0, true)), "5d working");
        assert_eq!(limit(&l(0, 4 * 3600, true)), "4h working");
        assert_eq!(limit(&l(1, 1800, true)), "1d30m working");
        assert_eq!(percent(0.07), "7%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(number(3.0), "3");
    }
}
