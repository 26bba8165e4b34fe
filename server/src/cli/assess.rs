//! `whistle assess --data DIR --period P [--policy BUNDLE] [--by GROUP]
//! [--format table|json|csv]`: the assessment of a period from a data
//! directory's store, without a server.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use unicode_width::UnicodeWidthStr;
use whistle_engine::assess::csv::{
    SCORE_COLUMNS, TARGET_COLUMNS, Table, opt, score_rows, target_rows,
};
use whistle_engine::assess::{GroupTable, Period, Report, ScoreTable, Values, parse_group};
use whistle_engine::model::Metric;
use whistle_engine::{Policy, compile};
use whistle_grammar::bundle::{BundleFile, from_files};

use super::{CANNOT_RUN, OK};
use crate::assessment::period_report;
use crate::store::Store;
use crate::store::sqlite::{FILE_NAME, SqliteStore};

/// Arguments of `whistle assess`.
#[derive(Args)]
pub struct AssessArgs {
    /// The data directory of the store (`whistle serve --data`).
    #[arg(long)]
    pub data: PathBuf,
    /// The period: 2026, 2026-Q2, 2026-06, 2026-06-03 or 2026-06-01..2026-06-15
    /// (events counted by `reported_at`, in the policy's time zone).
    #[arg(long)]
    pub period: String,
    /// The policy bundle whose weights and targets apply (default: the
    /// version last recorded in the store).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Only this kind of group: `department`, `category` or a level.
    #[arg(long)]
    pub by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// With `--format csv`: write `groups.csv` (what standard output
    /// would get), `scores.csv` (each score with the weight it counted)
    /// and `targets.csv` into this directory instead.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How to print the assessment.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Aligned tables for a terminal.
    Table,
    /// The report as one JSON document.
    Json,
    /// One row per group, for spreadsheets (with `--out`, the scores and
    /// targets too, in files of their own).
    Csv,
}

/// Prints the assessment (or writes its tables with `--out`); exit 0, or
/// 2 when it cannot be made.
pub fn run(a: &AssessArgs) -> u8 {
    if a.out.is_some() && !matches!(a.format, Format::Csv) {
        say!("error: --out writes CSV files: add --format csv");
        return CANNOT_RUN;
    }
    let (policy, report) = match assess(a) {
        Ok(made) => made,
        Err(msg) => {
            say!("error: {msg}");
            return CANNOT_RUN;
        }
    };
    let done = match &a.out {
        Some(dir) => write_tables(&report, dir).map(|paths| say!("wrote {}", paths.join(", "))),
        None => match a.format {
            Format::Json => serde_json::to_string_pretty(&report)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string()),
            Format::Csv => Ok(csv(&report)),
            Format::Table => Ok(table(&policy, &report)),
        }
        .map(|t| put_part!("{t}")),
    };
    match done {
        Ok(()) => OK,
        Err(e) => {
            say!("error: {e}");
            CANNOT_RUN
        }
    }
}

fn compile_policy(files: Vec<BundleFile>, what: &str) -> Result<Policy, String> {
    let b = from_files(files);
    let c = compile(&b);
    match c.policy {
        Some(p) => Ok(p),
        None => {
            super::print_diagnostics(&b, &c.diagnostics);
            Err(format!("{what} has errors"))
        }
    }
}

async fn policy_of(a: &AssessArgs, store: &SqliteStore) -> Result<Policy, String> {
    if let Some(dir) = &a.policy {
        // The bundle's read error names the path already.
        let files = whistle_grammar::bundle::read_dir(dir).map_err(|e| e.to_string())?;
        return compile_policy(files, &format!("the policy `{}`", dir.display()));
    }
    let versions = store.policy_versions().await.map_err(|e| e.to_string())?;
    let Some(v) = versions.into_iter().next() else {
        return Err(format!(
            "`{}` records no policy version; name the bundle with --policy",
            a.data.display()
        ));
    };
    let files = v
        .files
        .into_iter()
        .map(|(path, text)| BundleFile {
            path,
            bytes: text.into_bytes(),
        })
        .collect();
    compile_policy(
        files,
        &format!("the policy version {} recorded in the store", v.hash),
    )
}

