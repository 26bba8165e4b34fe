//! `whistle.toml`: the server's configuration. Every field has a default,
//! so an empty file (or none) is a valid configuration.
//!
//! ```toml
//! listen = "127.0.0.1:8080"     # address to listen on
//! body_limit = 1048576          # largest request body, bytes
//! batch_max = 512               # events per group commit at most
//! watch = true                  # reload the policy when its files change
//! debounce_ms = 100             # wait this long after the last change
//!
//! [[tokens]]                    # none: the server runs open, loopback only
//! name = "hotline"
//! sha256 = "…"                  # `whistle token` prints a token and this hash
//! roles = ["reporter"]          # reporter, handler, officer, viewer
//!
//! [[webhooks]]
//! name = "city-platform"
//! url = "http://127.0.0.1:9000/whistle"
//! ```

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// A role a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Posts events.
    Reporter,
    /// Moves events through their life.
    Handler,
    /// Manages policy.
    Officer,
    /// Reads.
    Viewer,
}

/// An access token, stored as the SHA-256 of the token itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (recorded with what they do).
    pub name: String,
    /// Hex SHA-256 of the bearer token.
    pub sha256: String,
    /// What it may do.
    pub roles: Vec<Role>,
}

/// A webhook that receives transitions, escalation steps and alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name (in the outbox and metrics).
    pub name: String,
    /// Where to POST (plain `http://`; terminate TLS in a proxy).
    pub url: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Milliseconds a request's body may take to arrive (408 after).
    pub body_timeout_ms: u64,
    /// Milliseconds a connection may take to send a request's headers
    /// (closed after).
    pub header_timeout_ms: u64,
    /// Most events in one group commit.
    pub batch_max: usize,
    /// Access tokens; none means open access (loopback only).
    pub tokens: Vec<TokenConfig>,
    /// Webhooks.
    pub webhooks: Vec<WebhookConfig>,
    /// Reload the policy when the bundle's files change (`SIGHUP` and
    /// `POST /v1/policy/reload` work either way).
    pub watch: bool,
    /// Milliseconds to wait after the last change to the bundle before
    /// reloading: an editor's save (temporary file, rename) is one reload.
    pub debounce_ms: u64,
    /// How many hours late an event may be reported (behind the latest
    /// report the server has seen) and still see its whole `repeats`
    /// window: a grid worker's app that uploads the day's reports the
    /// next morning. Keeps that much more history in memory.
    pub late_report_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            body_timeout_ms: 30_000,
            header_timeout_ms: 30_000,
            batch_max: 512,
            tokens: Vec::new(),
            webhooks: Vec::new(),
            watch: true,
            debounce_ms: 100,
            late_report_hours: 72,
        }
    }
}

impl Config {
    /// Reads a config file; a missing or invalid one is an error that says where.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for t in &c.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "token `{}`: `sha256` must be 64 hex digits (see `whistle token`)",
                    t.name
                ));
            }
        }
        if !(10..=60_000).contains(&c.debounce_ms) {
            return Err(format!(
                "`debounce_ms` must be from 10 to 60000, not {}",
                c.debounce_ms
            ));
        }
        for w in &c.webhooks {
            webhook_url(&w.url).map_err(|e| format!("webhook `{}`: {e}", w.name))?;
        }
        for (key, ms) in [
            ("body_timeout_ms", c.body_timeout_ms),
            ("header_timeout_ms", c.header_timeout_ms),
        ] {
            if !(100..=600_000).contains(&ms) {
                return Err(format!("`{key}` must be from 100 to 600000, not {ms}"));
            }
        }
        if c.late_report_hours > MAX_LATE_HOURS {
            return Err(format!(
                "`late_report_hours` must be at most {MAX_LATE_HOURS} (a year), not {}",
                c.late_report_hours
            ));
        }
        let (mut names, mut hashes) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for t in &c.tokens {
            if !names.insert(t.name.as_str()) {
                return Err(format!(
                    "two tokens are named `{}`: each needs its own name (it is recorded with what the token does)",
                    t.name
                ));
            }
            if !hashes.insert(t.sha256.to_ascii_lowercase()) {
                return Err(format!(
                    "token `{}` has the same `sha256` as another: one token would get the roles of both",
                    t.name
                ));
            }
        }
        if c.batch_max == 0 || c.body_limit == 0 {
            return Err("`batch_max` and `body_limit` must be above 0".into());
        }
        Ok(c)
    }
}

