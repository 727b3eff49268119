//! Extractors whose rejections speak problem+json, and the bearer-token caller.

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::error::{ApiError, Code};
use crate::domain::access::Caller;
use crate::state::AppState;
use crate::store::users;

/// `axum::Json`, rejecting with our problem format.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, rejecting with our problem format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Path`, rejecting with our problem format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// The bearer token of a request, as sent.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty() && t.len() <= 512)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::new(Code::Unauthorized, "send Authorization: Bearer <token>"))?;
        let now = state.clock.now().unix();
        let hash = users::token_hash(token);
        if let Some(caller) = state.callers.get(&hash, now) {
            return Ok(caller);
        }
        let (caller, expires_at) = users::caller_for_token(&state.db, &hash, now)
            .await?
            .ok_or_else(|| ApiError::new(Code::Unauthorized, "the token is unknown, expired or revoked"))?;
        state.callers.put(hash, caller.clone(), expires_at);
        Ok(caller)
    }
}

impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if bearer(parts).is_none() {
            return Ok(None);
        }
        <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
    }
}

/// Refuse anyone but an admin, saying what they tried.
pub(crate) fn admin_only(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.role == crate::domain::access::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("only admins {what}")))
    }
}