fn assess(a: &AssessArgs) -> Result<(Policy, Report), String> {
    if !a.data.join(FILE_NAME).exists() {
        return Err(format!("`{}` holds no Whistle store", a.data.display()));
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let store = SqliteStore::open(&a.data, Vec::new())
            .await
            .map_err(|e| e.to_string())?;
        let policy = policy_of(a, &store).await?;
        let period = Period::parse(&a.period, policy.calendar.time_zone())
            .map_err(|e| format!("--period: {e}"))?;
        if let Some(by) = &a.by
            && parse_group(&policy, by).is_none()
        {
            let levels: Vec<&str> = policy.levels.iter().map(|l| &**l).collect();
            return Err(format!(
                "--by: unknown group `{by}`; use department, category or a level ({})",
                levels.join(", ")
            ));
        }
        let bar = reading_bar();
        let report = period_report(&store, &policy, &period, Timestamp::now(), &mut |n| {
            bar.set_message(format!("{n} events read"));
        })
        .await;
        bar.finish_and_clear();
        let _ = store.close().await;
        let mut report = report.map_err(|e| e.to_string())?;
        if let Some(by) = &a.by {
            report = report.only(by);
        }
        Ok((policy, report))
    })
}

/// A spinner on a terminal while the store is read (hidden otherwise):
/// an ended year of a city's events is replayed from its journal, which
/// takes tens of seconds.
fn reading_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
        bar.set_style(style);
    }
    bar.set_message("reading the period's events");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The metric columns, in order, with short headers.
const COLUMNS: [(Metric, &str); 11] = [
    (Metric::Count, "events"),
    (Metric::OnTimeResponse, "on-time resp"),
    (Metric::OnTimeResolution, "on-time res"),
    (Metric::OverdueRate, "overdue"),
    (Metric::Satisfaction, "satisfied"),
    (Metric::FirstContact, "first contact"),
    (Metric::EscalationRate, "escalated"),
    (Metric::ReopenRate, "reopened"),
    (Metric::ActiveDiscovery, "active"),
    (Metric::SourceResolution, "source res"),
    (Metric::MeanResolutionHours, "mean hours"),
];

fn cell(m: Metric, v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if m == Metric::Count => format!("{v:.0}"),
        Some(v) if m.is_share() => format!("{:.1}%", v * 100.0),
        Some(v) => format!("{v:.1}"),
    }
}

/// Rows of cells, printed with aligned columns; `right[i]` aligns column
/// `i` right. Widths count terminal columns (a Chinese character is two).
fn grid(out: &mut String, rows: &[Vec<String>], right: &[bool]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, s) in r.iter().enumerate() {
            let w = widths.get(c).copied().unwrap_or(0);
            let fill = " ".repeat(w.saturating_sub(s.width()));
            if c > 0 {
                line.push_str("  ");
            }
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&fill);
                line.push_str(s);
            } else {
                line.push_str(s);
                line.push_str(&fill);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn local(t: Timestamp, tz: &TimeZone) -> String {
    let d = tz.to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute()
    )
}

fn values_row(group: &str, name: &str, v: &Values) -> Vec<String> {
    let mut row = vec![group.to_string(), name.to_string()];
    row.extend(COLUMNS.iter().map(|&(m, _)| cell(m, v.get(m))));
    row
}

fn group_table(out: &mut String, t: &GroupTable) {
    let _ = writeln!(out, "\nBy {}", t.by);
    let mut rows = vec![{
        let mut h = vec![t.by.clone(), "name".to_string()];
        h.extend(COLUMNS.iter().map(|(_, n)| n.to_string()));
        h
    }];
    rows.extend(
        t.rows
            .iter()
            .map(|r| values_row(&r.group, r.name.as_deref().unwrap_or(""), &r.values)),
    );
    let right: Vec<bool> = (0..COLUMNS.len() + 2).map(|c| c >= 2).collect();
    grid(out, &rows, &right);
}

