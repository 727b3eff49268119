//! Errors as RFC 9457 `application/problem+json`, each with a stable `type`
//! and `code` from one table, so that clients can branch on them.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::{self, Outage};

/// The problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI reference naming the kind of problem: `/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, stable summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// The stable snake_case code (the last segment of `type`).
    pub code: String,
    /// For `invalid_transition`: the ticket's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<String>,
    /// For `invalid_transition`: the action attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// For `validation_failed`: the field refused, as the request named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `too_many_requests` and `unavailable`: seconds to wait before
    /// trying again, as `Retry-After` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The stable codes, their status and title: the one table.
macro_rules! codes {
    ($($variant:ident => $code:literal, $status:ident, $title:literal;)*) => {
        /// A kind of problem.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $(#[doc = $title] $variant,)* }
        impl Code {
            /// The snake_case code.
            pub const fn as_str(self) -> &'static str { match self { $(Code::$variant => $code,)* } }
            /// The HTTP status.
            pub const fn status(self) -> StatusCode { match self { $(Code::$variant => StatusCode::$status,)* } }
            /// The short summary.
            pub const fn title(self) -> &'static str { match self { $(Code::$variant => $title,)* } }
        }
    };
}

codes! {
    BadRequest => "bad_request", BAD_REQUEST, "The request is malformed";
    InvalidJson => "invalid_json", BAD_REQUEST, "The body is not valid JSON for this operation";
    Unauthorized => "unauthorized", UNAUTHORIZED, "Sign in first";
    InvalidCredentials => "invalid_credentials", UNAUTHORIZED, "Wrong username or password";
    Forbidden => "forbidden", FORBIDDEN, "Your role may not do this";
    PasswordChangeRequired => "password_change_required", FORBIDDEN, "Change your password first";
    NotFound => "not_found", NOT_FOUND, "No such resource";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed here";
    RequestTimeout => "request_timeout", REQUEST_TIMEOUT, "The request took too long";
    InvalidTransition => "invalid_transition", CONFLICT, "The ticket's state does not allow this action";
    Conflict => "conflict", CONFLICT, "The resource already exists";
    ReopenPeriodOver => "reopen_period_over", CONFLICT, "The ticket was closed too long ago to reopen";
    PreconditionFailed => "precondition_failed", PRECONDITION_FAILED, "The ticket changed since you read it";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE, "The request body is too large";
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Send application/json";
    ValidationFailed => "validation_failed", UNPROCESSABLE_ENTITY, "A field is invalid";
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY, "This Idempotency-Key was used with another body";
    TooManyRequests => "too_many_requests", TOO_MANY_REQUESTS, "Slow down";
    Internal => "internal", INTERNAL_SERVER_ERROR, "Something went wrong on our side";
    Unavailable => "unavailable", SERVICE_UNAVAILABLE, "The service cannot answer right now";
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    detail: String,
    transition: Option<(String, String)>,
    retry_after: Option<u64>,
    field: Option<&'static str>,
}

/// Handlers return this.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A problem of `code` with a message for people.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        // Every 503 gets its Retry-After in `problem_response`.
        Self { code, detail: detail.into(), transition: None, retry_after: None, field: None }
    }

    /// Tell the client how many seconds to wait (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 404, worded the same whether the thing is missing or out of scope, so
    /// that existence does not leak.
    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("no such {what}"))
    }

    /// 422 on one field.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Code::ValidationFailed, detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, detail)
    }

    /// 409 naming both the state and the action.
    pub fn transition(action: &str, state: &str) -> Self {
        Self {
            code: Code::InvalidTransition,
            detail: format!("cannot {action} a ticket that is {state}"),
            transition: Some((state.to_owned(), action.to_owned())),
            retry_after: None,
            field: None,
        }
    }

    /// 500: the detail is logged, never sent.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(Code::Internal, "the error has been logged")
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }
}

/// The problem+json response for a code, also used for errors raised outside handlers.
pub fn problem_response(code: Code, detail: String, transition: Option<(String, String)>) -> Response {
    problem_with_wait(code, detail, transition, None, None)
}

