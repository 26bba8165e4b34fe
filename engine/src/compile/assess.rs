//! Thresholds, `assess` blocks and targets.

use whistle_grammar::ast::{self, GroupKey, Literal, MetricExpr, ThresholdItem};
use whistle_grammar::diag::Diagnostic;
use whistle_grammar::source::Span;

use super::Ctx;
use super::cond::Place;
use super::routes::compile_cond;
use crate::cond::{Op, Val, compare};
use crate::model::{Assessment, GroupBy, Metric, TargetDef, Threshold, ThresholdMetric};

fn op(o: ast::CmpOp) -> Op {
    Op::from(o)
}

fn metric(ctx: &mut Ctx<'_>, id: &ast::Ident) -> Option<Metric> {
    let m = Metric::from_name(&id.name);
    if m.is_none() {
        let names: Vec<&str> = Metric::ALL.iter().map(|(_, n)| *n).collect();
        ctx.push(
            Diagnostic::error("E0502", id.span, format!("unknown metric `{}`", id.name)).with_help(
                super::suggest::help(
                    &id.name,
                    names.iter().copied(),
                    format!("the metrics are: {}", names.join(", ")),
                ),
            ),
        );
    }
    m
}

fn group(ctx: &mut Ctx<'_>, g: &GroupKey) -> Option<GroupBy> {
    match g {
        GroupKey::Department(_) => Some(GroupBy::Department),
        GroupKey::Category(_) => Some(GroupBy::Category),
        GroupKey::Level(l) => ctx.level(l).map(GroupBy::Level),
    }
}

/// Warns about a bound a share can never be on the far side of: shares
/// run from 0% to 100%.
fn share_bound(ctx: &mut Ctx<'_>, metric: Metric, bound: f64, lit: &Literal) {
    if crate::assess::share_index(metric).is_some() && !(0.0..=1.0).contains(&bound) {
        ctx.push(Diagnostic::warning(
            "W0505",
            lit.span(),
            format!(
                "`{}` is a share, from 0% to 100%: against a bound of {}% it holds always or never",
                metric.name(),
                bound * 100.0
            ),
        ));
    }
}

/// A percentage against a metric that is not a share: `count(...) when
/// > 10%` compares a number of events with 0.1, and holds from the first.
fn percent_bound(ctx: &mut Ctx<'_>, what: &str, is_share: bool, lit: &Literal) {
    if let Literal::Percent(n) = lit
        && !is_share
    {
        ctx.push(
            Diagnostic::error(
                "E0503",
                lit.span(),
                format!("`{what}` is not a share: a bound of {}% compares it with {}", n.value * 100.0, n.value),
            )
            .with_help("write the bound as a number (`when > 10`), or measure a share such as `overdue_rate`"),
        );
    }
}

fn bound(ctx: &mut Ctx<'_>, lit: &Literal) -> Option<f64> {
    match lit {
        Literal::Number(n) | Literal::Percent(n) => Some(n.value),
        other => {
            ctx.error("E0503", other.span(), "a bound is a number or a percentage");
            None
        }
    }
}

