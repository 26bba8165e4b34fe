//! `/v1/policy`: the live version, the last reload's result, stored
//! versions, and the officer's actions — reload, rollout, rollback,
//! preview (impact of a draft on past events) and redecide.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};
use whistle_engine::Policy;
use whistle_engine::diff::{self, ImpactOptions};
use whistle_engine::lifecycle::Change;
use whistle_engine::lifecycle::redecide as redecide_case;
use whistle_grammar::bundle;

use super::auth::Principal;
use super::change::{Changed, change_case};
use super::error::ApiError;
use super::object::Object;
use super::path::ApiPath;
use crate::reload::files::Draft;
use crate::reload::{Base, Outcome, Request, full_hash, is_version_hash};
use crate::state::AppState;

/// `GET /v1/policy`: the version in force.
pub async fn active(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let policy = state.policy.load_full();
    let stored = state
        .store
        .policy_version(&policy.hash)
        .await
        .map_err(ApiError::unavailable)?;
    let stored = stored.as_ref();
    Ok(Json(json!({
        "hash": &*policy.hash,
        "name": &*policy.name,
        "version": &*policy.version,
        "categories": policy.categories.len(),
        "departments": policy.departments.len(),
        "activated_at": stored.map(|v| v.activated_at),
        "by": stored.map(|v| v.by.as_str()),
        "summary": stored.map(|v| v.summary.as_str()),
        "files": stored.map(|v| {
            let mut paths: Vec<&str> = v.files.iter().map(|(p, _)| p.as_str()).collect();
            paths.sort_unstable();
            paths
        }),
    })))
}

/// `GET /v1/policy/status`: the version in force and the last reload's
/// result (with its diagnostics when it was rejected).
pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let policy = state.policy.load();
    Json(json!({
        "active": &*policy.hash,
        "last_reload": state.reload.status(),
    }))
}

/// `GET /v1/policy/versions`: every version that went live, newest first.
pub async fn versions(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let active = state.policy.load().hash.clone();
    let versions = state
        .store
        .policy_versions()
        .await
        .map_err(ApiError::unavailable)?;
    // Newest first: the first activation of the live hash is the one in
    // force; an older activation of the same files is history.
    let mut seen = false;
    let list: Vec<Value> = versions
        .iter()
        .map(|v| {
            let in_force = !seen && *v.hash == *active;
            seen |= in_force;
            json!({
                "hash": v.hash,
                "activated_at": v.activated_at,
                "by": v.by,
                "summary": v.summary,
                "active": in_force,
            })
        })
        .collect();
    Ok(Json(json!({ "versions": list })))
}

/// `GET /v1/policy/versions/{hash}`: one version with its files.
pub async fn version(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let want = version_hash(&hash)?;
    let v = state
        .store
        .policy_version(&want)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| unknown_version(&want))?;
    let files: BTreeMap<String, String> = v.files.into_iter().collect();
    Ok(Json(json!({
        "hash": v.hash,
        "activated_at": v.activated_at,
        "by": v.by,
        "summary": v.summary,
        "files": files,
    })))
}

/// `POST /v1/policy/reload`: reads the bundle directory now.
pub async fn reload(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Response {
    let outcome = state
        .reload
        .run(Request::Reload, format!("reload by {}", who.name))
        .await;
    respond(outcome)
}

/// The query of a rollback.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackQuery {
    /// Overwrite or remove bundle files that differ from the live version.
    #[serde(default)]
    pub discard: bool,
}

/// `POST /v1/policy/rollback/{hash}`: makes a stored version live again.
pub async fn rollback(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(hash): ApiPath<String>,
    query: Result<Query<RollbackQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(super::assess::bad_query)?;
    let hash = version_hash(&hash)?;
    let outcome = state
        .reload
        .run(
            Request::Rollback {
                hash,
                discard: q.discard,
            },
            format!("rollback by {}", who.name),
        )
        .await;
    Ok(respond(outcome))
}

/// The body of a rollout or a preview: the draft's files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// Files to create or replace: path inside the bundle → text.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Files to remove.
    #[serde(default)]
    pub delete: Vec<String>,
    /// Preview only: replay the events reported in this many past days.
    #[serde(default)]
    /// Signed, so that `-1` is told the range, as `0` is.
    pub days: Option<i64>,
    /// The version (hash) the draft was made from, or one per file. A file
    /// of the draft that changed on disk since then makes a rollout a
    /// conflict; a check or a preview checks only its form.
    #[serde(default)]
    pub base: Option<Base>,
}

