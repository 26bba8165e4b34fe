//! `whistle serve --policy BUNDLE --data DIR [--listen ADDR] [--config whistle.toml]`

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CANNOT_RUN, OK};
use crate::config::Config;
use crate::serve::{Options, build};

/// Arguments of `whistle serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The policy bundle to serve.
    #[arg(long)]
    pub policy: PathBuf,
    /// The data directory of the embedded store (created if missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on (overrides the config).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The configuration file (TOML; every field has a default).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(a: &ServeArgs) -> u8 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Escape codes belong on a terminal, not in a log file or journald.
        .with_ansi(super::color_stderr())
        .init();
    let mut config = match &a.config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return CANNOT_RUN;
            }
        },
        None => Config::default(),
    };
    if let Some(l) = a.listen {
        config.listen = l;
    }
    let opts = Options {
        policy: a.policy.clone(),
        data: a.data.clone(),
        config,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return CANNOT_RUN;
        }
    };
    let result = rt.block_on(async {
        let server = build(&opts).await?;
        server.run().await
    });
    match result {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: {e}");
            CANNOT_RUN
        }
    }
}
