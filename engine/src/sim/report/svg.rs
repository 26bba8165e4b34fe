//! Small inline SVG charts for the HTML report: lines over time, grouped
//! bars, and diverging bars for deltas. No script, no fonts to fetch: the
//! page must work offline and print as it looks.

use std::fmt::Write as _;

/// Colours for series, chosen to stay apart for the common colour
/// blindnesses (Okabe–Ito, then greys).
pub const PALETTE: [&str; 10] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
    "#999999", "#7F3C8D",
];

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

/// Escapes text for XML and HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A tick label: `1.2k`, `3.4M`, or the number.
pub fn short(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A y axis: its top and its ticks, one every `step` from 0.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    top: f64,
    step: f64,
}

impl Axis {
    /// The axis for values up to `max`: at most four steps of 1, 2 or 5 ×
    /// 10^k, the top the first step at or above `max`. With `whole` values
    /// (counts) a step is at least 1, so no tick reads half an event.
    fn of(max: f64, whole: bool) -> Axis {
        if max.is_nan() || max <= 0.0 || !max.is_finite() {
            let step = if whole { 1.0 } else { 0.25 };
            return Axis { top: 1.0, step };
        }
        let raw = max / 4.0;
        let p = 10f64.powf(raw.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * p)
            .find(|v| *v >= raw)
            .unwrap_or(10.0 * p);
        if whole {
            step = step.max(1.0);
        }
        Axis {
            top: (max / step).ceil().max(1.0) * step,
            step,
        }
    }

    /// The axis for every value of `values`.
    fn over(values: impl Iterator<Item = f64> + Clone) -> Axis {
        let max = values.clone().fold(0.0f64, f64::max);
        let mut values = values;
        Axis::of(max, values.all(|v| v.fract() == 0.0))
    }

    /// How many steps from 0 to the top.
    fn steps(self) -> u32 {
        // At most four by construction; the bound keeps a bad value from
        // drawing without end.
        ((self.top / self.step).round() as u32).clamp(1, 8)
    }
}

fn open(out: &mut String, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" aria-label="{}" class="chart">"#,
        esc(label)
    );
}

fn y_axis(out: &mut String, axis: Axis, unit: &str) {
    let n = axis.steps();
    for i in 0..=n {
        let v = axis.step * f64::from(i);
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - f64::from(i) / f64::from(n));
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11" fill="#555">{}{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            short(v),
            esc(unit)
        );
    }
}

/// One line of a line chart.
pub struct Line<'a> {
    /// Legend text.
    pub name: String,
    /// Colour.
    pub color: &'a str,
    /// Dashed (the baseline).
    pub dashed: bool,
    /// One value per x.
    pub values: &'a [f64],
}