/// Compiles thresholds, assessments and targets.
pub(super) fn compile(
    ctx: &mut Ctx<'_>,
    thresholds: &[&ast::ThresholdDecl],
    assesses: &[&ast::AssessDecl],
    targets: &[&ast::TargetDecl],
) -> (Vec<Threshold>, Vec<Assessment>, Vec<TargetDef>) {
    let ts = thresholds
        .iter()
        .filter_map(|t| threshold(ctx, t))
        .collect();
    let mut out_a = Vec::new();
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for a in assesses {
        let key = a.by.as_str();
        match seen.iter().find(|(k, _)| *k == key) {
            // Two scores for one grouping: which counts would be a guess.
            Some((_, first)) => ctx.push(
                Diagnostic::error(
                    "E0104",
                    a.by.span(),
                    format!("`assess {key}` is given twice"),
                )
                .with_label(*first, "the first is here")
                .with_help("put every weight of one grouping in one block"),
            ),
            None => seen.push((key, a.by.span())),
        }
        let by = group(ctx, &a.by);
        let mut weights = Vec::new();
        let mut sum = 0.0;
        for w in &a.weights {
            sum += w.weight.value;
            if w.weight.value < 0.0 {
                ctx.push(
                    Diagnostic::error(
                        "E0501",
                        w.weight.span,
                        format!("a weight below zero (`{}`)", w.weight.value),
                    )
                    .with_help("weights are shares of the score, from 0 to 100; a metric where lower is better already counts as 1 − value"),
                );
            }
            let Some(m) = metric(ctx, &w.metric) else {
                continue;
            };
            if !m.is_share() {
                ctx.push(
                    Diagnostic::error(
                        "E0504",
                        w.metric.span,
                        format!(
                            "`{}` is not a share in [0, 1] and cannot be weighted",
                            w.metric.name
                        ),
                    )
                    .with_help(
                        "a score weighs shares such as `on_time_response` or `satisfaction`",
                    ),
                );
            }
            if weights.iter().any(|(x, _)| *x == m) {
                ctx.error(
                    "E0101",
                    w.metric.span,
                    format!("`{}` is weighted twice", w.metric.name),
                );
            }
            weights.push((m, w.weight.value));
        }
        if (sum - 100.0).abs() > 1e-9 {
            let head = Span {
                end: a.by.span().end,
                ..a.span
            };
            ctx.push(
                Diagnostic::error(
                    "E0501",
                    head,
                    format!(
                        "the weights of `assess {}` sum to {sum}, not 100",
                        a.by.as_str()
                    ),
                )
                .with_help("weights are percentages of the score; make them add up to 100"),
            );
        }
        let site = ctx.site(a.span, Some(format!("assess {}", a.by.as_str())));
        if let Some(by) = by {
            out_a.push(Assessment { by, weights, site });
        }
    }
    let mut out_t = Vec::new();
    // Per metric and side, the first target and its bound (once known).
    let mut seen: Vec<(&str, ast::CmpOp, Span, Option<f64>)> = Vec::new();
    for t in targets {
        // `>= 80%` and `<= 100%` make a band; two of one side (`>= 80%`
        // and `> 85%`) would leave which one counts to chance.
        let key = t.metric.name.as_str();
        let side = Side::of(t.op);
        let first = seen
            .iter()
            .find(|(k, o, ..)| *k == key && Side::of(*o) == side)
            .map(|(_, _, span, _)| *span);
        let m = metric(ctx, &t.metric);
        let b = bound(ctx, &t.value);
        if let Some(first) = first {
            ctx.push(
                Diagnostic::error(
                    "E0104",
                    t.span,
                    format!("a second `target {key}` {}", side.name()),
                )
                .with_label(first, "the first is here")
                .with_help("a metric has at most one target of each side: a lower bound (`>=`, `>`) and an upper bound (`<=`, `<`)"),
            );
        } else {
            if let Some(b) = b {
                empty_band(ctx, key, (t.op, b, t.span), &seen);
            }
            seen.push((key, t.op, t.span, b));
        }
        let site = ctx.site(t.span, None);
        if let (Some(metric), Some(bound)) = (m, b) {
            percent_bound(ctx, metric.name(), metric.is_share(), &t.value);
            share_bound(ctx, metric, bound, &t.value);
            out_t.push(TargetDef {
                metric,
                op: op(t.op),
                bound,
                site,
            });
        }
    }
    (ts, out_a, out_t)
}

/// Which side of a band a target's operator bounds; `==` and `!=` are
/// sides of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Lower,
    Upper,
    Equal,
    NotEqual,
}

impl Side {
    fn of(op: ast::CmpOp) -> Side {
        match op {
            ast::CmpOp::Ge | ast::CmpOp::Gt => Side::Lower,
            ast::CmpOp::Le | ast::CmpOp::Lt => Side::Upper,
            ast::CmpOp::Eq => Side::Equal,
            ast::CmpOp::Ne => Side::NotEqual,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Lower => "lower bound",
            Side::Upper => "upper bound",
            Side::Equal => "with `==`",
            Side::NotEqual => "with `!=`",
        }
    }
}

