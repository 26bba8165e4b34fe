//! Writing decisions as JSON fast: every name, traced line and ladder step
//! of a policy is rendered to JSON once, when the policy is compiled, so that
//! writing a decision mostly copies bytes. The output is byte-for-byte what
//! serialising [`Decision::view`] gives (a test holds it to that).

use std::io::Write;

use jiff::Timestamp;

use crate::decide::Decision;
use crate::model::{Ladder, Policy};

/// JSON fragments of one policy.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// `"policy":{...},` — the object that names the policy.
    policy: String,
    grades: Vec<String>,
    levels: Vec<String>,
    depts: Vec<String>,
    sites: Vec<String>,
    /// Per ladder step: `,"step":"...","actions":[...]}`.
    default_steps: Vec<String>,
    grade_steps: Vec<Option<Vec<String>>>,
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".into())
}

fn steps(l: &Ladder) -> Vec<String> {
    l.steps
        .iter()
        .map(|s| {
            let actions: Vec<String> = s.action_labels.iter().map(|a| quoted(a)).collect();
            format!(
                ",\"step\":{},\"actions\":[{}]}}",
                quoted(&s.label),
                actions.join(",")
            )
        })
        .collect()
}

/// Renders the fragments of a compiled policy.
pub fn render(p: &Policy) -> Rendered {
    let mut policy = format!(
        "\"policy\":{{\"name\":{},\"version\":{},\"hash\":{}",
        quoted(&p.name),
        quoted(&p.version),
        quoted(&p.hash)
    );
    if let Some(e) = &p.effective {
        policy.push_str(&format!(",\"effective\":{}", quoted(e)));
    }
    policy.push_str("},");
    Rendered {
        policy,
        grades: p.grades.iter().map(|g| quoted(&g.name)).collect(),
        levels: p.levels.iter().map(|l| quoted(l)).collect(),
        depts: p.departments.iter().map(|d| quoted(&d.name)).collect(),
        sites: p
            .sites
            .iter()
            .map(|s| {
                format!(
                    "{{\"what\":{},\"file\":{},\"line\":{},\"col\":{}}}",
                    quoted(&s.what),
                    quoted(&s.file),
                    s.line,
                    s.col
                )
            })
            .collect(),
        default_steps: steps(&p.ladder),
        grade_steps: p
            .grade_ladders
            .iter()
            .map(|l| l.as_ref().map(steps))
            .collect(),
    }
}

fn name(v: &[String], i: usize) -> &str {
    v.get(i).map_or("\"?\"", String::as_str)
}

fn instant(out: &mut Vec<u8>, p: &Policy, t: Timestamp) -> std::io::Result<()> {
    let offset = p.calendar.time_zone().to_offset(t);
    write!(out, "\"{}\"", t.display_with_offset(offset))
}

impl Decision {
    /// Appends the decision as one line of JSON (no newline) to `out`.
    pub fn write_json(&self, p: &Policy, out: &mut Vec<u8>) -> std::io::Result<()> {
        let r = &p.rendered;
        out.extend_from_slice(b"{\"event_id\":");
        serde_json::to_writer(&mut *out, &self.event_id)?;
        out.push(b',');
        out.extend_from_slice(r.policy.as_bytes());
        out.extend_from_slice(b"\"category\":");
        serde_json::to_writer(&mut *out, &self.category)?;
        write!(
            out,
            ",\"grade\":{},\"level\":{},\"unit\":",
            name(&r.grades, self.grade as usize),
            name(&r.levels, self.level as usize)
        )?;
        match &self.unit {
            Some(u) => serde_json::to_writer(&mut *out, &**u)?,
            None => out.extend_from_slice(b"null"),
        }
        write!(
            out,
            ",\"lead\":{},\"assist\":[",
            name(&r.depts, self.lead as usize)
        )?;
        for (i, d) in self.assist.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name(&r.depts, *d as usize).as_bytes());
        }
        write!(
            out,
            "],\"on_the_spot\":{},\"fallback\":{},\"respond_by\":",
            self.on_the_spot, self.fallback
        )?;
        instant(out, p, self.respond_by)?;
        out.extend_from_slice(b",\"resolve_by\":");
        instant(out, p, self.resolve_by)?;
        out.extend_from_slice(b",\"ladder\":[");
        let steps = r
            .grade_steps
            .get(self.grade as usize)
            .and_then(Option::as_ref)
            .unwrap_or(&r.default_steps);
        let mut first = true;
        for s in &self.ladder {
            let Some(suffix) = steps.get(s.step as usize) else {
                continue;
            };
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(b"{\"at\":");
            match s.at {
                Some(t) => instant(out, p, t)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(suffix.as_bytes());
        }
        out.extend_from_slice(b"],\"trace\":[");
        let mut first = true;
        for &s in &self.trace {
            let Some(site) = r.sites.get(s as usize) else {
                continue;
            };
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(site.as_bytes());
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }
}
