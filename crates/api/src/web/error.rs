//! What a page answers when a service refuses or fails: a page of its own
//! (404 for what the viewer may not see, as the API answers), and for a
//! form, the service's sentence in the viewer's language beside the field.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::chrome::{Chrome, Lang};
use crate::domain::message::Message;
use crate::service::Error;

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Nothing to see: missing, out of scope, or not for this role.
    NotFound,
    /// A form came without this session's CSRF secret: nothing was done.
    Csrf,
    /// The service failed; the detail is logged.
    Failed(Error),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(_) | Error::Forbidden(_) => Self::NotFound,
            e => Self::Failed(e),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "web/error.html")]
struct ErrorPage {
    c: Chrome,
    title: &'static str,
    text: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = Lang::Zh;
        let c = Chrome::signed_out(lang, "/");
        let (status, title, text) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "找不到页面 · Not found", String::new()),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效 · Form expired",
                "请返回上一页，刷新后再提交。Go back, reload the page and send it again.".to_owned(),
            ),
            Self::Failed(e) => {
                let status = match &e {
                    Error::Unavailable { .. } | Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
                    Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                tracing::error!(error = %e, "page failed");
                (status, "出错了 · Something went wrong", "请稍后再试。Try again shortly.".to_owned())
            }
        };
        (status, ErrorPage { c, title, text }).into_response()
    }
}

/// A refusal a form shows beside one of its fields (or above it, with no
/// field), in the viewer's language; `None` for failures that are no
/// person's doing (they become an error page).
pub(crate) fn refusal(e: &Error, lang: Lang) -> Option<(Option<&'static str>, String)> {
    let pick = |m: &Message| if lang == Lang::En { m.en.clone() } else { m.zh.clone() };
    Some(match e {
        Error::Invalid(i) => (i.field, pick(&i.message)),
        Error::Transition(n) => (
            None,
            match lang {
                Lang::Zh => {
                    format!("工单当前「{}」，不能「{}」。", lang.state(n.from), lang.action(n.action))
                }
                Lang::En => {
                    format!("A ticket that is {} cannot be {}d.", lang.state(n.from), n.action.as_str())
                }
            },
        ),
        Error::TooLate { zh, en } => (None, if lang == Lang::En { en.clone() } else { zh.clone() }),
        Error::Stale(_) | Error::Busy(_) => (
            None,
            lang.t("工单刚被他人更新，请刷新后重试。", "The ticket just changed; reload and try again.")
                .into(),
        ),
        Error::Conflict(text) => (None, text.clone()),
        Error::InvalidCredentials => {
            (Some("password"), lang.t("用户名或密码不正确。", "Wrong username or password.").into())
        }
        Error::Throttled { retry_after, .. } => (
            Some("password"),
            match lang {
                Lang::Zh => format!("登录失败次数过多，请 {retry_after} 秒后再试。"),
                Lang::En => format!("Too many failed sign-ins; try again in {retry_after} seconds."),
            },
        ),
        Error::Forbidden(text) => (None, text.clone()),
        _ => return None,
    })
}
