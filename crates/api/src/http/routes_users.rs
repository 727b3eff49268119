//! `POST /v1/users`, `GET /v1/users`, `PATCH /v1/users/{id}` and
//! `POST /v1/users/{id}/reset-password`: account management, for admins.

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
    /// The agency, by key (`education-bureau`) or exact name (`洛阳市教育局`):
    /// required for `agency_user`, optional for `manager`, absent otherwise.
    #[schema(max_length = 64)]
    pub agency: Option<String>,
    /// Where alerts go: one address, `name@example.org`.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// The name people know them by, shown beside what they did: one line.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF]*$"
    )]
    pub display_name: Option<String>,
    /// 12 to 1024 characters, not blank, not one character repeated, not
    /// containing the username, not a commonly used password.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// A new role. Changing it revokes the account's tokens.
    pub role: Option<Role>,
    /// A new agency, by key or exact name, or `null` to unbind. Changing it revokes the account's tokens.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub agency: Option<Option<String>>,
    /// A new email, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub email: Option<Option<String>>,
    /// A new display name, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF]*$")]
    pub display_name: Option<Option<String>>,
    /// A new password (the rules of `POST /v1/users`). Setting it revokes the
    /// account's tokens; set for someone else, it must be changed by its
    /// owner at the next sign-in.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: Option<String>,
    /// `false` deactivates the account: its tokens are revoked, it cannot
    /// sign in and receives no alerts, and its history stays. `true`
    /// reactivates it.
    pub active: Option<bool>,
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
    /// The name people know them by.
    pub display_name: Option<String>,
    /// False once deactivated.
    pub active: bool,
    /// True while the password must be changed at the next sign-in.
    pub must_change_password: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role.as_str().to_owned(),
            agency: u.agency,
            email: u.email,
            display_name: u.display_name,
            active: u.active,
            must_change_password: u.must_change_password,
        }
    }
}

/// A password the service generated, shown once.
#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    /// The account, which must change this password at its next sign-in.
    pub user: UserView,
    /// The new password: hand it over; it is not shown again.
    pub password: String,
}

impl std::fmt::Debug for PasswordReset {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset").field("user", &self.user.username).finish_non_exhaustive()
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(update)).routes(routes!(reset_password))
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
        display_name: req.display_name,
        password: req.password,
        must_change_password: false,
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

/// Change an account (admins only). A change of role, agency or password,
/// or a deactivation (`"active": false`), revokes every token the account
/// holds, at once; a deactivated account cannot sign in and receives no
/// alerts until it is reactivated (`"active": true`).
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
    let change = UserChange {
        role: req.role,
        agency: req.agency,
        email: req.email,
        display_name: req.display_name,
        password: req.password,
        active: req.active,
    };
    Ok(Json(accounts::update(&state, &caller, id, change).await?.into()))
}

/// Give an account a new generated password (admins only), shown once in
/// the answer. Every token it holds is revoked, and its owner must change
/// the password at the next sign-in before doing anything else.
#[utoipa::path(post, path = "/v1/users/{id}/reset-password", tag = TAG_USERS, security(("bearer" = [])),
    operation_id = "reset_password",
    params(("id" = Uuid, Path, description = "account id")),
    responses(
        (status = 200, body = PasswordReset),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<Json<PasswordReset>> {
    let (user, password) = accounts::reset_password(&state, &caller, id).await?;
    Ok(Json(PasswordReset { user: user.into(), password }))
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
