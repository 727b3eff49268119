//! HTTP: the router, its middleware, and the OpenAPI document generated from the same handlers.

pub mod error;
pub mod extract;
pub mod limits;
pub mod routes_admin;
pub mod routes_auth;
pub mod routes_calendars;
pub mod routes_catalog;
pub mod routes_inspections;
pub mod routes_ops;
pub mod routes_reports;
pub mod routes_tickets;
pub mod routes_users;
pub mod server;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use self::error::{ApiError, Code, problem_response};
use crate::state::AppState;

pub(crate) const TAG_AUTH: &str = "auth";
pub(crate) const TAG_CATALOG: &str = "catalog";
pub(crate) const TAG_TICKETS: &str = "tickets";
pub(crate) const TAG_USERS: &str = "users";
pub(crate) const TAG_OPS: &str = "operations";
pub(crate) const TAG_ADMIN: &str = "admin";
pub(crate) const TAG_REPORTS: &str = "reports";
pub(crate) const TAG_INSPECTIONS: &str = "inspections";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Luoyang ITSM",
        description = "Tickets for the Luoyang operations contract (洛采公开-2026-54), clocked in business time against each line item's response, on-site and recovery targets. Errors are RFC 9457 problem+json with a stable `type` and `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(error::Problem, routes_tickets::ActionName)),
    tags(
        (name = TAG_AUTH, description = "Tokens"),
        (name = TAG_CATALOG, description = "Agencies and line items of the contract"),
        (name = TAG_TICKETS, description = "Faults and their SLA clocks"),
        (name = TAG_USERS, description = "Accounts (admins)"),
        (name = TAG_OPS, description = "Health (metrics are served on their own listener)"),
        (name = TAG_ADMIN, description = "The mail queue and dead letters (admins)"),
        (name = TAG_REPORTS, description = "SLA compliance"),
        (name = TAG_INSPECTIONS, description = "Inspection tasks (巡检)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("from POST /v1/auth/token"))
                    .build(),
            ),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes_auth::router())
        .merge(routes_catalog::router())
        .merge(routes_calendars::router())
        .merge(routes_tickets::router())
        .merge(routes_users::router())
        .merge(routes_ops::router())
        .merge(routes_admin::router())
        .merge(routes_reports::router())
        .merge(routes_inspections::router())
}

/// An instant as the API writes it: in `tz` (a line item's, or the
/// contract's for times that belong to none), with its offset.
pub(crate) fn local(at: sla_engine::Timestamp, tz: sla_engine::Tz) -> chrono::DateTime<chrono::FixedOffset> {
    at.to_datetime().with_timezone(&tz).fixed_offset()
}

/// A string schema with bounds and a pattern, for schema-only types.
pub(crate) fn bounded_text(
    min: usize,
    max: usize,
    pattern: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

/// The routes and the complete OpenAPI document that describes them.
fn routes_and_spec() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = api_router().split_for_parts();
    document_common_problems(&mut api);
    document_links(&mut api);
    document_descriptions(&mut api);
    (router, api)
}

/// What a status means when an operation says nothing more: OpenAPI requires
/// every response to have a description, and client generators refuse a
/// document without them.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "done; the body is the answer",
        "201" => "created; the body is the new record",
        "204" => "done; no body",
        "400" => "malformed query or body",
        "401" => "sign in first: no token, or one that is unknown, expired or revoked",
        "403" => "your role may not do this (or the account must change its password first)",
        "404" => "no such record, or none in your scope",
        "409" => "the record's state does not allow this",
        "412" => "the record changed since you read it (If-Match)",
        "413" => "the body is larger than the limit",
        "415" => "the body is not of a media type this operation takes",
        "422" => "a field is invalid; the problem names it",
        "429" => "too many requests; wait as Retry-After says",
        "503" => "the database is unavailable; try again as Retry-After says",
        _ => "see the body",
    }
}

/// Give every response without a description the meaning of its status.
fn document_descriptions(api: &mut utoipa::openapi::OpenApi) {
    for item in api.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete]
            .into_iter()
            .flatten()
        {
            for (status, response) in op.responses.responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(r) = response
                    && r.description.trim().is_empty()
                {
                    r.description = default_description(status).to_owned();
                }
            }
        }
    }
}

/// The OpenAPI document, as `itsm openapi` prints and `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_and_spec().1
}

/// One OpenAPI link: from an operation's answer to another operation.
struct LinkSpec {
    from: &'static str,
    status: &'static str,
    name: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
    body: Option<serde_json::Value>,
}

