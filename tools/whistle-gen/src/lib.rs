//! Deterministic generators for the Whistle benchmarks.
//!
//! * [`synthetic_bundle`] writes a realistic policy bundle of any size: a
//!   header with a working calendar, four levels, four grades, N departments,
//!   M categories (conditions on `attr`, `repeats`, `hour`, `weekday`,
//!   `month` and `source`; assists conditional on `grade` and on `attr`;
//!   `limits` overrides, plain and `working`; `level` overrides), an
//!   empowerment and a relief list, two escalation ladders, thresholds,
//!   assessment weights, targets, optional `test` blocks and an `areas.yaml`.
//! * [`scan_bundle`] reads an existing bundle's categories (with the `attr`
//!   fields their conditions read) and grids, so events can be made for a
//!   shipped policy such as `policies/wuhou`.
//! * [`EventGen`] writes a stream of JSON-lines events for those
//!   categories: a skewed category mix, a share of unknown categories (the
//!   fallback), locations that repeat (so `repeats` counts), report times
//!   that move forward through the year with a day/night profile, sources,
//!   attributes around the thresholds the conditions test, and free text.
//!
//! Everything is a pure function of its seed; the standard library only.
//! The benches include this file with `#[path]`, the `whistle-gen` binary
//! (`src/main.rs`) writes the same output to disk.

use std::fmt::Write as _;
use std::path::Path;

/// SplitMix64: small, fast, and the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// How an `attr` field is compared, and so what values an event gets.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrKind {
    /// Compared with numbers.
    Num {
        /// The largest number a condition compares it with. Values: half
        /// are 0, 40% in `0..threshold`, 10% in `threshold..=2 * threshold`.
        threshold: f64,
    },
    /// Compared with `true` / `false`.
    Bool,
    /// Compared with strings; values are drawn from these.
    Str(Vec<String>),
    /// Only tested with `has`.
    Present,
}

/// One `attr` field a category's conditions read.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrSpec {
    /// The path after `attr.` (`people_trapped`, `a.b`).
    pub path: String,
    /// How it is compared.
    pub kind: AttrKind,
}

/// A category and the `attr` fields its conditions read.
#[derive(Debug, Clone, PartialEq)]
pub struct CategorySpec {
    /// The category's name.
    pub name: String,
    /// The fields, without duplicates.
    pub attrs: Vec<AttrSpec>,
}

/// A generated bundle.
#[derive(Debug, Clone, Default)]
pub struct Synthetic {
    /// Relative path and text of every file (`*.whistle` and `areas.yaml`).
    pub files: Vec<(String, String)>,
    /// The categories, for [`EventGen`].
    pub categories: Vec<CategorySpec>,
    /// The grid ids of `areas.yaml`.
    pub grids: Vec<String>,
}

impl Synthetic {
    /// Lines of the `*.whistle` files.
    pub fn whistle_lines(&self) -> usize {
        self.files
            .iter()
            .filter(|(p, _)| p.ends_with(".whistle"))
            .map(|(_, t)| t.lines().count())
            .sum()
    }

    /// Bytes of the `*.whistle` files.
    pub fn whistle_bytes(&self) -> usize {
        self.files
            .iter()
            .filter(|(p, _)| p.ends_with(".whistle"))
            .map(|(_, t)| t.len())
            .sum()
    }
}

/// What [`synthetic_bundle`] makes.
#[derive(Debug, Clone, Copy)]
pub struct BundleSpec {
    /// Number of categories.
    pub categories: usize,
    /// Number of departments (at least 8).
    pub departments: usize,
    /// Number of `test` blocks.
    pub tests: usize,
    /// Categories per file under `categories/`.
    pub per_file: usize,
    /// The seed.
    pub seed: u64,
}

impl Default for BundleSpec {
    fn default() -> Self {
        BundleSpec {
            categories: 200,
            departments: 30,
            tests: 0,
            per_file: 25,
            seed: 42,
        }
    }
}

