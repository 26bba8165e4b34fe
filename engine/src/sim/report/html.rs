//! `report.html`: one self-contained page — inline CSS and SVG, no script,
//! nothing fetched — with the summary, the charts and the tables.

use std::fmt::Write as _;

use super::svg::{Bars, Delta, Line, PALETTE, bars, deltas, esc, lines};
use super::{NA, Report, delta, value};
use crate::sim::stats::{RunReport, Series};

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC',sans-serif;margin:0;color:#222;background:#fafafa}\
main{max-width:980px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
h3{font-size:14px;margin:16px 0 4px;color:#444}.meta{color:#555}table{border-collapse:collapse;margin:8px 0;background:#fff}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\
.good{color:#1a7f37}.bad{color:#c62828}.chart{width:100%;height:auto;background:#fff;border:1px solid #e4e4e4}code{font-size:12px}\
.note{color:#666;font-size:12px}";

fn runs(r: &Report) -> Vec<(&RunReport, &'static str, bool)> {
    let mut v = vec![(&r.draft, "draft", false)];
    if let Some(b) = &r.baseline {
        v.push((b, "baseline", true));
    }
    v
}

/// Lines for one kind of series under both policies: each name keeps its
/// colour; the baseline is dashed.
fn both_lines<'a>(
    r: &'a Report,
    pick: impl Fn(&'a RunReport) -> &'a [Series],
    limit: usize,
) -> Vec<Line<'a>> {
    let mut names: Vec<&str> = Vec::new();
    for s in pick(&r.draft).iter().take(limit) {
        names.push(&s.name);
    }
    let mut out = Vec::new();
    for (run, role, dashed) in runs(r) {
        for s in pick(run) {
            let Some(i) = names.iter().position(|n| *n == s.name) else {
                continue;
            };
            out.push(Line {
                name: format!("{} ({role})", s.name),
                color: PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#000"),
                dashed,
                values: &s.values,
            });
        }
    }
    out
}

fn sum_series(series: &[Series]) -> Vec<f64> {
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect()
}

/// The departments with the largest backlog peak under the draft (or the baseline).
fn busiest_departments(r: &Report, n: usize) -> Vec<String> {
    let mut peaks: Vec<(f64, String)> = r
        .draft
        .backlog
        .by_department
        .iter()
        .map(|s| (s.values.iter().copied().fold(0.0, f64::max), s.name.clone()))
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    peaks.into_iter().take(n).map(|(_, name)| name).collect()
}

/// The page.
pub fn page(r: &Report) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let s = &r.scenario;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&s.name)
    );
    let _ = write!(h, "<h1>{}</h1>", esc(&s.name));
    if let Some(d) = &s.description {
        let _ = write!(h, "<p>{}</p>", esc(d));
    }
    let _ = write!(
        h,
        "<p class=\"meta\">{} to {} ({}){} · seed {} · {} grids · {}</p>",
        esc(&s.from),
        esc(&s.to),
        esc(&s.time_zone),
        match s.warmup_days {
            0 => String::new(),
            1 => " after a warm-up day".to_string(),
            n => format!(" after {n} warm-up days"),
        },
        s.seed,
        s.grids,
        match &s.replay {
            Some(f) => format!("replay of <code>{}</code>", esc(f)),
            None => format!("{:.0} synthetic events expected", s.expected_events),
        }
    );
    h.push_str("<table><tr><th>policy</th><th>name</th><th>version</th><th>hash</th></tr>");
    for (run, role, _) in runs(r) {
        let _ = write!(
            h,
            "<tr><td>{role}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&run.policy.name),
            esc(&run.policy.version),
            esc(run.policy.hash.get(..19).unwrap_or(&run.policy.hash))
        );
    }
    h.push_str("</table>");
    for (run, role, _) in runs(r) {
        for n in &run.notes {
            let _ = write!(h, "<p class=\"note\">{role}: {}</p>", esc(n));
        }
        if run.skipped > 0 {
            let _ = write!(
                h,
                "<p class=\"note\">{role}: {} replayed lines skipped ({})</p>",
                run.skipped,
                esc(&run.skipped_first.join("; "))
            );
        }
    }

    summary(&mut h, r);

    h.push_str("<h2>Weekly volume</h2><p class=\"note\">Events reported each week, by the grade each policy gave them (a last, partial week is left out of the weekly charts).</p>");
    // A period that does not end on a week's end has a short last week:
    // drawn as is, it would look like a collapse.
    let all_weeks = &r.draft.weekly.start;
    let full = (r.draft.backlog.days.len() / 7).max(1).min(all_weeks.len());
    let weeks = all_weeks.get(..full).unwrap_or(all_weeks);
    let mut vol = both_lines(r, |run| &run.weekly.by_grade, 10);
    for l in &mut vol {
        l.values = l.values.get(..weeks.len()).unwrap_or(l.values);
    }
    h.push_str(&lines("weekly volume by grade", weeks, &vol, ""));

    h.push_str("<h2>Backlog per level</h2><p class=\"note\">Open events (dispatched or accepted) handled at each level, at the end of each day.</p>");
    let days = &r.draft.backlog.days;
    let lv = both_lines(r, |run| &run.backlog.by_level, 10);
    h.push_str(&lines("backlog per level", days, &lv, ""));
    h.push_str("<h3>Waiting for a free handler, per level</h3>");
    let q = both_lines(r, |run| &run.backlog.queued_by_level, 10);
    h.push_str(&lines("queued per level", days, &q, ""));

    h.push_str("<h2>Backlog per department</h2><p class=\"note\">The eight departments with the highest peak under the draft.</p>");
    let top = busiest_departments(r, 8);
    let mut dl = Vec::new();
    for (run, role, dashed) in runs(r) {
        for s in &run.backlog.by_department {
            if let Some(i) = top.iter().position(|n| *n == s.name) {
                dl.push(Line {
                    name: format!("{} ({role})", s.name),
                    color: PALETTE.get(i).copied().unwrap_or("#000"),
                    dashed,
                    values: &s.values,
                });
            }
        }
    }
    h.push_str(&lines("backlog per department", days, &dl, ""));

    h.push_str("<h2>Deadline misses by grade</h2>");
    let grades: Vec<String> = r.draft.grades.iter().map(|g| g.grade.clone()).collect();
    let mut gb = Vec::new();
    for (run, role, light) in runs(r) {
        let pick = |name: &str| -> Vec<f64> {
            grades
                .iter()
                .map(|g| {
                    run.grades.iter().find(|x| &x.grade == g).map_or(0.0, |x| {
                        if name == "respond" {
                            x.respond_missed as f64
                        } else {
                            x.resolve_missed as f64
                        }
                    })
                })
                .collect()
        };
        gb.push(Bars {
            name: format!("respond missed ({role})"),
            color: PALETTE[0],
            light,
            values: pick("respond"),
        });
        gb.push(Bars {
            name: format!("resolve missed ({role})"),
            color: PALETTE[3],
            light,
            values: pick("resolve"),
        });
    }
    h.push_str(&bars("deadline misses by grade", &grades, &gb, ""));
    grade_table(&mut h, r);

    h.push_str("<h2>Escalations by level</h2><p class=\"note\">Raises by the escalation ladder, by the level they reached.</p>");
    let levels: Vec<String> = r.draft.levels.iter().map(|l| l.level.clone()).collect();
    let mut eb = Vec::new();
    for (i, (run, role, light)) in runs(r).into_iter().enumerate() {
        let values = levels
            .iter()
            .map(|l| {
                run.levels
                    .iter()
                    .find(|x| &x.level == l)
                    .map_or(0.0, |x| x.raises as f64)
            })
            .collect();
        eb.push(Bars {
            name: role.to_string(),
            color: PALETTE[if i == 0 { 3 } else { 0 }],
            light,
            values,
        });
    }
    h.push_str(&bars("escalations by level", &levels, &eb, ""));
    let weekly_raises: Vec<(Vec<f64>, &str, bool)> = runs(r)
        .into_iter()
        .map(|(run, role, dashed)| (sum_series(&run.weekly.raises), role, dashed))
        .collect();
    let wr: Vec<Line<'_>> = weekly_raises
        .iter()
        .map(|(v, role, dashed)| Line {
            name: format!("raises per week ({role})"),
            color: PALETTE[3],
            dashed: *dashed,
            values: v.get(..weeks.len()).unwrap_or(v),
        })
        .collect();
    h.push_str(&lines("raises per week", weeks, &wr, ""));

    h.push_str("<h2>Threshold alerts over time</h2><p class=\"note\">Alerts raised each week, by threshold.</p>");
    let mut al = both_lines(r, |run| &run.weekly.alerts, 10);
    for l in &mut al {
        l.values = l.values.get(..weeks.len()).unwrap_or(l.values);
    }
    h.push_str(&lines("alerts per week", weeks, &al, ""));
    alert_table(&mut h, r);

    h.push_str("<h2>Assessment scores</h2>");
    scores(&mut h, r);

    h.push_str("<h2>Handler pools</h2>");
    pool_table(&mut h, r);

    h.push_str("<p class=\"note\">Made by <code>whistle simulate</code>. Every decision, deadline, escalation, alert and score above was computed by the engine's own rules on a simulated clock.</p></main></body></html>\n");
    h
}