/// A line chart over `x` labels (dates), with at most eight x ticks.
pub fn lines(label: &str, x: &[String], series: &[Line<'_>], unit: &str) -> String {
    let n = x
        .len()
        .max(series.iter().map(|s| s.values.len()).max().unwrap_or(0));
    let axis = Axis::over(series.iter().flat_map(|s| s.values.iter().copied()));
    let top = axis.top;
    let mut out = String::new();
    let key = Legend::new(series.iter().map(|s| (s.name.as_str(), s.color, s.dashed)));
    open(&mut out, key.height(), label);
    y_axis(&mut out, axis, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let px = |i: usize| {
        LEFT + if n > 1 {
            plot_w * i as f64 / (n - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let py = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    // Every other point at most, so that neighbouring labels never touch.
    let ticks = 8.min(n.div_ceil(2)).max(n.min(2));
    for k in 0..ticks {
        let i = if ticks > 1 {
            k * (n - 1) / (ticks - 1)
        } else {
            0
        };
        if let Some(l) = x.get(i) {
            // The end ticks lean inwards so that their labels stay on the chart.
            let anchor = match k {
                0 if ticks > 1 => "start",
                k if k + 1 == ticks && ticks > 1 => "end",
                _ => "middle",
            };
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" text-anchor="{anchor}" font-size="11" fill="#555">{}</text>"##,
                px(i),
                H - BOTTOM + 16.0,
                esc(l)
            );
        }
    }
    for s in series {
        let mut pts = String::with_capacity(s.values.len() * 12);
        for (i, v) in s.values.iter().enumerate() {
            let _ = write!(pts, "{:.1},{:.1} ", px(i), py(*v));
        }
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.6"{dash} points="{}"><title>{}</title></polyline>"#,
            s.color,
            pts.trim_end(),
            esc(&s.name)
        );
    }
    key.draw(&mut out);
    out.push_str("</svg>");
    out
}

/// A chart's legend, laid out in as many rows as its series need: every
/// series is named (the chart grows to hold the rows).
struct Legend<'a> {
    /// Each item: x, row, name, colour, dashed.
    items: Vec<(f64, usize, &'a str, &'a str, bool)>,
    rows: usize,
}

const LEGEND_ROW: f64 = 16.0;

impl<'a> Legend<'a> {
    fn new(series: impl Iterator<Item = (&'a str, &'a str, bool)>) -> Legend<'a> {
        let (mut x, mut row) = (LEFT, 0);
        let mut items = Vec::new();
        for (name, color, dashed) in series {
            let width = 30.0 + 6.5 * name.chars().count() as f64;
            if x > LEFT && x + width > W - RIGHT {
                x = LEFT;
                row += 1;
            }
            items.push((x, row, name, color, dashed));
            x += width;
        }
        Legend {
            rows: row + 1,
            items,
        }
    }

    /// The chart's height with its legend.
    fn height(&self) -> f64 {
        self.height_from(H)
    }

    /// The height of a chart whose legend's first row ends at `base`.
    fn height_from(&self, base: f64) -> f64 {
        base + LEGEND_ROW * self.rows.saturating_sub(1) as f64
    }

    fn draw(&self, out: &mut String) {
        self.draw_at(out, H);
    }

    fn draw_at(&self, out: &mut String, base: f64) {
        for &(x, row, name, color, dashed) in &self.items {
            let y = base - 10.0 + LEGEND_ROW * row as f64;
            let dash = if dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="3"{dash}/><text x="{:.1}" y="{y:.1}" font-size="11" fill="#333">{}</text>"##,
                x + 18.0,
                y - 4.0,
                y - 4.0,
                x + 22.0,
                esc(name)
            );
        }
    }
}

/// One series of a bar chart.
pub struct Bars<'a> {
    /// Legend text.
    pub name: String,
    /// Colour.
    pub color: &'a str,
    /// Drawn lighter (the baseline).
    pub light: bool,
    /// One value per category.
    pub values: Vec<f64>,
}

/// Grouped vertical bars: one group per category, one bar per series.
/// Categories whose names do not fit under their bars (departments,
/// units) are drawn as horizontal bars instead, one row each, named in
/// full.
pub fn bars(label: &str, categories: &[String], series: &[Bars<'_>], unit: &str) -> String {
    let gw = (W - LEFT - RIGHT) / categories.len().max(1) as f64;
    let fits = label_chars(gw);
    if categories.iter().any(|c| c.chars().count() > fits) {
        return hbars(label, categories, series, unit);
    }
    let axis = Axis::over(series.iter().flat_map(|s| s.values.iter().copied()));
    let top = axis.top;
    let mut out = String::new();
    let key = Legend::new(series.iter().map(|s| (s.name.as_str(), s.color, s.light)));
    open(&mut out, key.height(), label);
    y_axis(&mut out, axis, unit);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let groups = categories.len().max(1) as f64;
    let gw = plot_w / groups;
    let bw = (gw * 0.8 / series.len().max(1) as f64).min(40.0);
    for (c, name) in categories.iter().enumerate() {
        let gx = LEFT + gw * c as f64 + (gw - bw * series.len() as f64) / 2.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(c).copied().unwrap_or(0.0);
            let h = plot_h * (v / top).clamp(0.0, 1.0);
            let x = gx + bw * k as f64;
            let opacity = if s.light { "0.45" } else { "1" };
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}" fill-opacity="{opacity}"><title>{} · {}: {}{}</title></rect>"#,
                TOP + plot_h - h,
                (bw - 1.0).max(1.0),
                s.color,
                esc(&s.name),
                esc(name),
                short(v),
                esc(unit)
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
            LEFT + gw * (c as f64 + 0.5),
            H - BOTTOM + 16.0,
            esc(name)
        );
    }
    key.draw(&mut out);
    out.push_str("</svg>");
    out
}

