//! `POST /v1/users`, `GET /v1/users` and `PATCH /v1/users/{id}`: account management, for admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_USERS;
use super::error::{ApiResult, Problem};
use super::extract::{AppJson, AppPath};
use crate::domain::access::{Caller, Role};
use crate::domain::account::{NewUser, User, UserChange};
use crate::service::accounts;
use crate::state::AppState;

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 1 to 64 letters, digits or `. _ - @`.
    #[schema(max_length = 64)]
    pub username: String,
    /// Role.
    pub role: Role,
    /// Agency key: required for `agency_user`, optional for `manager`, absent otherwise.
    #[schema(max_length = 64)]
    pub agency: Option<String>,
    /// Where alerts go.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// 12 to 1024 characters.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// A new role. Changing it revokes the account's tokens.
    pub role: Option<Role>,
    /// A new agency key, or `null` to unbind. Changing it revokes the account's tokens.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub agency: Option<Option<String>>,
    /// A new email, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub email: Option<Option<String>>,
    /// A new password (12 to 1024 characters). Setting it revokes the account's tokens.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: Option<String>,
}

/// A field that is present, possibly `null`: `Some(None)`, told apart from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An account (never its password).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Agency key, if bound to one.
    pub agency: Option<String>,
    /// Email.
    pub email: Option<String>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role.as_str().to_owned(),
            agency: u.agency,
            email: u.email,
        }
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(update))
}

/// Create an account (admins only).
#[utoipa::path(post, path = "/v1/users", operation_id = "create_user", tag = TAG_USERS, security(("bearer" = [])), request_body = CreateUser,
    responses(
        (status = 201, body = UserView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let new = NewUser {
        username: req.username,
        role: req.role,
        agency: req.agency,
        email: req.email,
        password: req.password,
    };
    let created = accounts::create(&state, Some(&caller), new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Every account (admins only).
#[utoipa::path(get, path = "/v1/users", operation_id = "list_users", tag = TAG_USERS, security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<UserView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(accounts::list(&state, &caller).await?.into_iter().map(Into::into).collect()))
}

/// Change an account (admins only). A change of role, agency or password
/// revokes every token the account holds, at once.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = TAG_USERS, security(("bearer" = [])), request_body = UpdateUser,
    operation_id = "update_user",
    params(("id" = Uuid, Path, description = "account id")),
    responses(
        (status = 200, body = UserView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let change = UserChange { role: req.role, agency: req.agency, email: req.email, password: req.password };
    Ok(Json(accounts::update(&state, &caller, id, change).await?.into()))
}

impl std::fmt::Debug for UpdateUser {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateUser").field("role", &self.role).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CreateUser {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser").field("username", &self.username).finish_non_exhaustive()
    }
}