fn draft(
    json: Result<Json<Object<DraftBody>>, JsonRejection>,
) -> Result<(Draft, DraftBody), ApiError> {
    let Json(Object(mut body)) = json.map_err(ApiError::from)?;
    let files = std::mem::take(&mut body.files).into_iter().collect();
    let d = Draft::checked(files, std::mem::take(&mut body.delete)).map_err(bad_path)?;
    Ok((d, body))
}

fn bad_path(message: String) -> ApiError {
    // An empty draft names no path at all: not a bad one.
    let code = if message == crate::reload::files::EMPTY {
        "empty_draft"
    } else {
        "bad_path"
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// A draft that may be empty (then the bundle as it is on disk), for the
/// endpoints that work on the policy in force as well as on a draft.
pub(super) fn optional_draft(
    files: BTreeMap<String, String>,
    delete: Vec<String>,
) -> Result<Draft, ApiError> {
    if files.is_empty() && delete.is_empty() {
        return Ok(Draft::default());
    }
    Draft::checked(files.into_iter().collect(), delete).map_err(bad_path)
}

/// `POST /v1/policy/rollout`: checks a draft and, without errors, writes
/// it into the bundle and makes it live.
pub async fn rollout(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    json: Result<Json<Object<DraftBody>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (d, rest) = draft(json)?;
    if rest.days.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "`days` belongs to a preview, not a rollout",
        ));
    }
    check_base(rest.base.as_ref(), &d)?;
    let dir = state.reload.dir.clone();
    let deleted = d.delete.clone();
    let deletes = d.clone();
    tokio::task::spawn_blocking(move || {
        let current = bundle::read_dir(&dir).map_err(ApiError::unavailable)?;
        deletes
            .missing_delete(&current)
            .or_else(|| deletes.clash(&dir))
            .map_or(Ok(()), |m| Err(bad_path(m)))
    })
    .await
    .map_err(ApiError::unavailable)??;
    let outcome = state
        .reload
        .run(
            Request::Rollout {
                draft: d,
                base: rest.base.map(Base::full),
            },
            format!("rollout by {}", who.name),
        )
        .await;
    Ok(respond_to_draft(outcome, &deleted))
}

/// A draft's `base` well formed and about the draft's own files (422).
fn check_base(base: Option<&Base>, d: &Draft) -> Result<(), ApiError> {
    base.map_or(Ok(()), |b| b.check(d))
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m))
}

/// Most days a preview replays.
const MAX_DAYS: u32 = 3660;

/// `POST /v1/policy/preview`: decides the store's events of the last
/// `days` (default 90) under the live policy and under the draft, and
/// reports what would be decided differently.
pub async fn preview(
    State(state): State<AppState>,
    json: Result<Json<Object<DraftBody>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let (d, rest) = draft(json)?;
    // The body a rollout takes, so that a client sends one body to all
    // three: only a rollout compares `base` with the disk.
    check_base(rest.base.as_ref(), &d)?;
    let days = rest.days.unwrap_or(90);
    if !(1..=i64::from(MAX_DAYS)).contains(&days) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("`days` is from 1 to {MAX_DAYS}, not {days}"),
        ));
    }
    let deleted = d.delete.clone();
    let (b, c) = compile_draft(&state, d).await?;
    let Some(new) = c.policy else {
        let outcome = format!("nothing was changed{}", deleted_note(&deleted));
        return Err(rejected(&b, c.diagnostics, &outcome));
    };
    let since = Timestamp::now()
        .checked_sub(SignedDuration::from_hours(24 * days))
        .unwrap_or(Timestamp::MIN);
    let events = state
        .store
        .events_since(since)
        .await
        .map_err(ApiError::unavailable)?;
    let old = state.policy.load_full();
    let n = events.len();
    let report = tokio::task::spawn_blocking(move || {
        let semantic = diff::semantic(&old, &new);
        let impact = diff::impact(&old, &new, &events, &ImpactOptions::default());
        json!({
            "old": &*old.hash,
            "new": &*new.hash,
            "semantic": semantic,
            "summary": semantic.to_string(),
            "impact": impact,
        })
    })
    .await
    .map_err(ApiError::unavailable)?;
    let mut report = report;
    report["days"] = json!(days);
    report["events"] = json!(n);
    Ok(Json(report))
}

/// The bundle in force with a draft laid over it, and its compilation
/// (off the async workers: a bundle can take tens of milliseconds).
pub(super) async fn compile_draft(
    state: &AppState,
    d: Draft,
) -> Result<(bundle::Bundle, whistle_engine::Compiled), ApiError> {
    let dir = state.reload.dir.clone();
    tokio::task::spawn_blocking(move || {
        let current = bundle::read_dir(&dir).map_err(ApiError::unavailable)?;
        if let Some(missing) = d.missing_delete(&current) {
            return Err(bad_path(missing));
        }
        let b = bundle::from_files(d.over(current));
        let c = whistle_engine::compile(&b);
        Ok((b, c))
    })
    .await
    .map_err(ApiError::unavailable)?
}

