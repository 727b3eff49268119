//! The inspection pages: an engineer finds the windows due and overdue and
//! records one from its checklist form; a record made after its window
//! closed waits, marked, for a manager's approval; each refusal shows
//! beside its field and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, instant, sh, utc};
use crate::web::{Browser, signed_in};

crate::both_backends!(
    an_engineer_records_an_inspection_from_its_form,
    a_late_record_waits_for_a_managers_approval_on_its_page
);

/// Item 1's inspection window (weekly, Friday to Friday) that opens at `from`, by the API.
async fn window(app: &TestApp, from: &str) -> Value {
    let item = app.item_id(1).await;
    let q = format!(
        "/v1/inspections?line_item_id={item}&limit=500&due_from={}",
        crate::helpers::in_query(&utc("2026-05-22 00:00"))
    );
    let list = app.call(Method::GET, &q, &app.admin_token.clone(), None, StatusCode::OK).await;
    let list = list.as_array().expect("a list").clone();
    list.into_iter().find(|t| instant(&t["due_from"]) == sh(from)).expect("the window")
}

async fn task(app: &TestApp, id: &str) -> Value {
    let q = "/v1/inspections?limit=500";
    let list = app.call(Method::GET, q, &app.admin_token.clone(), None, StatusCode::OK).await;
    list.as_array().expect("a list").iter().find(|t| t["id"] == id).cloned().expect("the task")
}

/// The section of a page from the heading `title` to the next heading.
fn section<'a>(body: &'a str, title: &str) -> &'a str {
    let at = body.find(&format!("<h2>{title}</h2>")).unwrap_or_else(|| panic!("a section {title}"));
    let rest = &body[at + title.len() + 9..];
    &rest[..rest.find("<h2>").unwrap_or(rest.len())]
}

async fn record(b: &mut Browser<'_>, path: &str, extra: &[(&str, &str)]) -> crate::web::Page {
    let csrf = b.get(path).await.csrf();
    let mut form = vec![("action", "complete"), ("csrf", csrf.as_str())];
    form.extend_from_slice(extra);
    b.post(path, &form).await
}

