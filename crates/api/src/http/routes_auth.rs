//! `POST /v1/auth/token` and `DELETE /v1/auth/token`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::TAG_AUTH;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppJson, bearer};
use crate::domain::access::Caller;
use crate::state::AppState;
use crate::store::users;

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Login name.
    #[schema(max_length = 64)]
    pub username: String,
    /// Password.
    #[schema(max_length = 1024)]
    pub password: String,
}

/// A bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue, revoke))
}

/// Exchange a username and password for a bearer token.
#[utoipa::path(post, path = "/v1/auth/token", tag = TAG_AUTH, request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "wrong username or password"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
async fn issue(
    State(state): State<AppState>,
    AppJson(req): AppJson<TokenRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    if req.username.len() > 256 || req.password.len() > 1024 {
        return Err(ApiError::new(Code::InvalidCredentials, "wrong username or password"));
    }
    let Some(user) = users::authenticate(&state.db, &req.username, &req.password).await? else {
        // One message for unknown users and wrong passwords: no enumeration.
        return Err(ApiError::new(Code::InvalidCredentials, "wrong username or password"));
    };
    let ttl = state.settings.token_ttl_seconds;
    let token = users::issue_token(&state.db, user.id, state.clock.now().unix(), ttl as i64).await?;
    tracing::info!(username = %user.username, "token issued");
    Ok(axum::Json(TokenResponse { access_token: token, token_type: "Bearer".into(), expires_in: ttl }))
}

/// Revoke the token this request is made with.
#[utoipa::path(delete, path = "/v1/auth/token", tag = TAG_AUTH, security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke(State(state): State<AppState>, _caller: Caller, parts: Parts) -> ApiResult<StatusCode> {
    let token = bearer(&parts).unwrap_or_default();
    users::revoke_token(&state.db, token, state.clock.now().unix()).await?;
    state.callers.evict(&users::token_hash(token));
    Ok(StatusCode::NO_CONTENT)
}

impl std::fmt::Debug for TokenRequest {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest").field("username", &self.username).finish_non_exhaustive()
    }
}
