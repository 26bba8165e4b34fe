//! The HTTP API (JSON, versioned under `/v1`; described by
//! `/v1/openapi.json`). [`app`] builds the router, so tests can drive it
//! without a socket.

pub mod assess;
pub mod auth;
mod change;
pub mod deadline;
pub mod editor;
pub mod error;
pub mod events;
pub mod object;
pub mod ops;
pub mod path;
pub mod policy;
pub mod simulate;
pub mod zone;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::state::AppState;
use error::ApiError;

/// What a server answers while it starts (the store read, the timers and
/// windows rebuilt): up, not ready, come back in a moment.
pub fn starting() -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::starting))
        .fallback(|| async {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "starting",
                "the server is starting (reading the store, arming the timers); try again in a moment",
            )
            .into_response();
            e.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            e
        })
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let rules = deadline::BodyRules {
        deadline: std::time::Duration::from_millis(state.config.body_timeout_ms),
        limit,
    };
    let whole_body = from_fn_with_state(rules, deadline::whole_body);
    let read = Router::new()
        .route("/v1/events", get(events::list))
        .route("/v1/events/{id}", get(events::get))
        .route("/v1/stream", get(ops::stream))
        .route("/v1/route", post(events::route))
        .route("/v1/assessment", get(assess::assessment))
        .route("/v1/alerts", get(assess::alerts))
        .route("/v1/policy", get(policy::active))
        .route("/v1/policy/status", get(policy::status))
        .route("/v1/policy/versions", get(policy::versions))
        .route("/v1/policy/versions/{hash}", get(policy::version))
        .route("/v1/simulate/{job}", get(simulate::status))
        .route("/v1/simulate/{job}/report.html", get(simulate::report_html))
        .route("/v1/whoami", get(ops::whoami))
        .layer(whole_body.clone())
        .layer(from_fn_with_state(state.clone(), auth::any));
    let report = Router::new()
        .route("/v1/events", post(events::post))
        .layer(whole_body.clone())
        .layer(from_fn_with_state(state.clone(), auth::reporter));
    let handle = Router::new()
        .route("/v1/events/{id}/{action}", post(events::act))
        .layer(whole_body.clone())
        .layer(from_fn_with_state(state.clone(), auth::handler));
    let officer = Router::new()
        .route("/v1/policy/reload", post(policy::reload))
        .route("/v1/policy/rollout", post(policy::rollout))
        .route("/v1/policy/rollback/{hash}", post(policy::rollback))
        .route("/v1/policy/preview", post(policy::preview))
        .route("/v1/policy/check", post(policy::check))
        .route("/v1/policy/redecide", post(policy::redecide))
        .route("/v1/simulate", post(simulate::start))
        .layer(whole_body.clone())
        .layer(from_fn_with_state(state.clone(), auth::officer));
    Router::new()
        .merge(read)
        .merge(officer)
        .merge(report)
        .merge(handle)
        .route("/v1/openapi.json", get(ops::openapi))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(editor::home))
        .route("/editor", get(editor::page))
        // A typed or bookmarked trailing slash finds the page too.
        .route("/editor/", get(editor::home))
        .route("/editor/editor.js", get(editor::script))
        .route("/editor/editor.css", get(editor::style))
        // After every route: it applies to the routes registered before it.
        // axum still sets the `Allow` header.
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            // `/v1/events/{id}/{x}` is only an action when `x` is one: an
            // id with an unencoded `/` (`a/b`) or a mistyped action is no
            // endpoint at all, whatever the method.
            if let Some(rest) = uri.path().strip_prefix("/v1/events/")
                && let Some((_, last)) = rest.split_once('/')
                && !events::VERBS.contains(&last)
            {
                return ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!(
                        "no such endpoint: `{last}` is not an action on an event ({}); an event id holding `/` is written `%2F`",
                        events::VERBS.join(", ")
                    ),
                );
            }
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "`{method}` is not allowed on {}; see /v1/openapi.json",
                    uri.path()
                ),
            )
        })
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(simulate::Jobs::default()))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn ask(path: &str) -> (StatusCode, Option<String>, String) {
        let answer = starting()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = answer.status();
        let retry = answer
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, retry, String::from_utf8(body.to_vec()).unwrap())
    }

    /// While the store is read, a probe sees the process up and not
    /// ready, and a client is told to come back, not refused a connection.
    #[tokio::test]
    async fn a_starting_server_is_up_not_ready_and_says_so() {
        assert_eq!(ask("/healthz").await.0, StatusCode::OK);
        let (status, _, body) = ask("/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains(r#""status":"starting""#), "{body}");
        let (status, retry, body) = ask("/v1/events").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(body.contains(r#""code":"starting""#), "{body}");
    }
}