async fn an_engineer_records_an_inspection_from_its_form(app: TestApp) {
    // Monday 2026-06-01 10:00: item 1's week from Friday 05-29 is open.
    let open = window(&app, "2026-05-29 00:00").await;
    let id = open["id"].as_str().expect("id").to_owned();
    let path = format!("/inspections/{id}");
    let (mut eng, _) = signed_in(&app, "engineer", None).await;
    let list = eng.get(&format!("/inspections?item={}", app.item_id(1).await)).await;
    assert_eq!(list.status, StatusCode::OK);
    let due = section(&list.body, "本期待巡检");
    assert!(due.contains(&path), "the open window is listed as due: {due}");
    assert!(due.contains("每周") && due.contains("2026-05-29 00:00 – 06-05 00:00 (+08:00)"), "{due}");

    let page = eng.get(&path).await;
    assert!(
        page.body.contains("name=\"check_name_0\" maxlength=\"200\" value=\"设备与硬件运行状态\""),
        "named checks offered"
    );

    // No CSRF token: refused, nothing recorded.
    let forged = eng.post(&path, &[("action", "complete"), ("check_result_0", "pass")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(task(&app, &id).await["status"], "open");

    // A result without a check's name, and a time that is not one: each beside its field, kept.
    let nameless = record(
        &mut eng,
        &path,
        &[("check_name_0", ""), ("check_result_0", "fail"), ("findings", "机房温度偏高")],
    )
    .await;
    assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nameless.body.contains("id=\"checklist-error\">标了结果的检查项须有名称。"), "{}", nameless.body);
    assert!(nameless.body.contains(">机房温度偏高</textarea>"), "the findings kept");
    let garbled = record(
        &mut eng,
        &path,
        &[("check_result_0", "pass"), ("check_name_0", "x"), ("completed_at", "昨天")],
    )
    .await;
    assert_eq!(garbled.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(garbled.body.contains("id=\"completed_at-error\">请按“年-月-日 时:分”填写完成时间。"));
    let early = record(&mut eng, &path, &[("completed_at", "2026-05-28T23:00")]).await;
    assert!(
        early.body.contains("id=\"completed_at-error\">完成时间早于巡检窗口开始"),
        "the service's own sentence"
    );
    assert_eq!(task(&app, &id).await["status"], "open", "nothing recorded by refusals");

    let done = record(
        &mut eng,
        &path,
        &[
            ("check_name_0", "设备与硬件运行状态"),
            ("check_result_0", "pass"),
            ("check_name_1", "操作系统与服务进程"),
            ("check_result_1", "fail"),
            ("check_note_1", "磁盘告警"),
            ("check_name_2", "数据库与存储空间"),
            ("check_result_2", ""),
            ("findings", "更换磁盘"),
            ("completed_at", "2026-06-01T09:30"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(path.as_str()));
    let t = task(&app, &id).await;
    assert_eq!(t["status"], "done");
    assert_eq!(instant(&t["completed_at"]), sh("2026-06-01 09:30"), "read in the item's time zone");
    assert_eq!(
        t["checklist"],
        json!([
            {"name": "设备与硬件运行状态", "passed": true},
            {"name": "操作系统与服务进程", "passed": false, "note": "磁盘告警"}
        ]),
        "checks without a result are left out"
    );
    let shown = eng.get(&path).await.body;
    assert!(
        shown.contains("2026-06-01 09:30 (+08:00)")
            && shown.contains("磁盘告警")
            && shown.contains("更换磁盘")
    );
    assert!(!shown.contains("name=\"check_name_0\""), "no second form");
    let list = eng.get("/inspections").await;
    assert!(!section(&list.body, "本期待巡检").contains(&path), "done windows leave the list");
    let twice = record(&mut eng, &path, &[]).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY, "already recorded, said on the page");
    assert!(
        twice.body.contains("这次巡检已有人登记（或已审批），请刷新页面查看。"),
        "in Chinese: {}",
        twice.body
    );
}

async fn a_late_record_waits_for_a_managers_approval_on_its_page(app: TestApp) {
    let missed = window(&app, "2026-05-29 00:00").await;
    let id = missed["id"].as_str().expect("id").to_owned();
    let path = format!("/inspections/{id}");
    // Three weeks on, that window closed undone.
    app.clock.set(sh("2026-06-20 10:00"));
    let (mut eng, _) = signed_in(&app, "engineer", None).await;
    let item1 = format!("/inspections?item={}", app.item_id(1).await);
    let list = eng.get(&item1).await;
    let overdue = section(&list.body, "已逾期未巡检");
    assert!(overdue.contains(&path), "listed as overdue: {overdue}");
    let done = record(
        &mut eng,
        &path,
        &[("check_name_0", "设备"), ("check_result_0", "pass"), ("completed_at", "2026-06-03T10:00")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let t = task(&app, &id).await;
    assert_eq!((t["status"].as_str(), t["recorded_late"].as_bool()), (Some("late"), Some(true)));
    let csrf = eng.get(&path).await.csrf();
    let by_engineer = eng.post(&path, &[("action", "approve"), ("csrf", &csrf)]).await;
    assert_eq!(by_engineer.status, StatusCode::NOT_FOUND, "engineers do not approve");

    let (mut foreign, _) = signed_in(&app, "manager", Some("urban-management-bureau")).await;
    assert_eq!(foreign.get(&path).await.status, StatusCode::NOT_FOUND, "another agency's manager");
    let (mut manager, _) = signed_in(&app, "manager", Some("education-bureau")).await;
    let list = manager.get(&item1).await;
    assert!(section(&list.body, "补录待审批").contains(&path), "awaiting the manager");
    let page = manager.get(&path).await;
    assert!(page.body.contains("value=\"approve\"") && !page.body.contains("name=\"check_name_0\""));
    let approved = manager.post(&path, &[("action", "approve"), ("csrf", &page.csrf())]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let t = task(&app, &id).await;
    assert_eq!(t["status"], "done", "counts by its claimed time once approved");
    let shown = manager.get(&path).await.body;
    assert!(shown.contains("补录") && shown.contains("审批</dt>") && !shown.contains("value=\"approve\""));
    assert!(!section(&manager.get("/inspections").await.body, "补录待审批").contains(&path));
}
