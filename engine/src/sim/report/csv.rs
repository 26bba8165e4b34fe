//! The report as CSV tables (RFC 4180: comma-separated, quoted where a
//! field needs it, a header line first, after a UTF-8 byte-order mark for
//! Excel), one per file name. Every table has a `policy` column (`draft`,
//! `baseline`) so that both runs share it.

use super::Report;
use crate::assess::csv::{SCORE_COLUMNS, TARGET_COLUMNS, Table, num, opt, score_rows, target_rows};
use crate::sim::stats::RunReport;

fn runs(r: &Report) -> Vec<&RunReport> {
    std::iter::once(&r.draft)
        .chain(r.baseline.as_ref())
        .collect()
}

/// An assessment table's columns after the `policy` column.
fn with_policy<'a>(columns: &[&'a str]) -> Vec<&'a str> {
    std::iter::once("policy")
        .chain(columns.iter().copied())
        .collect()
}

/// Every table: `(file name, CSV text)`.
pub fn tables(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();

    let mut t = Table::new(&["metric", "label", "unit", "baseline", "draft", "delta"]);
    for s in &r.summary {
        t.row([
            s.metric.clone(),
            s.label.clone(),
            s.unit.to_string(),
            opt(s.baseline.flatten()),
            opt(s.draft),
            opt(s.delta.flatten()),
        ]);
    }
    out.push(("summary.csv".to_string(), t.text()));

    let mut t = Table::new(&["policy", "week_start", "series", "value"]);
    for run in runs(r) {
        let p = run.role.as_str();
        let w = &run.weekly;
        for (i, start) in w.start.iter().enumerate() {
            let at = |v: &[f64]| num(v.get(i).copied().unwrap_or(0.0));
            t.row([p.into(), start.clone(), "arrivals".into(), at(&w.arrivals)]);
            for s in &w.by_grade {
                t.row([
                    p.into(),
                    start.clone(),
                    format!("arrivals_{}", s.name),
                    at(&s.values),
                ]);
            }
            t.row([p.into(), start.clone(), "resolved".into(), at(&w.resolved)]);
            t.row([
                p.into(),
                start.clone(),
                "resolved_late".into(),
                at(&w.resolved_late),
            ]);
            for s in &w.raises {
                t.row([
                    p.into(),
                    start.clone(),
                    format!("raises_to_{}", s.name),
                    at(&s.values),
                ]);
            }
            for s in &w.alerts {
                t.row([
                    p.into(),
                    start.clone(),
                    format!("alerts_{}", s.name),
                    at(&s.values),
                ]);
            }
        }
    }
    out.push(("weekly.csv".to_string(), t.text()));

    let mut t = Table::new(&["policy", "day", "kind", "name", "open"]);
    for run in runs(r) {
        let p = run.role.as_str();
        let b = &run.backlog;
        for (i, day) in b.days.iter().enumerate() {
            let groups = [
                ("level", &b.by_level),
                ("queued_at_level", &b.queued_by_level),
                ("department", &b.by_department),
            ];
            for (kind, series) in groups {
                for s in series {
                    t.row([
                        p.into(),
                        day.clone(),
                        kind.into(),
                        s.name.clone(),
                        num(s.values.get(i).copied().unwrap_or(0.0)),
                    ]);
                }
            }
        }
    }
    out.push(("backlog.csv".to_string(), t.text()));

    let mut t = Table::new(&[
        "policy",
        "grade",
        "events",
        "respond_missed",
        "resolve_missed",
        "raised",
        "open_at_end",
    ]);
    for run in runs(r) {
        for g in &run.grades {
            t.row([
                run.role.as_str().into(),
                g.grade.clone(),
                g.events.to_string(),
                g.respond_missed.to_string(),
                g.resolve_missed.to_string(),
                g.raised.to_string(),
                g.open_at_end.to_string(),
            ]);
        }
    }
    out.push(("grades.csv".to_string(), t.text()));

    let mut t = Table::new(&["policy", "level", "raises", "resolved", "peak_backlog"]);
    for run in runs(r) {
        for l in &run.levels {
            t.row([
                run.role.as_str().into(),
                l.level.clone(),
                l.raises.to_string(),
                l.resolved.to_string(),
                l.peak_backlog.to_string(),
            ]);
        }
    }
    out.push(("levels.csv".to_string(), t.text()));

    let mut t = Table::new(&[
        "policy",
        "pool",
        "units",
        "handlers",
        "served",
        "queued",
        "mean_wait_hours",
        "max_wait_hours",
        "waiting_at_end",
        "utilisation",
        "busiest_unit",
        "busiest_utilisation",
        "max_queue",
    ]);
    for run in runs(r) {
        for p in &run.pools {
            t.row([
                run.role.as_str().into(),
                p.pool.clone(),
                p.units.to_string(),
                p.handlers.to_string(),
                p.served.to_string(),
                p.queued.to_string(),
                num(p.mean_wait_hours),
                num(p.max_wait_hours),
                p.waiting_at_end.to_string(),
                num(p.utilisation),
                p.busiest_unit.clone(),
                num(p.busiest_utilisation),
                p.max_queue.to_string(),
            ]);
        }
    }
    out.push(("pools.csv".to_string(), t.text()));

    let mut t = Table::new(&with_policy(&SCORE_COLUMNS));
    for run in runs(r) {
        for row in score_rows(&run.assessment) {
            t.row(std::iter::once(run.role.as_str().to_string()).chain(row));
        }
    }
    out.push(("scores.csv".to_string(), t.text()));

    let mut t = Table::new(&with_policy(&TARGET_COLUMNS));
    for run in runs(r) {
        for row in target_rows(&run.assessment) {
            t.row(std::iter::once(run.role.as_str().to_string()).chain(row));
        }
    }
    out.push(("targets.csv".to_string(), t.text()));

    let mut t = Table::new(&["policy", "threshold", "raised", "cleared", "groups"]);
    for run in runs(r) {
        for x in &run.alerts.by_threshold {
            t.row([
                run.role.as_str().into(),
                x.threshold.clone(),
                x.raised.to_string(),
                x.cleared.to_string(),
                x.groups.to_string(),
            ]);
        }
    }
    out.push(("alerts.csv".to_string(), t.text()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed_after_a_byte_order_mark() {
        let mut t = Table::new(&["name", "value"]);
        t.row(["a".to_string(), num(3.0)]);
        t.row(["a,b".to_string(), num(0.25)]);
        t.row(["say \"hi\"".to_string(), opt(None)]);
        assert_eq!(
            t.text(),
            "\u{feff}name,value\na,3\n\"a,b\",0.25\n\"say \"\"hi\"\"\",\n"
        );
    }
}