/// `POST /v1/policy/check`: checks a draft (laid over the bundle in force)
/// without changing anything, as `whistle check` would. The answer is 200
/// whether or not the draft has errors: its diagnostics are the answer.
/// An empty draft checks the bundle on disk.
/// Without errors it also names the hash the draft would have and what it
/// changes, in words.
pub async fn check(
    State(state): State<AppState>,
    json: Result<Json<Object<DraftBody>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(Object(body)) = json.map_err(ApiError::from)?;
    if body.days.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "`days` belongs to a preview, not a check",
        ));
    }
    let d = optional_draft(body.files, body.delete)?;
    check_base(body.base.as_ref(), &d)?;
    let (b, c) = compile_draft(&state, d).await?;
    let errors = c.diagnostics.iter().filter(|x| x.is_error()).count();
    let warnings = c.diagnostics.len() - errors;
    let live = state.policy.load_full();
    let changes = c.policy.as_ref().map(|new| {
        let semantic = diff::semantic(&live, new);
        json!({
            "hash": &*new.hash,
            "same_as_live": new.hash == live.hash,
            "changes": semantic.len(),
            "summary": semantic.to_string(),
        })
    });
    // The bundle's own `test` blocks, run on the draft: a change that
    // breaks them is said before it is rolled out, not after.
    let tests = c.policy.as_ref().map(|p| {
        let results = whistle_engine::testing::run_tests(p, &c.tests);
        let failed: Vec<Value> = results
            .iter()
            .filter(|r| !r.passed())
            .map(|r| json!({"name": r.name, "location": r.location, "failures": r.failures}))
            .collect();
        json!({"passed": results.len() - failed.len(), "failed": failed})
    });
    Ok(Json(json!({
        "errors": errors,
        "warnings": warnings,
        "tests": tests,
        "diagnostics": whistle_grammar::diag::to_json(&c.diagnostics, &b.sources),
        "rendered": whistle_grammar::diag::render(&c.diagnostics, &b.sources, false),
        "live": &*live.hash,
        "draft": changes,
    })))
}

/// `POST /v1/policy/redecide`: decides every open event again under the
/// live policy, recording what changed in each event's history.
pub async fn redecide(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // It takes nothing: a body with fields (`{"only": [...]}`) would be a
    // wish ignored while every open event is decided again.
    let text = String::from_utf8_lossy(&body);
    let empty = text.trim().is_empty()
        || serde_json::from_str::<Value>(&text)
            .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()));
    if !empty {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "`/v1/policy/redecide` takes no body: it decides every open event again under the live policy",
        ));
    }
    // One redecide at a time: two at once would split the events between
    // them, and each answer would count only its share.
    let _one_at_a_time = state.redeciding.lock().await;
    // Each event is decided under the policy live when its turn comes; a
    // policy that went live during a pass means another pass, so that at
    // the end every open event follows the version in force then.
    let mut outcomes: HashMap<String, EventRedecided> = HashMap::new();
    let mut passes = 0;
    let policy = loop {
        passes += 1;
        let open = state
            .store
            .open_cases()
            .await
            .map_err(ApiError::unavailable)?;
        // A version that goes live is a new `Arc`: the same one at the end
        // means every event of the pass was decided under it.
        let at_start = state.policy.load_full();
        for (_, case) in open {
            let policy = state.policy.load_full();
            let id = case.event.id.to_string();
            let outcome = redecide_one(&state, &policy, &id).await?;
            let earlier = outcomes.get(&id).copied();
            outcomes.insert(id, outcome.after(earlier));
        }
        let live = state.policy.load_full();
        if Arc::ptr_eq(&live, &at_start) || passes == MAX_PASSES {
            break live;
        }
    };
    let count = |f: fn(&EventRedecided) -> bool| outcomes.values().filter(|o| f(o)).count();
    Ok(Json(json!({
        "policy": &*policy.hash,
        "redecided": count(|o| matches!(o, EventRedecided::Changed { .. })),
        "unchanged": count(|o| *o == EventRedecided::Unchanged),
        "kept": count(|o| *o == EventRedecided::Changed { kept: true }),
        "skipped": count(|o| *o == EventRedecided::Skipped),
        "passes": passes,
    })))
}

/// Passes of a redecide at most: a policy changed during each of them is
/// a bundle being edited, and the last pass's version is answered.
const MAX_PASSES: u32 = 4;

