//! Bearer tokens with roles. Tokens are stored as their SHA-256 and
//! compared in constant time; 401 without a valid token, 403 for the wrong
//! role. With no tokens configured every request is let through (the
//! server then listens on loopback only).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{Role, TokenConfig};
use crate::state::AppState;

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's name (`open` without tokens).
    pub name: String,
    /// The roles its token grants (every role without tokens).
    pub roles: Vec<Role>,
}

/// Every role, in the order they are listed.
const ALL_ROLES: [Role; 4] = [Role::Reporter, Role::Handler, Role::Officer, Role::Viewer];

/// The configured tokens.
#[derive(Debug, Default)]
pub struct Auth {
    tokens: Vec<([u8; 32], String, Vec<Role>)>,
}

impl Auth {
    /// From the config's tokens (hashes already validated by the config).
    pub fn new(tokens: &[TokenConfig]) -> Auth {
        Auth {
            tokens: tokens
                .iter()
                .filter_map(|t| {
                    let bytes = hex::decode(&t.sha256).ok()?;
                    let hash: [u8; 32] = bytes.try_into().ok()?;
                    Some((hash, t.name.clone(), t.roles.clone()))
                })
                .collect(),
        }
    }

    /// Whether the server runs without tokens.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Checks an `Authorization` header for a role (`None`: any valid token).
    pub fn check(&self, header: Option<&str>, role: Option<Role>) -> Result<Principal, ApiError> {
        if self.is_open() {
            return Ok(Principal {
                name: "open".into(),
                roles: ALL_ROLES.to_vec(),
            });
        }
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send `Authorization: Bearer <token>`",
            )
        };
        // The scheme's name is case-insensitive (RFC 9110, section 11.1).
        let token = header
            .and_then(|h| h.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or_else(unauthorized)?;
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        // Compare with every token so the time taken says nothing about which matched.
        let mut found = None;
        for (hash, name, roles) in &self.tokens {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some((name, roles));
            }
        }
        let (name, roles) = found.ok_or_else(unauthorized)?;
        match role {
            Some(r) if !roles.contains(&r) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("token `{name}` lacks the `{}` role", role_name(r)),
            )),
            _ => Ok(Principal {
                name: name.clone(),
                // In one order whatever the config's, for a stable answer.
                roles: ALL_ROLES
                    .into_iter()
                    .filter(|r| roles.contains(r))
                    .collect(),
            }),
        }
    }
}

/// A role as the config and the API write it.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Reporter => "reporter",
        Role::Handler => "handler",
        Role::Officer => "officer",
        Role::Viewer => "viewer",
    }
}

async fn guard(
    state: &AppState,
    mut req: Request,
    next: Next,
    role: Option<Role>,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // A refusal comes before the body is read: the connection closes.
    let who = match state.auth.check(header, role) {
        Ok(who) => who,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let mut r = e.into_response();
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            return Ok(super::error::closing(r));
        }
        Err(e) => return Ok(super::error::closing(e.into_response())),
    };
    req.extensions_mut().insert(who);
    Ok(next.run(req).await)
}

/// Middleware: any valid token.
pub async fn any(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    guard(&s, req, next, None).await
}

/// Middleware: the `reporter` role.
pub async fn reporter(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    guard(&s, req, next, Some(Role::Reporter)).await
}

/// Middleware: the `handler` role.
pub async fn handler(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    guard(&s, req, next, Some(Role::Handler)).await
}

/// Middleware: the `officer` role.
pub async fn officer(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    guard(&s, req, next, Some(Role::Officer)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let hash = hex::encode(Sha256::digest(b"secret"));
        Auth::new(&[TokenConfig {
            name: "app".into(),
            sha256: hash,
            roles: vec![Role::Reporter],
        }])
    }

    #[test]
    fn tokens_and_roles() {
        let a = auth();
        assert_eq!(
            a.check(None, None).map_err(|e| e.status).err(),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            a.check(Some("Bearer nope"), None)
                .map_err(|e| e.status)
                .err(),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert!(a.check(Some("Bearer secret"), Some(Role::Reporter)).is_ok());
        assert!(a.check(Some("bearer secret"), Some(Role::Reporter)).is_ok());
        assert!(
            a.check(Some("BEARER  secret"), Some(Role::Reporter))
                .is_ok()
        );
        assert!(a.check(Some("Basic secret"), Some(Role::Reporter)).is_err());
        assert!(a.check(Some("Bearersecret"), Some(Role::Reporter)).is_err());
        assert_eq!(
            a.check(Some("Bearer secret"), Some(Role::Handler))
                .map_err(|e| e.status)
                .err(),
            Some(StatusCode::FORBIDDEN)
        );
        assert!(Auth::default().check(None, Some(Role::Officer)).is_ok());
    }
}
