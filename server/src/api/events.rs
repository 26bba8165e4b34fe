//! `/v1/events` and `/v1/route`: posting, reading and moving events.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, MissingJsonContentType};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use whistle_engine::event::{Event, event_from_value};
use whistle_engine::lifecycle::{Action, apply};
use whistle_engine::router::check_attr;
use whistle_engine::unique_json::Unique;
use whistle_engine::{Context, decide};

use super::change::{Changed, change_case};
use super::error::ApiError;
use super::path::ApiPath;
use crate::ingest::Outcome;
use crate::state::AppState;
use crate::store::{ListQuery, StoredEvent};

/// Most events in one batch post.
const MAX_BATCH: usize = 10_000;

const CONFLICT: &str = "an event with this id was already posted with a different body";

/// An event body (or a batch) read with unique keys in every object: two
/// `id`s or two values of one attribute are refused, not resolved by
/// keeping the last.
fn body(json: Result<Json<Unique>, JsonRejection>) -> Result<Value, ApiError> {
    json.map(|Json(v)| v.0).map_err(ApiError::from)
}

/// Why an event is refused: its shape (not an event at all), or a rule
/// that may have changed since it was first posted (the bundle's
/// `event.schema.json`, the server's clock).
enum Invalid {
    Shape(String),
    Rule {
        message: String,
        event: Box<Event>,
        hash: String,
    },
}

/// Validates one event; the error names the field and the rule.
fn validate(state: &AppState, v: Value) -> Result<(Event, String), Invalid> {
    // Canonical JSON (keys sorted): the same body always hashes the same.
    let canonical = serde_json::to_string(&v).unwrap_or_default();
    let hash = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let event = event_from_value(v).map_err(|e| Invalid::Shape(e.0))?;
    let rule = check_attr(&state.policy.load(), &event)
        .map_err(|e| e.0)
        .and_then(|()| plausible_time(event.reported_at, Timestamp::now()));
    match rule {
        Ok(()) => Ok((event, hash)),
        Err(message) => Err(Invalid::Rule {
            message,
            event: Box::new(event),
            hash,
        }),
    }
}

/// An id posted before with another body, looked at again. The two may
/// mean the same event (the same instant in another offset, the default
/// `source` written out): then it is a retry, answered with the stored
/// record. Otherwise the message names the fields that differ.
async fn conflict(state: &AppState, posted: &Event) -> Result<Box<StoredEvent>, String> {
    match state.store.get_event(&posted.id).await {
        Ok(Some(stored)) if stored.event.same_as(posted) => Ok(Box::new(stored)),
        Ok(Some(stored)) => Err(format!(
            "{CONFLICT}: {}",
            differences(&stored.event, posted)
        )),
        _ => Err(CONFLICT.to_string()),
    }
}

/// The actions `POST /v1/events/{id}/{action}` takes.
pub(super) const VERBS: [&str; 7] = [
    "accept", "resolve", "reopen", "reassign", "whistle", "ack", "feedback",
];

/// What one posted event gets.
enum Answer {
    /// Decided and stored now (the decision's JSON).
    Created(String),
    /// Posted before: its stored record.
    Stored(Box<StoredEvent>),
    /// Another event with its id was posted before: why they differ.
    Conflict(String),
}

/// The fields in which two events with one id differ, in words.
fn differences(stored: &Event, posted: &Event) -> String {
    let mut fields: Vec<String> = [
        ("category", stored.category != posted.category),
        ("grid", stored.grid != posted.grid),
        ("source", stored.source != posted.source),
        ("reported_at", stored.reported_at != posted.reported_at),
        ("location", stored.location != posted.location),
        ("reporter", stored.reporter != posted.reporter),
        ("description", stored.description != posted.description),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(f, _)| format!("`{f}`"))
    .collect();
    let (a, b) = (stored.attr.as_object(), posted.attr.as_object());
    let keys: std::collections::BTreeSet<&String> =
        a.into_iter().chain(b).flat_map(|m| m.keys()).collect();
    fields.extend(
        keys.into_iter()
            .filter(
                |k| match (a.and_then(|m| m.get(*k)), b.and_then(|m| m.get(*k))) {
                    (Some(x), Some(y)) => !whistle_engine::event::same_value(x, y),
                    (x, y) => x != y,
                },
            )
            .map(|k| format!("`attr.{k}`")),
    );
    match fields.as_slice() {
        [] => "the same fields, written differently".to_string(),
        [one] => format!("{one} differs"),
        many => format!("{} differ", many.join(", ")),
    }
}

