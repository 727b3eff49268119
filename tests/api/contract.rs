//! The contract's own rules, beyond the annex: the one-hour answer when a
//! system is down (第九条4, 第十一条1), item 7's five working days for change
//! requests only, and item 31's containment with its own action.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, clock, instant, sh};

crate::both_backends!(a_system_down_is_answered_within_the_hour, targets_of_a_kind_of_request);

async fn a_system_down_is_answered_within_the_hour(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item14 = app.item_id(14).await;
    // Sunday 2026-06-07 22:57: item 14 counts 12 working hours (5x8).
    app.clock.set(sh("2026-06-07 22:57"));
    let down = app
        .file(&engineer, json!({"line_item_id": item14, "title": "系统瘫痪", "severity": "critical"}))
        .await;
    let response = clock(&down, "response");
    assert_eq!(instant(&response["deadline"]), sh("2026-06-07 23:57"), "an hour, not Tuesday 14:00");
    assert_eq!(response["target_minutes"], 60);
    assert_eq!(response["calendar"], "7x24");
    assert_eq!(response["rule"]["scope"], "contract");
    assert_eq!(response["rule"]["key"], "system_down_response");
    assert!(response["rule"]["source"].as_str().is_some_and(|s| s.contains("不得超过一个小时")));
    // The other clocks keep the item's own rules.
    assert_eq!(clock(&down, "recovery")["calendar"], "5x8");
    assert_eq!(clock(&down, "recovery")["rule"]["scope"], "item");

    // A general ticket at the same moment: the item's own 12 working hours.
    let general = app.file(&engineer, json!({"line_item_id": item14, "title": "一般故障"})).await;
    let response = clock(&general, "response");
    assert_eq!(instant(&response["deadline"]), sh("2026-06-09 14:00"));
    assert_eq!(response["rule"]["scope"], "item");
    assert_eq!(response["rule"]["source"], "响应时效：12 小时以内");

    // An item whose annex states no response target: the hour alone, for critical tickets only.
    let item37 = app.item_id(37).await;
    let bare = app
        .file(&engineer, json!({"line_item_id": item37, "title": "平台宕机", "severity": "critical"}))
        .await;
    assert_eq!(instant(&clock(&bare, "response")["deadline"]), sh("2026-06-07 23:57"));
    let minor = app.file(&engineer, json!({"line_item_id": item37, "title": "小问题"})).await;
    assert!(clock(&minor, "response").is_null(), "no target, no clock: {minor}");

    // The alerts follow the chosen rule: 25 % and 50 % of the hour (23:12,
    // 23:27) have passed on both critical tickets; nothing of item 14's own
    // working hours has.
    app.clock.set(sh("2026-06-07 23:28"));
    let report = app.tick().await;
    assert_eq!(report.thresholds, 4, "{report:?}");
}

async fn targets_of_a_kind_of_request(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item7 = app.item_id(7).await;
    let fault = app.file(&engineer, json!({"line_item_id": item7, "title": "无法登录"})).await;
    assert!(clock(&fault, "minor_change").is_null(), "a fault has no five-day clock: {fault}");
    let change = app
        .file(&engineer, json!({"line_item_id": item7, "title": "增加字段", "tags": ["change_request"]}))
        .await;
    let five_days = clock(&change, "minor_change");
    assert_eq!(five_days["target_minutes"], 2400);
    assert_eq!(five_days["calendar"], "5x8");
    // Filed Monday 2026-06-01 10:00: five working days end Monday 06-08 10:00.
    assert_eq!(instant(&five_days["deadline"]), sh("2026-06-08 10:00"));

    // Item 31: a general event reported out of hours gets four working hours to contain.
    let item31 = app.item_id(31).await;
    app.clock.set(sh("2026-06-05 17:00"));
    let event = app.file(&engineer, json!({"line_item_id": item31, "title": "异常流量"})).await;
    let containment = clock(&event, "containment");
    assert_eq!(containment["calendar"], "5x8");
    // Friday 17:00: one working hour left that day, three on Monday 06-08 (09:00-12:00).
    assert_eq!(instant(&containment["deadline"]), sh("2026-06-08 12:00"));
    app.clock.set(sh("2026-06-05 17:30"));
    let id = event["id"].as_str().expect("id");
    let contained =
        app.act(&engineer, id, "contain", json!({"body": "已封禁来源地址"}), StatusCode::OK).await;
    assert_eq!(clock(&contained, "containment")["state"], "met");
    assert_eq!(clock(&contained, "response")["state"], "met", "containing answers the ticket too");
    assert_eq!(contained["state"], "acknowledged");
    assert_eq!(clock(&contained, "recovery")["state"], "running");
    // Item 1 has no containment target: the action is refused.
    let item1 = app.item_id(1).await;
    let other = app.file(&engineer, json!({"line_item_id": item1, "title": "x"})).await;
    let refused = app
        .act(
            &engineer,
            other["id"].as_str().expect("id"),
            "contain",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(refused["code"], "validation_failed");
}
