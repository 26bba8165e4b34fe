//! Categories, the fallback, and the empowerment and relief lists → [`Route`]s.

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;
use whistle_grammar::ast::{self, CategoryItem};
use whistle_grammar::diag::Diagnostic;
use whistle_grammar::source::Span;

use super::Ctx;
use super::cond::{CondCompiler, Place};
use crate::cond::Cond;
use crate::model::{
    AssistRule, CategoryId, Empowerment, Grade, GradeRule, LimitOverride, Relief, Route, SiteId,
};
use crate::windows::{Asked, Groupings};

/// Where a route's lines stand, for the lints.
#[derive(Debug, Default, Clone)]
pub(crate) struct RouteSpans {
    /// Each grade line: grade, whether conditional, span.
    pub grades: Vec<(u8, bool, Span)>,
    /// The `level` line.
    pub level: Option<(u8, Span)>,
    /// Empowerment lines naming it: level, span.
    pub empower: Vec<(u8, Span)>,
    /// One of them has no condition: it, not a grade or a `level` line,
    /// gives every event of the category its level.
    pub empowered_always: bool,
    /// Relief lines naming it: level, span.
    pub relief: Vec<(u8, Span)>,
}

/// All routes of a policy.
pub(crate) struct Routes {
    pub list: Vec<Route>,
    pub index: FxHashMap<Box<str>, CategoryId>,
    pub spans: Vec<RouteSpans>,
    pub fallback: Option<Route>,
    pub fallback_spans: RouteSpans,
    pub undeclared_relief: FxHashMap<Box<str>, Relief>,
    /// Categories declared with errors: already reported, so the lists
    /// that name them must not call them unknown as well.
    broken: FxHashSet<Box<str>>,
    /// The categories whose own conditions read `repeats` (`every` is left
    /// for the caller: the conditions outside the routes).
    pub asked: Asked,
    /// The longest `repeats` window of the routes' own conditions.
    pub longest: Option<u64>,
}

impl Routes {
    pub fn compile(
        ctx: &mut Ctx<'_>,
        categories: &[&ast::CategoryDecl],
        fallback: Option<&ast::FallbackDecl>,
        empowers: &[&ast::EmpowerDecl],
        relieves: &[&ast::RelieveDecl],
        grades: &[Option<Grade>],
    ) -> Routes {
        let mut r = Routes {
            list: Vec::new(),
            index: FxHashMap::default(),
            spans: Vec::new(),
            fallback: None,
            fallback_spans: RouteSpans::default(),
            undeclared_relief: FxHashMap::default(),
            broken: FxHashSet::default(),
            asked: Asked::default(),
            longest: None,
        };
        for c in categories {
            if r.index.contains_key(c.name.name.as_str()) {
                // A second declaration (E0101) is not compiled, but the
                // departments it names are not unused (W0701) for that.
                mark_departments_used(ctx, &c.items);
                continue;
            }
            let ((route, spans), own) = own_repeats(ctx, |ctx| {
                route(
                    ctx,
                    &c.name.name,
                    c.display.as_ref(),
                    &c.items,
                    c.name.span,
                    grades,
                )
            });
            r.longest = r.longest.max(own.0);
            r.asked
                .categories
                .insert(c.name.name.as_str().into(), own.1);
            let Some(route) = route else {
                r.broken.insert(c.name.name.as_str().into());
                continue;
            };
            let id = CategoryId::try_from(r.list.len()).unwrap_or(CategoryId::MAX);
            r.index.insert(c.name.name.as_str().into(), id);
            r.list.push(route);
            r.spans.push(spans);
        }
        if let Some(f) = fallback {
            let ((route, spans), own) = own_repeats(ctx, |ctx| {
                route(ctx, "fallback", None, &f.items, f.span, grades)
            });
            r.longest = r.longest.max(own.0);
            r.asked.fallback = own.1;
            r.fallback = route;
            r.fallback_spans = spans;
        }
        r.empower(ctx, empowers);
        r.relieve(ctx, relieves);
        r
    }

