//! The HTTP API (JSON, versioned under `/v1`; described by
//! `/v1/openapi.json`). [`app`] builds the router, so tests can drive it
//! without a socket.

pub mod assess;
pub mod auth;
pub mod deadline;
pub mod editor;
pub mod error;
pub mod events;
pub mod ops;
pub mod path;
pub mod policy;
pub mod simulate;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::state::AppState;
use error::ApiError;

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
