//! The impact preview as tables a policy officer reads: how many events
//! change and in what, where grades, leads and levels move, which
//! categories change with examples, and the deadline load per department.

use std::fmt;

use super::impact::{Example, Field, Impact};
use super::table::{Table, count, delta, hours, hours_delta};

/// Moves of grade, lead or level shown before the rest is summed up.
const SHIFTS_SHOWN: usize = 10;

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// A deadline move (`+24h`, `-1h30m`).
fn moved(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "+" };
    format!("{sign}{}", super::words::duration(seconds.unsigned_abs()))
}

fn example(e: &Example) -> String {
    let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "none".into());
    let mut s = format!("{} {} → {}", e.field.name(), v(&e.old), v(&e.new));
    if let Some(m) = e.shift_seconds {
        s.push_str(&format!(" ({})", moved(m)));
    }
    s
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} events decided under both policies; {} ({}) decided differently",
            count(self.events),
            count(self.changed),
            share(self.changed, self.events)
        )?;
        if self.rejected.old + self.rejected.new > 0 {
            writeln!(
                f,
                "rejected by the policy's event.schema.json: old {}, new {} (not compared)",
                count(self.rejected.old),
                count(self.rejected.new)
            )?;
            for r in &self.rejected_first {
                writeln!(f, "  {} rejects {}: {}", r.by, r.event_id, r.reason)?;
            }
        }
        if self.changed > 0 {
            self.fmt_changes(f)?;
        }
        // A schema that rejects events moves load without changing any
        // decision: the table shows then too.
        if self.changed > 0 || !self.departments.is_empty() {
            self.fmt_load(f)?;
        }
        Ok(())
    }
}

impl Impact {
    /// What changes, the moves, the categories and the examples.
    fn fmt_changes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|x| self.changes.get(*x) > 0)
            .collect();

        writeln!(f, "\nwhat changes")?;
        let mut t = Table::new(&["field", "events", "share"], &[false, true, true]);
        for x in &fields {
            let n = self.changes.get(*x);
            t.row(vec![x.name().into(), count(n), share(n, self.events)]);
        }
        f.write_str(&t.render("  "))?;

        let shifts = [
            ("grade", &self.shifts.grade),
            ("lead", &self.shifts.lead),
            ("level", &self.shifts.level),
        ];
        if shifts.iter().any(|(_, s)| !s.is_empty()) {
            writeln!(f, "\nmoves")?;
            let mut t = Table::new(&["field", "old → new", "events"], &[false, false, true]);
            for (name, list) in shifts {
                for s in list.iter().take(SHIFTS_SHOWN) {
                    t.row(vec![
                        name.into(),
                        format!("{} → {}", s.old, s.new),
                        count(s.events),
                    ]);
                }
                if list.len() > SHIFTS_SHOWN {
                    let rest: u64 = list.iter().skip(SHIFTS_SHOWN).map(|s| s.events).sum();
                    let more = format!("{} more moves", list.len() - SHIFTS_SHOWN);
                    t.row(vec![name.into(), more, count(rest)]);
                }
            }
            f.write_str(&t.render("  "))?;
        }

        writeln!(f, "\nby category (categories with changes)")?;
        let mut heads = vec!["category", "events", "changed"];
        heads.extend(fields.iter().map(|x| x.name()));
        let mut right = vec![false];
        right.extend(std::iter::repeat_n(true, heads.len() - 1));
        let mut t = Table::new(&heads, &right);
        for c in self.categories.iter().filter(|c| c.changed > 0) {
            let mut row = vec![c.category.clone(), count(c.events), count(c.changed)];
            row.extend(fields.iter().map(|x| count(c.changes.get(*x))));
            t.row(row);
        }
        f.write_str(&t.render("  "))?;

        // `--examples 0` asks for none: no heading over nothing.
        if self.categories.iter().any(|c| !c.examples.is_empty()) {
            writeln!(f, "\nexamples")?;
        }
        for c in self.categories.iter().filter(|c| !c.examples.is_empty()) {
            writeln!(f, "  {}", c.category)?;
            let mut t = Table::new(&["", ""], &[false, false]);
            for e in &c.examples {
                t.row(vec![e.event_id.clone(), example(e)]);
            }
            // The table's empty header row is not wanted here.
            let body = t.render("    ");
            f.write_str(body.split_once('\n').map_or("", |(_, rest)| rest))?;
        }
        Ok(())
    }

    /// The deadline load of the departments whose load changes.
    fn fmt_load(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\ndeadline load by department (departments whose load changes)"
        )?;
        if self.rejected.old + self.rejected.new > 0 {
            // The two sides count different events: say so, or a schema
            // change reads as work taken off every department.
            writeln!(
                f,
                "  each policy's column counts the events it accepts: {} rejected by the old, {} by the new",
                count(self.rejected.old),
                count(self.rejected.new)
            )?;
        }
        // The departments are those whose load changes (`DepartmentLoad::changes`).
        let moved = &self.departments;
        if moved.is_empty() {
            writeln!(f, "  no department's load changes")?;
            return Ok(());
        }
        let mut t = Table::new(
            &[
                "department",
                "led old",
                "led new",
                "change",
                "resolve h old",
                "resolve h new",
                "change",
                "assisted old",
                "assisted new",
                "change",
            ],
            &[false, true, true, true, true, true, true, true, true, true],
        );
        for d in moved {
            t.row(vec![
                d.department.clone(),
                count(d.led.old),
                count(d.led.new),
                delta(d.led.old, d.led.new),
                hours(d.resolve_hours.old),
                hours(d.resolve_hours.new),
                hours_delta(d.resolve_hours.old, d.resolve_hours.new),
                count(d.assisted.old),
                count(d.assisted.new),
                delta(d.assisted.old, d.assisted.new),
            ]);
        }
        f.write_str(&t.render("  "))
    }
}