    fn empower(&mut self, ctx: &mut Ctx<'_>, empowers: &[&ast::EmpowerDecl]) {
        for e in empowers {
            // An unknown level still has its body checked: a slip in the
            // header must not hide the slips inside.
            let level = ctx.level(&e.level);
            for item in &e.items {
                let when = item
                    .when
                    .as_ref()
                    .map(|w| compile_cond(ctx, w, Place::AfterGrading));
                let what = format!(
                    "empower {}: {}",
                    e.level.name,
                    super::collapse(ctx.bundle.sources.text(item.span))
                );
                let site = ctx.site(item.span, Some(what));
                for c in &item.categories {
                    match self.index.get(c.name.as_str()) {
                        Some(&id) => {
                            let Some(level) = level else { continue };
                            // The first line that holds applies: after one
                            // that always holds, a later one never does.
                            let always = self
                                .list
                                .get(id as usize)
                                .and_then(|r| r.empower.iter().position(|e| e.when.is_none()));
                            if let Some(first) =
                                always.and_then(|i| self.spans.get(id as usize)?.empower.get(i))
                            {
                                ctx.push(
                                    Diagnostic::warning(
                                        "W0303",
                                        c.span,
                                        format!("this `empower` of `{}` can never apply", c.name),
                                    )
                                    .with_label(first.1, "an earlier one without a condition always applies first")
                                    .with_help("the first `empower` line of a category that holds is the one applied; give the earlier line a condition, or remove this one"),
                                );
                            }
                            if let Some(route) = self.list.get_mut(id as usize) {
                                route.empower.push(Empowerment {
                                    level,
                                    when: when.clone(),
                                    site,
                                });
                            }
                            if let Some(s) = self.spans.get_mut(id as usize) {
                                s.empower.push((level, item.span));
                                s.empowered_always |= when.is_none();
                            }
                        }
                        None if self.broken.contains(c.name.as_str()) => {}
                        None => {
                            ctx.push(
                                Diagnostic::error(
                                    "E0102",
                                    c.span,
                                    format!("unknown category `{}`", c.name),
                                )
                                .with_help(super::suggest::help(
                                    &c.name,
                                    self.index.keys().map(|k| &**k),
                                    "only a declared category can be settled on the spot",
                                )),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Whether `name` is a declared category (one whose declaration had
    /// errors included).
    fn declared(&self, name: &str) -> bool {
        self.index.contains_key(name) || self.broken.contains(name)
    }

    fn relieve(&mut self, ctx: &mut Ctx<'_>, relieves: &[&ast::RelieveDecl]) {
        // Names relieved but declared nowhere: allowed (such events come
        // through the fallback), but one a slip away from a declared name,
        // or from another relieved name, is most likely a typo.
        let undeclared: Vec<&str> = relieves
            .iter()
            .flat_map(|rl| &rl.items)
            .flat_map(|i| &i.categories)
            .map(|c| c.name.as_str())
            .filter(|n| !self.declared(n))
            .collect();
        for rl in relieves {
            let level = ctx.level(&rl.level);
            for item in &rl.items {
                for c in &item.categories {
                    if !self.declared(&c.name)
                        && let Some(near) = super::suggest::closest(
                            &c.name,
                            self.index
                                .keys()
                                .map(|k| &**k)
                                .chain(undeclared.iter().copied()),
                        )
                    {
                        ctx.push(
                            Diagnostic::warning(
                                "W0302",
                                c.span,
                                format!("`{}` is not a declared category", c.name),
                            )
                            .with_help(format!(
                                "did you mean `{near}`? (a category the policy does not declare can be relieved: its events come through the fallback)"
                            )),
                        );
                    }
                    let Some(level) = level else { continue };
                    let top = ctx.names.levels.len().saturating_sub(1);
                    let outcome = if usize::from(level) == top {
                        "but it is the top level: it stays there"
                    } else {
                        "so it goes one level up"
                    };
                    let what = format!(
                        "relieve {}: `{}` may not be handled at {}, {outcome}",
                        rl.level.name, c.name, rl.level.name
                    );
                    let site = ctx.site(c.span, Some(what));
                    // A relieved category the policy does not route arrives
                    // through the fallback, so its relief is kept by name.
                    let relief = match self.index.get(c.name.as_str()) {
                        Some(&id) => {
                            if let Some(s) = self.spans.get_mut(id as usize) {
                                s.relief.push((level, c.span));
                            }
                            self.list.get_mut(id as usize).map(|r| &mut r.relief)
                        }
                        None => Some(
                            self.undeclared_relief
                                .entry(c.name.as_str().into())
                                .or_default(),
                        ),
                    };
                    if let Some(relief) = relief
                        && !relief.forbids(level)
                    {
                        relief.mask |= 1u64 << level;
                        relief.sites.push((level, site));
                    }
                }
            }
        }
    }
}

/// Runs `f` (a route's compilation) and returns, with its result, the
/// longest `repeats` window of the conditions it compiled and the
/// groupings they read, kept out of `ctx`'s (which holds those outside
/// every route).
fn own_repeats<T>(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut Ctx<'_>) -> T,
) -> (T, (Option<u64>, Groupings)) {
    let outside = ctx.repeats.longest.take();
    let outside_groupings = std::mem::take(&mut ctx.repeats.groupings);
    let out = f(ctx);
    let own = std::mem::replace(&mut ctx.repeats.longest, outside);
    let own_groupings = std::mem::replace(&mut ctx.repeats.groupings, outside_groupings);
    (out, (own, own_groupings))
}

pub(super) fn compile_cond(ctx: &mut Ctx<'_>, e: &ast::Expr, place: Place) -> Cond {
    let mut diags = Vec::new();
    let mut repeats = std::mem::take(&mut ctx.repeats);
    let scope = ctx.scope();
    let c = CondCompiler::new(&scope, place, &mut diags, &mut repeats).compile(e);
    ctx.repeats = repeats;
    ctx.diags.extend(diags);
    c
}

/// Compiles one category (or the fallback).
fn route(
    ctx: &mut Ctx<'_>,
    name: &str,
    display: Option<&ast::StrLit>,
    items: &[CategoryItem],
    name_span: Span,
    grades: &[Option<Grade>],
) -> (Option<Route>, RouteSpans) {
    let mut spans = RouteSpans::default();
    let mut lead: Option<(u16, SiteId)> = None;
    let mut lead_span: Option<Span> = None;
    let mut default_written = false;
    let mut assists = Vec::new();
    let mut grade_rules = Vec::new();
    let mut limits: Vec<(u8, LimitOverride, SiteId)> = Vec::new();
    let mut level = None;
    let mut lead_missing = false;
    for item in items {
        match item {
            CategoryItem::Lead(d, span) => {
                if let Some(first) = lead_span {
                    ctx.push(
                        Diagnostic::error(
                            "E0202",
                            *span,
                            format!("`{name}` has more than one `lead`"),
                        )
                        .with_label(first, "the first `lead` is here")
                        .with_help("exactly one department leads; others `assist`"),
                    );
                    continue;
                }
                lead_span = Some(*span);
                match ctx.dept(d) {
                    Some(id) => lead = Some((id, ctx.site(*span, None))),
                    None => lead_missing = true,
                }
            }
            CategoryItem::Assist(ds, when, span) => {
                let depts: SmallVec<[u16; 4]> = ds.iter().filter_map(|d| ctx.dept(d)).collect();
                // Unknown names were reported by `dept`; keep going to check the condition.
                let when = when
                    .as_ref()
                    .map(|w| compile_cond(ctx, w, Place::AfterGrading));
                let site = ctx.site(*span, None);
                assists.push(AssistRule { depts, when, site });
            }
            CategoryItem::Grade(g, when, span) => {
                let gid = ctx.grade(g);
                // A default line with an unknown grade is still a default:
                // the unknown grade is the one error.
                default_written |= when.is_none();
                let when = when.as_ref().map(|w| compile_cond(ctx, w, Place::Grading));
                let Some(gid) = gid else { continue };
                spans.grades.push((gid, when.is_some(), *span));
                let site = ctx.site(*span, None);
                grade_rules.push(GradeRule {
                    grade: gid,
                    when,
                    site,
                });
            }
            CategoryItem::Limits(g, ls, span) => {
                let Some(gid) = ctx.grade(g) else { continue };
                if limits.iter().any(|(x, _, _)| *x == gid) {
                    ctx.error(
                        "E0104",
                        *span,
                        format!("`{name}` has two `limits {}` blocks", g.name),
                    );
                    continue;
                }
                let mut o = LimitOverride::default();
                let mut at = (Span::default(), Span::default());
                for l in ls {
                    let what = format!(
                        "limits {}: {}",
                        g.name,
                        super::collapse(ctx.bundle.sources.text(l.span))
                    );
                    let lim = ctx.limit(&l.duration, l.span, Some(what));
                    match l.clock {
                        ast::Clock::Respond => (o.respond, at.0) = (Some(lim), l.span),
                        ast::Clock::Resolve => (o.resolve, at.1) = (Some(lim), l.span),
                    }
                }
                // The grade's own limit stands in for one not overridden.
                let own = grades.get(usize::from(gid)).and_then(Option::as_ref);
                let respond = o.respond.as_ref().map(|l| (l, at.0));
                let resolve = o.resolve.as_ref().map(|l| (l, at.1));
                let respond = respond.or(own.map(|g| (&g.respond, *span)));
                let resolve = resolve.or(own.map(|g| (&g.resolve, *span)));
                if let (Some(a), Some(b)) = (respond, resolve) {
                    ctx.limits_in_order(a, b);
                }
                let site = ctx.site(*span, None);
                limits.push((gid, o, site));
            }
            CategoryItem::Level(l, span) => {
                if level.is_some() {
                    ctx.error(
                        "E0104",
                        *span,
                        format!("`{name}` has more than one `level`"),
                    );
                    continue;
                }
                if let Some(lid) = ctx.level(l) {
                    spans.level = Some((lid, *span));
                    level = Some((lid, ctx.site(*span, None)));
                }
            }
        }
    }
    if lead_span.is_none() {
        ctx.push(
            Diagnostic::error(
                "E0201",
                name_span,
                format!("`{name}` has no `lead` department"),
            )
            .with_help("add `lead DEPARTMENT`: the department that answers for it"),
        );
    }
    if !default_written {
        ctx.push(
            Diagnostic::error(
                "E0203",
                name_span,
                format!("`{name}` has no unconditional `grade` line"),
            )
            .with_help("add a default as the last grade line, for example `grade blue`"),
        );
    }
    let valid_grades = grade_rules
        .iter()
        .all(|r| grades.get(r.grade as usize).is_some_and(Option::is_some));
    let route = match lead {
        Some((lead, lead_site))
            if !lead_missing && valid_grades && grade_rules.iter().any(|r| r.when.is_none()) =>
        {
            Some(Route {
                name: name.into(),
                display: display.map(|d| d.value.as_str().into()),
                lead,
                lead_site,
                assists,
                grades: grade_rules,
                limits,
                level,
                empower: Vec::new(),
                relief: Relief::default(),
            })
        }
        _ => None,
    };
    (route, spans)
}

/// Marks the departments a category's `lead` and `assist` lines name as
/// used, without resolving anything else.
fn mark_departments_used(ctx: &mut Ctx<'_>, items: &[CategoryItem]) {
    let named = items.iter().flat_map(|item| match item {
        CategoryItem::Lead(d, _) => std::slice::from_ref(d),
        CategoryItem::Assist(ds, _, _) => ds.as_slice(),
        _ => &[],
    });
    for d in named {
        if let Some(&(id, _)) = ctx.names.depts.get(&d.name)
            && let Some(u) = ctx.names.dept_used.get_mut(id as usize)
        {
            *u = true;
        }
    }
}