/// What a redecide did to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventRedecided {
    /// A field changed (`kept`: a reassignment or raise kept one).
    Changed { kept: bool },
    /// Decided the same way (or only moved to the policy), or closed meanwhile.
    Unchanged,
    /// It kept changing while it was being redecided.
    Skipped,
}

impl EventRedecided {
    /// This pass's outcome after an earlier pass's: a change made once
    /// stays counted when a later pass finds nothing more to change.
    fn after(self, earlier: Option<EventRedecided>) -> EventRedecided {
        match (earlier, self) {
            (Some(e @ EventRedecided::Changed { .. }), EventRedecided::Unchanged) => e,
            _ => self,
        }
    }
}

/// Decides one open event again under `policy`, read again when it was
/// updated meanwhile.
async fn redecide_one(
    state: &AppState,
    policy: &Policy,
    id: &str,
) -> Result<EventRedecided, ApiError> {
    let changed = change_case(&*state.store, &state.history, id, |case, now, history| {
        let transitions = redecide_case(policy, case, now, history);
        Ok((!transitions.is_empty()).then_some(transitions))
    })
    .await?;
    Ok(match changed {
        Changed::Stored {
            case, transitions, ..
        } => {
            state.announce(id, &case, &transitions);
            redecided(&transitions)
        }
        Changed::Nothing | Changed::Missing => EventRedecided::Unchanged,
        Changed::Busy => EventRedecided::Skipped,
    })
}

/// What a stored redecision changed: a case that only moved to the new
/// policy (its ladder planned again) is stored, but nothing of it changed.
fn redecided(transitions: &[whistle_engine::lifecycle::Transition]) -> EventRedecided {
    match transitions.first().map(|t| &t.change) {
        Some(Change::Redecided { changes, kept, .. }) if !changes.is_empty() => {
            EventRedecided::Changed {
                kept: !kept.is_empty(),
            }
        }
        _ => EventRedecided::Unchanged,
    }
}

/// A version's hash as the path gives it, in full; one that is not a
/// hash at all is said to be so (404), not looked up under `sha256:` added.
fn version_hash(raw: &str) -> Result<String, ApiError> {
    if is_version_hash(raw) {
        return Ok(full_hash(raw));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "`{raw}` is not a version's hash (\"sha256:\" and 64 hex digits, as /v1/policy/versions lists them)"
        ),
    ))
}

fn unknown_version(hash: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no stored policy version `{hash}`; see /v1/policy/versions"),
    )
}

/// A draft refused for its errors (422 `policy_errors`): the errors among
/// `diagnostics`, as data and rendered; `outcome` says what did not happen.
pub(super) fn rejected(
    b: &bundle::Bundle,
    diagnostics: Vec<whistle_grammar::diag::Diagnostic>,
    outcome: &str,
) -> ApiError {
    let errors: Vec<_> = diagnostics.into_iter().filter(|x| x.is_error()).collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "policy_errors",
        format!("the draft has {} error(s); {outcome}", errors.len()),
    )
    .with_details(json!({
        "diagnostics": whistle_grammar::diag::to_json(&errors, &b.sources),
        "rendered": whistle_grammar::diag::render(&errors, &b.sources, false),
    }))
}

/// What a draft that fails deleted: errors of what is missing ("no
/// fallback block") point at the files left, never at the one deleted.
fn deleted_note(deleted: &[String]) -> String {
    if deleted.is_empty() {
        return String::new();
    }
    let names: Vec<String> = deleted.iter().map(|f| format!("`{f}`")).collect();
    format!(
        " (the draft deletes {}: what it declared is missing now)",
        names.join(", ")
    )
}

/// The response for a reload job's outcome.
fn respond(outcome: Outcome) -> Response {
    respond_to_draft(outcome, &[])
}

/// [`respond`] for a draft that deletes files: a refusal names them.
fn respond_to_draft(outcome: Outcome, deleted: &[String]) -> Response {
    match outcome {
        Outcome::Applied { .. } | Outcome::Unchanged { .. } => {
            (StatusCode::OK, Json(json!(outcome))).into_response()
        }
        Outcome::Rejected {
            errors,
            diagnostics,
            rendered,
        } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_errors",
            format!(
                "the policy has {errors} error(s); the live version stays{}",
                deleted_note(deleted)
            ),
        )
        .with_details(json!({"diagnostics": diagnostics, "rendered": rendered}))
        .into_response(),
        Outcome::UnknownVersion { hash } => unknown_version(&hash).into_response(),
        Outcome::Conflict { message, files } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", message)
                .with_details(json!({ "files": files }))
                .into_response()
        }
        Outcome::Failed { message } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "reload_failed", message).into_response()
        }
    }
}
