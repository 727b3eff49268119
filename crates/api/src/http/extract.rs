//! Extractors whose rejections speak problem+json, and the bearer-token caller.

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::error::{ApiError, Code};
use crate::domain::access::Caller;
use crate::service::accounts;
use crate::state::AppState;

/// `axum::Json`, rejecting with our problem format, and refusing the NUL
/// character anywhere in the body: no text column of PostgreSQL can hold
/// it, and it has no business in a ticket.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(Code::PayloadTooLarge, e.body_text())
            } else {
                ApiError::new(Code::BadRequest, e.body_text())
            }
        })?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::new(Code::InvalidJson, "text may not contain the NUL character (\\u0000)"));
        }
        axum::Json::<T>::from_bytes(&bytes).map(|axum::Json(v)| Self(v)).map_err(ApiError::from)
    }
}

/// True when the request says its body is JSON (`application/json` or `application/*+json`).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

/// 415 unless the request says its body is JSON: every JSON route refuses
/// `text/plain`, forms and bodies of no stated type alike.
pub fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if is_json(headers) {
        Ok(())
    } else {
        Err(ApiError::new(Code::UnsupportedMediaType, "send Content-Type: application/json"))
    }
}

/// As [`require_json`], for a body that may be left out: an empty (or
/// blank) body needs no type, any other must be JSON.
pub fn require_json_if_any(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(()) } else { require_json(headers) }
}

/// True when JSON text holds the escape `\u0000` (a backslash that is itself
/// escaped, as in `\\u0000`, is only text). Raw control bytes are already
/// invalid JSON.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in json.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && json.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, rejecting with our problem format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// A query string whose keys may repeat (`state=open&state=acknowledged`),
/// rejecting with our problem format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum_extra::extract::Query), rejection(ApiError))]
pub struct AppMultiQuery<T>(pub T);

/// `axum::extract::Path`, rejecting with our problem format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// The bearer token of a request, as sent.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// The bearer token in these headers, as sent.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty() && t.len() <= 512)
}

/// A bearer token already looked up by the rate limit, handed on so that
/// the request costs one lookup, not two.
#[derive(Clone, Debug)]
pub struct ResolvedToken {
    /// The token looked up.
    pub token: String,
    /// Its holder, if it is live.
    pub holder: Option<accounts::TokenHolder>,
}

/// The holder of the request's bearer token; 401 without one or when it is
/// unknown, expired, revoked or its account deactivated.
async fn holder(parts: &Parts, state: &AppState) -> Result<accounts::TokenHolder, ApiError> {
    let token = bearer(parts)
        .ok_or_else(|| ApiError::new(Code::Unauthorized, "send Authorization: Bearer <token>"))?;
    let resolved = parts.extensions.get::<ResolvedToken>().filter(|r| r.token == token);
    let holder = match resolved {
        Some(r) => r.holder.clone(),
        None => accounts::holder_of_token(state, token).await?,
    };
    holder.ok_or_else(|| ApiError::new(Code::Unauthorized, "the token is unknown, expired or revoked"))
}

/// The signed-in caller. While the account's password must be changed (it
/// was generated, or set by an admin), every operation but the change
/// itself answers 403 `password_change_required`.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let holder = holder(parts, state).await?;
        if holder.must_change_password {
            return Err(ApiError::new(
                Code::PasswordChangeRequired,
                "this account's password was generated or reset: change it first (POST /v1/auth/password)",
            ));
        }
        Ok(holder.caller)
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

/// The signed-in caller, even one who must change their password first:
/// for the change itself.
#[derive(Clone, Debug)]
pub struct SignedIn(pub Caller);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(holder(parts, state).await?.caller))
    }
}

/// Refuse query strings holding an encoded NUL (400): no text column of
/// PostgreSQL can hold it, so it must not reach a query.
pub async fn refuse_nul_in_query(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let nul = request
        .uri()
        .query()
        .is_some_and(|q| q.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")));
    if nul {
        return axum::response::IntoResponse::into_response(ApiError::new(
            Code::BadRequest,
            "query values may not contain the NUL character (%00)",
        ));
    }
    next.run(request).await
}

/// Refuse a query value longer than the spec says (400), before it reaches a query.
pub(crate) fn at_most(name: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ApiError::new(Code::BadRequest, format!("{name} must be at most {max} characters")))
        }
        _ => Ok(()),
    }
}
