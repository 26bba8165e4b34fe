//! An assessment [`Report`] as CSV tables, as `whistle assess --out` and
//! the simulator's report write them (RFC 4180, a header line first,
//! after a UTF-8 byte-order mark for Excel): one implementation, so that
//! the two read the same.

use super::Report;

/// What every CSV table Whistle writes starts with: Excel opens a UTF-8
/// file as the system's code page unless it starts with a byte-order
/// mark, and the tables hold Chinese names.
pub const BOM: &str = "\u{feff}";

/// A number as a CSV field: integers without a fraction.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// An optional number: empty where there is none.
pub fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// One CSV table being written to memory.
pub struct Table {
    out: csv::Writer<Vec<u8>>,
}

impl Table {
    /// A table with this header.
    pub fn new(header: &[&str]) -> Table {
        let out = csv::Writer::from_writer(BOM.as_bytes().to_vec());
        let mut t = Table { out };
        t.row(header.iter().map(|s| s.to_string()));
        t
    }

    /// Adds a row, as many fields as the header.
    pub fn row(&mut self, fields: impl IntoIterator<Item = String>) {
        // Writing to memory fails only on a row of another length than
        // the header's: a bug the tests catch.
        let written = self.out.write_record(fields);
        debug_assert!(written.is_ok(), "{written:?}");
    }

    /// The table's text.
    pub fn text(self) -> String {
        let bytes = self.out.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// The columns of [`score_rows`].
pub const SCORE_COLUMNS: [&str; 5] = ["by", "group", "name", "score", "weight_counted"];

/// One row per group of every `assess` block (one block per kind of
/// group: a policy may not give two).
pub fn score_rows(r: &Report) -> Vec<[String; 5]> {
    let mut out = Vec::new();
    for table in &r.scores {
        for row in &table.rows {
            out.push([
                table.by.clone(),
                row.group.clone(),
                row.name.clone().unwrap_or_default(),
                opt(row.score),
                num(row.weight_counted),
            ]);
        }
    }
    out
}

/// The columns of [`target_rows`].
pub const TARGET_COLUMNS: [&str; 5] = ["metric", "op", "bound", "value", "met"];

/// One row per `target`, against the district-wide value (shares as
/// fractions).
pub fn target_rows(r: &Report) -> Vec<[String; 5]> {
    r.targets
        .iter()
        .map(|x| {
            [
                x.metric.to_string(),
                x.op.to_string(),
                num(x.bound),
                opt(x.value),
                x.met.to_string(),
            ]
        })
        .collect()
}