fn score_table(out: &mut String, t: &ScoreTable) {
    let weights: Vec<String> = t
        .weights
        .iter()
        .map(|w| {
            let inv = if w.inverted { ", as 1 − value" } else { "" };
            format!("{} {}{inv}", w.metric, w.weight)
        })
        .collect();
    let _ = writeln!(out, "\nScores: assess {} ({})", t.by, weights.join("; "));
    let mut ranked: Vec<_> = t.rows.iter().collect();
    // Best first; groups without a score last, by id.
    ranked.sort_by(|a, b| {
        b.score
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.score.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.group.cmp(&b.group))
    });
    let mut rows = vec![vec![
        "rank".to_string(),
        t.by.clone(),
        "name".to_string(),
        "score".to_string(),
        "weight counted".to_string(),
    ]];
    for (i, r) in ranked.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            r.group.clone(),
            r.name.clone().unwrap_or_default(),
            r.score.map_or("—".into(), |s| format!("{s:.1}")),
            format!("{}", r.weight_counted),
        ]);
    }
    grid(out, &rows, &[true, false, false, true, true]);
}

fn table(policy: &Policy, r: &Report) -> String {
    let tz = policy.calendar.time_zone();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", r.policy.name, r.policy.version);
    if let Some(p) = &r.period {
        let _ = writeln!(
            out,
            "Period {}: events reported {} to {} ({}), facts at {}: {} events",
            p.label,
            local(p.from, tz),
            local(p.until, tz),
            tz.iana_name().unwrap_or("UTC"),
            local(p.facts_at, tz),
            r.district.count
        );
    }
    // Empty tables under every heading would read as a broken report.
    if r.district.count == 0 {
        let _ = writeln!(
            out,
            "\nNo event was reported in this period: nothing to assess. `--period` takes a year, a quarter, a month, a day or a range of days."
        );
        return out;
    }
    for t in &r.groups {
        group_table(&mut out, t);
    }
    for t in &r.scores {
        score_table(&mut out, t);
    }
    if !r.targets.is_empty() {
        let _ = writeln!(out, "\nTargets (district-wide)");
        let mut rows = vec![vec![
            "metric".to_string(),
            "target".to_string(),
            "value".to_string(),
            "met".to_string(),
        ]];
        for t in &r.targets {
            let m = Metric::from_name(t.metric).unwrap_or(Metric::Count);
            rows.push(vec![
                t.metric.to_string(),
                format!("{} {}", t.op, cell(m, Some(t.bound))),
                cell(m, t.value),
                if t.met { "yes" } else { "no" }.to_string(),
            ]);
        }
        grid(&mut out, &rows, &[false, true, true, false]);
    }
    out
}

fn csv_row(t: &mut Table, by: &str, group: &str, name: &str, v: &Values, score: Option<f64>) {
    let mut fields = vec![by.to_string(), group.to_string(), name.to_string()];
    fields.extend(COLUMNS.iter().map(|&(m, _)| opt(v.get(m))));
    fields.push(opt(score));
    t.row(fields);
}

/// One row per group (and one `all` row for the whole district), each metric a raw number
/// (shares as fractions, empty where there is no value), with the group's
/// score under the `assess` block of its kind (`--out` writes the weight
/// each score counted, and the targets, beside it).
fn csv(r: &Report) -> String {
    let header: Vec<&str> = ["by", "group", "name"]
        .into_iter()
        .chain(COLUMNS.iter().map(|(m, _)| m.name()))
        .chain(["score"])
        .collect();
    let mut t = Table::new(&header);
    // `all`, not `district`: the `district` level has rows of its own,
    // and a pivot on `by` would count every event twice.
    csv_row(&mut t, "all", "all", "", &r.district, None);
    for g in &r.groups {
        let scores = r.scores.iter().find(|s| s.by == g.by);
        for row in &g.rows {
            let score = scores
                .and_then(|s| s.rows.iter().find(|x| x.group == row.group))
                .and_then(|x| x.score);
            csv_row(
                &mut t,
                &g.by,
                &row.group,
                row.name.as_deref().unwrap_or(""),
                &row.values,
                score,
            );
        }
    }
    t.text()
}

/// Writes `groups.csv`, `scores.csv` and `targets.csv` into `dir`
/// (created if missing); returns the paths written.
fn write_tables(r: &Report, dir: &std::path::Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let mut scores = Table::new(&SCORE_COLUMNS);
    for row in score_rows(r) {
        scores.row(row);
    }
    let mut targets = Table::new(&TARGET_COLUMNS);
    for row in target_rows(r) {
        targets.row(row);
    }
    let mut written = Vec::new();
    for (name, text) in [
        ("groups.csv", csv(r)),
        ("scores.csv", scores.text()),
        ("targets.csv", targets.text()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}
