//! `test` blocks: validated at compile time, run by [`crate::testing`].

use jiff::Timestamp;
use whistle_grammar::ast::{self, ExpectValue, TestItemRef};
use whistle_grammar::diag::Diagnostic;
use whistle_grammar::source::Span;

use super::Ctx;
use crate::event::{Event, event_from_value};

/// What a test expects of one field of the last decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// `grade: red`
    Grade(String),
    /// `lead: urban`
    Lead(String),
    /// `assist: [fire, property]`, compared as a set.
    Assist(Vec<String>),
    /// `level: street`
    Level(String),
    /// `unit: S01`, or `unit: null` for an event whose grid the area
    /// tree does not place.
    Unit(Option<String>),
    /// `on_the_spot: true`
    OnTheSpot(bool),
    /// `fallback: true`
    Fallback(bool),
    /// `respond_by: "2025-06-03T10:15:00+08:00"`: the instant, and the
    /// text as written (a failure quotes it, so it can be found).
    RespondBy(Timestamp, String),
    /// `resolve_by: "..."`
    ResolveBy(Timestamp, String),
}

/// A validated test block.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// `file:line:col` of the block.
    pub location: String,
    /// Events decided in order.
    pub events: Vec<Event>,
    /// Expectations on the last decision, with their `file:line:col`.
    pub expect: Vec<(Expectation, String)>,
}

const KEYS: &str =
    "grade, lead, assist, level, unit, on_the_spot, fallback, respond_by, resolve_by";

pub(super) fn compile(ctx: &mut Ctx<'_>, tests: &[&ast::TestDecl]) -> Vec<TestCase> {
    tests.iter().filter_map(|t| one(ctx, t)).collect()
}

fn one(ctx: &mut Ctx<'_>, t: &ast::TestDecl) -> Option<TestCase> {
    let mut ok = true;
    if t.events.is_empty() {
        ctx.error(
            "E0702",
            t.name.span,
            format!("test `{}` has no `event`", t.name.value),
        );
        ok = false;
    }
    match t.expects.len() {
        0 => {
            ctx.error(
                "E0702",
                t.name.span,
                format!("test `{}` has no `expect`", t.name.value),
            );
            ok = false;
        }
        1 if t.expects[0].entries.is_empty() => {
            ctx.push(
                Diagnostic::error(
                    "E0702",
                    t.expects[0].span,
                    format!(
                        "test `{}` expects nothing: it could never fail",
                        t.name.value
                    ),
                )
                .with_help(format!(
                    "name what the decision must be; the keys are: {KEYS}"
                )),
            );
            ok = false;
        }
        1 => {
            if t.order.last() != Some(&TestItemRef::Expect(0)) {
                ctx.push(
                    Diagnostic::error(
                        "E0702",
                        t.expects[0].span,
                        "`expect` must come after the test's events",
                    )
                    .with_help(
                        "`expect` applies to the last event; put it at the end of the block",
                    ),
                );
                ok = false;
            }
        }
        _ => {
            ctx.error(
                "E0702",
                t.expects[1].span,
                "a test has one `expect`; split it into two tests",
            );
            ok = false;
        }
    }
    let mut events = Vec::new();
    for (i, e) in t.events.iter().enumerate() {
        let mut v = e.value.clone();
        if let Some(obj) = v.as_object_mut() {
            // Tests need not invent ids.
            obj.entry("id")
                .or_insert_with(|| format!("{}#{}", t.name.value, i + 1).into());
        }
        match event_from_value(v) {
            Ok(ev) => {
                misspelt_category(ctx, e.span, &ev.category);
                events.push(ev);
            }
            Err(err) => {
                let at = field_span(ctx, e.span, &err.0).unwrap_or(e.span);
                ctx.error("E0701", at, format!("this test event is not valid: {err}"));
                ok = false;
            }
        }
    }
    let mut expect = Vec::new();
    let entries: Vec<&ast::ExpectEntry> = t.expects.iter().flat_map(|x| &x.entries).collect();
    for (i, x) in entries.iter().enumerate() {
        // Two values for one key: one of them is a mistake, and which one
        // the test would check is not for the reader to guess.
        if let Some(first) = entries[..i].iter().find(|y| y.key.name == x.key.name) {
            ctx.push(
                Diagnostic::error(
                    "E0703",
                    x.key.span,
                    format!("`{}` is expected twice", x.key.name),
                )
                .with_label(first.key.span, "first expected here"),
            );
            ok = false;
            continue;
        }
        match expectation(ctx, x) {
            Some(e) => expect.push((e, ctx.bundle.sources.location(x.span))),
            None => ok = false,
        }
    }
    ok.then(|| TestCase {
        name: t.name.value.clone(),
        location: ctx.bundle.sources.location(t.span),
        events,
        expect,
    })
}

