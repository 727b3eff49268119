//! HTTP as clients expect: problem+json for bad input, limits, request ids,
//! health, metrics, the docs, and the checked-in OpenAPI spec.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::both_backends!(
    bad_input_gets_problems_not_500s,
    hostile_filters_are_only_data,
    security_headers_and_no_cors_by_default,
    each_client_is_rate_limited,
    request_ids_health_metrics_and_docs
);

async fn bad_input_gets_problems_not_500s(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let raw = |body: &'static str| {
        app.client
            .post(app.url("/v1/tickets"))
            .bearer_auth(&engineer)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, status, code) in [
        ("{not json", StatusCode::BAD_REQUEST, "invalid_json"),
        ("{\"line_item_id\": 5, \"title\": \"x\"}", StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "{\"line_item_id\": \"00000000-0000-0000-0000-000000000000\", \"title\": \"x\"}",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("[]", StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let r = raw(body).await.expect("sent");
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.expect("problem");
        assert_eq!(p["code"], code, "{body}");
        assert_eq!(p["type"], format!("/problems/{code}"));
        assert_eq!(p["status"], status.as_u16());
    }
    // Field rules: empty or blank title, oversize title, unknown field, bad severity, bad tags.
    for body in [
        json!({"line_item_id": item, "title": ""}),
        json!({"line_item_id": item, "title": "   "}),
        json!({"line_item_id": item, "title": "x".repeat(201)}),
        json!({"line_item_id": item, "title": "x", "tags": ["Not A Tag"]}),
    ] {
        let p = app
            .call(Method::POST, "/v1/tickets", &engineer, Some(&body), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
        assert_eq!(p["code"], "validation_failed");
    }
    for body in [
        json!({"line_item_id": item, "title": "x", "colour": "red"}),
        json!({"line_item_id": item, "title": "x", "severity": "urgent"}),
    ] {
        app.call(Method::POST, "/v1/tickets", &engineer, Some(&body), StatusCode::BAD_REQUEST).await;
    }
    // Oversize body: 413, as problem+json.
    let huge = json!({"line_item_id": item, "title": "x", "description": "字".repeat(40_000)});
    let r = app.send(Method::POST, "/v1/tickets", Some(&engineer), Some(&huge)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Unknown routes, actions and methods.
    let p = app.call(Method::GET, "/v1/nothing-here", &engineer, None, StatusCode::NOT_FOUND).await;
    assert_eq!(p["code"], "not_found");
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "x"})).await;
    let id = t["id"].as_str().expect("id");
    app.act(&engineer, id, "explode", json!({}), StatusCode::NOT_FOUND).await;
    app.call(Method::GET, "/v1/tickets/not-a-uuid", &engineer, None, StatusCode::NOT_FOUND).await;
    let r = app.send(Method::DELETE, "/v1/tickets", Some(&engineer), None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Action bodies: malformed, or missing what the action needs. (A body
    // of no stated type is 415 now, as on every JSON route; this sends its
    // type, so that the malformed JSON itself is what is refused.)
    let r = app
        .client
        .post(app.url(&format!("/v1/tickets/{id}/comment")))
        .bearer_auth(&engineer)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.act(&engineer, id, "comment", json!({}), StatusCode::UNPROCESSABLE_ENTITY).await;
    app.act(&engineer, id, "assign", json!({"assignee_id": id}), StatusCode::UNPROCESSABLE_ENTITY).await;
    app.act(&engineer, id, "severity", json!({}), StatusCode::UNPROCESSABLE_ENTITY).await;
    // Bad list parameters.
    for q in
        ["limit=0", "limit=201", "state=lost", "cursor=garbage", "created_from=yesterday", "breached=maybe"]
    {
        let p = app
            .call(Method::GET, &format!("/v1/tickets?{q}"), &engineer, None, StatusCode::BAD_REQUEST)
            .await;
        assert_eq!(p["code"], "bad_request", "{q}");
    }
}

async fn hostile_filters_are_only_data(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    for title in ["100% done", "plain title", "O'Brien's printer", "under_score"] {
        app.file(&engineer, json!({"line_item_id": item, "title": title})).await;
    }
    let hostile = [
        "' OR '1'='1",
        "'; DROP TABLE tickets; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "\\",
        "%' UNION SELECT password_hash FROM users --",
        "\u{0}",
        "🙂🙂🙂",
    ];
    let long = "漢".repeat(200);
    let too_long = "漢".repeat(201);
    let enc = |v: &str| crate::helpers::url_escape(v);
    let mut sent = 0;
    for v in hostile.iter().copied().chain([long.as_str(), too_long.as_str()]) {
        for filter in
            ["q", "agency", "cursor", "state", "severity", "created_from", "line_item_id", "breached"]
        {
            let r = app
                .send(Method::GET, &format!("/v1/tickets?{filter}={}", enc(v)), Some(&engineer), None)
                .await;
            let status = r.status();
            // A value that names no agency is a 422 (well formed, nothing it names); a value
            // of the wrong shape a 400; anything else is only text to search for.
            let named_nothing = filter == "agency" && status == StatusCode::OK;
            assert!(
                !named_nothing
                    && (status == StatusCode::OK
                        || status == StatusCode::BAD_REQUEST
                        || status == StatusCode::UNPROCESSABLE_ENTITY),
                "{filter}={v:?}: {status}"
            );
            if status != StatusCode::OK {
                assert_eq!(r.headers()["content-type"], "application/problem+json");
            }
            sent += 1;
        }
        for path in [
            "/v1/reports/sla?agency=",
            "/v1/reports/sla?month=",
            "/v1/admin/outbox?status=",
            "/v1/inspections?line_item_id=",
        ] {
            let r = app.send(Method::GET, &format!("{path}{}", enc(v)), Some(&app.admin_token), None).await;
            assert!(!r.status().is_server_error(), "{path}{v:?}: {}", r.status());
            sent += 1;
        }
    }
    // LIKE wildcards match themselves; quotes are only text.
    let app = &app;
    let found = |q: &'static str| {
        let engineer = engineer.clone();
        async move {
            let page = app
                .call(
                    Method::GET,
                    &format!("/v1/tickets?q={}", crate::helpers::url_escape(q)),
                    &engineer,
                    None,
                    StatusCode::OK,
                )
                .await;
            let mut titles: Vec<String> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
                .collect();
            titles.sort();
            titles
        }
    };
    assert_eq!(found("%").await, ["100% done"]);
    assert_eq!(found("_").await, ["under_score"]);
    assert_eq!(found("'").await, ["O'Brien's printer"]);
    assert!(found("' OR '1'='1").await.is_empty());
    // NUL can be stored by neither engine's text: refused at the door, in bodies too.
    let p = app
        .call(
            Method::POST,
            "/v1/tickets",
            &engineer,
            Some(&json!({"line_item_id": item, "title": "nul\u{0}here"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(p["code"], "validation_failed");
    let p = app
        .call(
            Method::POST,
            "/v1/tickets",
            &engineer,
            Some(&json!({"line_item_id": item, "title": "t", "description": "nul\u{0}"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(p["code"], "validation_failed");
    let r = app
        .send(Method::POST, "/v1/auth/token", None, Some(&json!({"username": "ad\u{0}min", "password": "x"})))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An escaped backslash before "u0000" is only text.
    app.file(&engineer, json!({"line_item_id": item, "title": "path C:\\u0000"})).await;
    // Everything is still there.
    let all = app.call(Method::GET, "/v1/tickets?limit=200", &engineer, None, StatusCode::OK).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(5));
    eprintln!("hostile filters: {sent} requests, no 5xx");
}

async fn security_headers_and_no_cors_by_default(app: TestApp) {
    let r = app
        .client
        .get(app.url("/v1/agencies"))
        .bearer_auth(&app.admin_token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(h.get("access-control-allow-origin").is_none(), "no CORS unless configured");
    assert!(h.get("server").is_none(), "no server banner");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    let text = app.client.get(app.url("/healthz")).send().await.expect("sent").text().await.expect("text");
    assert!(
        !text.contains(env!("CARGO_PKG_VERSION")) || env!("CARGO_PKG_VERSION").len() < 3,
        "no version in health"
    );
    // A preflight from a stranger gets no CORS grant either.
    let pre = app
        .client
        .request(Method::OPTIONS, app.url("/v1/tickets"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("sent");
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    // Configured: only the named origin is granted.
    let portal = app.another(|s| s.cors_allowed_origins = vec!["https://portal.example.org".into()]).await;
    let ok = portal
        .client
        .request(Method::OPTIONS, portal.url("/v1/tickets"))
        .header("origin", "https://portal.example.org")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://portal.example.org");
    let no = portal
        .client
        .request(Method::OPTIONS, portal.url("/v1/tickets"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("sent");
    assert!(no.headers().get("access-control-allow-origin").is_none());
}

async fn each_client_is_rate_limited(app: TestApp) {
    let limited = app
        .another(|s| {
            s.rate_limit_per_second = 2;
            s.rate_limit_burst = 5;
        })
        .await;
    let (_, a) = app.user("engineer", None).await;
    let (_, b) = app.user("engineer", None).await;
    let limited = &limited;
    let get = |token: &String| {
        let token = token.clone();
        async move { limited.send(Method::GET, "/v1/agencies", Some(&token), None).await }
    };
    // A token's first request to an instance, before it is known there to
    // be real, is counted against its address (so that made-up tokens buy
    // nothing); from then on the token is a client of its own, with a burst of 5.
    assert_eq!(get(&a).await.status(), StatusCode::OK);
    for _ in 0..5 {
        assert_eq!(get(&a).await.status(), StatusCode::OK);
    }
    let r = get(&a).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let p: Value = r.json().await.expect("json");
    assert_eq!(p["code"], "too_many_requests");
    // Another client is not held back by the first.
    assert_eq!(get(&b).await.status(), StatusCode::OK);
    // Health checks are not limited.
    for _ in 0..10 {
        assert_eq!(limited.send(Method::GET, "/healthz", None, None).await.status(), StatusCode::OK);
    }
    // A second later, two more.
    limited.clock.advance(1);
    assert_eq!(get(&a).await.status(), StatusCode::OK);
    assert_eq!(get(&a).await.status(), StatusCode::OK);
    assert_eq!(get(&a).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn request_ids_health_metrics_and_docs(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = app.client.get(app.url("/readyz")).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"), "an id is made when none is sent");
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    app.file(&engineer, json!({"line_item_id": item, "title": "for metrics"})).await;
    // /metrics is on its own listener, not the API's.
    let r = app.client.get(app.url("/metrics")).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let text = app.metrics().await;
    assert!(text.contains("itsm_tickets{state=\"open\"}"), "{text}");
    assert!(text.contains("itsm_clocks{state=\"running\"}"), "{text}");
    assert!(text.contains("http_requests_total"), "{text}");
    let docs = app.client.get(app.url("/docs/")).send().await.expect("sent");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").to_lowercase().contains("swagger"));
    let served: Value =
        app.client.get(app.url("/openapi.json")).send().await.expect("sent").json().await.expect("json");
    assert_eq!(served, checked_in_spec());
}

fn checked_in_spec() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json exists"))
        .expect("valid JSON")
}

#[test]
fn the_checked_in_spec_matches_the_code() {
    let generated: Value = serde_json::to_value(api::http::openapi()).expect("serializable");
    assert!(
        generated == checked_in_spec(),
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    );
    // Every operation documents its errors as problem+json and its security.
    let paths = generated["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} documents no responses");
            if path.starts_with("/v1/") && path != "/v1/auth/token" {
                assert!(op.get("security").is_some(), "{method} {path} must declare its bearer security");
                assert!(responses.contains_key("401"), "{method} {path} must document 401");
            }
        }
    }
    for expected in [
        "/v1/tickets",
        "/v1/tickets/{id}",
        "/v1/tickets/{id}/{action}",
        "/v1/tickets/{id}/events",
        "/v1/line-items",
        "/v1/agencies",
        "/v1/users",
        "/v1/auth/token",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    assert!(!paths.contains_key("/metrics"), "/metrics is served on its own listener, not in the API");
}
