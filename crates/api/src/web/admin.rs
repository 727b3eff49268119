//! `/admin/users` and `/admin/outbox`, for admins only (404 for anyone
//! else, as the API hides admin routes): accounts listed, created with a
//! one-time password shown once, deactivated, reactivated and given a new
//! one-time password; dead letters listed and sent again. Every rule is
//! `service::accounts`' or `service::outbox`'s.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Lang, local_time};
use super::error::{PageError, refusal};
use super::session::Viewer;
use crate::domain::access::{Caller, Role};
use crate::domain::account::{NewUser, User, UserChange};
use crate::domain::outbox::{OutboxStatus, QueuedMessage};
use crate::service::{Error, accounts, outbox};
use crate::state::AppState;

/// Dead letters listed at once.
const DEAD_SHOWN: u64 = 100;

/// Admins only: 404 for anyone else.
fn admin(viewer: &Viewer) -> Result<&Caller, PageError> {
    let caller = &viewer.session.caller;
    if caller.role == Role::Admin { Ok(caller) } else { Err(PageError::NotFound) }
}

/// One account as a row.
pub(super) struct UserRow {
    id: Uuid,
    username: String,
    role: &'static str,
    agency: String,
    email: String,
    active: bool,
    me: bool,
}

/// The new account's fields (as sent, to show them again).
#[derive(Debug, Default, Deserialize)]
pub(super) struct NewForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/users.html")]
struct UsersPage {
    c: Chrome,
    rows: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    agencies: Vec<(String, String)>,
    form: NewForm,
    errors: Vec<(&'static str, String)>,
    /// A one-time password just set: (username, password), shown this once.
    issued: Option<(String, String)>,
}

impl UsersPage {
    /// The refusal of `field`, if any.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, t)| t.as_str())
    }
}

fn user_row(state: &AppState, u: User, me: Uuid, lang: Lang) -> UserRow {
    let agency = u.agency.as_deref().map_or_else(String::new, |k| {
        state.catalog.agency(k).map_or_else(|| k.to_owned(), |a| a.name.clone())
    });
    UserRow {
        id: u.id,
        role: lang.role(u.role),
        agency,
        email: u.email.unwrap_or_default(),
        active: u.active,
        me: u.id == me,
        username: u.username,
    }
}

/// The page with every account, the creation form as given, and what to say.
async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    form: NewForm,
    errors: Vec<(&'static str, String)>,
    issued: Option<(String, String)>,
) -> Result<UsersPage, PageError> {
    let caller = admin(viewer)?;
    let lang = viewer.lang;
    let users = accounts::list(state, caller).await?;
    let rows = users.into_iter().map(|u| user_row(state, u, caller.id, lang)).collect();
    let roles = Role::ALL.into_iter().map(|r| (r.as_str(), lang.role(r))).collect();
    let agencies = state.catalog.agencies.iter().map(|a| (a.key.clone(), a.name.clone())).collect();
    Ok(UsersPage { c: Chrome::of(viewer, "/admin/users"), rows, roles, agencies, form, errors, issued })
}