const TOPICS: [&str; 40] = [
    "fire_lane",
    "gas_leak",
    "e_bike_charging",
    "extinguisher",
    "elevator",
    "throwing",
    "chemicals",
    "flood",
    "waterlogging",
    "vendor",
    "parking",
    "street_lamp",
    "manhole",
    "advertising",
    "food_stall",
    "road_damage",
    "noise",
    "garbage",
    "sewage",
    "smoke",
    "dust",
    "tree_fall",
    "pet",
    "stray_animal",
    "dispute",
    "wage",
    "rent",
    "construction",
    "demolition",
    "fraud",
    "drug_clue",
    "elderly",
    "children",
    "disability",
    "allowance",
    "medical",
    "water_outage",
    "power_outage",
    "heating",
    "graffiti",
];

const DEPT_NAMES: [&str; 30] = [
    "grid_team",
    "committee",
    "property",
    "street_centre",
    "urban",
    "police",
    "fire",
    "civil",
    "justice",
    "market",
    "tax",
    "gas",
    "command",
    "housing",
    "ecology",
    "labour",
    "emergency",
    "water",
    "health",
    "transport",
    "traffic",
    "expropriation",
    "disabled",
    "women",
    "education",
    "power",
    "culture",
    "planning",
    "greening",
    "veterans",
];

const DEPT_DISPLAY: [&str; 10] = [
    "网格工作站",
    "社区居委会",
    "物业服务企业",
    "街道综治中心",
    "城管执法中队",
    "派出所",
    "消防救援站",
    "街道民政办",
    "区住建局",
    "区应急管理局",
];

const STR_VALUES: [&str; 6] = [
    "minor",
    "major",
    "residential",
    "commercial",
    "school",
    "market",
];

/// The grades, lowest first, and the level each is handled at by default.
pub const GRADES: [(&str, &str); 4] = [
    ("blue", "grid"),
    ("yellow", "community"),
    ("orange", "street"),
    ("red", "street"),
];

/// The name of department `i`.
pub fn dept_name(i: usize) -> String {
    match DEPT_NAMES.get(i) {
        Some(n) => (*n).to_string(),
        None => format!("dept_{i:03}"),
    }
}

/// The name of category `i`.
pub fn category_name(i: usize) -> String {
    format!("{}_{i:03}", TOPICS[i % TOPICS.len()])
}

const CALENDAR: &str = r#"# Working calendar of the district offices for 2026.
calendar workdays {
  week    mon..fri 09:00-12:00, 13:30-18:00

  holiday 2026-01-01..2026-01-03 "元旦"
  workday 2026-01-04             "元旦调休上班（周日）"
  holiday 2026-02-15..2026-02-23 "春节"
  workday 2026-02-14             "春节调休上班（周六）"
  workday 2026-02-28             "春节调休上班（周六）"
  holiday 2026-04-04..2026-04-06 "清明节"
  holiday 2026-05-01..2026-05-05 "劳动节"
  workday 2026-05-09             "劳动节调休上班（周六）"
  holiday 2026-06-19..2026-06-21 "端午节"
  holiday 2026-09-25..2026-09-27 "中秋节"
  holiday 2026-10-01..2026-10-07 "国庆节"
  workday 2026-09-20             "国庆节调休上班（周日）"
  workday 2026-10-10             "国庆节调休上班（周六）"
}
"#;

/// The generated area tree: 1 district, 8 streets, 5 communities each and
/// 5 grids per community (200 grids), ids in the style of `policies/wuhou`.
pub fn areas_yaml() -> (String, Vec<String>) {
    let mut y = String::from("districts:\n  - id: D01\n    name: 样例区\n    streets:\n");
    let mut grids = Vec::new();
    for s in 1..=8 {
        let _ = writeln!(
            y,
            "      - id: S{s:02}\n        name: 街道{s}\n        communities:"
        );
        for c in 1..=5 {
            let ids: Vec<String> = (1..=5).map(|g| format!("G{s:02}{c:02}{g:02}")).collect();
            let _ = writeln!(
                y,
                "          - id: C{s:02}{c:02}\n            name: 社区{s}-{c}\n            grids: [{}]",
                ids.join(", ")
            );
            grids.extend(ids);
        }
    }
    (y, grids)
}