fn expectation(ctx: &mut Ctx<'_>, x: &ast::ExpectEntry) -> Option<Expectation> {
    let key = x.key.name.as_str();
    let bad = |ctx: &mut Ctx<'_>, span: Span, what: &str| {
        ctx.error("E0703", span, format!("`{key}` expects {what}"));
        None
    };
    match (key, &x.value) {
        ("grade", ExpectValue::Name(n)) => ctx.grade(n).map(|_| Expectation::Grade(n.name.clone())),
        ("lead", ExpectValue::Name(n)) => ctx.dept(n).map(|_| Expectation::Lead(n.name.clone())),
        ("level", ExpectValue::Name(n)) => ctx.level(n).map(|_| Expectation::Level(n.name.clone())),
        ("assist", ExpectValue::List(ds, _)) => {
            // Count rather than `all`, so every unknown name is reported.
            let unknown = ds.iter().filter(|d| ctx.dept(d).is_none()).count();
            (unknown == 0).then(|| Expectation::Assist(ds.iter().map(|d| d.name.clone()).collect()))
        }
        ("unit", ExpectValue::Name(n)) if n.name == "null" => Some(Expectation::Unit(None)),
        ("unit", ExpectValue::Name(n)) => Some(Expectation::Unit(Some(n.name.clone()))),
        ("unit", ExpectValue::Str(s)) => Some(Expectation::Unit(Some(s.value.clone()))),
        ("on_the_spot", ExpectValue::Bool(b, _)) => Some(Expectation::OnTheSpot(*b)),
        ("fallback", ExpectValue::Bool(b, _)) => Some(Expectation::Fallback(*b)),
        ("respond_by" | "resolve_by", ExpectValue::Str(s)) => match s.value.parse::<Timestamp>() {
            Ok(t) if key == "respond_by" => Some(Expectation::RespondBy(t, s.value.clone())),
            Ok(t) => Some(Expectation::ResolveBy(t, s.value.clone())),
            Err(_) => bad(
                ctx,
                s.span,
                "an RFC 3339 instant such as \"2025-06-03T10:15:00+08:00\"",
            ),
        },
        ("grade" | "lead" | "level", v) => bad(ctx, value_span(v), "a name"),
        ("assist", v) => bad(ctx, value_span(v), "a list of departments `[a, b]`"),
        ("unit", v) => bad(ctx, value_span(v), "a unit id"),
        ("on_the_spot" | "fallback", v) => bad(ctx, value_span(v), "`true` or `false`"),
        ("respond_by" | "resolve_by", v) => bad(ctx, value_span(v), "a quoted RFC 3339 instant"),
        _ => {
            ctx.push(
                Diagnostic::error("E0703", x.key.span, format!("unknown `expect` key `{key}`"))
                    .with_help(format!("the keys are: {KEYS}")),
            );
            None
        }
    }
}

fn value_span(v: &ExpectValue) -> Span {
    match v {
        ExpectValue::Name(i) => i.span,
        ExpectValue::Str(s) => s.span,
        ExpectValue::Bool(_, s) | ExpectValue::List(_, s) => *s,
        ExpectValue::Number(n) => n.span,
    }
}

/// Warns of a test event whose category the policy does not declare but
/// is a slip away from one it does: the fallback would route it, and the
/// test would check the fallback instead. A test of the fallback names a
/// category far from every declared one, and is not warned of.
fn misspelt_category(ctx: &mut Ctx<'_>, event: Span, category: &str) {
    let declared = &ctx.names.categories;
    if declared.iter().any(|c| &**c == category) {
        return;
    }
    let Some(near) =
        super::suggest::closest(category, declared.iter().map(|c| &**c)).map(str::to_string)
    else {
        return;
    };
    // The value as written, where the text has it so.
    let quoted = format!("\"{category}\"");
    let at = match ctx.bundle.sources.text(event).find(&quoted) {
        Some(i) => Span::new(
            event.file,
            event.start as usize + i,
            event.start as usize + i + quoted.len(),
        ),
        None => event,
    };
    ctx.push(
        Diagnostic::warning(
            "W0704",
            at,
            format!(
                "this test event's category `{category}` is not declared: the fallback routes it"
            ),
        )
        .with_help(format!("did you mean `{near}`?")),
    );
}

/// Where in a test event's text the field an error names first
/// (`` `grid`: ... ``, `` `attr.volume_m3`: ... ``) is written: its key,
/// so that the caret points at it rather than at the whole object.
fn field_span(ctx: &Ctx<'_>, event: Span, message: &str) -> Option<Span> {
    let field = message.strip_prefix('`')?.split('`').next()?;
    let key = format!("\"{}\"", field.rsplit('.').next()?);
    let text = ctx.bundle.sources.text(event);
    let at = text.find(&key)?;
    let start = event.start as usize + at;
    Some(Span::new(event.file, start, start + key.len()))
}