fn summary(h: &mut String, r: &Report) {
    h.push_str("<h2>Summary</h2><table><tr><th>measure</th>");
    if r.baseline.is_some() {
        h.push_str("<th>baseline</th>");
    }
    h.push_str("<th>draft</th>");
    if r.baseline.is_some() {
        h.push_str("<th>draft − baseline</th>");
    }
    h.push_str("</tr>");
    for row in &r.summary {
        let _ = write!(h, "<tr><td>{}</td>", esc(&row.label));
        if let Some(b) = row.baseline {
            let _ = write!(h, "<td>{}</td>", value(b, row.unit));
        }
        let _ = write!(h, "<td>{}</td>", value(row.draft, row.unit));
        if let Some(d) = row.delta {
            // A side with nothing to measure: no difference, no colour.
            let Some(d) = d else {
                let _ = write!(h, "<td>{NA}</td>");
                h.push_str("</tr>");
                continue;
            };
            let class = if d == 0.0 || row.metric == "events" {
                ""
            } else if (d < 0.0) == row.lower_is_better {
                "good"
            } else {
                "bad"
            };
            let _ = write!(h, "<td class=\"{class}\">{}</td>", delta(d, row.unit));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    if r.baseline.is_some() {
        h.push_str("<h3>Draft minus baseline</h3><p class=\"note\">Shares in percentage points; green is better, red is worse.</p>");
        let items: Vec<Delta> = r
            .summary
            .iter()
            .filter(|row| row.unit == "%" || row.unit == "h")
            .filter_map(|row| {
                let d = row.delta.flatten()?;
                Some(Delta {
                    label: row.label.clone(),
                    value: d,
                    good: (d < 0.0) == row.lower_is_better,
                    text: delta(d, row.unit),
                })
            })
            .collect();
        h.push_str(&deltas("draft minus baseline", &items));
    }
}

fn grade_table(h: &mut String, r: &Report) {
    h.push_str("<table><tr><th>policy</th><th>grade</th><th>events</th><th>respond missed</th><th>resolve missed</th><th>raised</th><th>open at end</th></tr>");
    for (run, role, _) in runs(r) {
        for g in &run.grades {
            let _ = write!(
                h,
                "<tr><td>{role}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.grade),
                g.events,
                g.respond_missed,
                g.resolve_missed,
                g.raised,
                g.open_at_end
            );
        }
    }
    h.push_str("</table>");
}

fn alert_table(h: &mut String, r: &Report) {
    h.push_str("<table><tr><th>policy</th><th>threshold</th><th>raised</th><th>cleared</th><th>groups alerted</th></tr>");
    for (run, role, _) in runs(r) {
        for t in &run.alerts.by_threshold {
            let _ = write!(
                h,
                "<tr><td>{role}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.threshold),
                t.raised,
                t.cleared,
                t.groups
            );
        }
    }
    h.push_str("</table>");
}

fn scores(h: &mut String, r: &Report) {
    for table in &r.draft.assessment.scores {
        let groups: Vec<String> = table.rows.iter().map(|x| x.group.clone()).collect();
        if groups.is_empty() {
            continue;
        }
        let weights: Vec<String> = table
            .weights
            .iter()
            .map(|w| format!("{} {}", w.metric, w.weight))
            .collect();
        let _ = write!(
            h,
            "<h3>assess {} <span class=\"note\">({})</span></h3>",
            esc(&table.by),
            esc(&weights.join(", "))
        );
        let mut series = Vec::new();
        for (i, (run, role, light)) in runs(r).into_iter().enumerate() {
            let t = run.assessment.scores.iter().find(|t| t.by == table.by);
            let values = groups
                .iter()
                .map(|g| {
                    t.and_then(|t| t.rows.iter().find(|x| &x.group == g))
                        .and_then(|x| x.score)
                        .unwrap_or(0.0)
                })
                .collect();
            series.push(Bars {
                name: role.to_string(),
                color: PALETTE[if i == 0 { 2 } else { 0 }],
                light,
                values,
            });
        }
        // Bars stay readable up to about 30 groups; a bigger table is listed.
        if groups.len() <= 30 {
            h.push_str(&bars(
                &format!("scores by {}", table.by),
                &groups,
                &series,
                "",
            ));
        } else {
            score_table(h, r, &table.by, &groups);
        }
    }
    h.push_str(
        "<h3>Targets</h3><table><tr><th>policy</th><th>target</th><th>value</th><th>met</th></tr>",
    );
    for (run, role, _) in runs(r) {
        for t in &run.assessment.targets {
            let value = t
                .value
                .map_or_else(|| "—".into(), |v| format!("{:.2}%", v * 100.0));
            let bound = if t.metric == "mean_resolution_hours" || t.metric == "count" {
                format!("{}", t.bound)
            } else {
                format!("{:.1}%", t.bound * 100.0)
            };
            let _ = write!(
                h,
                "<tr><td>{role}</td><td>{} {} {}</td><td>{value}</td><td class=\"{}\">{}</td></tr>",
                esc(t.metric),
                esc(t.op),
                bound,
                if t.met { "good" } else { "bad" },
                if t.met { "met" } else { "missed" }
            );
        }
    }
    h.push_str("</table>");
}

/// The scores of many groups as a table, lowest draft score first (the
/// groups an officer looks at), with the baseline's beside them.
fn score_table(h: &mut String, r: &Report, by: &str, groups: &[String]) {
    let score = |run: &crate::sim::stats::RunReport, g: &str| {
        run.assessment
            .scores
            .iter()
            .find(|t| t.by == by)
            .and_then(|t| t.rows.iter().find(|x| x.group == g))
            .and_then(|x| x.score)
    };
    let mut rows: Vec<(&String, Option<f64>, Option<f64>)> = groups
        .iter()
        .map(|g| {
            (
                g,
                score(&r.draft, g),
                r.baseline.as_ref().and_then(|b| score(b, g)),
            )
        })
        .collect();
    rows.sort_by(|a, b| {
        a.1.unwrap_or(f64::INFINITY)
            .total_cmp(&b.1.unwrap_or(f64::INFINITY))
            .then(a.0.cmp(b.0))
    });
    let base = r.baseline.is_some();
    let _ = write!(h, "<table><tr><th>{}</th>", esc(by));
    if base {
        h.push_str("<th>baseline</th>");
    }
    h.push_str("<th>draft</th>");
    if base {
        h.push_str("<th>draft − baseline</th>");
    }
    h.push_str("</tr>");
    for (g, d, b) in rows {
        let _ = write!(h, "<tr><td>{}</td>", esc(g));
        if base {
            let _ = write!(h, "<td>{}</td>", value(b, "score"));
        }
        let _ = write!(h, "<td>{}</td>", value(d, "score"));
        if base {
            let diff = d.zip(b).map(|(d, b)| d - b);
            let class = match diff {
                Some(x) if x > 0.0 => "good",
                Some(x) if x < 0.0 => "bad",
                _ => "",
            };
            let text = diff.map_or_else(|| NA.to_string(), |x| delta(x, "score"));
            let _ = write!(h, "<td class=\"{class}\">{text}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn pool_table(h: &mut String, r: &Report) {
    h.push_str("<table><tr><th>policy</th><th>pool</th><th>units</th><th>handlers/unit</th><th>served</th><th>mean wait</th><th>max wait</th><th>waiting at end</th><th>utilisation</th><th>busiest unit</th><th>max queue</th></tr>");
    for (run, role, _) in runs(r) {
        for p in &run.pools {
            let _ = write!(
                h,
                "<tr><td>{role}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2} h</td><td>{:.1} h</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td></tr>",
                esc(&p.pool),
                p.units,
                p.handlers,
                p.served,
                p.mean_wait_hours,
                p.max_wait_hours,
                p.waiting_at_end,
                p.utilisation * 100.0,
                // A pool no event reached has no busiest unit.
                if p.busiest_unit.is_empty() {
                    "—".to_string()
                } else {
                    format!(
                        "{} ({:.1}%)",
                        esc(&p.busiest_unit),
                        p.busiest_utilisation * 100.0
                    )
                },
                p.max_queue
            );
        }
    }
    h.push_str("</table>");
}
