//! `POST /v1/users` and `GET /v1/users`: account management, for admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_USERS;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppJson, admin_only};
use crate::domain::access::{Caller, Role};
use crate::state::AppState;
use crate::store::entities::user;
use crate::store::users::{self, NewUser, UserError};

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
    pub agency: Option<String>,
    /// Where alerts go.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// 12 to 1024 characters.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
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

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        Self { id: u.id, username: u.username, role: u.role, agency: u.agency_key, email: u.email }
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list))
}

/// Map account errors to problems.
pub(crate) fn user_error(e: UserError) -> ApiError {
    match e {
        UserError::Taken(name) => ApiError::new(Code::Conflict, format!("username \"{name}\" is taken")),
        UserError::Invalid(msg) => ApiError::invalid(msg),
        UserError::Db(e) => e.into(),
    }
}

/// Create an account (admins only).
#[utoipa::path(post, path = "/v1/users", tag = TAG_USERS, security(("bearer" = [])), request_body = CreateUser,
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
    admin_only(&caller, "manage accounts")?;
    let new = NewUser {
        username: req.username,
        role: req.role,
        agency: req.agency,
        email: req.email,
        password: req.password,
    };
    users::validate(&new, |a| state.catalog.agency(a).is_some()).map_err(user_error)?;
    let created = users::create(&state.db, new, state.clock.now().unix()).await.map_err(user_error)?;
    tracing::info!(username = %created.username, role = %created.role, by = %caller.username, "account created");
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Every account (admins only).
#[utoipa::path(get, path = "/v1/users", tag = TAG_USERS, security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<UserView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    admin_only(&caller, "manage accounts")?;
    Ok(Json(users::list(&state.db).await?.into_iter().map(Into::into).collect()))
}

impl std::fmt::Debug for CreateUser {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser").field("username", &self.username).finish_non_exhaustive()
    }
}
