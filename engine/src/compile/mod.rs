//! Compilation: a parsed [`Bundle`] → a [`Policy`], with every static check
//! of LANGUAGE.md section 7 reported as a diagnostic along the way.
//!
//! Errors do not stop the walk: every declaration is looked at, so one run
//! reports every problem. A policy is produced only when there is no error.

mod assess;
mod calendar;
pub mod cond;
mod ladder;
mod lints;
mod routes;
mod slots;
pub mod suggest;
pub mod tests;

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use whistle_grammar::ast::{self, Decl};
use whistle_grammar::bundle::Bundle;
use whistle_grammar::diag::{self, Diagnostic};
use whistle_grammar::source::Span;

use crate::calendar::Calendar;
use crate::model::{AreaIndex, CaseNames, Department, DeptId, Grade, Limit, Policy, Site, SiteId};

pub use tests::TestCase;

/// The result of compiling a bundle.
#[derive(Debug, Default)]
pub struct Compiled {
    /// The policy, when there was no error.
    pub policy: Option<Policy>,
    /// The `test` blocks, validated.
    pub tests: Vec<TestCase>,
    /// Every error and warning, sorted by place.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Interned names and where they were declared.
#[derive(Default)]
pub(crate) struct Names {
    pub levels: Vec<Arc<str>>,
    pub grades: Vec<Arc<str>>,
    pub depts: FxHashMap<String, (DeptId, Span)>,
    pub dept_used: Vec<bool>,
    pub categories: Vec<Arc<str>>,
    /// The ids of `areas.yaml` at each level, lowest first.
    pub areas: Vec<FxHashSet<String>>,
}

impl Names {
    pub fn level(&self, name: &str) -> Option<u8> {
        self.levels
            .iter()
            .position(|l| &**l == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    pub fn grade(&self, name: &str) -> Option<u8> {
        self.grades
            .iter()
            .position(|g| &**g == name)
            .and_then(|i| u8::try_from(i).ok())
    }
}

/// Shared state of one compilation.
pub(crate) struct Ctx<'b> {
    pub bundle: &'b Bundle,
    pub diags: Vec<Diagnostic>,
    pub names: Names,
    pub sites: Vec<Site>,
    pub file_names: FxHashMap<u32, Arc<str>>,
    /// The longest `repeats` window of the conditions compiled outside
    /// any category (each route's own are kept apart, see
    /// [`routes::Routes`]), and the levels every `repeats` groups by.
    pub repeats: cond::RepeatsSeen,
    /// Whether the policy header names a calendar (`working` limits need one).
    pub has_calendar: bool,
    /// The bundle's `event.schema.json`, compiled; `None` without one, or
    /// when it is not a valid schema (reported once, as E0903: checking
    /// `attr` paths against it would report every path as a symptom).
    pub attr_validator: Option<Arc<jsonschema::Validator>>,
}

impl Ctx<'_> {
    pub fn error(
        &mut self,
        code: &'static str,
        span: Span,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, span, msg));
        let n = self.diags.len() - 1;
        &mut self.diags[n]
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Records a traced place: `what` defaults to the source text there.
    pub fn site(&mut self, span: Span, what: Option<String>) -> SiteId {
        let what = what.unwrap_or_else(|| collapse(self.bundle.sources.text(span)));
        let file = match self.file_names.get(&span.file.0) {
            Some(f) => f.clone(),
            None => {
                let f: Arc<str> = self.bundle.sources.name(span.file).into();
                self.file_names.insert(span.file.0, f.clone());
                f
            }
        };
        let lc = self.bundle.sources.start(span);
        self.sites.push(Site {
            what,
            file,
            line: lc.line,
            col: lc.col,
        });
        u32::try_from(self.sites.len() - 1).unwrap_or(u32::MAX)
    }

    /// Resolves a department name, marking it used.
    pub fn dept(&mut self, id: &ast::Ident) -> Option<DeptId> {
        match self.names.depts.get(&id.name) {
            Some(&(d, _)) => {
                if let Some(u) = self.names.dept_used.get_mut(d as usize) {
                    *u = true;
                }
                Some(d)
            }
            None => {
                self.push(
                    Diagnostic::error(
                        "E0102",
                        id.span,
                        format!("unknown department `{}`", id.name),
                    )
                    .with_help(suggest::help(
                        &id.name,
                        self.names.depts.keys().map(String::as_str),
                        "declare it with `department NAME \"显示名\" { level L }`",
                    )),
                );
                None
            }
        }
    }

