//! `POST /v1/simulate` (officer): a simulation of a draft against the
//! policy in force, as a background job; progress goes to `/v1/stream`
//! (`simulate_progress`, then `simulate_done`); `GET /v1/simulate/{job}`
//! says how far it is and, once done, returns the report.
//!
//! One simulation runs at a time (it keeps both cores busy); the last
//! [`KEEP`] jobs are remembered, in memory only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use whistle_engine::sim::{Options, Progress, Role};

use super::error::ApiError;
use super::path::ApiPath;
use crate::cli::simulate::{SimError, prepare_scenario, simulate};
use crate::state::AppState;

/// Jobs remembered.
pub const KEEP: usize = 16;
/// The most synthetic events a job may ask for (about ten years of a big
/// district; more is a mistake or an attack).
pub const MAX_EVENTS: f64 = 20_000_000.0;

#[derive(Debug, Clone)]
enum Status {
    Running {
        fraction: [f64; 2],
        events: [u64; 2],
    },
    /// The report as JSON, and as the self-contained HTML page.
    Done(Arc<str>, Arc<str>),
    Failed(String),
}

/// Where a server's job ids start: the milliseconds since 1970 now.
fn first_id() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

/// The simulation jobs of a server.
#[derive(Debug, Clone, Default)]
pub struct Jobs(Arc<Mutex<JobTable>>);

#[derive(Debug, Default)]
struct JobTable {
    next: u64,
    jobs: BTreeMap<u64, Status>,
}

impl Jobs {
    fn set(&self, id: u64, status: Status) {
        if let Ok(mut t) = self.0.lock() {
            t.jobs.insert(id, status);
        }
    }

    fn progress(&self, id: u64, role: Role, p: Progress) -> Option<(f64, u64)> {
        let mut t = self.0.lock().ok()?;
        let Some(Status::Running { fraction, events }) = t.jobs.get_mut(&id) else {
            return None;
        };
        let i = usize::from(role == Role::Baseline);
        fraction[i] = p.fraction;
        events[i] = p.events;
        Some(((fraction[0] + fraction[1]) / 2.0, events[0] + events[1]))
    }
}

/// The body of `POST /v1/simulate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    /// The scenario, as YAML text (it may not name files: no `areas.file`,
    /// no `replay`).
    pub scenario: String,
    /// The draft: files to write over the bundle in force (none: the
    /// policy in force against itself).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Files of the bundle in force the draft leaves out.
    #[serde(default)]
    pub delete: Vec<String>,
    /// The seed (else the scenario's).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Scale the arrivals to about this many events.
    #[serde(default)]
    pub events: Option<f64>,
}

fn invalid(e: whistle_engine::sim::ScenarioErrors) -> ApiError {
    let details: Vec<Value> =
        e.0.iter()
            .map(|x| json!({"path": x.path, "message": x.message}))
            .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_scenario",
        e.to_string(),
    )
    .with_details(json!({"errors": details}))
}

/// Whether a job's expected events are over [`MAX_EVENTS`], rounded as
/// the message says them: rates scaled to the limit exactly come to it
/// and a hair over.
fn over_limit(expected: f64) -> bool {
    expected.round() > MAX_EVENTS
}