/// OpenAPI links: where an answer's ids lead, so that a client (or a
/// stateful fuzzer) can follow a ticket from its filing to its actions.
fn document_links(api: &mut utoipa::openapi::OpenApi) {
    use serde_json::json;
    use utoipa::openapi::link::LinkBuilder;
    let link =
        |from, status, name, to, parameters| LinkSpec { from, status, name, to, parameters, body: None };
    let links = [
        link("file_ticket", "201", "GetTicket", "get_ticket", &[("id", "$response.body#/id")]),
        link("file_ticket", "201", "TicketEvents", "list_ticket_events", &[("id", "$response.body#/id")]),
        link("file_ticket", "201", "ActOnTicket", "act_on_ticket", &[("id", "$response.body#/id")]),
        link("list_line_items", "200", "GetLineItem", "get_line_item", &[("id", "$response.body#/0/id")]),
        LinkSpec {
            body: Some(
                json!({"line_item_id": "$response.body#/0/id", "title": "followed from the line items"}),
            ),
            ..link("list_line_items", "200", "FileTicket", "file_ticket", &[])
        },
        link(
            "list_inspections",
            "200",
            "CompleteInspection",
            "complete_inspection",
            &[("id", "$response.body#/0/id")],
        ),
        link("list_users", "200", "UpdateUser", "update_user", &[("id", "$response.body#/0/id")]),
        link("create_user", "201", "UpdateUser", "update_user", &[("id", "$response.body#/id")]),
        link("list_outbox", "200", "RetryMessage", "retry_outbox_message", &[("id", "$response.body#/0/id")]),
    ];
    for item in api.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete]
            .into_iter()
            .flatten()
        {
            let Some(id) = op.operation_id.clone() else { continue };
            for spec in links.iter().filter(|l| l.from == id) {
                let Some(utoipa::openapi::RefOr::T(response)) = op.responses.responses.get_mut(spec.status)
                else {
                    continue;
                };
                let mut built = LinkBuilder::new().operation_id(spec.to).request_body(spec.body.clone());
                for (param, value) in spec.parameters {
                    built = built.parameter(*param, *value);
                }
                response.links.insert(spec.name.to_owned(), built.build().into());
            }
        }
    }
}

/// Answers any `/v1` operation can give, made by layers rather than by its
/// handler, written into every operation so that clients (and fuzzers) find
/// them in the spec: 429 and 503 everywhere, 400 where there is a query or
/// a body, 413 and 415 where there is a body, 403 where a token is needed
/// (its account may have to change its password first).
fn document_common_problems(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build()
    };
    for (path, item) in api.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete]
            .into_iter()
            .flatten()
        {
            let body = op.request_body.is_some();
            let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let query = op.parameters.iter().flatten().any(|p| {
                matches!(p, utoipa::openapi::RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
            });
            let mut add = |code: &str, description: &str| {
                op.responses.responses.entry(code.to_owned()).or_insert_with(|| problem(description).into());
            };
            add("429", "too many requests from this client; wait as Retry-After says");
            if signed_in {
                add("403", "password_change_required: the account must change its password first");
            }
            add("503", "the database is unavailable; try again as Retry-After says");
            if body || query {
                add("400", "malformed query or body");
            }
            if body {
                add("413", "the body is larger than the limit");
                add("415", "the body is not application/json");
            }
        }
    }
}

/// The whole application: the API alone.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The API and `pages` beside it (the web console, which `startup` passes
/// in: this layer knows nothing of it), under the same middleware. Pages
/// are not in the spec.
pub fn router_with(state: AppState, pages: Router<AppState>) -> Router {
    let (router, api) = routes_and_spec();
    let router = router.merge(pages);
    let limits = limits::Limits::new(state.clone());
    let timeout = Duration::from_secs(state.settings.request_timeout_seconds);
    let body_limit = state.settings.body_limit_bytes;
    let cors = cors(&state.settings.cors_allowed_origins);
    router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .fallback(|| async { ApiError::new(Code::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(extract::refuse_nul_in_query))
        .layer(middleware::from_fn_with_state(limits, limits::rate_limit))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .layer(cors)
        .with_state(state)
}

/// CORS only for the configured origins; with none, no CORS headers at all,
/// so browsers keep other sites' pages from calling the API.
fn cors(origins: &[String]) -> tower::util::Either<CorsLayer, tower::layer::util::Identity> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return tower::util::Either::Right(tower::layer::util::Identity::new());
    }
    tower::util::Either::Left(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::DELETE,
                axum::http::Method::PATCH,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::ETAG, header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600)),
    )
}

/// Errors made outside our handlers (405, 408, 413, panics) still speak problem+json.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    // The interactive viewer is a page with its own scripts and styles.
    let docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    // A page's own error page is for people, and stays one.
    let is_page =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem && !is_page {
        let code = match status {
            StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Code::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::UNAUTHORIZED => Code::Unauthorized,
            StatusCode::TOO_MANY_REQUESTS => Code::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            s if s.is_client_error() => Code::BadRequest,
            _ => Code::Internal,
        };
        let allow = response.headers().get(header::ALLOW).cloned();
        response = problem_response(code, status.canonical_reason().unwrap_or("error").to_lowercase(), None);
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !docs {
        // API answers are data, never pages to render, and may carry tokens.
        // A response that set its own policy and caching keeps them: the
        // console's pages (a policy of their own, as strict: `'self'` only)
        // and its assets (named by their hash, cached for a year).
        headers
            .entry("content-security-policy")
            .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// A request's method as a metrics label: one of the methods HTTP defines, or `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Count and time every request. Every label comes from a closed set (the
/// methods HTTP defines, the router's route templates, status codes), so
/// that no client can add a series: an invented method is `other`, a path
/// no route matches is `unmatched`.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