    /// Resolves a name that may be a level or a department (`notify X`,
    /// `alert X`), marking a department used.
    pub fn target(&mut self, x: &ast::Ident, keyword: &str) -> Option<crate::model::Target> {
        if let Some(l) = self.names.level(&x.name) {
            return Some(crate::model::Target::Level(l));
        }
        if self.names.depts.contains_key(&x.name) {
            return self.dept(x).map(crate::model::Target::Department);
        }
        if self.names.levels.is_empty() {
            return None;
        }
        self.push(
            Diagnostic::error(
                "E0102",
                x.span,
                format!("unknown level or department `{}`", x.name),
            )
            .with_help(suggest::help(
                &x.name,
                self.names
                    .levels
                    .iter()
                    .map(|l| &**l)
                    .chain(self.names.depts.keys().map(String::as_str)),
                format!("`{keyword}` names a level or a department"),
            )),
        );
        None
    }

    pub fn level(&mut self, id: &ast::Ident) -> Option<u8> {
        let l = self.names.level(&id.name);
        // With no `levels` line at all (E0103), every level named would be
        // "unknown": one error says it, not one per use.
        if l.is_none() && !self.names.levels.is_empty() {
            let levels = self.names.levels.join(", ");
            self.push(
                Diagnostic::error("E0102", id.span, format!("unknown level `{}`", id.name))
                    .with_help(suggest::help(
                        &id.name,
                        self.names.levels.iter().map(|l| &**l),
                        format!("the levels are: {levels}"),
                    )),
            );
        }
        l
    }

    pub fn grade(&mut self, id: &ast::Ident) -> Option<u8> {
        let g = self.names.grade(&id.name);
        // As for levels: no `grades` line is E0103, once.
        if g.is_none() && !self.names.grades.is_empty() {
            let grades = self.names.grades.join(", ");
            self.push(
                Diagnostic::error("E0102", id.span, format!("unknown grade `{}`", id.name))
                    .with_help(suggest::help(
                        &id.name,
                        self.names.grades.iter().map(|g| &**g),
                        format!("the grades are: {grades}"),
                    )),
            );
        }
        g
    }

    pub fn scope(&self) -> cond::Scope<'_> {
        cond::Scope {
            levels: &self.names.levels,
            grades: &self.names.grades,
            schema: self
                .attr_validator
                .as_ref()
                .and(self.bundle.event_schema.as_ref()),
            categories: &self.names.categories,
            areas: &self.names.areas,
        }
    }

    /// Warns when a respond limit ends after the resolve limit: the
    /// respond steps of the ladder would fire after the resolve ones.
    /// Only limits measured alike compare (both plain, or both working
    /// with the same whole days).
    pub fn limits_in_order(&mut self, respond: (&Limit, Span), resolve: (&Limit, Span)) {
        let ((a, a_span), (b, b_span)) = (respond, resolve);
        let alike = a.working == b.working && (!a.working || a.days == b.days);
        if alike && (a.days, a.seconds) > (b.days, b.seconds) {
            self.push(
                Diagnostic::warning(
                    "W0206",
                    a_span,
                    "the respond limit is longer than the resolve limit",
                )
                .with_label(b_span, "the resolve limit")
                .with_help("an event must be accepted before it can be resolved; the ladder's respond steps would fire after its resolve steps"),
            );
        }
    }

    /// A limit from a duration.
    pub fn limit(&mut self, d: &ast::Duration, span: Span, what: Option<String>) -> Limit {
        if d.total_seconds() == 0 {
            self.push(
                Diagnostic::warning(
                    "W0206",
                    d.span,
                    "a limit of no time: every event is late on arrival",
                )
                .with_help("give the limit a length, such as `30m`"),
            );
        }
        let site = self.site(span, what);
        if d.working && !self.has_calendar {
            self.push(
                Diagnostic::error("E0804", d.span, "a `working` limit needs a calendar")
                    .with_help("name one in the policy header: `calendar workdays`"),
            );
        }
        if d.working {
            Limit {
                days: u32::try_from(d.days()).unwrap_or(u32::MAX),
                seconds: d.sub_day_seconds(),
                working: true,
                site,
            }
        } else {
            Limit {
                days: 0,
                seconds: d.total_seconds(),
                working: false,
                site,
            }
        }
    }
}

