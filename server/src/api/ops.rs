//! Health, readiness, metrics, the OpenAPI document, who a token is and
//! the live stream.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio_stream::StreamExt;

use crate::state::AppState;
use crate::stream::{Delivery, feed};

/// The OpenAPI document of `/v1`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/whoami`: the token's name and roles, so that a client (the
/// editor page) offers only what the token may do.
pub async fn whoami(
    State(s): State<AppState>,
    Extension(who): Extension<super::auth::Principal>,
) -> Json<serde_json::Value> {
    let roles: Vec<&str> = who
        .roles
        .iter()
        .map(|&r| super::auth::role_name(r))
        .collect();
    Json(json!({"token": who.name, "roles": roles, "open": s.auth.is_open()}))
}

/// `GET /readyz`: start-up is done (timers and windows rebuilt) and the
/// store still accepts writes.
pub async fn readyz(State(s): State<AppState>) -> Response {
    if let Some(reason) = s.store.write_failure() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "store_failed", "reason": reason})),
        )
            .into_response();
    }
    if s.ready.load(Ordering::Acquire) {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "policy": &*s.policy.load().hash})),
        )
            .into_response()
    } else {
        starting().await
    }
}

/// `GET /readyz` while the server starts.
pub async fn starting() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "starting"})),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(s): State<AppState>) -> Response {
    if let Ok(n) = s.store.open_count().await {
        metrics::gauge!("whistle_open_events").set(n as f64);
    }
    let text = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /v1/openapi.json`
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /v1/stream`: transitions, escalation steps and alerts as server-sent events.
///
/// Each message's `id` is its number in the order of publication, which
/// keeps growing across restarts (see [`crate::stream::Message::seq`]). A
/// subscriber that fell too far behind loses the oldest and gets a
/// `lagged` event saying how many (`GET /v1/events` has them all). The
/// stream ends when the server stops.
pub async fn stream(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    // A client reconnecting with `Last-Event-ID` expects what it missed;
    // the stream does not replay, so it is told it lost an unknown number
    // rather than left to believe it lost none.
    let resumed = headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|id| {
            Ok(Event::default().event("lagged").data(
                json!({
                    "missed": null,
                    "last_event_id": id,
                    "replay": false,
                    "message": "this stream does not replay what was published while you were away: read it from GET /v1/events and GET /v1/alerts (webhooks lose nothing)",
                })
                .to_string(),
            ))
        });
    let events = feed(&s.hub).map(|d| {
        Ok(match d {
            Delivery::Message(m) => Event::default()
                .id(m.seq.to_string())
                .event(&*m.kind)
                .data(&*m.json),
            Delivery::Lagged(n) => Event::default()
                .event("lagged")
                .data(json!({ "missed": n }).to_string()),
        })
    });
    let events = tokio_stream::iter(resumed).chain(events);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