/// What one generated category looks like, decided before its text is written.
struct CatPlan {
    name: String,
    relieved: bool,
    empowered: bool,
    level: Option<&'static str>,
    default_grade: &'static str,
}

/// Generates a bundle per `spec`. It checks without errors under the engine
/// (warnings for departments never used are possible with few categories).
pub fn synthetic_bundle(spec: BundleSpec) -> Synthetic {
    let mut rng = Rng::new(spec.seed);
    let n_depts = spec.departments.max(8);
    let depts: Vec<String> = (0..n_depts).map(dept_name).collect();
    let levels = ["grid", "community", "street", "district"];
    let mut files = Vec::new();

    // Header, levels, grades, fallback.
    files.push((
        "policy.whistle".to_string(),
        format!(
            r#"# Generated by tools/whistle-gen (seed {seed}): {c} categories, {d} departments.

policy "生成的基准策略 (generated benchmark policy)" {{
  version   "bench.{seed}"
  effective 2026-01-01
  timezone  "Asia/Shanghai"
  calendar  workdays
}}

levels grid < community < street < district

grades blue < yellow < orange < red

grade blue   {{ level grid       respond 2h   resolve 24h }}
grade yellow {{ level community  respond 1h   resolve 48h }}
grade orange {{ level street     respond 45m  resolve 48h }}
grade red    {{ level street     respond 30m  resolve 72h }}

fallback {{ lead {cmd}  grade yellow }}
"#,
            seed = spec.seed,
            c = spec.categories,
            d = n_depts,
            cmd = depts[12 % n_depts],
        ),
    ));
    files.push(("calendar.whistle".to_string(), CALENDAR.to_string()));

    // Departments.
    let mut d = String::from("# Departments.\n\n");
    for (i, name) in depts.iter().enumerate() {
        let level = levels[(i * 7 / n_depts).min(3)];
        let external = if i % 9 == 2 { "  external" } else { "" };
        let _ = writeln!(
            d,
            "department {name:<14} \"{}{i}\" {{ level {level}{external} }}",
            DEPT_DISPLAY[i % DEPT_DISPLAY.len()]
        );
    }
    files.push(("departments.whistle".to_string(), d));

    // Plan categories: which are relieved at grid, which empowered there.
    let mut plans = Vec::with_capacity(spec.categories);
    for i in 0..spec.categories {
        let relieved = i % 17 == 5;
        let level = if relieved {
            Some(if i % 2 == 0 { "community" } else { "street" })
        } else if i % 11 == 3 {
            Some("community")
        } else {
            None
        };
        let default_grade = if relieved || i % 10 == 7 {
            "yellow"
        } else {
            "blue"
        };
        let empowered = !relieved && level.is_none() && default_grade == "blue" && i % 8 == 1;
        plans.push(CatPlan {
            name: category_name(i),
            relieved,
            empowered,
            level,
            default_grade,
        });
    }

    // Categories.
    let mut categories = Vec::with_capacity(spec.categories);
    let mut file_text = String::new();
    let mut file_no = 0;
    for (i, p) in plans.iter().enumerate() {
        let (text, cat) = category_text(&mut rng, i, p, &depts);
        file_text.push_str(&text);
        categories.push(cat);
        if (i + 1) % spec.per_file.max(1) == 0 || i + 1 == plans.len() {
            files.push((
                format!("categories/part_{file_no:03}.whistle"),
                std::mem::take(&mut file_text),
            ));
            file_no += 1;
        }
    }

    // Empowerment and relief lists.
    let mut lists =
        String::from("# Empowerment and relief lists of the grid level.\n\nempower grid {\n");
    let empowered: Vec<&str> = plans
        .iter()
        .filter(|p| p.empowered)
        .map(|p| p.name.as_str())
        .collect();
    for (k, chunk) in empowered.chunks(6).enumerate() {
        let extra = if k % 2 == 1 {
            " and source == patrol"
        } else {
            ""
        };
        let _ = writeln!(
            lists,
            "  resolve {} when grade == blue{extra}",
            chunk.join(", ")
        );
    }
    lists.push_str("}\n\nrelieve grid {\n");
    let relieved: Vec<&str> = plans
        .iter()
        .filter(|p| p.relieved)
        .map(|p| p.name.as_str())
        .collect();
    for chunk in relieved.chunks(4) {
        let _ = writeln!(lists, "  forbid {}", chunk.join(", "));
    }
    lists.push_str("}\n");
    files.push(("lists.whistle".to_string(), lists));

    // Ladders.
    files.push((
        "escalation.whistle".to_string(),
        format!(
            r#"# Escalation ladders.

escalate {{
  at 50%  respond -> remind
  at 100% respond -> raise 1, notify {centre}
  at 100% resolve -> raise 1
  at 200% resolve -> raise to district
  when reopened >= 2 -> raise to street
}}

escalate for red {{
  at 50%  respond -> raise to district, whistle {police}, {fire}
  at 100% respond -> notify {cmd}
  at 80%  resolve -> remind, notify {centre}
  at 100% resolve -> raise to district, notify {cmd}
}}
"#,
            centre = depts[3],
            police = depts[5],
            fire = depts[6],
            cmd = depts[12 % n_depts],
        ),
    ));

    // Warnings and assessment.
    let pick4: Vec<&str> = (0..4)
        .map(|k| plans[(k * 7) % plans.len().max(1)].name.as_str())
        .collect();
    files.push((
        "warnings.whistle".to_string(),
        format!(
            r#"# Warnings and assessment.

threshold overdue_warning "街道超时率预警" {{
  metric overdue_rate by street over 30d
  when   > 10%
  alert  street
}}

threshold department_overdue "部门超时率预警" {{
  metric overdue_rate by department over 30d
  when   > 15%
  alert  district
}}

threshold hotspot "多发预警" {{
  metric count(category in [{list}]) by grid over 7d
  when   >= 3
  alert  community
}}

threshold sensor_alarm "传感器报警聚集" {{
  metric count(source == sensor and hour >= 20) by street over 1d
  when   >= 3
  alert  district
}}

assess department {{
  on_time_response   weight 30
  on_time_resolution weight 30
  satisfaction       weight 25
  first_contact      weight 15
}}

assess street {{
  active_discovery   weight 50
  source_resolution  weight 50
}}

target active_discovery   >= 85%
target on_time_response   >= 98%
target overdue_rate       <= 3%
"#,
            list = pick4.join(", ")
        ),
    ));

    let (areas, grids) = areas_yaml();

    // Tests: one event each, expecting the lead (always right).
    if spec.tests > 0 {
        let mut t = String::from("# Generated tests.\n\n");
        for k in 0..spec.tests {
            let c = &categories[k * 13 % categories.len().max(1)];
            let lead = lead_of(&files, &c.name).unwrap_or_default();
            let grid = &grids[k % grids.len()];
            let _ = writeln!(
                t,
                "test \"generated {k}\" {{\n  event  {{ \"id\": \"T-{k:04}\", \"category\": \"{}\", \"grid\": \"{grid}\", \"source\": \"patrol\",\n           \"reported_at\": \"2026-06-03T10:00:00+08:00\", \"location\": \"测试{k}\" }}\n  expect {{ lead: {lead}, fallback: false }}\n}}\n",
                c.name
            );
        }
        files.push(("tests/generated.whistle".to_string(), t));
    }
    files.push(("areas.yaml".to_string(), areas));

    Synthetic {
        files,
        categories,
        grids,
    }
}

