//! Running `whistle serve` on loopback for a test and talking to it over
//! HTTP: start, kill (SIGKILL) and restart on the same data, JSON requests
//! (with an optional bearer token), the live stream, and a policy whose
//! ladder fires at second scale.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{root, whistle};

/// A port nobody listens on now (the OS's next free one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An agent that answers every status (no error for 4xx/5xx).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A running `whistle serve`, killed when dropped.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data: PathBuf,
    /// Its policy bundle.
    pub policy: PathBuf,
    /// Its config file, if any.
    pub config: Option<PathBuf>,
    /// The working directory it runs in, if not the test's.
    pub cwd: Option<PathBuf>,
    /// The client the helpers use (statuses are not errors).
    pub agent: ureq::Agent,
}

impl Server {
    /// Starts the server on a free loopback port and waits until it is ready.
    pub fn start(policy: &Path, data: &Path, config: Option<&Path>) -> Server {
        Server::start_in(None, policy, data, config)
    }

    /// [`Server::start`] in working directory `cwd`, so that `policy` and
    /// `data` may be relative to it, as a person types them.
    pub fn start_in(
        cwd: Option<&Path>,
        policy: &Path,
        data: &Path,
        config: Option<&Path>,
    ) -> Server {
        let port = free_port();
        let mut cmd = Command::new(whistle());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.args(["serve", "--policy"])
            .arg(policy)
            .arg("--data")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            policy: policy.to_path_buf(),
            config: config.map(Path::to_path_buf),
            cwd: cwd.map(Path::to_path_buf),
            agent: agent(),
        };
        let t = Instant::now();
        loop {
            if let Ok(r) = s.agent.get(&format!("{}/readyz", s.base)).call()
                && r.status() == 200
            {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server (SIGKILL) and starts it again, on another port,
    /// with the same data, policy and config.
    pub fn restart(mut self) -> Server {
        self.kill();
        Server::start_in(
            self.cwd.clone().as_deref(),
            &self.policy.clone(),
            &self.data.clone(),
            self.config.clone().as_deref(),
        )
    }

    /// The hash of the policy version in force (`GET /v1/policy`).
    pub fn live_hash(&self) -> String {
        let (st, p) = self.get("/v1/policy", None);
        assert_eq!(st, 200, "{p}");
        p["hash"].as_str().unwrap().to_string()
    }

    /// POSTs JSON, with a bearer token if given; the status and the JSON
    /// answer (`null` if none).
    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut r = req.send_json(body).unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// POSTs raw bytes as JSON.
    pub fn post_raw(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// GETs JSON, with a bearer token if given; the status and the JSON
    /// answer (`null` if none).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut r = req.call().unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        self.agent
            .get(&format!("{}/metrics", self.base))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// Subscribes to `/v1/stream`: each server-sent event arrives on the
    /// channel as (event name, JSON data) until the server goes away.
    pub fn stream(&self) -> mpsc::Receiver<(String, Value)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(None)
            .build()
            .into();
        let resp = agent
            .get(&format!("{}/v1/stream", self.base))
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let (tx, rx) = mpsc::channel();
        let reader = BufReader::new(resp.into_body().into_reader());
        std::thread::spawn(move || {
            let mut name = String::new();
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    let v = serde_json::from_str(d.trim()).unwrap_or(Value::Null);
                    if tx.send((std::mem::take(&mut name), v)).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// The journal entries' bodies of an event (its transitions), in order.
    pub fn history(&self, id: &str) -> Vec<Value> {
        let (st, e) = self.get(&format!("/v1/events/{id}"), None);
        assert_eq!(st, 200, "{id}: {e}");
        super::check_api_schema("StoredEvent", &e);
        e["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["body"].clone())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Now, to the second, in RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Plain UTC formatting without a date crate: days since the epoch to a civil date.
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil: days since 1970-01-01 to (year, month, day).
pub fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An event of `category` in grid G010101, reported now by a citizen.
pub fn event(id: &str, category: &str) -> Value {
    serde_json::json!({
        "id": id, "category": category, "grid": "G010101",
        "source": "citizen", "reported_at": now_rfc3339(),
    })
}

/// A policy over the shipped area tree whose ladder fires 1, 2 and 4 s
/// after a report: `at 50% respond -> remind`, `at 100% respond -> raise 1,
/// notify command`, `at 100% resolve -> raise to district`.
pub const FAST_POLICY: &str = r#"
policy "fast" { version "1" timezone "Asia/Shanghai" }
levels grid < community < street < district
department grid_team "网格工作站" { level grid }
department police "派出所" { level street }
department command "综治中心" { level district }
grades blue < red
grade blue { level grid   respond 2s resolve 4s }
grade red  { level street respond 2s resolve 4s }
category noise { lead grid_team grade blue }
fallback { lead command grade blue }
escalate {
  at 50%  respond -> remind
  at 100% respond -> raise 1, notify command
  at 100% resolve -> raise to district
}
"#;

/// Writes [`FAST_POLICY`] with the shipped `areas.yaml` into `dir/policy`.
pub fn fast_policy(dir: &Path) -> PathBuf {
    let p = dir.join("policy");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("policy.whistle"), FAST_POLICY).unwrap();
    std::fs::copy(
        root().join("policies/wuhou/areas.yaml"),
        p.join("areas.yaml"),
    )
    .unwrap();
    p
}

/// Waits up to `secs` for `cond`, polling; true if it came.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}
