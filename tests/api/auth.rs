//! Tokens and the authorization matrix: each endpoint × each role × own and foreign agency.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, USER_PASSWORD};

crate::both_backends!(
    tokens_are_issued_revoked_and_expire,
    accounts_are_checked,
    failed_sign_ins_are_throttled_per_account_and_address,
    tokens_die_with_a_password_or_rights_change,
    another_instance_trusts_a_checked_token_for_auth_cache_seconds,
    authorization_matrix
);

async fn tokens_are_issued_revoked_and_expire(app: TestApp) {
    let (_, token) = app.user("engineer", None).await;
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    // Wrong password and unknown user read the same.
    let wrong = app
        .send(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(&json!({"username": "admin", "password": "not the password"})),
        )
        .await;
    let unknown = app
        .send(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(&json!({"username": "nobody", "password": "not the password"})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (w, u): (Value, Value) = (wrong.json().await.expect("json"), unknown.json().await.expect("json"));
    assert_eq!(w, u);
    assert_eq!(w["code"], "invalid_credentials");
    // Revoked: refused from then on.
    app.call(Method::DELETE, "/v1/auth/token", &token, None, StatusCode::NO_CONTENT).await;
    let p = app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["code"], "unauthorized");
    // Expired: the harness's tokens live 400 days.
    let fresh = app.token("admin", crate::helpers::ADMIN_PASSWORD).await;
    app.clock.advance(401 * 86_400);
    app.call(Method::GET, "/v1/agencies", &fresh, None, StatusCode::UNAUTHORIZED).await;
    // No token, or a malformed header.
    let r = app.send(Method::GET, "/v1/tickets", None, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

async fn accounts_are_checked(app: TestApp) {
    let admin = app.admin_token.clone();
    let bad = [
        json!({"username": "u1", "role": "agency_user", "password": USER_PASSWORD}),
        json!({
            "username": "u2", "role": "engineer", "agency": "education-bureau", "password": USER_PASSWORD
        }),
        json!({"username": "u3", "role": "manager", "agency": "no-such-agency", "password": USER_PASSWORD}),
        json!({"username": "u4", "role": "engineer", "password": "short"}),
        json!({"username": "bad name", "role": "engineer", "password": USER_PASSWORD}),
        json!({"username": "u5", "role": "engineer", "email": "not-an-email", "password": USER_PASSWORD}),
    ];
    for body in bad {
        let p =
            app.call(Method::POST, "/v1/users", &admin, Some(&body), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["code"], "validation_failed", "{body}");
    }
    let p = app
        .call(
            Method::POST,
            "/v1/users",
            &admin,
            Some(&json!({"username": "u6", "role": "root", "password": USER_PASSWORD})),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(p["code"], "invalid_json");
    let ok = json!({
        "username": "li.wei",
        "role": "manager",
        "agency": "education-bureau",
        "email": "li.wei@example.org",
        "password": USER_PASSWORD
    });
    let created = app.call(Method::POST, "/v1/users", &admin, Some(&ok), StatusCode::CREATED).await;
    assert_eq!(created["agency"], "education-bureau");
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    app.call(Method::POST, "/v1/users", &admin, Some(&ok), StatusCode::CONFLICT).await;
    let list = app.call(Method::GET, "/v1/users", &admin, None, StatusCode::OK).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

async fn failed_sign_ins_are_throttled_per_account_and_address(app: TestApp) {
    let app = &app;
    let sign_in = |username: &str, password: &str| {
        let body = json!({"username": username, "password": password});
        async move { app.send(Method::POST, "/v1/auth/token", None, Some(&body)).await }
    };
    // Five failures for one account (the default), then 429 even with the right password.
    for _ in 0..5 {
        assert_eq!(sign_in("admin", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = sign_in("admin", crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    let p: Value = r.json().await.expect("json");
    assert_eq!(p["code"], "too_many_requests");
    // An unknown name is throttled the same way: no telling which accounts exist.
    for _ in 0..5 {
        assert_eq!(sign_in("no-such-user", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sign_in("no-such-user", "wrong password!").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // When the window has passed, the right password works again.
    app.clock.advance(wait as i64);
    app.token("admin", crate::helpers::ADMIN_PASSWORD).await;
    // Per address: 20 failures (the default) across many names shut the
    // address out (the failures above have left the window).
    for i in 0..20 {
        assert_eq!(
            sign_in(&format!("spray-{i}"), "wrong password!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(sign_in("spray-20", "wrong password!").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn tokens_die_with_a_password_or_rights_change(app: TestApp) {
    let (id, token) = app.user("engineer", None).await;
    let name = app
        .call(Method::GET, "/v1/users", &app.admin_token, None, StatusCode::OK)
        .await
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == id.as_str())
        .expect("the user")["username"]
        .as_str()
        .expect("username")
        .to_owned();
    let second = app.token(&name, USER_PASSWORD).await;
    // A wrong current password changes nothing.
    let p = app
        .call(
            Method::POST,
            "/v1/auth/password",
            &token,
            Some(&json!({"current_password": "not it at all", "new_password": "a brand new password"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(p["code"], "validation_failed");
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    // The right one: every token of the account is revoked at once.
    app.call(
        Method::POST,
        "/v1/auth/password",
        &token,
        Some(&json!({"current_password": USER_PASSWORD, "new_password": "a brand new password"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
    app.call(Method::GET, "/v1/agencies", &second, None, StatusCode::UNAUTHORIZED).await;
    let old = app
        .send(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(&json!({"username": name, "password": USER_PASSWORD})),
        )
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let token = app.token(&name, "a brand new password").await;

    // An email change keeps the token; a role change revokes it.
    let admin = app.admin_token.clone();
    let u = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            &admin,
            Some(&json!({"email": "eng@example.org"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(u["email"], "eng@example.org");
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    let u = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            &admin,
            Some(&json!({"role": "manager", "agency": "education-bureau"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!((u["role"].as_str(), u["agency"].as_str()), (Some("manager"), Some("education-bureau")));
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
    // The new rights hold for the next token: an education-bureau manager sees no foreign item.
    let token = app.token(&name, "a brand new password").await;
    let items = app.call(Method::GET, "/v1/line-items", &token, None, StatusCode::OK).await;
    assert!(items.as_array().expect("items").iter().all(|i| i["agency"] == "education-bureau"));
    // An agency change revokes too; bad changes are refused and change nothing.
    app.call(
        Method::PATCH,
        &format!("/v1/users/{id}"),
        &admin,
        Some(&json!({"agency": "justice-bureau"})),
        StatusCode::OK,
    )
    .await;
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
    for bad in [
        json!({"role": "agency_user", "agency": null}),
        json!({"agency": "no-such-agency"}),
        json!({"password": "short"}),
        json!({"role": "engineer"}),
    ] {
        let p = app
            .call(
                Method::PATCH,
                &format!("/v1/users/{id}"),
                &admin,
                Some(&bad),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(p["code"], "validation_failed", "{bad}");
    }
    app.call(
        Method::PATCH,
        &format!("/v1/users/{}", uuid::Uuid::nil()),
        &admin,
        Some(&json!({"email": null})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let token = app.token(&name, "a brand new password").await;
    app.call(
        Method::PATCH,
        &format!("/v1/users/{id}"),
        &token,
        Some(&json!({"role": "admin", "agency": null})),
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn another_instance_trusts_a_checked_token_for_auth_cache_seconds(app: TestApp) {
    let (_, token) = app.user("engineer", None).await;
    let other = app.another(|s| s.auth_cache_seconds = 5).await;
    other.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    // Revoked through the first instance: refused there at once.
    app.call(Method::DELETE, "/v1/auth/token", &token, None, StatusCode::NO_CONTENT).await;
    app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
    // The other instance checked it a moment ago and trusts that for 5 s, no longer.
    other.clock.advance(4);
    other.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    other.clock.advance(1);
    other.call(Method::GET, "/v1/agencies", &token, None, StatusCode::UNAUTHORIZED).await;
}

async fn authorization_matrix(app: TestApp) {
    matrix(&app).await;
}

/// Who asks, and what each should get.
struct Who {
    name: &'static str,
    token: String,
    /// Sees the education bureau's records.
    in_scope: bool,
    /// May file tickets on its items.
    files: bool,
    /// May acknowledge (work) tickets.
    works: bool,
    /// Manages accounts.
    admin: bool,
}

async fn matrix(app: &TestApp) {
    let own = "education-bureau";
    let foreign = "justice-bureau";
    let mut people = Vec::new();
    for (name, role, agency, in_scope, works, admin) in [
        ("agency_user (own)", "agency_user", Some(own), true, false, false),
        ("agency_user (foreign)", "agency_user", Some(foreign), false, false, false),
        ("engineer", "engineer", None, true, true, false),
        ("manager (own)", "manager", Some(own), true, false, false),
        ("manager (foreign)", "manager", Some(foreign), false, false, false),
        ("manager (supplier-wide)", "manager", None, true, false, false),
    ] {
        let (_, token) = app.user(role, agency).await;
        people.push(Who { name, token, in_scope, files: in_scope, works, admin });
    }
    people.push(Who {
        name: "admin",
        token: app.admin_token.clone(),
        in_scope: true,
        files: true,
        works: true,
        admin: true,
    });

    let item = app.item_id(1).await;
    let (_, engineer) = app.user("engineer", None).await;
    let scoped = |w: &Who, ok: StatusCode| if w.in_scope { ok } else { StatusCode::NOT_FOUND };
    for w in &people {
        let t = app.file(&engineer, json!({"line_item_id": item, "title": "matrix"})).await;
        let id = t["id"].as_str().expect("id").to_owned();
        let get = |path: String, expect: StatusCode| {
            let token = w.token.clone();
            async move {
                let r = app.send(Method::GET, &path, Some(&token), None).await;
                assert_eq!(r.status(), expect, "{} GET {path}", w.name);
            }
        };
        get("/v1/agencies".into(), StatusCode::OK).await;
        get("/v1/line-items".into(), StatusCode::OK).await;
        get(format!("/v1/line-items/{item}"), scoped(w, StatusCode::OK)).await;
        get("/v1/tickets".into(), StatusCode::OK).await;
        get(format!("/v1/tickets/{id}"), scoped(w, StatusCode::OK)).await;
        get(format!("/v1/tickets/{id}/events"), scoped(w, StatusCode::OK)).await;
        get("/v1/users".into(), if w.admin { StatusCode::OK } else { StatusCode::FORBIDDEN }).await;

        let post = |path: String, body: Value, expect: StatusCode| {
            let token = w.token.clone();
            async move {
                let r = app.send(Method::POST, &path, Some(&token), Some(&body)).await;
                assert_eq!(r.status(), expect, "{} POST {path}", w.name);
            }
        };
        post(
            "/v1/tickets".into(),
            json!({"line_item_id": item, "title": "by matrix"}),
            if w.files { StatusCode::CREATED } else { StatusCode::NOT_FOUND },
        )
        .await;
        post(format!("/v1/tickets/{id}/comment"), json!({"body": "hello"}), scoped(w, StatusCode::OK)).await;
        let work = if !w.in_scope {
            StatusCode::NOT_FOUND
        } else if w.works {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        post(format!("/v1/tickets/{id}/acknowledge"), json!({}), work).await;
        let user = json!({
            "username": format!("made-by-{}", w.name.len()), "role": "engineer", "password": USER_PASSWORD
        });
        post("/v1/users".into(), user, if w.admin { StatusCode::CREATED } else { StatusCode::FORBIDDEN })
            .await;

        // The list shows only what is in scope.
        let page = app.call(Method::GET, "/v1/tickets?limit=200", &w.token, None, StatusCode::OK).await;
        let agencies: Vec<&str> =
            page["items"].as_array().expect("items").iter().filter_map(|t| t["agency"].as_str()).collect();
        if w.in_scope {
            assert!(agencies.contains(&own), "{} sees own tickets", w.name);
        } else {
            assert!(agencies.is_empty(), "{} sees no foreign tickets: {agencies:?}", w.name);
        }
        let items = app.call(Method::GET, "/v1/line-items", &w.token, None, StatusCode::OK).await;
        let foreign_items = items.as_array().expect("items").iter().filter(|i| i["agency"] != own).count();
        if w.name.starts_with("agency_user (own)") || w.name == "manager (own)" {
            assert_eq!(foreign_items, 0, "{} sees only its own agency's items", w.name);
        }
    }
    // Without a token, every API route answers 401.
    for path in ["/v1/agencies", "/v1/line-items", "/v1/tickets", "/v1/users"] {
        assert_eq!(
            app.send(Method::GET, path, None, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}
