//! Plain text tables, aligned by display width (department and category
//! names may be Chinese, two columns a character).

use unicode_width::UnicodeWidthStr;

/// A table: a header row and rows; numeric columns align right.
pub(crate) struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; `right[i]` aligns column `i` right.
    pub fn new(headers: &[&str], right: &[bool]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns, each line after `indent`.
    pub fn render(&self, indent: &str) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.width());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::from(indent);
            for (i, w) in widths.iter().enumerate() {
                let cell = r.get(i).map_or("", String::as_str);
                let pad = " ".repeat(w.saturating_sub(cell.width()));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A count with thousands separators (`1,000,000`).
pub(crate) fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed difference (`+12`, `-3`, `0`).
pub(crate) fn delta(old: u64, new: u64) -> String {
    match new.cmp(&old) {
        std::cmp::Ordering::Greater => format!("+{}", count(new - old)),
        std::cmp::Ordering::Less => format!("-{}", count(old - new)),
        std::cmp::Ordering::Equal => "0".into(),
    }
}

/// Hours with one decimal and separators (`1,234.5`).
pub(crate) fn hours(h: f64) -> String {
    let tenths = (h.abs() * 10.0).round() as u64;
    let sign = if h < 0.0 && tenths > 0 { "-" } else { "" };
    format!("{sign}{}.{}", count(tenths / 10), tenths % 10)
}

/// A signed difference of hours (`+12.0`, `-3.5`, `0.0`).
pub(crate) fn hours_delta(old: f64, new: f64) -> String {
    let d = new - old;
    if (d * 10.0).round() == 0.0 {
        "0.0".into()
    } else if d > 0.0 {
        format!("+{}", hours(d))
    } else {
        hours(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_alignment() {
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(999), "999");
        assert_eq!(delta(10, 4), "-6");
        assert_eq!(hours(1234.46), "1,234.5");
        assert_eq!(hours_delta(10.0, 7.5), "-2.5");
        assert_eq!(hours_delta(7.5, 7.52), "0.0");
        let mut t = Table::new(&["部门", "n"], &[false, true]);
        t.row(vec!["城管".into(), "1,000".into()]);
        t.row(vec!["fire".into(), "7".into()]);
        assert_eq!(t.render(""), "部门      n\n城管  1,000\nfire      7\n");
    }
}
