//! HTTP as clients expect: problem+json for bad input, limits, request ids,
//! health, metrics, the docs, and the checked-in OpenAPI spec.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::both_backends! {
    async fn bad_input_gets_problems_not_500s(app) {
        let (_, engineer) = app.user("engineer", None).await;
        let item = app.item_id(1).await;
        let raw = |body: &'static str| {
            app.client.post(app.url("/v1/tickets")).bearer_auth(&engineer).header("content-type", "application/json").body(body).send()
        };
        for (body, status, code) in [
            ("{not json", StatusCode::BAD_REQUEST, "invalid_json"),
            ("{\"line_item_id\": 5, \"title\": \"x\"}", StatusCode::BAD_REQUEST, "invalid_json"),
            ("{\"line_item_id\": \"00000000-0000-0000-0000-000000000000\", \"title\": \"x\"}", StatusCode::NOT_FOUND, "not_found"),
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
        // Field rules: empty title, oversize title, unknown field, bad severity, bad tags.
        for body in [
            json!({"line_item_id": item, "title": ""}),
            json!({"line_item_id": item, "title": "x".repeat(201)}),
            json!({"line_item_id": item, "title": "x", "tags": ["Not A Tag"]}),
        ] {
            let p = app.call(Method::POST, "/v1/tickets", &engineer, Some(&body), StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(p["code"], "validation_failed");
        }
        for body in [json!({"line_item_id": item, "title": "x", "colour": "red"}), json!({"line_item_id": item, "title": "x", "severity": "urgent"})] {
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
        // Action bodies: malformed, or missing what the action needs.
        let r = app.client.post(app.url(&format!("/v1/tickets/{id}/comment"))).bearer_auth(&engineer).body("{").send().await.expect("sent");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        app.act(&engineer, id, "comment", json!({}), StatusCode::UNPROCESSABLE_ENTITY).await;
        app.act(&engineer, id, "assign", json!({"assignee_id": id}), StatusCode::UNPROCESSABLE_ENTITY).await;
        app.act(&engineer, id, "severity", json!({}), StatusCode::UNPROCESSABLE_ENTITY).await;
        // Bad list parameters.
        for q in ["limit=0", "limit=201", "state=lost", "cursor=garbage", "created_from=yesterday", "breached=maybe"] {
            let p = app.call(Method::GET, &format!("/v1/tickets?{q}"), &engineer, None, StatusCode::BAD_REQUEST).await;
            assert_eq!(p["code"], "bad_request", "{q}");
        }
    }

    async fn request_ids_health_metrics_and_docs(app) {
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
        let text = app.client.get(app.url("/metrics")).send().await.expect("sent").text().await.expect("text");
        assert!(text.contains("itsm_tickets{state=\"open\"}"), "{text}");
        assert!(text.contains("itsm_clocks{state=\"running\"}"), "{text}");
        assert!(text.contains("http_requests_total"), "{text}");
        let docs = app.client.get(app.url("/docs/")).send().await.expect("sent");
        assert_eq!(docs.status(), StatusCode::OK);
        assert!(docs.text().await.expect("html").to_lowercase().contains("swagger"));
        let served: Value = app.client.get(app.url("/openapi.json")).send().await.expect("sent").json().await.expect("json");
        assert_eq!(served, checked_in_spec());
    }
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
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
}
