//! One error shape for every API failure: `{"error": {"code", "message"}}`
//! with the right status. A client's mistake is a 4xx that says what is
//! wrong; internals never leak.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    /// More, where it helps (per-item errors of a batch, a refusal's state).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(details);
        self
    }

    /// 404 for an unknown event.
    pub fn no_event(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no event with id `{id}`"),
        )
    }

    /// 503 for a store failure: not the client's fault, and worth a retry.
    pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("{e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the event store is unavailable; retry later",
        )
    }
}

/// The longest message an error carries (bytes): one that quotes what the
/// client sent (a cursor, an id) quotes no more than this of it.
const MAX_MESSAGE: usize = 1024;

/// `message`, cut to [`MAX_MESSAGE`] bytes at a character's edge, with `…`
/// where it was cut.
fn shortened(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// serde's words for the types it wanted, in JSON's: a client reads
/// "expected a JSON object", not the server's "expected struct DraftBody".
fn plain_types(said: &str) -> String {
    static TYPES: std::sync::LazyLock<Option<[(regex::Regex, &'static str); 8]>> =
        std::sync::LazyLock::new(|| {
            let r = |p: &str| regex::Regex::new(p).ok();
            Some([
                (r(r"expected (struct|enum) \w+")?, "expected a JSON object"),
                (
                    r(r"expected (u8|u16|u32|u64|usize)\b")?,
                    "expected a whole number, 0 or more",
                ),
                (
                    r(r"expected (i8|i16|i32|i64|isize)\b")?,
                    "expected a whole number",
                ),
                (r(r"expected (f32|f64)\b")?, "expected a number"),
                (r(r"expected a sequence\b")?, "expected an array"),
                (r(r"expected a map\b")?, "expected an object"),
                (r(r"invalid type: sequence\b")?, "invalid type: array"),
                (r(r"invalid type: map\b")?, "invalid type: object"),
            ])
        });
    let mut out = said.to_string();
    if let Some(types) = TYPES.as_ref() {
        for (re, plain) in types {
            out = re.replace_all(&out, *plain).into_owned();
        }
    }
    out
}

/// Every `error` and `message` string in `v` cut as a message is (a
/// batch's per-event errors quote what each event sent). Other strings,
/// such as a rollout's rendered diagnostics, are kept whole.
fn shorten_all(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Array(items) => items.iter_mut().for_each(shorten_all),
        serde_json::Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match field {
                    serde_json::Value::String(s) if key == "error" || key == "message" => {
                        *s = shortened(std::mem::take(s));
                    }
                    _ => shorten_all(field),
                }
            }
        }
        _ => {}
    }
}

/// `response` with `Connection: close`: for an answer given before the
/// request's body was read, after which the server closes the connection.
/// Said, a client does not send its next request on it and find it closed.
pub fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = shortened(plain_types(&self.message));
        let mut body = json!({"error": {"code": self.code, "message": message}});
        if let Some(mut d) = self.details {
            shorten_all(&mut d);
            body["error"]["details"] = d;
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r {
            JsonRejection::JsonDataError(e) => {
                // The field and what is wrong with it, without axum's
                // preamble about target types.
                let text = e.body_text();
                let said = text
                    .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                    .unwrap_or(&text);
                // In JSON's words when it is sent (`into_response`).
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", said)
            }
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "send JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) => e.into(),
            other => ApiError::new(other.status(), "bad_request", other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> ApiError {
        // A body that stopped arriving: the request timed out, the client
        // is not at fault for its syntax.
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request body did not arrive in time (`body_timeout_ms`)",
                );
            }
            cause = c.source();
        }
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "too_large",
                "the request body is larger than the configured limit",
            )
        } else {
            ApiError::new(status, "bad_body", e.body_text())
        }
    }
}
