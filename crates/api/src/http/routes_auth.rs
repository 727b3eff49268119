//! `POST /v1/auth/token` and `DELETE /v1/auth/token`.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::TAG_AUTH;
use super::error::{ApiResult, Problem};
use super::extract::{AppJson, SignedIn, bearer};
use super::limits;
use crate::domain::access::Caller;
use crate::service::accounts;
use crate::state::AppState;

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

/// A change of one's own password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    #[schema(max_length = 1024)]
    pub current_password: String,
    /// The new one: 12 to 1024 characters, not blank, not one character
    /// repeated, not containing the username, not a commonly used password,
    /// and not the current one.
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    // Never print passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue, revoke)).routes(routes!(change_password))
}

/// Change your own password. Every token of the account is revoked, this
/// one included: sign in again with the new password. A password the
/// service generated (the first admin's, one from `itsm user add`, an
/// admin's reset) or an admin set must be changed this way before the
/// token allows anything else. A wrong current password counts as a failed
/// sign-in of the account from this address.
#[utoipa::path(post, path = "/v1/auth/password", tag = TAG_AUTH, security(("bearer" = [])), request_body = PasswordChange,
    operation_id = "change_password",
    responses(
        (status = 204, description = "changed; every token of the account is revoked"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the current password is wrong, or the new one breaks a rule"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    AppJson(req): AppJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    // 422 for a wrong current password, not 401: the token is fine, and a
    // client must not take this for a signal to drop its session.
    let address = limits::client_ip(&state, &headers, peer.map(|p| p.0.0));
    accounts::change_password(&state, &caller, &req.current_password, req.new_password, address).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchange a username and password for a bearer token. After five failures
/// for one account from one address (the defaults), that pair is refused
/// for a while; after twenty failures from one address, the address is;
/// after twenty failures for one account from all addresses together,
/// each attempt on it is slowed, but the right password still works.
#[utoipa::path(post, path = "/v1/auth/token", operation_id = "issue_token", tag = TAG_AUTH, request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "wrong username or password"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "the account is deactivated"),
        (status = 429, body = Problem, content_type = "application/problem+json",
            description = "too many failed sign-ins for this account from this address, or from this address; the body and Retry-After say when to try again"),
    ))]
async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    AppJson(req): AppJson<TokenRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let address = limits::client_ip(&state, &headers, peer.map(|p| p.0.0));
    let issued = accounts::sign_in(&state, &req.username, &req.password, address).await?;
    Ok(axum::Json(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
    }))
}

/// Revoke the token this request is made with.
#[utoipa::path(delete, path = "/v1/auth/token", operation_id = "revoke_token", tag = TAG_AUTH, security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke(State(state): State<AppState>, _caller: Caller, parts: Parts) -> ApiResult<StatusCode> {
    accounts::revoke_token(&state, bearer(&parts).unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl std::fmt::Debug for TokenRequest {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest").field("username", &self.username).finish_non_exhaustive()
    }
}