/// Warns when a target and an earlier one of the same metric leave no
/// value that meets both (`>= 90%` with `<= 50%`): every group would miss
/// one of them whatever it did.
fn empty_band(
    ctx: &mut Ctx<'_>,
    key: &str,
    (this_op, bound, span): (ast::CmpOp, f64, Span),
    seen: &[(&str, ast::CmpOp, Span, Option<f64>)],
) {
    // The very comparison that judges a target met (`assess::score`).
    let meets = |o: ast::CmpOp, b: f64, v: f64| compare(Val::Num(v), op(o), Val::Num(b));
    for &(k, first_op, first, first_bound) in seen {
        let Some(fb) = first_bound else { continue };
        if k != key {
            continue;
        }
        // A band's candidates: its two bounds and the point between them;
        // with `!=` besides, any other value too.
        let candidates = [
            bound,
            fb,
            (bound + fb) / 2.0,
            bound.max(fb) + 1.0,
            bound.min(fb) - 1.0,
        ];
        if candidates
            .iter()
            .any(|&v| meets(this_op, bound, v) && meets(first_op, fb, v))
        {
            continue;
        }
        ctx.push(
            Diagnostic::warning(
                "W0506",
                span,
                format!("no value of `{key}` meets both this target and the one before it: every group misses one"),
            )
            .with_label(first, "the other target is here")
            .with_help("a band is a lower bound below an upper bound: `target satisfaction >= 80%` with `target satisfaction <= 100%`"),
        );
        return;
    }
}

fn threshold(ctx: &mut Ctx<'_>, t: &ast::ThresholdDecl) -> Option<Threshold> {
    let mut metric_v = None;
    let mut when = None;
    let mut when_lit = None;
    let mut alert = None;
    for item in &t.items {
        match item {
            ThresholdItem::Metric {
                metric: m,
                by,
                over,
                span,
            } => {
                if metric_v.is_some() {
                    ctx.error("E0104", *span, "a threshold has one `metric` line");
                    continue;
                }
                let m = match m {
                    MetricExpr::Builtin(id) => metric(ctx, id).map(ThresholdMetric::Builtin),
                    MetricExpr::Count(e, _) => Some(ThresholdMetric::Count(
                        e.as_ref()
                            .map(|e| compile_cond(ctx, e, Place::AfterGrading)),
                    )),
                };
                let by = group(ctx, by);
                if over.working {
                    ctx.error(
                        "E0604",
                        over.span,
                        "a threshold window is plain time; `working` has no meaning here",
                    );
                }
                if over.total_seconds() == 0 {
                    ctx.error(
                        "E0503",
                        over.span,
                        "the window of a threshold must be longer than zero",
                    );
                }
                metric_v = Some((m, by, over.total_seconds()));
            }
            ThresholdItem::When(o, lit, span) => {
                if when.is_some() {
                    ctx.error("E0104", *span, "a threshold has one `when` line");
                    continue;
                }
                when = Some((op(*o), bound(ctx, lit)));
                when_lit = Some(lit);
            }
            ThresholdItem::Alert(x, span) => {
                if alert.is_some() {
                    ctx.error("E0104", *span, "a threshold has one `alert` line");
                    continue;
                }
                alert = Some(ctx.target(x, "alert"));
            }
        }
    }
    for (missing, what) in [
        (metric_v.is_none(), "metric"),
        (when.is_none(), "when"),
        (alert.is_none(), "alert"),
    ] {
        if missing {
            ctx.push(
                Diagnostic::error(
                    "E0106",
                    t.name.span,
                    format!("threshold `{}` has no `{what}` line", t.name.name),
                )
                .with_help("a threshold needs `metric M by L over W`, `when > X` and `alert L`"),
            );
        }
    }
    let site = ctx.site(t.span, Some(format!("threshold {}", t.name.name)));
    let (Some((Some(metric), Some(by), window)), Some((op, Some(bound))), Some(Some(alert))) =
        (metric_v, when, alert)
    else {
        return None;
    };
    if let Some(lit) = when_lit {
        match &metric {
            ThresholdMetric::Builtin(m) => {
                percent_bound(ctx, m.name(), m.is_share(), lit);
                share_bound(ctx, *m, bound, lit);
            }
            ThresholdMetric::Count(_) => percent_bound(ctx, "count", false, lit),
        }
    }
    Some(Threshold {
        name: t.name.name.as_str().into(),
        display: t.display.as_ref().map(|d| d.value.as_str().into()),
        metric,
        by,
        window,
        op,
        bound,
        alert,
        site,
    })
}