/// `/admin/users`.
pub(super) async fn users(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let form = NewForm { role: Role::AgencyUser.as_str().into(), ..NewForm::default() };
    Ok(users_page(&state, &viewer, form, Vec::new(), None).await?.into_response())
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Create an account with a one-time password, shown once on the page
/// (never in a URL or a redirect); or the form again with what is wrong.
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<NewForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let caller = admin(&viewer)?;
    let lang = viewer.lang;
    let Ok(role) = form.role.parse::<Role>() else {
        let text = lang.t("请选择角色。", "Choose a role.").to_owned();
        let page = users_page(&state, &viewer, form, vec![("role", text)], None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let password = accounts::generate_password()?;
    let new = NewUser {
        username: form.username.trim().to_owned(),
        role,
        agency: optional(&form.agency),
        email: optional(&form.email),
        display_name: optional(&form.display_name),
        password: password.clone(),
        must_change_password: true,
    };
    match accounts::create(&state, Some(caller), new).await {
        Ok(user) => {
            let issued = Some((user.username, password));
            let blank = NewForm { role: form.role, ..NewForm::default() };
            Ok(users_page(&state, &viewer, blank, Vec::new(), issued).await?.into_response())
        }
        Err(e) => refused(&state, &viewer, form, &e).await,
    }
}

/// The form again, with the service's refusal beside its field.
async fn refused(state: &AppState, viewer: &Viewer, form: NewForm, e: &Error) -> Result<Response, PageError> {
    let Some((field, text)) = refusal(e, viewer.lang) else {
        return Err(PageError::Failed(Error::internal(e.to_string())));
    };
    let field = field.filter(|f| ["username", "role", "agency", "email", "display_name"].contains(f));
    let page = users_page(state, viewer, form, vec![(field.unwrap_or("username"), text)], None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// An action on one account.
#[derive(Debug, Deserialize)]
pub(super) struct UserAction {
    action: String,
    #[serde(default)]
    csrf: String,
}

/// Deactivate, reactivate, or reset the password (a one-time password shown once).
pub(super) async fn act_on_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<UserAction>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let caller = admin(&viewer)?;
    let outcome = match form.action.as_str() {
        "deactivate" | "reactivate" => {
            let change = UserChange { active: Some(form.action == "reactivate"), ..UserChange::default() };
            accounts::update(&state, caller, id, change).await.map(|_| None)
        }
        "reset" => accounts::reset_password(&state, caller, id).await.map(|(u, p)| Some((u.username, p))),
        _ => return Err(PageError::NotFound),
    };
    match outcome {
        Ok(None) => Ok(Redirect::to("/admin/users").into_response()),
        Ok(issued @ Some(_)) => {
            Ok(users_page(&state, &viewer, NewForm::default(), Vec::new(), issued).await?.into_response())
        }
        Err(e @ (Error::NotFound(_) | Error::Forbidden(_))) => Err(e.into()),
        Err(e) => {
            let text = refusal(&e, viewer.lang).map(|(_, t)| t).ok_or(PageError::Failed(e))?;
            let page = users_page(&state, &viewer, NewForm::default(), vec![("account", text)], None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// One dead letter as a row.
pub(super) struct LetterRow {
    id: Uuid,
    subject: String,
    kind: String,
    recipients: String,
    attempts: u32,
    error: String,
    queued: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/outbox.html")]
struct OutboxPage {
    c: Chrome,
    rows: Vec<LetterRow>,
    error: Option<String>,
}

fn letter_row(state: &AppState, m: QueuedMessage) -> LetterRow {
    LetterRow {
        id: m.id,
        kind: m.kind,
        recipients: m.recipients.join(", "),
        attempts: m.attempts,
        error: m.last_error.unwrap_or_default(),
        queued: local_time(m.created_at, state.catalog.settings.timezone),
        subject: m.subject,
    }
}

async fn outbox_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
) -> Result<OutboxPage, PageError> {
    let caller = admin(viewer)?;
    let dead = outbox::list(state, caller, Some(OutboxStatus::Dead), DEAD_SHOWN).await?;
    let rows = dead.into_iter().map(|m| letter_row(state, m)).collect();
    Ok(OutboxPage { c: Chrome::of(viewer, "/admin/outbox"), rows, error })
}

/// `/admin/outbox`: the dead letters, newest first.
pub(super) async fn dead_letters(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    Ok(outbox_page(&state, &viewer, None).await?.into_response())
}

/// The retry form: only its CSRF secret.
#[derive(Debug, Deserialize)]
pub(super) struct RetryForm {
    #[serde(default)]
    csrf: String,
}

/// Send a dead letter again; or the list again, saying why not (it is no longer dead).
pub(super) async fn retry(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(form): Form<RetryForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let caller = admin(&viewer)?;
    match outbox::retry(&state, caller, id).await {
        Ok(_) => Ok(Redirect::to("/admin/outbox").into_response()),
        Err(e @ Error::Conflict(_)) => {
            let text =
                viewer.lang.t("这封邮件已不在失败队列中。", "That message is no longer dead.").to_owned();
            tracing::debug!(error = %e, "retry refused");
            let page = outbox_page(&state, &viewer, Some(text)).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
