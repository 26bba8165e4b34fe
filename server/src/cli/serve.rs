//! `whistle serve --policy BUNDLE --data DIR [--listen ADDR] [--config whistle.toml]`

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CANNOT_RUN, OK};
use crate::config::Config;
use crate::serve::{Options, build_and_run};

/// Arguments of `whistle serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The policy bundle to serve.
    #[arg(long)]
    pub policy: PathBuf,
    /// The data directory of the embedded store (created if missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on, `IP:PORT` or `localhost:PORT` (overrides the config).
    #[arg(long, value_parser = listen_addr)]
    pub listen: Option<SocketAddr>,
    /// The configuration file (TOML; every field has a default).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `IP:PORT`, or `localhost:PORT` for the loopback address (the server
/// binds one address; a name that resolves to several is not taken).
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{port}` is not a port (1 to 65535)"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!(
            "`{text}` is not IP:PORT (for example 127.0.0.1:8080, 0.0.0.0:8080 or localhost:8080)"
        )
    })
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
                say!("error: {e}");
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
            say!("error: cannot start the runtime: {e}");
            return CANNOT_RUN;
        }
    };
    let result = rt.block_on(build_and_run(&opts));
    match result {
        Ok(()) => OK,
        // Rendered diagnostics say `error[...]` themselves.
        Err(e) if e.contains(": error[") => {
            say!("{e}");
            CANNOT_RUN
        }
        Err(e) => {
            say!("error: {e}");
            CANNOT_RUN
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::listen_addr;

    #[test]
    fn listen_takes_an_address_or_localhost() {
        assert_eq!(
            listen_addr("localhost:18721").unwrap().to_string(),
            "127.0.0.1:18721"
        );
        assert_eq!(listen_addr("0.0.0.0:80").unwrap().to_string(), "0.0.0.0:80");
        assert!(
            listen_addr("example.org:80")
                .unwrap_err()
                .contains("is not IP:PORT")
        );
        assert!(
            listen_addr("localhost:http")
                .unwrap_err()
                .contains("not a port")
        );
    }
}