fn problem_with_wait(
    code: Code,
    detail: String,
    transition: Option<(String, String)>,
    retry_after: Option<u64>,
    field: Option<&'static str>,
) -> Response {
    let (current_state, action) = transition.map_or((None, None), |(s, a)| (Some(s), Some(a)));
    let retry_after =
        retry_after.or_else(|| (code == Code::Unavailable).then(|| RETRY_AFTER_SECONDS.parse().unwrap_or(5)));
    let body = Problem {
        kind: format!("/problems/{}", code.as_str()),
        title: code.title().to_owned(),
        status: code.status().as_u16(),
        detail,
        code: code.as_str().to_owned(),
        current_state,
        action,
        field: field.map(str::to_owned),
        retry_after,
    };
    let mut response = (code.status(), Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    if code == Code::Unavailable {
        // RFC 9110 §10.2.3: tell clients when a retry is worth it.
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    }
    response
}

/// The `Retry-After` of every 503: long enough for a pool to reconnect, short
/// enough that a client does not wait past a brief outage.
pub const RETRY_AFTER_SECONDS: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            problem_with_wait(self.code, self.detail, self.transition, self.retry_after, self.field);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        service::Error::from(error).into()
    }
}

impl From<service::Error> for ApiError {
    fn from(error: service::Error) -> Self {
        use service::Error as E;
        match error {
            E::NotFound(what) => Self::not_found(what),
            E::Forbidden(detail) => Self::forbidden(detail),
            E::Invalid(invalid) => Self { field: invalid.field, ..Self::invalid(invalid.message.en) },
            E::BadRequest(detail) => Self::new(Code::BadRequest, detail),
            E::Transition(e) => Self::transition(e.action.as_str(), e.from.as_str()),
            E::Conflict(detail) => Self::new(Code::Conflict, detail),
            E::TooLate { en, .. } => Self::new(Code::ReopenPeriodOver, en),
            E::Stale(detail) => Self::new(Code::PreconditionFailed, detail),
            E::IdempotencyKeyReused => {
                Self::new(Code::IdempotencyKeyReused, E::IdempotencyKeyReused.to_string())
            }
            E::Throttled { detail, retry_after } => {
                Self::new(Code::TooManyRequests, detail).retry_after(retry_after)
            }
            E::InvalidCredentials => Self::new(Code::InvalidCredentials, "wrong username or password"),
            E::Busy(detail) => Self::new(Code::Unavailable, detail),
            E::Unavailable { outage: Outage::Unreachable, error } => {
                tracing::warn!(%error, "database unavailable");
                Self::new(Code::Unavailable, "the database is unavailable; try again shortly")
            }
            E::Unavailable { outage: Outage::CannotWrite, error } => {
                tracing::error!(%error, "database cannot store changes");
                Self::new(
                    Code::Unavailable,
                    "the database cannot store changes (disk full, read-only or failing storage); \
                     nothing was saved; reads still work; try again later",
                )
            }
            E::Db(e) => Self::internal(e),
            E::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            _ => Code::InvalidJson,
        };
        Self::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(Code::BadRequest, rejection.body_text())
    }
}

impl From<axum_extra::extract::QueryRejection> for ApiError {
    fn from(rejection: axum_extra::extract::QueryRejection) -> Self {
        Self::new(Code::BadRequest, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(Code::NotFound, rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    fn io(kind: std::io::ErrorKind) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(kind.into()))))
    }

    #[test]
    fn an_unreachable_database_is_503_with_retry_after() {
        for error in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::UnexpectedEof),
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::PoolTimedOut))),
        ] {
            let response = ApiError::from(error).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        }
    }

    #[test]
    fn other_database_errors_stay_500_without_retry_after() {
        for error in [
            DbErr::Custom("a bug".into()),
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::RowNotFound))),
        ] {
            let response = ApiError::from(error).into_response();
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(response.headers().get(header::RETRY_AFTER).is_none());
        }
    }
}
