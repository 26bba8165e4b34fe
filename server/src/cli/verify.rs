//! `whistle verify --data DIR [--anchor SEQ:HASH]`: checks the journal's
//! hash chain, that it reaches an entry seen outside the store, and every
//! page of the database file.

use std::path::PathBuf;

use clap::Args;

use super::{CANNOT_RUN, FAILED, OK};
use crate::store::JournalAnchor;
use crate::store::sqlite::SqliteStore;

/// Arguments of `whistle verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// An entry as seen outside the store, `SEQ:HASH` (a webhook's
    /// `Whistle-Journal-Seq` and `Whistle-Journal-Hash`, or an earlier
    /// run's last entry): the chain must reach it and hold that hash.
    /// Entries cut from the journal's end are found only so.
    #[arg(long, value_parser = parse_anchor)]
    pub anchor: Option<JournalAnchor>,
}

/// `SEQ:sha256:HEX`, as `whistle verify` prints the last entry.
fn parse_anchor(s: &str) -> Result<JournalAnchor, String> {
    let form = "write it SEQ:HASH, as in 42:sha256:9f86…";
    let (seq, hash) = s.split_once(':').ok_or_else(|| format!("no `:`; {form}"))?;
    let seq: i64 = seq
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("`{seq}` is not an entry number (1 or more); {form}"))?;
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{hash}` is not a journal hash (sha256: and 64 hex digits); {form}"
        ));
    }
    Ok(JournalAnchor {
        seq,
        hash: format!("sha256:{}", hex.to_ascii_lowercase()),
    })
}

/// Prints how many entries hold and the last one, or names the first
/// broken one; exit 1 if any.
pub fn run(a: &VerifyArgs) -> u8 {
    if !a.data.join("whistle.db").exists() {
        say!("error: `{}` holds no Whistle store", a.data.display());
        return CANNOT_RUN;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: {e}");
            return CANNOT_RUN;
        }
    };
    let result = rt.block_on(SqliteStore::verify_read_only(&a.data, a.anchor.as_ref()));
    match result {
        Ok(v) => match (v.first_broken, v.damaged) {
            (None, None) => {
                let reached = match &a.anchor {
                    Some(x) => format!(", and it holds entry {} as anchored", x.seq),
                    None => String::new(),
                };
                put!(
                    "ok: {} journal entries, the chain holds{reached}",
                    v.entries
                );
                if let Some(last) = v.last {
                    put!("last entry: {}:{}", last.seq, last.hash);
                }
                OK
            }
            (None, Some(d)) => {
                put!(
                    "damaged: {} journal entries hold their chain, but the database file has damaged pages: {d}",
                    v.entries
                );
                FAILED
            }
            (Some(seq), damaged) => {
                put!(
                    "broken: entry {seq}: {} ({} entries checked)",
                    v.reason.unwrap_or_default(),
                    v.entries
                );
                if let Some(d) = damaged {
                    put!("damaged: the database file has damaged pages: {d}");
                }
                FAILED
            }
        },
        Err(e) => {
            say!("error: {e}");
            CANNOT_RUN
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::parse_anchor;

    #[test]
    fn an_anchor_is_read_with_or_without_its_prefix_and_bad_ones_are_named() {
        let hex = "AB".repeat(32);
        let a = parse_anchor(&format!("7:sha256:{hex}")).unwrap();
        assert_eq!(
            (a.seq, a.hash.as_str()),
            (7, &*format!("sha256:{}", "ab".repeat(32)))
        );
        assert_eq!(parse_anchor(&format!("7:{hex}")).unwrap(), a);
        for (bad, says) in [
            ("7", "no `:`"),
            ("x:sha256:00", "`x` is not an entry number"),
            ("0:sha256:00", "`0` is not an entry number"),
            ("7:sha256:00", "is not a journal hash"),
            (
                &*format!("7:sha256:{}", "g".repeat(64)),
                "is not a journal hash",
            ),
        ] {
            let e = parse_anchor(bad).unwrap_err();
            assert!(e.contains(says) && e.contains("SEQ:HASH"), "{bad}: {e}");
        }
    }
}