fn lead_of(files: &[(String, String)], category: &str) -> Option<String> {
    let head = format!("category {category} ");
    for (_, text) in files {
        if let Some(at) = text.find(&head) {
            let rest = &text[at..];
            let l = rest.find("lead")?;
            return rest[l + 4..].split_whitespace().next().map(str::to_string);
        }
    }
    None
}

fn category_text(rng: &mut Rng, i: usize, p: &CatPlan, depts: &[String]) -> (String, CategorySpec) {
    let nd = depts.len() as u64;
    let dept = |rng: &mut Rng| depts[rng.below(nd) as usize].clone();
    let lead = dept(rng);
    let distinct = |rng: &mut Rng, avoid: &[String]| loop {
        let d = dept(rng);
        if !avoid.contains(&d) {
            return d;
        }
    };
    let a1 = distinct(rng, std::slice::from_ref(&lead));
    let a2 = distinct(rng, &[lead.clone(), a1.clone()]);
    let a3 = distinct(rng, &[lead.clone(), a1.clone(), a2.clone()]);
    let a4 = distinct(rng, &[lead.clone(), a1.clone(), a2.clone(), a3.clone()]);

    let thr0 = [1, 3, 5, 10, 20, 50, 100, 500][rng.below(8) as usize];
    let thr1 = [2, 5, 10, 30][rng.below(4) as usize];
    let sval = STR_VALUES[rng.below(STR_VALUES.len() as u64) as usize];
    let attrs = vec![
        AttrSpec {
            path: "count".into(),
            kind: AttrKind::Num {
                threshold: f64::from(thr0),
            },
        },
        AttrSpec {
            path: "injured".into(),
            kind: AttrKind::Num {
                threshold: f64::from(thr1),
            },
        },
        AttrSpec {
            path: "urgent".into(),
            kind: AttrKind::Bool,
        },
        AttrSpec {
            path: "site.kind".into(),
            kind: AttrKind::Str(STR_VALUES.iter().map(|s| (*s).to_string()).collect()),
        },
    ];

    let mut t = String::new();
    let _ = writeln!(t, "category {} \"事项{i}\" {{", p.name);
    let _ = writeln!(t, "  lead   {lead}");
    if i.is_multiple_of(3) {
        let _ = writeln!(t, "  assist {a1}, {a2}");
    } else {
        let _ = writeln!(t, "  assist {a1}");
    }
    let _ = writeln!(t, "  assist {a3} when grade >= yellow");
    if i.is_multiple_of(2) {
        let _ = writeln!(
            t,
            "  assist {a4} when attr.injured > 0 or attr.urgent == true"
        );
    }
    if i.is_multiple_of(5) {
        let _ = writeln!(
            t,
            "  assist {a2} when grade == red and source in [hotline, citizen]"
        );
    }
    // Grading lines, most severe first; the last one is unconditional.
    let _ = writeln!(
        t,
        "  grade  red    when attr.injured >= {thr1} or (attr.urgent == true and attr.count > {thr0})"
    );
    match i % 4 {
        0 => {
            let _ = writeln!(
                t,
                "  grade  orange when repeats(7d) >= 3 and attr.count > {}",
                thr0 / 2
            );
        }
        1 => {
            let _ = writeln!(
                t,
                "  grade  orange when attr.site.kind in [\"{sval}\", \"school\"] and hour >= 20"
            );
        }
        2 => {
            let _ = writeln!(t, "  grade  orange when repeats(30d, grid) >= 6");
        }
        _ => {}
    }
    match i % 3 {
        0 => {
            let _ = writeln!(t, "  grade  yellow when repeats(7d) >= 2 or reopened >= 1");
        }
        1 => {
            let _ = writeln!(t, "  grade  yellow when hour >= 22 or hour < 6");
        }
        _ => {
            let _ = writeln!(
                t,
                "  grade  yellow when weekday in [sat, sun] and source == sensor"
            );
        }
    }
    if i % 4 == 1 {
        let _ = writeln!(
            t,
            "  grade  yellow when month in [6, 7, 8] and has attr.site"
        );
    }
    if p.default_grade == "blue" {
        let _ = writeln!(
            t,
            "  grade  yellow when source in [sensor, hotline] and attr.count > {thr0}"
        );
    }
    let _ = writeln!(t, "  grade  {}", p.default_grade);
    if let Some(l) = p.level {
        let _ = writeln!(t, "  level  {l}");
    }
    match i % 7 {
        0 | 4 => {
            let _ = writeln!(t, "  limits red {{ respond 15m resolve 12h }}");
        }
        2 if p.default_grade == "blue" => {
            let _ = writeln!(
                t,
                "  limits blue {{ respond 4h working resolve 3d working }}"
            );
        }
        5 => {
            let _ = writeln!(t, "  limits yellow {{ respond 30m resolve 1d working }}");
        }
        _ => {}
    }
    t.push_str("}\n\n");
    (
        t,
        CategorySpec {
            name: p.name.clone(),
            attrs,
        },
    )
}