/// How many characters of an 11-pixel label fit in `width` pixels.
fn label_chars(width: f64) -> usize {
    ((width / 6.5) as usize).max(3)
}

/// `name`, cut to `max` characters with an ellipsis.
fn cut(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Grouped horizontal bars: one row per category (its name on the left),
/// one bar per series; the chart grows with the rows.
fn hbars(label: &str, categories: &[String], series: &[Bars<'_>], unit: &str) -> String {
    const BAR: f64 = 11.0;
    const GAP: f64 = 7.0;
    let axis = Axis::over(series.iter().flat_map(|s| s.values.iter().copied()));
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let names = (longest as f64 * 6.5 + 14.0).clamp(LEFT, 220.0);
    let fits = label_chars(names - 14.0);
    let row = BAR * series.len().max(1) as f64 + GAP;
    let plot_h = row * categories.len().max(1) as f64;
    let plot_w = W - names - RIGHT;
    // The x axis's labels, then the legend.
    let base = TOP + plot_h + 44.0;
    let key = Legend::new(series.iter().map(|s| (s.name.as_str(), s.color, s.light)));
    let mut out = String::new();
    open(&mut out, key.height_from(base), label);
    let n = axis.steps();
    for i in 0..=n {
        let x = names + plot_w * f64::from(i) / f64::from(n);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#555">{}{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            short(axis.step * f64::from(i)),
            esc(unit)
        );
    }
    for (c, name) in categories.iter().enumerate() {
        let y0 = TOP + row * c as f64 + GAP / 2.0;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#555"><title>{}</title>{}</text>"##,
            names - 6.0,
            y0 + (row - GAP) / 2.0 + 4.0,
            esc(name),
            esc(&cut(name, fits))
        );
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(c).copied().unwrap_or(0.0);
            let opacity = if s.light { "0.45" } else { "1" };
            let _ = write!(
                out,
                r#"<rect x="{names:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="{opacity}"><title>{} · {}: {}{}</title></rect>"#,
                y0 + BAR * k as f64,
                plot_w * (v / axis.top).clamp(0.0, 1.0),
                BAR - 1.0,
                s.color,
                esc(&s.name),
                esc(name),
                short(v),
                esc(unit)
            );
        }
    }
    key.draw_at(&mut out, base);
    out.push_str("</svg>");
    out
}

/// One delta bar.
pub struct Delta {
    /// What changed.
    pub label: String,
    /// Draft minus baseline.
    pub value: f64,
    /// Whether the change is an improvement.
    pub good: bool,
    /// The value as text.
    pub text: String,
}