/// Collapses runs of white space, so a traced line reads as one line.
pub(crate) fn collapse(text: &str) -> String {
    let mut s = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 160 {
        s = s.chars().take(157).collect::<String>() + "...";
    }
    s
}

/// Reports the second and later declarations of the same name.
pub(crate) fn duplicates<'a>(
    ctx: &mut Ctx<'_>,
    kind: &str,
    names: impl IntoIterator<Item = &'a ast::Ident>,
) -> FxHashMap<String, Span> {
    let mut seen: FxHashMap<String, Span> = FxHashMap::default();
    for n in names {
        if let Some(first) = seen.get(&n.name) {
            let first = *first;
            ctx.push(
                Diagnostic::error(
                    "E0101",
                    n.span,
                    format!("{kind} `{}` is declared twice", n.name),
                )
                .with_label(first, "first declared here"),
            );
        } else {
            seen.insert(n.name.clone(), n.span);
        }
    }
    seen
}

/// Compiles a bundle given as `(path, text)` pairs (a policy written in
/// code: tests, examples, embedding): the policy, or its errors rendered
/// as `whistle check` prints them (without colour).
pub fn compile_texts(files: &[(&str, &str)]) -> Result<Policy, String> {
    let bundle = whistle_grammar::bundle::from_files(
        files
            .iter()
            .map(|(path, text)| whistle_grammar::bundle::BundleFile {
                path: (*path).into(),
                bytes: text.as_bytes().to_vec(),
            })
            .collect(),
    );
    let c = compile(&bundle);
    match c.policy {
        Some(p) if !c.has_errors() => Ok(p),
        _ => {
            let errors: Vec<Diagnostic> = c
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect();
            Err(diag::render(&errors, &bundle.sources, false))
        }
    }
}

/// Compiles a bundle.
pub fn compile(bundle: &Bundle) -> Compiled {
    let mut out = Compiled {
        diagnostics: bundle.diagnostics.clone(),
        ..Compiled::default()
    };
    // Name resolution over a tree with holes would only add noise to the
    // syntax errors, so it waits until the text parses.
    if out.has_errors() {
        diag::sort(&mut out.diagnostics);
        return out;
    }
    let mut ctx = Ctx {
        bundle,
        diags: Vec::new(),
        names: Names::default(),
        sites: Vec::new(),
        file_names: FxHashMap::default(),
        repeats: cond::RepeatsSeen::default(),
        has_calendar: false,
        attr_validator: None,
    };
    ctx.attr_validator = attr_validator(&mut ctx);
    let decls: Vec<&Decl> = bundle.files.iter().flat_map(|(_, f)| &f.decls).collect();
    let policy = build(&mut ctx, &decls, &mut out.tests);
    let mut diags = ctx.diags;
    diags.extend(out.diagnostics);
    diag::sort(&mut diags);
    out.diagnostics = diags;
    if !out.has_errors() {
        out.policy = policy;
    }
    out
}

fn one<'a, T>(
    ctx: &mut Ctx<'_>,
    items: &[&'a T],
    span_of: impl Fn(&T) -> Span,
    what: &str,
    example: &str,
) -> Option<&'a T> {
    if let Some(extra) = items.get(1) {
        let first = span_of(items[0]);
        ctx.push(
            Diagnostic::error(
                "E0104",
                span_of(extra),
                format!("a bundle has exactly one {what}; this is the second"),
            )
            .with_label(first, "the first is here"),
        );
    }
    if items.is_empty() {
        let anchor = ctx
            .bundle
            .files
            .first()
            .map(|(id, _)| Span::new(*id, 0, 0))
            .unwrap_or_default();
        ctx.push(
            Diagnostic::error("E0103", anchor, format!("the bundle has no {what}"))
                .with_help(format!("add one, for example `{example}`")),
        );
    }
    items.first().copied()
}

/// An item of the `policy` header given twice: the last would win without
/// a word, and a stray `timezone` line moves every deadline.
fn header_repeats(ctx: &mut Ctx<'_>, items: &[ast::PolicyItem]) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for item in items {
        let (key, span) = match item {
            ast::PolicyItem::Version(_, s) => ("version", *s),
            ast::PolicyItem::Effective(_, s) => ("effective", *s),
            ast::PolicyItem::Timezone(_, s) => ("timezone", *s),
            ast::PolicyItem::Calendar(_, s) => ("calendar", *s),
        };
        match seen.iter().find(|(k, _)| *k == key) {
            Some((_, first)) => ctx.push(
                Diagnostic::error(
                    "E0104",
                    span,
                    format!("the `policy` header has one `{key}`; this is the second"),
                )
                .with_label(*first, "the first is here"),
            ),
            None => seen.push((key, span)),
        }
    }
}

