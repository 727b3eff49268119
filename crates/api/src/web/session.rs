//! The session cookie and who a page is for: a signed-in viewer, or a
//! redirect to `/login?next=…` that brings them back afterwards.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::chrome::Lang;
use super::error::PageError;
use crate::service::sessions::{self, Session};
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "itsm_session";
/// The cookie a sign-in form's CSRF secret is paired with (no session yet).
pub(crate) const LOGIN_COOKIE: &str = "itsm_login";
/// The language cookie.
pub(crate) const LANG_COOKIE: &str = "lang";

/// A signed-in viewer of a page.
#[derive(Clone, Debug)]
pub(crate) struct Viewer {
    /// Their session.
    pub(crate) session: Session,
    /// The cookie's value, to close the session with.
    pub(crate) token: String,
    /// The language the page is in.
    pub(crate) lang: Lang,
}

impl Viewer {
    /// Refused (and nothing done) unless `given` is the session's CSRF secret.
    pub(crate) fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if sessions::csrf_matches(&self.session, given) { Ok(()) } else { Err(PageError::Csrf) }
    }
}

/// The language of a request: `?lang=` (the switch), else the cookie, else Chinese.
pub(crate) fn lang_of(parts: &Parts) -> Lang {
    let query = parts.uri.query().unwrap_or("");
    let asked = query.split('&').find_map(|kv| kv.strip_prefix("lang="));
    let cookie = CookieJar::from_headers(&parts.headers).get(LANG_COOKIE).map(|c| c.value().to_owned());
    asked.map(str::to_owned).or(cookie).map_or(Lang::Zh, |l| Lang::parse(&l))
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(lang_of(parts))
    }
}

/// The session cookie's value, if sent.
fn session_token(headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Where a page that needs a sign-in sends the browser: to `/login`, with
/// the page asked for as `next`.
fn to_login(parts: &Parts) -> Response {
    let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", encode(next))).into_response()
}

/// Percent-encode a query value (everything but unreserved characters).
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `next` that is a path on this site, else `/`: a sign-in never sends
/// the browser elsewhere.
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 512 => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn viewer(parts: &Parts, state: &AppState) -> Result<Option<Viewer>, PageError> {
    let Some(token) = session_token(&parts.headers) else { return Ok(None) };
    let Some(session) = sessions::resume(state, &token).await? else { return Ok(None) };
    Ok(Some(Viewer { session, token, lang: lang_of(parts) }))
}

/// A page for the signed in: others are sent to sign in; an account whose
/// password must be changed is sent to `/account` (the only page it may see).
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(viewer) = viewer(parts, state).await.map_err(IntoResponse::into_response)? else {
            return Err(to_login(parts));
        };
        let open_anyway = matches!(parts.uri.path(), "/account" | "/logout");
        if viewer.session.must_change_password && !open_anyway {
            return Err(Redirect::to("/account").into_response());
        }
        Ok(viewer)
    }
}

impl OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        viewer(parts, state).await.map_err(IntoResponse::into_response)
    }
}

/// Whether cookies must be `Secure`: when the console is served over https.
fn secure(state: &AppState) -> bool {
    state.settings.public_base_url.as_deref().is_some_and(|u| u.starts_with("https://"))
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always (Lax, so that a
/// link in an email opens signed in), Secure over https.
pub(crate) fn cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("itsm_invalid=1"))
}

/// The response with a cookie set.
pub(crate) fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The sign-in form's CSRF secret: the one its cookie holds, or a new one.
pub(crate) fn login_secret(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers).get(LOGIN_COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32)
}
