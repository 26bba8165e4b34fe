//! The policy editor page (`editor-ui/`), embedded in the binary so that a
//! server needs no files besides its bundle and its data directory.
//!
//! The page is static; everything it shows comes from the API with the
//! token the officer types in, so it needs no access rule of its own.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../../editor-ui/index.html");
const SCRIPT: &str = include_str!("../../../editor-ui/editor.js");
const STYLE: &str = include_str!("../../../editor-ui/editor.css");

/// Only this server's own script, style and API: the page shows policy
/// text and diagnostics, so nothing it renders may run or load anything.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // A new binary may ship a new page: always revalidate.
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
            (
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /editor`: the page.
pub async fn page() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `GET /editor/editor.js`.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /editor/editor.css`.
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `GET /`: a browser pointed at the server lands on the editor.
pub async fn home() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, HeaderValue::from_static("/editor"))],
    )
        .into_response()
}
