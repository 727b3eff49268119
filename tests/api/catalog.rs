//! Catalog endpoints, and loading the catalog idempotently on every start.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, config_dir, copy_dir};

crate::both_backends!(
    line_items_carry_their_requirements,
    restarts_change_nothing_and_a_changed_catalog_keeps_tickets
);

async fn line_items_carry_their_requirements(app: TestApp) {
    let (_, token) = app.user("agency_user", Some("urban-management-bureau")).await;
    let items = app.call(Method::GET, "/v1/line-items", &token, None, StatusCode::OK).await;
    let items = items.as_array().expect("items");
    assert_eq!(items.len(), 1, "the urban management bureau has one item");
    let five = &items[0];
    assert_eq!(five["seq"], 5);
    assert_eq!(five["service_window"], "7x24");
    assert_eq!(five["targets"][0]["minutes"], 15);
    assert_eq!(five["targets"][0]["when"], json!({"opened": "inside", "calendar": "5x8"}));
    assert!(five["inspection"].as_array().is_some_and(|i| !i.is_empty()));
    let agencies = app.call(Method::GET, "/v1/agencies", &token, None, StatusCode::OK).await;
    assert_eq!(agencies, json!([{"key": "urban-management-bureau", "name": "洛阳市城市管理局"}]));
    let all = app.call(Method::GET, "/v1/line-items", &app.admin_token, None, StatusCode::OK).await;
    assert_eq!(all.as_array().map(Vec::len), Some(40));
}

async fn restarts_change_nothing_and_a_changed_catalog_keeps_tickets(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "before"})).await;

    // A restart on the same database: same items, same ids, the ticket still there.
    let again = app.restart_with(&config_dir()).await;
    let items: Value =
        again.call(Method::GET, "/v1/line-items", &again.admin_token, None, StatusCode::OK).await;
    assert_eq!(items.as_array().map(Vec::len), Some(40));
    assert_eq!(again.item_id(1).await, item);

    // A renewal changes item 1's name and amount: the item updates, tickets do not move.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&config_dir(), dir.path());
    let items_toml = dir.path().join("catalog/items.toml");
    let text = std::fs::read_to_string(&items_toml).expect("read");
    let text =
        text.replacen("name = \"“雪亮工程”及双重预防体系建设维护及服务\"", "name = \"雪亮工程（续）\"", 1);
    let text = text.replacen(
        "amount_yuan = \"250000.00\"\namount_source = \"250000.00\"",
        "amount_yuan = \"250100.00\"\namount_source = \"250100.00\"",
        1,
    );
    std::fs::write(&items_toml, text).expect("write");
    let contract = dir.path().join("catalog/contract.toml");
    let c = std::fs::read_to_string(&contract)
        .expect("read")
        .replace("8271400.00", "8271500.00")
        .replace("5789980.00", "5790050.00")
        .replace("2481420.00", "2481450.00");
    std::fs::write(&contract, c).expect("write");
    let renewed = app.restart_with(dir.path()).await;
    let one = renewed
        .call(Method::GET, &format!("/v1/line-items/{item}"), &renewed.admin_token, None, StatusCode::OK)
        .await;
    assert_eq!(one["name"], "雪亮工程（续）");
    assert_eq!(one["amount_yuan"], "250100.00");
    let still = renewed.ticket(&renewed.admin_token, t["id"].as_str().expect("id")).await;
    assert_eq!(still["title"], "before");
    assert_eq!(still["line_item_id"], item.as_str());
}