/// Horizontal bars either side of zero, green for better, red for worse.
pub fn deltas(label: &str, items: &[Delta]) -> String {
    let row = 22.0;
    let height = TOP + row * items.len().max(1) as f64 + 10.0;
    let max = items.iter().map(|d| d.value.abs()).fold(0.0f64, f64::max);
    let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
    let mid = 420.0;
    let half = W - RIGHT - mid - 70.0;
    let mut out = String::new();
    open(&mut out, height, label);
    let _ = write!(
        out,
        r##"<line x1="{mid}" x2="{mid}" y1="{TOP}" y2="{:.1}" stroke="#888"/>"##,
        height - 6.0
    );
    for (i, d) in items.iter().enumerate() {
        let y = TOP + row * i as f64;
        let w = half * (d.value.abs() * scale);
        let x = if d.value < 0.0 { mid - w } else { mid };
        let color = if d.value == 0.0 {
            "#999"
        } else if d.good {
            "#1a9850"
        } else {
            "#d73027"
        };
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#333">{}</text><rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="{}" font-size="11" fill="#333">{}</text>"##,
            mid - half - 8.0,
            y + 14.0,
            esc(&d.label),
            y + 3.0,
            w.max(1.0),
            row - 6.0,
            if d.value < 0.0 { x - 4.0 } else { x + w + 4.0 },
            y + 14.0,
            if d.value < 0.0 { "end" } else { "start" },
            esc(&d.text)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_readable_tops() {
        let axis = |max, whole| {
            let a = Axis::of(max, whole);
            (a.top, a.step, a.steps())
        };
        assert_eq!(axis(0.0, true), (1.0, 1.0, 1));
        assert_eq!(axis(7.0, true), (8.0, 2.0, 4));
        assert_eq!(axis(120.0, true), (150.0, 50.0, 3));
        assert_eq!(axis(2400.0, true), (3000.0, 1000.0, 3));
        assert_eq!(axis(0.37, false), (0.4, 0.1, 4));
        // Counts never get a fractional tick.
        assert_eq!(axis(1.0, true), (1.0, 1.0, 1));
        assert_eq!(axis(3.0, true), (3.0, 1.0, 3));
        assert_eq!(axis(1.0, false), (1.0, 0.5, 2));
        for max in 1..=2000 {
            let (top, step, n) = axis(f64::from(max), true);
            assert!(
                top >= f64::from(max) && step.fract() == 0.0 && (1..=4).contains(&n),
                "{max}"
            );
            assert_eq!(step * f64::from(n), top, "{max}");
        }
        assert!(Axis::over([1.0, 2.0, 3.0].into_iter()).step == 1.0);
        assert!(Axis::over([0.1, 0.3].into_iter()).step < 1.0);
        assert_eq!(short(12_345.0), "12k");
        assert_eq!(short(2_500_000.0), "2.5M");
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    /// Names too long for the room under a vertical bar (26 departments)
    /// are drawn as rows of horizontal bars, each name in full; short
    /// names keep their columns.
    #[test]
    fn long_names_get_rows_of_their_own() {
        let names: Vec<String> = (0..26).map(|i| format!("department_{i:02}")).collect();
        let values: Vec<f64> = (0..26).map(f64::from).collect();
        let series = [Bars {
            name: "draft".into(),
            color: PALETTE[0],
            light: false,
            values,
        }];
        let s = bars("scores", &names, &series, "");
        for n in &names {
            assert!(s.contains(&format!(">{n}</text>")), "{n} is cut: {s}");
        }
        let row_names = r##"text-anchor="end" font-size="11" fill="#555"><title>"##;
        assert_eq!(s.matches(row_names).count(), 26);
        let short: Vec<String> = ["grid", "street"].map(String::from).to_vec();
        let s = bars("misses", &short, &series, "");
        assert!(s.contains(">street</text>") && !s.contains(row_names));
        assert_eq!(cut("expropriation_office", 8), "expropr…");
    }

    /// Twelve series with long names: each is in the legend, in rows the
    /// chart grows to hold, and no name runs off the right edge.
    #[test]
    fn the_legend_names_every_series() {
        let x = vec!["w1".to_string(), "w2".to_string()];
        let v = [1.0, 3.0];
        let names: Vec<String> = (0..12)
            .map(|i| format!("dispute_hotspot {i} (baseline)"))
            .collect();
        let series: Vec<Line<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Line {
                name: n.clone(),
                color: PALETTE[i % PALETTE.len()],
                dashed: i % 2 == 1,
                values: &v,
            })
            .collect();
        let s = lines("t", &x, &series, "");
        for n in &names {
            assert!(s.contains(&format!(">{}</text>", esc(n))), "{n} is missing");
        }
        let key = Legend::new(series.iter().map(|l| (l.name.as_str(), l.color, l.dashed)));
        assert!(key.rows > 1);
        assert!(s.contains(&format!("viewBox=\"0 0 {W} {}\"", key.height())));
        for &(x, _, name, _, _) in &key.items {
            let end = x + 30.0 + 6.5 * name.chars().count() as f64;
            assert!(end <= W - RIGHT + 30.0, "{name} ends at {end}");
        }
    }

    #[test]
    fn charts_are_svg_with_their_series() {
        let x = vec!["w1".to_string(), "w2".to_string()];
        let v = [1.0, 3.0];
        let s = lines(
            "t",
            &x,
            &[Line {
                name: "draft".into(),
                color: PALETTE[0],
                dashed: false,
                values: &v,
            }],
            "",
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("<polyline") && s.contains("draft"));
        let b = bars(
            "t",
            &x,
            &[Bars {
                name: "a".into(),
                color: PALETTE[1],
                light: true,
                values: vec![2.0, 0.0],
            }],
            "",
        );
        assert_eq!(b.matches("<rect").count(), 2);
        let d = deltas(
            "t",
            &[Delta {
                label: "x".into(),
                value: -2.0,
                good: true,
                text: "-2".into(),
            }],
        );
        assert!(d.contains("#1a9850"));
    }
}
