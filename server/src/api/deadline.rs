//! A deadline for a request's whole body (`body_timeout_ms`). Hyper's
//! timers and tower-http's body timeout measure the gaps between bytes, so
//! a client sending a byte every few seconds could hold a connection and
//! a request open for hours; here the body is read to its end, within
//! `body_limit`, before the handler runs, or the request is answered.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;

/// How long a body may take, and how large it may be.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    /// From the first byte after the headers to the last.
    pub deadline: Duration,
    /// Bytes.
    pub limit: usize,
}

/// The answer to a body over `limit` bytes.
fn too_large(limit: usize) -> Response {
    super::error::closing(
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {limit} bytes (`body_limit`)"),
        )
        .into_response(),
    )
}

/// Reads the body whole under [`BodyRules`], then runs the handler on it.
pub async fn whole_body(State(rules): State<BodyRules>, req: Request, next: Next) -> Response {
    // Only a request with a body is read by its encoding.
    let bodiless = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !bodiless && let Some(refused) = unreadable_encoding(req.headers()) {
        return super::error::closing(refused.into_response());
    }
    // A body declared too large is refused before a byte of it is read:
    // a client that sent `Expect: 100-continue` is not told to go on and
    // upload it first.
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > rules.limit as u64) {
        return too_large(rules.limit);
    }
    let (parts, body) = req.into_parts();
    let read =
        tokio::time::timeout(rules.deadline, Limited::new(body, rules.limit).collect()).await;
    match read {
        Ok(Ok(collected)) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => too_large(rules.limit),
        Ok(Err(e)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the request body could not be read: {e}"),
        )
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body did not arrive within {} ms (`body_timeout_ms`)",
                rules.deadline.as_millis()
            ),
        )
        .into_response(),
    }
}

/// A body the server could only misread: compressed (`Content-Encoding`),
/// or declared in a character set other than UTF-8, JSON's (RFC 8259).
/// Said as such, not as the JSON syntax error it would come out as.
fn unreadable_encoding(headers: &axum::http::HeaderMap) -> Option<ApiError> {
    if let Some(v) = headers.get(axum::http::header::CONTENT_ENCODING) {
        let v = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
        if !v.eq_ignore_ascii_case("identity") {
            return Some(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_encoding",
                format!("`Content-Encoding: {v}` is not taken: send the body uncompressed"),
            ));
        }
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())?;
    let charset = content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    })?;
    (!charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8")).then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            format!("`charset={charset}` is not taken: JSON is read as UTF-8 (RFC 8259)"),
        )
    })
}