fn build(ctx: &mut Ctx<'_>, decls: &[&Decl], tests_out: &mut Vec<TestCase>) -> Option<Policy> {
    macro_rules! pick {
        ($v:ident) => {
            decls
                .iter()
                .filter_map(|d| if let Decl::$v(x) = d { Some(x) } else { None })
                .collect::<Vec<_>>()
        };
    }
    let headers = pick!(Policy);
    let levels = pick!(Levels);
    let grades = pick!(Grades);
    let depts = pick!(Department);
    let grade_blocks = pick!(Grade);
    let categories = pick!(Category);
    let fallbacks = pick!(Fallback);
    let empowers = pick!(Empower);
    let relieves = pick!(Relieve);
    let escalates = pick!(Escalate);
    let thresholds = pick!(Threshold);
    let assesses = pick!(Assess);
    let targets = pick!(Target);
    let tests = pick!(Test);
    let calendars = pick!(Calendar);

    let header = one(
        ctx,
        &headers,
        |h| h.span,
        "`policy` header",
        "policy \"name\" { version \"1\" timezone \"Asia/Shanghai\" }",
    );
    let level_decl = one(
        ctx,
        &levels,
        |l| l.span,
        "`levels` line",
        "levels grid < community < street < district",
    );
    let grade_decl = one(
        ctx,
        &grades,
        |g| g.span,
        "`grades` line",
        "grades blue < yellow < red",
    );
    let fallback = one(
        ctx,
        &fallbacks,
        |f| f.span,
        "`fallback` block",
        "fallback { lead command grade yellow }",
    );

    // Names of each kind.
    if let Some(l) = level_decl {
        duplicates(ctx, "level", &l.names);
        // Every level name is a condition field (the unit's id): one named
        // like a built-in field would be read as the built-in.
        for n in &l.names {
            if cond::BUILTIN_FIELDS.contains(&n.name.as_str()) {
                ctx.push(
                    Diagnostic::error(
                        "E0101",
                        n.span,
                        format!("`{}` is a built-in field and cannot name a level", n.name),
                    )
                    .with_help("a level name is also the condition field of its unit's id; choose another name"),
                );
            }
        }
        ctx.names.levels = l.names.iter().map(|n| Arc::from(n.name.as_str())).collect();
        if l.names.len() > 8 {
            ctx.error("E0107", l.span, "at most 8 levels are supported");
        }
    }
    if let Some(g) = grade_decl {
        duplicates(ctx, "grade", &g.names);
        ctx.names.grades = g.names.iter().map(|n| Arc::from(n.name.as_str())).collect();
        if g.names.len() > 64 {
            ctx.error("E0107", g.span, "at most 64 grades are supported");
        }
    }
    duplicates(ctx, "department", depts.iter().map(|d| &d.name));
    duplicates(ctx, "category", categories.iter().map(|c| &c.name));
    ctx.names.categories = categories
        .iter()
        .map(|c| Arc::from(c.name.name.as_str()))
        .collect();
    if let Some(tree) = &ctx.bundle.areas {
        let mut ids = vec![FxHashSet::default(); 4];
        for path in tree.paths() {
            for (set, id) in ids.iter_mut().zip(path) {
                set.insert(id);
            }
        }
        ctx.names.areas = ids;
    }
    duplicates(ctx, "calendar", calendars.iter().map(|c| &c.name));
    duplicates(ctx, "threshold", thresholds.iter().map(|t| &t.name));
    let test_names: Vec<ast::Ident> = tests
        .iter()
        .map(|t| ast::Ident {
            name: t.name.value.clone(),
            span: t.name.span,
        })
        .collect();
    duplicates(ctx, "test", &test_names);

    // Header.
    let mut tz_name: Option<(String, Span)> = None;
    let mut cal_ref: Option<&ast::Ident> = None;
    let (mut version, mut effective) = (String::new(), None);
    if let Some(h) = header {
        header_repeats(ctx, &h.items);
        for item in &h.items {
            match item {
                ast::PolicyItem::Version(v, _) => version.clone_from(&v.value),
                ast::PolicyItem::Effective(d, _) => {
                    effective = Some(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day));
                }
                ast::PolicyItem::Timezone(t, _) => tz_name = Some((t.value.clone(), t.span)),
                ast::PolicyItem::Calendar(c, _) => cal_ref = Some(c),
            }
        }
    }
    let tz = match &tz_name {
        None => jiff::tz::TimeZone::UTC,
        Some((name, span)) => match jiff::tz::TimeZone::get(name) {
            Ok(tz) => tz,
            Err(_) => {
                ctx.push(
                    Diagnostic::error("E0801", *span, format!("unknown time zone `{name}`"))
                        .with_help("use an IANA name such as \"Asia/Shanghai\""),
                );
                jiff::tz::TimeZone::UTC
            }
        },
    };

    // Departments.
    let mut departments = Vec::new();
    for d in &depts {
        if ctx.names.depts.contains_key(&d.name.name) {
            continue;
        }
        let id = DeptId::try_from(departments.len()).unwrap_or(DeptId::MAX);
        ctx.names
            .depts
            .insert(d.name.name.clone(), (id, d.name.span));
        if let Some(extra) = d.level.get(1) {
            ctx.error("E0104", extra.span, "a department has one `level`");
        }
        let level = d.level.first().and_then(|l| ctx.level(l));
        departments.push(Department {
            name: d.name.name.as_str().into(),
            display: d.display.as_ref().map(|s| s.value.as_str().into()),
            level,
            external: d.external.is_some(),
        });
    }
    ctx.names.dept_used = vec![false; departments.len()];

    // Calendar.
    ctx.has_calendar = cal_ref.is_some();
    let calendar = calendar::compile_calendars(ctx, &calendars, cal_ref, tz);

    // Grades.
    let grade_defs = grade_blocks_compile(ctx, grade_decl, &grade_blocks);

    // Routes.
    let mut routes = routes::Routes::compile(
        ctx,
        &categories,
        fallback,
        &empowers,
        &relieves,
        &grade_defs,
    );
    let (ladder, grade_ladders) = ladder::compile(ctx, &escalates, &grade_defs);
    let (thresholds_c, assessments, targets_c) =
        assess::compile(ctx, &thresholds, &assesses, &targets);

    // Tests are checked against the names above.
    *tests_out = tests::compile(ctx, &tests);

    lints::run(ctx, &routes, &depts, &categories, &grade_defs);

    let areas = area_index(ctx);
    let attr_validator = ctx.attr_validator.clone();
    let fallback_route = routes.fallback.take()?;
    let grade_defs: Vec<Grade> = grade_defs.into_iter().collect::<Option<Vec<_>>>()?;
    let header = header?;
    let mut repeats_levels = ctx.repeats.levels.clone();
    repeats_levels.sort_unstable();
    let mut repeats_asked = std::mem::take(&mut routes.asked);
    repeats_asked.every = ctx.repeats.groupings;
    let mut policy = Policy {
        name: header.name.value.as_str().into(),
        version: version.into(),
        effective: effective.map(Into::into),
        hash: ctx.bundle.hash.as_str().into(),
        case_names: CaseNames::default(),
        calendar: calendar.unwrap_or_else(|| Calendar::always(jiff::tz::TimeZone::UTC)),
        levels: ctx.names.levels.clone(),
        grades: grade_defs,
        departments,
        category_index: routes.index,
        categories: routes.list,
        fallback: fallback_route,
        undeclared_relief: routes.undeclared_relief,
        ladder,
        grade_ladders,
        areas,
        max_repeats_window: routes.longest.max(ctx.repeats.longest).unwrap_or(0),
        repeats_asked,
        thresholds: thresholds_c,
        assessments,
        targets: targets_c,
        repeats_levels,
        attr_validator,
        sites: std::mem::take(&mut ctx.sites),
        rendered: Default::default(),
    };
    slots::assign(&mut policy);
    CaseNames::make(&mut policy);
    policy.rendered = crate::render::render(&policy);
    Some(policy)
}

