//! The web console: server-rendered pages (askama templates checked at
//! compile time) beside the API, calling the same services. Forms work
//! without JavaScript; htmx, vendored under `assets/`, only refreshes the
//! queue. Pages are not in the OpenAPI document.

mod admin;
mod assets;
mod auth;
mod chrome;
mod dashboard;
mod error;
mod inspections;
mod queue;
mod session;
mod tickets;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

pub use self::assets::{HTMX_PATH, STYLE_PATH};
use self::chrome::Lang;
use self::session::{LANG_COOKIE, Viewer};
use crate::domain::access::Role;
use crate::state::AppState;

/// What a page may load and do: its own scripts and styles only, no inline
/// script or style, forms posting only back here, never framed.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The pages and their assets, to be merged beside the API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .route("/account", get(auth::account_form).post(auth::change_password))
        .route("/tickets", get(tickets::list))
        .route("/tickets/new", get(tickets::new_form).post(tickets::file))
        .route("/tickets/{id}", get(tickets::show).post(tickets::act))
        .route("/queue", get(queue::queue))
        .route("/inspections", get(inspections::list))
        .route("/inspections/{id}", get(inspections::show).post(inspections::act))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/dashboard/report.xlsx", get(dashboard::xlsx))
        .route("/dashboard/report.csv", get(dashboard::csv))
        .route("/admin/users", get(admin::users).post(admin::create))
        .route("/admin/users/{id}", axum::routing::post(admin::act_on_user))
        .route("/admin/outbox", get(admin::dead_letters))
        .route("/admin/outbox/{id}", axum::routing::post(admin::retry))
        .layer(middleware::from_fn(page_headers))
        .route("/assets/{name}", get(assets::serve))
}

/// Every page: the strict policy above, and never cached (pages show
/// clocks that move, and are someone's).
async fn page_headers(request: Request, next: Next) -> Response {
    let switched = request.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")));
    let switched = switched.map(|l| Lang::parse(l).code_for_cookie());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(lang) = switched {
        // The switch is a link; the choice is kept for a year.
        let cookie = format!("{LANG_COOKIE}={lang}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    headers.insert("content-security-policy", HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `/`: where each role starts.
async fn home(viewer: Viewer) -> Response {
    let to = match viewer.session.caller.role {
        Role::Engineer => "/queue",
        Role::Manager => "/dashboard",
        Role::AgencyUser | Role::Admin => "/tickets",
    };
    Redirect::to(to).into_response()
}