/// Whether the store holds event `id` with this very body: a retry of
/// an event accepted before a rule changed is the same event, answered
/// with its stored decision rather than refused by today's rule.
async fn stored_as(state: &AppState, id: &str, hash: &str) -> bool {
    matches!(state.store.get_event(id).await, Ok(Some(s)) if s.body_hash == hash)
}

/// How far ahead of the server's clock a report may be: clocks of
/// devices drift, but not by hours.
const FUTURE_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// Refuses a report time no grid event can have. One event dated a
/// year ahead (a mistyped year, a sensor with a wrong clock) would move
/// the `repeats` windows past every real event and switch them off for
/// the whole district; one before 1970 is a clock that was never set.
fn plausible_time(at: Timestamp, now: Timestamp) -> Result<(), String> {
    if at > now.saturating_add(FUTURE_SLACK).unwrap_or(now) {
        return Err(format!(
            "`reported_at`: {at} is ahead of the server's clock ({}): an event cannot be reported in the future (a wrong device clock, or a mistyped year?)",
            now.round(jiff::Unit::Second).unwrap_or(now)
        ));
    }
    if at < Timestamp::UNIX_EPOCH {
        return Err(format!(
            "`reported_at`: {at} is before 1970: the reporting device's clock was not set"
        ));
    }
    Ok(())
}

/// `POST /v1/events`: one event, or `{"events": [...]}`.
pub async fn post(
    State(state): State<AppState>,
    json: Result<Json<Unique>, JsonRejection>,
) -> Result<Response, ApiError> {
    let v = body(json)?;
    let (items, batch) = match v {
        Value::Object(mut m) if m.contains_key("events") && !m.contains_key("id") => {
            // A batch is `{"events": [...]}` and nothing else: another key
            // (`"mode": "partial"`) would be a wish ignored.
            if let Some(k) = m.keys().find(|k| *k != "events") {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!(
                        "unknown field `{k}` beside `events`: a batch is {{\"events\": [...]}}"
                    ),
                ));
            }
            match m.remove("events") {
                Some(Value::Array(a)) => (a, true),
                _ => {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid",
                        "`events` must be an array of events",
                    ));
                }
            }
        }
        other => (vec![other], false),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "a batch holds 1 to {MAX_BATCH} events; this one has {}",
                items.len()
            ),
        ));
    }
    let items_len = items.len();
    let mut events = Vec::with_capacity(items_len);
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match validate(&state, item) {
            Ok(e) => events.push(e),
            Err(Invalid::Rule {
                message,
                event,
                hash,
            }) => {
                if stored_as(&state, &event.id, &hash).await {
                    events.push((*event, hash));
                } else {
                    errors.push(json!({"index": i, "error": message}));
                }
            }
            Err(Invalid::Shape(message)) => errors.push(json!({"index": i, "error": message})),
        }
    }
    if !errors.is_empty() {
        // All or nothing: a batch with a bad event stores none, so a retry
        // of the corrected batch cannot duplicate half of it.
        let message = if batch {
            let (bad, of) = (errors.len(), items_len);
            let verb = if bad == 1 { "is" } else { "are" };
            format!("{bad} of the {of} events {verb} not valid; none was stored")
        } else {
            errors[0]["error"]
                .as_str()
                .unwrap_or("invalid event")
                .to_string()
        };
        return Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", message)
                .with_details(json!(errors)),
        );
    }
    let outcomes = state
        .ingest
        .submit(events)
        .await
        .map_err(ApiError::unavailable)?;
    let mut answers = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        answers.push(match o {
            Outcome::Created(d) => Answer::Created(d),
            Outcome::Duplicate(s) => Answer::Stored(s),
            Outcome::Conflict(posted) => match conflict(&state, &posted).await {
                Ok(stored) => Answer::Stored(stored),
                Err(message) => Answer::Conflict(message),
            },
        });
    }
    if !batch {
        return Ok(match answers.into_iter().next() {
            Some(Answer::Created(d)) => (StatusCode::CREATED, json_text(d)).into_response(),
            Some(Answer::Stored(s)) => (StatusCode::OK, Json(s.decision)).into_response(),
            Some(Answer::Conflict(m)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", m).into_response()
            }
            None => ApiError::new(StatusCode::CONFLICT, "conflict", CONFLICT).into_response(),
        });
    }
    // `{"results": [...]}`, written around the decisions' text as it is.
    let mut created = 0;
    // Sized once: the decisions are most of it, and growing a string of
    // tens of kilobytes by doubling costs a fresh allocation each time.
    let size = answers
        .iter()
        .map(|o| match o {
            Answer::Created(d) => d.len() + 32,
            _ => 256,
        })
        .sum::<usize>();
    let mut out = String::with_capacity(size + 16);
    out.push_str("{\"results\":[");
    for (i, o) in answers.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match o {
            Answer::Created(d) => {
                created += 1;
                out.push_str("{\"status\":201,\"decision\":");
                out.push_str(&d);
                out.push('}');
            }
            Answer::Stored(s) => {
                out.push_str(&json!({"status": 200, "decision": s.decision}).to_string());
            }
            // The shape of the error a single post gets.
            Answer::Conflict(m) => out.push_str(
                &json!({"status": 409, "error": {"code": "conflict", "message": m}}).to_string(),
            ),
        }
    }
    out.push_str("]}");
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, json_text(out)).into_response())
}

