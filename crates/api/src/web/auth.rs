//! `/login`, `/logout` and `/account`: signing in and out with a session
//! cookie, and changing one's password; every check is the API's
//! (`service::sessions` over `service::accounts`).

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, Lang};
use super::error::{PageError, refusal};
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, Viewer, cookie, local_path, with_cookie};
use crate::http::limits::client_ip;
use crate::service::{Error, accounts, sessions};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "web/login.html")]
struct LoginPage {
    c: Chrome,
    next: String,
    username: String,
    error: Option<String>,
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// The sign-in form; its CSRF secret is paired with a short-lived cookie.
pub(super) async fn login_form(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Result<Response, PageError> {
    login_page(&state, lang, &headers, local_path(q.next.as_deref()), String::new(), None, StatusCode::OK)
}

fn login_page(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    next: String,
    username: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let secret = match session::login_secret(headers) {
        Some(s) => s,
        None => accounts::random_secret()?,
    };
    let mut c = Chrome::signed_out(lang, "/login");
    c.csrf = secret.clone();
    let page = (status, LoginPage { c, next, username, error }).into_response();
    Ok(with_cookie(page, cookie(state, LOGIN_COOKIE, &secret, 3600)))
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// Sign in: a session cookie and on to `next`; or the form again, saying why not.
pub(super) async fn login(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let paired = session::login_secret(&headers).is_some_and(|s| !form.csrf.is_empty() && s == form.csrf);
    if !paired {
        return Err(PageError::Csrf);
    }
    let next = local_path(form.next.as_deref());
    let address = client_ip(&state, &headers, peer.map(|p| p.0.0));
    match sessions::open(&state, &form.username, &form.password, address).await {
        Ok(opened) => {
            let to = Redirect::to(&next).into_response();
            Ok(with_cookie(to, cookie(&state, SESSION_COOKIE, &opened.token, opened.max_age)))
        }
        Err(Error::Forbidden(_)) => {
            let text = lang.t("该账号已停用，请联系管理员。", "This account is deactivated; ask an admin.");
            login_page(&state, lang, &headers, next, form.username, Some(text.into()), StatusCode::FORBIDDEN)
        }
        Err(e) => {
            let Some((_, text)) = refusal(&e, lang) else { return Err(e.into()) };
            let status = if matches!(e, Error::Throttled { .. }) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            login_page(&state, lang, &headers, next, form.username, Some(text), status)
        }
    }
}

/// A form that carries only its CSRF secret.
#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Sign out: the session ends here and everywhere.
pub(super) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    sessions::close(&state, &viewer.token).await?;
    let to = Redirect::to("/login").into_response();
    Ok(with_cookie(to, cookie(&state, SESSION_COOKIE, "", 0)))
}

#[derive(Template, WebTemplate)]
#[template(path = "web/account.html")]
pub(super) struct AccountPage {
    c: Chrome,
    must_change: bool,
    error_current: Option<String>,
    error_new: Option<String>,
}

/// The account page: who you are, and the password change.
pub(super) async fn account_form(viewer: Viewer) -> AccountPage {
    account_page(&viewer, None, None)
}

fn account_page(viewer: &Viewer, error_current: Option<String>, error_new: Option<String>) -> AccountPage {
    AccountPage {
        c: Chrome::of(viewer, "/account"),
        must_change: viewer.session.must_change_password,
        error_current,
        error_new,
    }
}

/// The password change form's fields.
#[derive(Deserialize)]
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
    #[serde(default)]
    csrf: String,
}

/// Change the password; every session and token of the account ends, so
/// the next step is signing in with the new one.
pub(super) async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let address = client_ip(&state, &headers, peer.map(|p| p.0.0));
    let caller = &viewer.session.caller;
    match accounts::change_password(&state, caller, &form.current_password, form.new_password, address).await
    {
        Ok(_) => {
            sessions::close(&state, &viewer.token).await?;
            let to = Redirect::to("/login?next=/").into_response();
            Ok(with_cookie(to, cookie(&state, SESSION_COOKIE, "", 0)))
        }
        Err(e) => {
            let Some((field, text)) = refusal(&e, viewer.lang) else { return Err(e.into()) };
            let page = if field == Some("current_password") || field == Some("password") {
                account_page(&viewer, Some(text), None)
            } else {
                account_page(&viewer, None, Some(text))
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}