/// `POST /v1/simulate`: starts a job; 202 with its id.
pub async fn start(
    State(state): State<AppState>,
    Extension(jobs): Extension<Jobs>,
    json: Result<Json<super::object::Object<SimulateBody>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(super::object::Object(body)) = json.map_err(ApiError::from)?;
    if body.events.is_some_and(|n| !(n > 0.0 && n <= MAX_EVENTS)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("`events` is above 0 and at most {MAX_EVENTS}"),
        ));
    }
    let d = super::policy::optional_draft(body.files, body.delete)?;
    let (b, c) = super::policy::compile_draft(&state, d).await?;
    let Some(draft) = c.policy else {
        return Err(super::policy::rejected(
            &b,
            c.diagnostics,
            "nothing was simulated",
        ));
    };
    let active = state.policy.load_full();
    let options = Options {
        seed: body.seed,
        events: body.events,
    };
    let prepared = match prepare_scenario(&body.scenario, None, &draft, Some(&active), options) {
        Ok(p) => p,
        Err(SimError::Scenario(e)) => return Err(invalid(e)),
        Err(SimError::Io(e)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_scenario",
                e,
            ));
        }
    };
    if prepared
        .plan
        .arrivals
        .as_ref()
        .is_some_and(|a| over_limit(a.simulated()))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_large",
            format!(
                "the scenario asks for about {:.0} events; a job may simulate at most {MAX_EVENTS}",
                prepared
                    .plan
                    .arrivals
                    .as_ref()
                    .map_or(0.0, |a| a.simulated())
            ),
        ));
    }
    let id = {
        let mut t = jobs
            .0
            .lock()
            .map_err(|_| ApiError::unavailable("the job table is poisoned"))?;
        if let Some(running) = t
            .jobs
            .iter()
            .find_map(|(id, s)| matches!(s, Status::Running { .. }).then_some(*id))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "busy",
                format!(
                    "simulation job {running} is running; wait for it (GET /v1/simulate/{running}) and try again"
                ),
            )
            .with_details(json!({ "job": running.to_string() })));
        }
        // Ids go on from the clock's milliseconds at a server's first job:
        // jobs live in memory only, and a client still asking about a job
        // of the run before a restart must get a 404, not another report.
        t.next = t.next.max(first_id()) + 1;
        let id = t.next;
        t.jobs.insert(
            id,
            Status::Running {
                fraction: [0.0; 2],
                events: [0; 2],
            },
        );
        while t.jobs.len() > KEEP {
            t.jobs.pop_first();
        }
        id
    };
    let hub = state.hub.clone();
    let worker_jobs = jobs.clone();
    // A plain thread: the run is CPU-bound for seconds to minutes and
    // spawns its own second thread for the baseline.
    let spawned = std::thread::Builder::new()
        .name(format!("simulate-{id}"))
        .spawn(move || {
            let progress = |role: Role, p: Progress| {
                if let Some((fraction, events)) = worker_jobs.progress(id, role, p) {
                    hub.publish(
                        "simulate_progress",
                        json!({"job": id.to_string(), "fraction": (fraction * 1000.0).round() / 1000.0, "events": events})
                            .to_string(),
                    );
                }
            };
            let status = match simulate(&prepared, None, &progress) {
                Ok(r) => Status::Done(
                    r.to_json().into(),
                    whistle_engine::sim::report::html::page(&r).into(),
                ),
                Err(e) => Status::Failed(e),
            };
            let done = match &status {
                Status::Done(..) => json!({"job": id.to_string(), "status": "done"}),
                _ => json!({"job": id.to_string(), "status": "failed"}),
            };
            worker_jobs.set(id, status);
            hub.publish("simulate_done", done.to_string());
        });
    if let Err(e) = spawned {
        jobs.set(id, Status::Failed(e.to_string()));
        return Err(ApiError::unavailable(e));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "job": id.to_string(),
            "status": "running",
            "href": format!("/v1/simulate/{id}"),
        })),
    )
        .into_response())
}

/// The job `job` names, or a 404 that says why.
fn lookup(jobs: &Jobs, job: &str) -> Result<(u64, Status), ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no simulation job `{job}` (the server keeps the last {KEEP})"),
        )
    };
    let id: u64 = job.parse().map_err(|_| not_found())?;
    let status = jobs
        .0
        .lock()
        .map_err(|_| ApiError::unavailable("the job table is poisoned"))?
        .jobs
        .get(&id)
        .cloned()
        .ok_or_else(not_found)?;
    Ok((id, status))
}

/// `GET /v1/simulate/{job}`: the job's state; the report once done.
pub async fn status(
    Extension(jobs): Extension<Jobs>,
    ApiPath(job): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (id, status) = lookup(&jobs, &job)?;
    Ok(match status {
        Status::Running { fraction, events } => Json(json!({
            "job": id.to_string(),
            "status": "running",
            "fraction": ((fraction[0] + fraction[1]) / 2.0 * 1000.0).round() / 1000.0,
            "events": events[0] + events[1],
        }))
        .into_response(),
        Status::Failed(e) => {
            Json(json!({"job": id.to_string(), "status": "failed", "error": e})).into_response()
        }
        // The report is already JSON: splice it in rather than parse it again.
        Status::Done(report, _) => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"job\":\"{id}\",\"status\":\"done\",\"report\":{report}}}"),
        )
            .into_response(),
    })
}

/// `GET /v1/simulate/{job}/report.html`: the finished job's report as the
/// page `whistle simulate` writes. It is sent as a download, never shown
/// from the server's own origin, where the API's tokens are at hand.
pub async fn report_html(
    Extension(jobs): Extension<Jobs>,
    ApiPath(job): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (id, status) = lookup(&jobs, &job)?;
    match status {
        Status::Done(_, html) => Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"simulation-{id}.html\""),
                ),
            ],
            html.to_string(),
        )
            .into_response()),
        Status::Running { .. } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "running",
            format!("simulation job {id} is still running; its report comes when it is done"),
        )),
        Status::Failed(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "failed",
            format!("simulation job {id} failed, so it has no report: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"events": 20000000` scales the rates to the limit, which the
    /// floating-point sum may pass by a hair: the documented maximum is
    /// accepted.
    #[test]
    fn the_limit_itself_is_accepted() {
        assert!(!over_limit(MAX_EVENTS));
        assert!(!over_limit(MAX_EVENTS + 0.000_004));
        assert!(over_limit(MAX_EVENTS + 1.0));
    }
}