/// Compiles the `grade` blocks, one per grade of the `grades` line, in severity order.
fn grade_blocks_compile(
    ctx: &mut Ctx<'_>,
    order: Option<&ast::OrderDecl>,
    blocks: &[&ast::GradeDecl],
) -> Vec<Option<Grade>> {
    let mut by_name: FxHashMap<&str, &ast::GradeDecl> = FxHashMap::default();
    for b in blocks {
        if ctx.names.grade(&b.name.name).is_none() {
            ctx.grade(&b.name);
            continue;
        }
        if let Some(first) = by_name.get(b.name.name.as_str()) {
            let first = first.span;
            ctx.push(
                Diagnostic::error(
                    "E0101",
                    b.name.span,
                    format!("grade `{}` has two blocks", b.name.name),
                )
                .with_label(first, "the first is here"),
            );
            continue;
        }
        by_name.insert(&b.name.name, b);
    }
    let Some(order) = order else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for g in &order.names {
        let Some(b) = by_name.get(g.name.as_str()).copied() else {
            ctx.push(
                Diagnostic::error(
                    "E0105",
                    g.span,
                    format!("grade `{}` has no `grade` block", g.name),
                )
                .with_help(format!(
                    "add `grade {} {{ level L respond 1h resolve 24h }}`",
                    g.name
                )),
            );
            out.push(None);
            continue;
        };
        let mut level = None;
        let mut respond = None;
        let mut resolve = None;
        for item in &b.items {
            match item {
                ast::GradeItem::Level(l, span) => {
                    if level.is_some() {
                        ctx.error("E0104", *span, "a grade block has one `level`");
                    }
                    level = ctx.level(l).map(|l| (l, *span));
                }
                ast::GradeItem::Limit(lim) => {
                    let slot = match lim.clock {
                        ast::Clock::Respond => &mut respond,
                        ast::Clock::Resolve => &mut resolve,
                    };
                    if slot.is_some() {
                        let msg = format!("a grade block has one `{}` limit", lim.clock.as_str());
                        ctx.error("E0104", lim.span, msg);
                    }
                    *slot = Some(lim);
                }
            }
        }
        let name = &b.name.name;
        let mut missing = |what: &str| {
            let help = format!(
                "write it inside the block: `grade {name} {{ level L respond 1h resolve 24h }}`"
            );
            ctx.push(
                Diagnostic::error(
                    "E0106",
                    b.name.span,
                    format!("grade `{name}` has no `{what}`"),
                )
                .with_help(help),
            );
        };
        if level.is_none() {
            missing("level");
        }
        if respond.is_none() {
            missing("respond");
        }
        if resolve.is_none() {
            missing("resolve");
        }
        let (Some((level, lspan)), Some(respond), Some(resolve)) = (level, respond, resolve) else {
            out.push(None);
            continue;
        };
        let site = ctx.site(
            lspan,
            Some(format!(
                "grade {name}: {}",
                collapse(ctx.bundle.sources.text(lspan))
            )),
        );
        let (respond_span, resolve_span) = (respond.span, resolve.span);
        let respond = ctx.limit(
            &respond.duration,
            respond.span,
            Some(format!(
                "grade {name}: {}",
                collapse(ctx.bundle.sources.text(respond.span))
            )),
        );
        let resolve = ctx.limit(
            &resolve.duration,
            resolve.span,
            Some(format!(
                "grade {name}: {}",
                collapse(ctx.bundle.sources.text(resolve.span))
            )),
        );
        ctx.limits_in_order((&respond, respond_span), (&resolve, resolve_span));
        out.push(Some(Grade {
            name: name.as_str().into(),
            level,
            site,
            respond,
            resolve,
        }));
    }
    out
}

/// Indexes `areas.yaml` by grid (an empty index without one).
fn area_index(ctx: &mut Ctx<'_>) -> AreaIndex {
    ctx.bundle
        .areas
        .as_ref()
        .map(AreaIndex::of)
        .unwrap_or_default()
}

/// Compiles the bundle's `event.schema.json`, reporting a schema that is not one.
fn attr_validator(ctx: &mut Ctx<'_>) -> Option<Arc<jsonschema::Validator>> {
    let schema = ctx.bundle.event_schema.as_ref()?;
    match crate::event::compile_schema(schema) {
        Ok(v) => Some(Arc::new(v)),
        Err(e) => {
            let span = ctx
                .bundle
                .event_schema_file
                .map(|f| Span::new(f, 0, 0))
                .unwrap_or_default();
            ctx.error(
                "E0903",
                span,
                format!("`event.schema.json` is not a valid JSON Schema: {e}"),
            );
            None
        }
    }
}