/// Reads the categories (and the `attr` fields their conditions compare)
/// and the grids of a bundle directory.
pub fn scan_bundle(dir: &Path) -> std::io::Result<(Vec<CategorySpec>, Vec<String>)> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    let mut cats = Vec::new();
    let mut grids = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)?;
        if p.extension().is_some_and(|e| e == "whistle") {
            scan_categories(&text, &mut cats);
        } else if p.file_name().is_some_and(|n| n == "areas.yaml") {
            for line in text.lines() {
                if let Some(rest) = line.trim().strip_prefix("grids:") {
                    let rest = rest.trim().trim_start_matches('[').trim_end_matches(']');
                    grids.extend(
                        rest.split(',')
                            .map(|g| g.trim().to_string())
                            .filter(|g| !g.is_empty()),
                    );
                }
            }
        }
    }
    if grids.is_empty() {
        grids = (1..=20).map(|g| format!("G{g:06}")).collect();
    }
    Ok((cats, grids))
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Finds `category NAME ... { ... }` blocks and the `attr.x OP VALUE`
/// comparisons inside them.
pub fn scan_categories(text: &str, out: &mut Vec<CategorySpec>) {
    let mut current: Option<CategorySpec> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("category ") {
            if let Some(c) = current.take() {
                out.push(c);
            }
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            current = Some(CategorySpec {
                name,
                attrs: Vec::new(),
            });
            continue;
        }
        if trimmed.starts_with('}') {
            if let Some(c) = current.take() {
                out.push(c);
            }
            continue;
        }
        let Some(c) = current.as_mut() else { continue };
        let mut s = line;
        while let Some(at) = s.find("attr.") {
            let has = s[..at].trim_end().ends_with("has");
            let after = &s[at + 5..];
            let end = after
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '.'))
                .unwrap_or(after.len());
            let path = after[..end].to_string();
            let rest = after[end..].trim_start();
            let op_len = ["==", "!=", ">=", "<=", ">", "<"]
                .iter()
                .find(|op| rest.starts_with(**op))
                .map_or(0, |op| op.len());
            let value = rest[op_len..].trim_start();
            let kind = if has || op_len == 0 {
                AttrKind::Present
            } else if value.starts_with("true") || value.starts_with("false") {
                AttrKind::Bool
            } else if let Some(v) = value.strip_prefix('"') {
                AttrKind::Str(vec![v.split('"').next().unwrap_or("").to_string()])
            } else {
                let num: String = value
                    .chars()
                    .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
                    .collect();
                AttrKind::Num {
                    threshold: num.parse().unwrap_or(1.0),
                }
            };
            merge_attr(&mut c.attrs, path, kind);
            s = &after[end..];
        }
    }
    if let Some(c) = current.take() {
        out.push(c);
    }
}

