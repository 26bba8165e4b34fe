//! `whistle verify --data DIR`: checks the journal's hash chain.

use std::path::PathBuf;

use clap::Args;

use super::{CANNOT_RUN, FAILED, OK};
use crate::store::sqlite::SqliteStore;

/// Arguments of `whistle verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long)]
    pub data: PathBuf,
}

/// Prints how many entries hold and names the first broken one; exit 1 if any.
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
    let result = rt.block_on(SqliteStore::verify_read_only(&a.data));
    match result {
        Ok(v) => match v.first_broken {
            None => {
                put!("ok: {} journal entries, the chain holds", v.entries);
                OK
            }
            Some(seq) => {
                put!(
                    "broken: entry {seq}: {} ({} entries checked)",
                    v.reason.unwrap_or_default(),
                    v.entries
                );
                FAILED
            }
        },
        Err(e) => {
            say!("error: {e}");
            CANNOT_RUN
        }
    }
}
