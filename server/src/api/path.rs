//! [`ApiPath`]: axum's `Path`, whose rejection (a segment that is not
//! UTF-8 once percent-decoded, say) is the API's JSON error, not plain text.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The path's parameters, as `Path<T>`.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(ApiPath(t)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_path",
                e.body_text(),
            )),
        }
    }
}