fn merge_attr(attrs: &mut Vec<AttrSpec>, path: String, kind: AttrKind) {
    match attrs.iter_mut().find(|a| a.path == path) {
        None => attrs.push(AttrSpec { path, kind }),
        Some(a) => match (&mut a.kind, kind) {
            (AttrKind::Num { threshold }, AttrKind::Num { threshold: t }) => {
                *threshold = threshold.max(t);
            }
            (AttrKind::Str(vs), AttrKind::Str(more)) => vs.extend(more),
            (AttrKind::Present, k) => a.kind = k,
            _ => {}
        },
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a Unix time as RFC 3339 in UTC+08:00.
pub fn rfc3339_cst(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// 2026-01-01T00:00:00+08:00 as a Unix time.
pub const START_2026_CST: i64 = 1_767_196_800;

const DESCRIPTIONS: [&str; 8] = [
    "消防通道被两辆私家车占用",
    "楼上深夜拖动家具，噪音扰民",
    "菜市场后巷垃圾堆积，气味明显",
    "路灯不亮已三天，夜间行人不便",
    "小区门口有人占道经营，影响通行",
    "雨后道路积水约三十厘米",
    "居民反映楼道堆放杂物",
    "井盖破损，有安全隐患",
];

/// A stream of events for a set of categories and grids.
#[derive(Debug, Clone)]
pub struct EventGen {
    rng: Rng,
    categories: Vec<CategorySpec>,
    /// Cumulative weights of the skewed category mix.
    cumulative: Vec<u64>,
    grids: Vec<String>,
    unknown_per_mille: u64,
    t: i64,
    mean_gap: u64,
    n: u64,
}

impl EventGen {
    /// Events from `start` (Unix seconds) on, about `mean_gap` seconds
    /// apart; `unknown_per_mille` of them have a category the policy does
    /// not know.
    pub fn new(
        seed: u64,
        categories: Vec<CategorySpec>,
        grids: Vec<String>,
        start: i64,
        mean_gap: u64,
        unknown_per_mille: u64,
    ) -> EventGen {
        // A Zipf-like mix: a few categories make most of the events, as in
        // real dispatch data (noise, garbage, parking), and the tail is long.
        let mut cumulative = Vec::with_capacity(categories.len());
        let mut acc = 0u64;
        let mut order: Vec<usize> = (0..categories.len()).collect();
        let mut rng = Rng::new(seed.wrapping_add(1));
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut weight = vec![0u64; categories.len()];
        for (rank, &c) in order.iter().enumerate() {
            weight[c] = (1_000_000.0 / (rank as f64 + 2.0).powf(0.9)) as u64 + 1;
        }
        for w in weight {
            acc += w;
            cumulative.push(acc);
        }
        EventGen {
            rng: Rng::new(seed),
            categories,
            cumulative,
            grids,
            unknown_per_mille,
            t: start,
            mean_gap: mean_gap.max(1),
            n: 0,
        }
    }

    /// Events for a [`Synthetic`] bundle: from 2026-01-01 (+08:00), about
    /// 2,700 a day, 1% unknown categories.
    pub fn for_synthetic(seed: u64, s: &Synthetic) -> EventGen {
        EventGen::new(
            seed,
            s.categories.clone(),
            s.grids.clone(),
            START_2026_CST,
            32,
            10,
        )
    }

    fn category(&mut self) -> &CategorySpec {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = self.rng.below(total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.categories[i.min(self.categories.len() - 1)]
    }

    /// Appends the next event, as one line of JSON with its newline, to `out`.
    pub fn next_line(&mut self, out: &mut String) {
        self.n += 1;
        // Time moves forward, busier by day than by night.
        let gap = self.rng.below(2 * self.mean_gap + 1) as i64;
        self.t += gap;
        let hour = (self.t + 8 * 3600).rem_euclid(86_400) / 3600;
        if (1..6).contains(&hour) && self.rng.chance(70) {
            self.t += 3600;
        }
        let grid = self.rng.pick(&self.grids).clone();
        let source = match self.rng.below(100) {
            0..35 => "patrol",
            35..70 => "citizen",
            70..85 => "hotline",
            85..95 => "sensor",
            _ => "department",
        };
        let unknown = self.rng.below(1000) < self.unknown_per_mille;
        let (category, attrs) = if unknown {
            (format!("unlisted_matter_{}", self.rng.below(5)), Vec::new())
        } else {
            let c = self.category().clone();
            (c.name, c.attrs)
        };
        let _ = write!(
            out,
            r#"{{"id":"EV-{:08}","category":"{category}","grid":"{grid}","source":"{source}","reported_at":"{}""#,
            self.n,
            rfc3339_cst(self.t)
        );
        if self.rng.chance(85) {
            let _ = write!(out, r#","location":"{grid}号楼{}单元""#, self.rng.below(12));
        }
        let mut first = true;
        for a in &attrs {
            if !self.rng.chance(70) {
                continue;
            }
            out.push_str(if first { r#","attr":{"# } else { "," });
            first = false;
            // Nested paths (`site.kind`) become nested objects.
            let parts: Vec<&str> = a.path.split('.').collect();
            for (k, p) in parts.iter().enumerate() {
                let _ = write!(out, r#""{p}":"#);
                if k + 1 < parts.len() {
                    out.push('{');
                }
            }
            match &a.kind {
                AttrKind::Num { threshold } => {
                    // Most readings are unremarkable: half are 0, 40% lie
                    // below the threshold, 10% reach up to twice it.
                    let thr = threshold.max(1.0) as u64;
                    let v = match self.rng.below(10) {
                        0..5 => 0,
                        5..9 => self.rng.below(thr),
                        _ => thr + self.rng.below(thr + 1),
                    };
                    let _ = write!(out, "{v}");
                }
                AttrKind::Bool => {
                    out.push_str(if self.rng.chance(15) { "true" } else { "false" });
                }
                AttrKind::Str(vs) => {
                    let v = if vs.is_empty() {
                        "x"
                    } else {
                        self.rng.pick(vs).as_str()
                    };
                    let _ = write!(out, r#""{v}""#);
                }
                AttrKind::Present => out.push_str(r#""3栋""#),
            }
            for _ in 1..parts.len() {
                out.push('}');
            }
        }
        if !first {
            out.push('}');
        }
        if self.rng.chance(40) {
            let _ = write!(out, r#","reporter":"网格员 {}""#, self.rng.below(300));
        }
        if self.rng.chance(60) {
            let _ = write!(out, r#","description":"{}""#, self.rng.pick(&DESCRIPTIONS));
        }
        out.push_str("}\n");
    }

    /// The next `n` events as separate lines (without newlines).
    pub fn lines(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        let mut s = String::new();
        for _ in 0..n {
            s.clear();
            self.next_line(&mut s);
            out.push(s.trim_end().to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // unused where a bench includes this file
    use super::{BundleSpec, EventGen, START_2026_CST, rfc3339_cst, synthetic_bundle};

    #[test]
    fn dates() {
        assert_eq!(rfc3339_cst(START_2026_CST), "2026-01-01T00:00:00+08:00");
        assert_eq!(rfc3339_cst(1_748_916_000), "2025-06-03T10:00:00+08:00");
    }

    #[test]
    fn deterministic() {
        let a = synthetic_bundle(BundleSpec::default());
        let b = synthetic_bundle(BundleSpec::default());
        assert_eq!(a.files, b.files);
        let mut ea = EventGen::for_synthetic(7, &a);
        let mut eb = EventGen::for_synthetic(7, &b);
        assert_eq!(ea.lines(100), eb.lines(100));
    }
}