/// Whether the request says its body is JSON (`application/json`, or a
/// `+json` type), as axum's `Json` asks.
fn says_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// A response body that is JSON text already.
fn json_text(body: String) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

/// `POST /v1/route`: the decision for an event, without storing it.
pub async fn route(
    State(state): State<AppState>,
    json: Result<Json<Unique>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let v = body(json)?;
    if v.get("events").is_some() && v.get("id").is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            "`/v1/route` decides one event, not a batch: send the event itself, or post the batch to `/v1/events`",
        ));
    }
    let (ev, _) = validate(&state, v).map_err(|e| {
        let message = match e {
            Invalid::Shape(m) | Invalid::Rule { message: m, .. } => m,
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", message)
    })?;
    let policy = state.policy.load_full();
    let history = state
        .history
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let d = decide(
        &policy,
        &ev,
        &Context {
            history: &*history,
            reopened: 0,
        },
    );
    Ok(Json(d.to_value(&policy)))
}

/// `GET /v1/events/{id}`: event, decision, case and its full history.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = state
        .store
        .get_event(&id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::no_event(&id))?;
    let history = state
        .store
        .journal_for(&id)
        .await
        .map_err(ApiError::unavailable)?;
    let mut answer = json!({
        "id": stored.id,
        "event": stored.event,
        "decision": stored.decision,
        "state": stored.case.state,
        "case": stored.case,
        "version": stored.version,
        "received_at": stored.received_at,
    });
    super::zone::local_instants(&mut answer, &state.policy.load());
    // The history as stored, in UTC: as `/v1/stream` and the webhooks
    // send the very same entries.
    answer["history"] = json!(history);
    Ok(Json(answer))
}

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    state: Option<String>,
    unit: Option<String>,
    department: Option<String>,
    overdue: Option<bool>,
    /// Signed, so that `-1` gets the range, not a parser's complaint.
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/events?state=&unit=&department=&overdue=true&limit=&cursor=`
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    if let Some(s) = &p.state
        && !["reported", "dispatched", "accepted", "resolved", "closed"].contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("unknown state `{s}`: use reported, dispatched, accepted, resolved or closed"),
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "`limit` is from 1 to 1000",
        ));
    }
    let q = ListQuery {
        state: p.state,
        unit: p.unit,
        department: p.department,
        overdue_at: p.overdue.unwrap_or(false).then(Timestamp::now),
        limit: usize::try_from(limit).unwrap_or(1000),
        cursor: p.cursor,
    };
    let page = state.store.list_events(&q).await.map_err(|e| {
        // A cursor this server never gave out is the client's mistake.
        if q.cursor.is_some() && e.0.contains("cursor") {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.0)
        } else {
            ApiError::unavailable(e)
        }
    })?;
    // Nothing found for a department the policy in force does not know is
    // a misspelt name, not an answer (one dropped from the policy still
    // finds the events stored under it).
    if page.events.is_empty()
        && let Some(d) = &q.department
    {
        let policy = state.policy.load();
        let by_name_alone = ListQuery {
            state: None,
            unit: None,
            department: Some(d.clone()),
            overdue_at: None,
            limit: 1,
            cursor: None,
        };
        if policy.dept_id(d).is_none()
            && state
                .store
                .list_events(&by_name_alone)
                .await
                .is_ok_and(|p| p.events.is_empty())
        {
            let known = policy.departments.iter().map(|x| &*x.name);
            let hint = match whistle_engine::compile::suggest::closest(d, known) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => String::new(),
            };
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!(
                    "unknown department `{d}`: the policy in force has none by that name, and no stored event names it{hint}"
                ),
            ));
        }
    }
    let mut answer = json!({
        "events": page.events.iter().map(|s| json!({
            "id": s.id, "state": s.case.state, "category": s.event.category,
            "grade": s.case.grade, "level": s.case.level, "unit": s.case.unit,
            "lead": s.case.lead, "respond_by": s.case.respond_by, "resolve_by": s.case.resolve_by,
        })).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    });
    super::zone::local_instants(&mut answer, &state.policy.load());
    Ok(Json(answer))
}

/// What each action's body holds, for its errors.
fn action_fields(verb: &str) -> &'static str {
    match verb {
        "accept" => "an optional `by` (text)",
        "resolve" => "an optional `note` (text)",
        "reopen" => "an optional `reason` (text)",
        "reassign" => "`unit` (an area id) and/or `lead` (a department), as text",
        "whistle" => "`departments`: a list of department names",
        "ack" => "`department`: the name of a summoned department",
        "feedback" => "`rating` (a whole number, 1 to 5) and an optional `comment` (text)",
        _ => "no fields",
    }
}

/// `POST /v1/events/{id}/{action}`: moves a case.
pub async fn act(
    State(state): State<AppState>,
    ApiPath((id, verb)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    if !VERBS.contains(&verb.as_str()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("unknown action `{verb}`: use {}", VERBS.join(", ")),
        ));
    }
    let body = body?;
    // No body is fine for actions that take no fields, whatever the
    // content type says; a body is JSON, said so, or refused (read as
    // nothing, its fields would be lost without a word).
    let mut fields = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if !says_json(&headers) {
        return Err(JsonRejection::from(MissingJsonContentType::default()).into());
    } else {
        // Unique keys, as in an event: `{"rating":5,"rating":1}` is not
        // decided by its last value without a word.
        Json::<Unique>::from_bytes(&body).map(|Json(v)| v.0)?
    };
    let Some(obj) = fields.as_object_mut() else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "the body must be a JSON object",
        ));
    };
    obj.insert("action".into(), Value::String(verb.clone()));
    let action: Action = serde_json::from_value(fields).map_err(|e| {
        // serde names Rust's types and, through the tagged enum, no field:
        // say what the action takes instead.
        let said = e
            .to_string()
            .replace("expected u8", "expected a whole number");
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("`{verb}`: {said}; it takes {}", action_fields(&verb)),
        )
    })?;
    // A reassignment naming nothing is a body missing its fields (422),
    // not a conflict with the event's state.
    if let Action::Reassign {
        unit: None,
        lead: None,
    } = &action
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "`reassign` names what changes: it takes {}",
                action_fields("reassign")
            ),
        ));
    }
    let changed = change_case(&*state.store, &state.history, &id, |case, now, history| {
        // The policy of each attempt: a reload meanwhile is taken.
        let policy = state.policy.load_full();
        apply(&policy, case, action.clone(), now, history)
            .map(Some)
            .map_err(|r| {
                let status = if r.code.is_conflict() {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                ApiError::new(status, "refused", r.message.clone())
                    .with_details(json!({"reason": r.code.as_str(), "state": r.state}))
            })
    })
    .await?;
    match changed {
        Changed::Stored {
            version,
            case,
            transitions,
        } => {
            state.announce(&id, &case, &transitions);
            let mut answer =
                json!({"id": id, "state": case.state, "version": version, "case": case});
            super::zone::local_instants(&mut answer, &state.policy.load());
            answer["transitions"] = json!(transitions);
            Ok(Json(answer))
        }
        Changed::Missing => Err(ApiError::no_event(&id)),
        // Not from `apply`, whose answer is always stored, even with no
        // transition; answered as a case that changed under the request.
        Changed::Busy | Changed::Nothing => Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            "the event kept changing under this request; retry",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reports_from_the_future_or_before_1970_are_refused() {
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(plausible_time(at("2026-12-06T10:59:59Z"), now).is_ok());
        assert!(plausible_time(at("1970-01-01T00:00:00Z"), now).is_ok());
        let e = plausible_time(at("2926-12-06T10:00:00Z"), now).unwrap_err();
        assert!(
            e.contains("ahead of the server's clock (2026-12-06T10:00:00Z)"),
            "{e}"
        );
        assert!(plausible_time(at("2026-12-06T11:00:01Z"), now).is_err());
        let e = plausible_time(at("0001-01-01T00:00:00Z"), now).unwrap_err();
        assert!(e.contains("before 1970"), "{e}");
    }
}