/// The most `late_report_hours` taken: a year.
const MAX_LATE_HOURS: u64 = 8760;

/// Checks a webhook's URL as the outbox will use it: plain `http://`
/// with a host (the client speaks no TLS; a proxy in front does).
fn webhook_url(url: &str) -> Result<(), String> {
    let shape = || format!("`url` {url:?} must be `http://HOST[:PORT]/PATH`");
    let uri: hyper::Uri = url.parse().map_err(|_| shape())?;
    // The client sends no credentials written in the URL: refused rather
    // than dropped without a word.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!(
            "`url` {url:?}: a user and password in the URL are not sent; put them in a proxy in front"
        ));
    }
    // The parser keeps a port it cannot read as a number to itself.
    let port = uri
        .authority()
        .and_then(|a| a.as_str().rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.contains(']'));
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err(format!("`url` {url:?}: the port is from 1 to 65535"));
    }
    match uri.scheme_str() {
        Some("http") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        Some("https") => Err(format!(
            "`url` {url:?}: only plain `http://` is supported; put a TLS proxy in front"
        )),
        _ => Err(shape()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_config_is_all_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.body_limit, 1 << 20);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(Config::parse("listen = 5").unwrap_err().contains("listen"));
        assert!(
            Config::parse("lisen = \"x\"")
                .unwrap_err()
                .contains("lisen")
        );
        let bad = "[[tokens]]\nname = \"a\"\nsha256 = \"xyz\"\nroles = [\"viewer\"]";
        assert!(Config::parse(bad).unwrap_err().contains("64 hex"));
        let role = format!(
            "[[tokens]]\nname = \"a\"\nsha256 = \"{}\"\nroles = [\"boss\"]",
            "a".repeat(64)
        );
        assert!(Config::parse(&role).unwrap_err().contains("boss"));
        let hook =
            |url: &str| Config::parse(&format!("[[webhooks]]\nname = \"hq\"\nurl = {url:?}"));
        assert!(hook("http://127.0.0.1:9000/whistle").is_ok());
        for port in ["99999", "0", "65536"] {
            let e = hook(&format!("http://127.0.0.1:{port}/x")).unwrap_err();
            assert!(e.contains("the port is from 1 to 65535"), "{port}: {e}");
        }
        assert_eq!(
            hook("not a url").unwrap_err(),
            "webhook `hq`: `url` \"not a url\" must be `http://HOST[:PORT]/PATH`"
        );
        assert!(
            hook("https://example.org/h")
                .unwrap_err()
                .contains("only plain `http://`")
        );
        for url in [
            "http://user:pw@example.org/h",
            "http://user@example.org:9000/h",
        ] {
            assert!(
                hook(url)
                    .unwrap_err()
                    .contains("a user and password in the URL are not sent"),
                "{url}"
            );
        }
        assert_eq!(
            Config::parse("header_timeout_ms = 50").unwrap_err(),
            "`header_timeout_ms` must be from 100 to 600000, not 50"
        );
        assert!(
            Config::parse("body_timeout_ms = 0")
                .unwrap_err()
                .contains("body_timeout_ms")
        );
        assert_eq!(
            Config::parse("header_timeout_ms = 100")
                .unwrap()
                .header_timeout_ms,
            100
        );
        assert_eq!(Config::parse("").unwrap().late_report_hours, 72);
        assert!(
            Config::parse("late_report_hours = 9000")
                .unwrap_err()
                .contains("late_report_hours")
        );
        // One token twice (by name or by hash) would merge two holders'
        // rights into one; both are refused.
        let token = |name: &str, hash: &str, role: &str| {
            format!("[[tokens]]\nname = \"{name}\"\nsha256 = \"{hash}\"\nroles = [\"{role}\"]\n")
        };
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let same_hash = token("vic", &a, "viewer") + &token("olga", &a.to_uppercase(), "officer");
        assert!(
            Config::parse(&same_hash)
                .unwrap_err()
                .contains("same `sha256`")
        );
        let same_name = token("vic", &a, "viewer") + &token("vic", &b, "officer");
        assert!(
            Config::parse(&same_name)
                .unwrap_err()
                .contains("two tokens are named `vic`")
        );
        let fine = token("vic", &a, "viewer") + &token("olga", &b, "officer");
        assert_eq!(Config::parse(&fine).unwrap().tokens.len(), 2);
    }
}
