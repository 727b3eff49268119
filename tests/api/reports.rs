//! Monthly SLA reports, compared with figures worked out by hand from the
//! tickets the test creates; the files read back with real parsers (the
//! `csv` crate, calamine for XLSX).

use std::io::Cursor;

use calamine::{Data, Reader, SheetType, Xlsx};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, instant, sh, shown, utc};

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    app.call(Method::GET, &format!("/v1/reports/sla?{query}"), token, None, StatusCode::OK).await
}

/// A report file's bytes, checking its content type.
async fn file(app: &TestApp, token: &str, query: &str, content_type: &str) -> Vec<u8> {
    let r = app
        .client
        .get(app.url(&format!("/v1/reports/sla?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    assert_eq!(r.headers()["content-type"], content_type, "{query}");
    r.bytes().await.expect("bytes").to_vec()
}

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// Line item 1's name in the annex, and its agency's.
const ITEM1: &str = "“雪亮工程”及双重预防体系建设维护及服务";
const EDU: &str = "洛阳市教育局";
const CONTRACT: &str = "洛阳市行政审批和政务信息管理局2025年第一批市本级政务信息化运维项目（续签）";

/// The records of a CSV file, read by the `csv` crate, after checking that
/// it starts with a UTF-8 byte-order mark (Excel on a Chinese Windows reads
/// UTF-8 only with one) and that every record is as long as the header.
pub fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a UTF-8 byte-order mark");
    assert!(!body.starts_with(b"\xEF\xBB\xBF"), "one byte-order mark");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(body);
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("an RFC 4180 record").iter().map(str::to_owned).collect())
        .collect();
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "one table: {rows:?}");
    rows
}

/// A workbook read by calamine.
pub struct Book(Xlsx<Cursor<Vec<u8>>>);

impl Book {
    pub fn open(bytes: Vec<u8>) -> Self {
        Self(Xlsx::new(Cursor::new(bytes)).expect("an XLSX workbook"))
    }

    /// The sheets' names, in order, and which are chart sheets.
    pub fn sheets(&self) -> Vec<(String, bool)> {
        self.0.sheets_metadata().iter().map(|s| (s.name.clone(), s.typ == SheetType::ChartSheet)).collect()
    }

    /// A worksheet's cells, row by row from A1.
    pub fn cells(&mut self, sheet: &str) -> Vec<Vec<Data>> {
        let range = self.0.worksheet_range(sheet).expect("the sheet");
        let (rows, cols) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
        (0..rows)
            .map(|r| (0..cols).map(|c| range.get_value((r, c)).cloned().unwrap_or(Data::Empty)).collect())
            .collect()
    }

    /// The hyperlinks of a sheet: (row, column) → target.
    pub fn links(&mut self, sheet: &str) -> Vec<((u32, u32), String)> {
        self.0
            .hyperlinks_by_sheet_name(sheet)
            .expect("hyperlinks")
            .into_iter()
            .filter_map(|h| Some((h.range.start, h.target?)))
            .collect()
    }

    /// The number format of a cell.
    pub fn number_format(&mut self, sheet: &str, at: (u32, u32)) -> Option<String> {
        let styles = self.0.worksheet_style(sheet).expect("styles");
        styles.get(at).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.clone())
    }
}

fn text(s: &str) -> Data {
    Data::String(s.to_owned())
}

fn num(x: f64) -> Data {
    Data::Float(x)
}

crate::both_backends!(
    june_figures_match_the_tickets,
    the_files_hold_one_table_each_as_people_read_them,
    the_current_month_is_read_as_of_now,
    a_month_that_crosses_holidays,
    reports_are_scoped_and_checked,
    a_workbook_to_print,
    an_ended_months_trend_figures_are_kept_a_while_this_months_never
);

/// June's and July's ticket counts as the dashboard's trend reads them.
async fn trend_counts(app: &TestApp, caller: &api::domain::access::Caller) -> (u32, u32) {
    use api::service::reports::{Period, contract_by_month};
    let months = [Period::month("2026-06").expect("June"), Period::month("2026-07").expect("July")];
    let figures = contract_by_month(&app.state, caller, &months).await.expect("figures");
    let count = |i: usize| figures[i].tickets_by_severity.values().sum::<u32>();
    (count(0), count(1))
}

async fn an_ended_months_trend_figures_are_kept_a_while_this_months_never(app: TestApp) {
    use api::service::filing::{PastTicket, Steps, import};
    let admin = api::service::accounts::caller_for_token(&app.state, &app.admin_token)
        .await
        .expect("lookup")
        .expect("the admin");
    let item: uuid::Uuid = app.item_id(1).await.parse().expect("uuid");
    let past = |at: &str| PastTicket {
        line_item_id: item,
        title: "趋势".into(),
        severity: sla_engine::Severity::General,
        reported_at: sh(at),
        steps: Steps::default(),
        closed_at: None,
        assignee_id: None,
    };
    app.clock.set(sh("2026-07-10 09:00"));
    import(&app.state, &admin, vec![past("2026-06-02 10:00"), past("2026-07-01 10:00")])
        .await
        .expect("imported");
    assert_eq!(trend_counts(&app, &admin).await, (1, 1));
    // One more in each month: July (not over) is counted again at once,
    // June (over) is kept for trend_cache_seconds (300 s by default).
    import(&app.state, &admin, vec![past("2026-06-03 10:00"), past("2026-07-02 10:00")])
        .await
        .expect("imported");
    app.clock.advance(299);
    assert_eq!(trend_counts(&app, &admin).await, (1, 2), "June kept, July fresh");
    app.clock.advance(1);
    assert_eq!(trend_counts(&app, &admin).await, (2, 2), "June counted again after 300 s");
    // Kept per scope: an agency's manager gets their own count, not the admin's.
    let (_, manager) = app.user("manager", Some("urban-management-bureau")).await;
    let manager = api::service::accounts::caller_for_token(&app.state, &manager)
        .await
        .expect("lookup")
        .expect("the manager");
    assert_eq!(trend_counts(&app, &manager).await, (0, 0), "another agency's scope");
    // With no time kept, every month is counted every time.
    let fresh = app.another(|s| s.trend_cache_seconds = 0).await;
    assert_eq!(trend_counts(&fresh, &admin).await, (2, 2));
    import(&fresh.state, &admin, vec![past("2026-06-04 10:00")]).await.expect("imported");
    assert_eq!(trend_counts(&fresh, &admin).await, (3, 2));
}

async fn june_figures_match_the_tickets(app: TestApp) {
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await; // 7x24: response 30 min, on site 1 h, recovery 6 h
    let item3 = app.item_id(3).await; // 5x8: response 30 min

    // Before June: not counted.
    app.clock.set(sh("2026-05-31 23:00"));
    app.file(&eng, json!({"line_item_id": item1, "title": "May"})).await;

    // T1: everything on time; reopened, recovery 4 h + 1 h.
    app.clock.set(sh("2026-06-01 10:00"));
    let t1 = app.file(&eng, json!({"line_item_id": item1, "title": "T1"})).await;
    let t1 = t1["id"].as_str().expect("id").to_owned();
    for (at, action) in [
        ("2026-06-01 10:20", "acknowledge"),
        ("2026-06-01 10:50", "arrive"),
        ("2026-06-01 14:00", "resolve"),
        ("2026-06-02 09:00", "reopen"),
        ("2026-06-02 10:00", "resolve"),
    ] {
        app.clock.set(sh(at));
        app.act(&eng, &t1, action, json!({}), StatusCode::OK).await;
    }
    // T2 (major): answered late (45 min), resolved remotely after 1 h.
    app.clock.set(sh("2026-06-03 11:00"));
    let t2 = app.file(&eng, json!({"line_item_id": item1, "title": "T2", "severity": "major"})).await;
    let t2 = t2["id"].as_str().expect("id").to_owned();
    app.clock.set(sh("2026-06-03 11:45"));
    app.act(&eng, &t2, "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-03 12:00"));
    app.act(&eng, &t2, "resolve", json!({}), StatusCode::OK).await;
    // T3 (justice bureau, 5x8) on the last working day: still running when June ends.
    app.clock.set(sh("2026-06-30 17:50"));
    let t3 = app.file(&eng, json!({"line_item_id": item3, "title": "T3"})).await;
    app.clock.set(sh("2026-07-01 09:10"));
    app.act(&eng, t3["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;

    app.clock.set(sh("2026-07-02 12:00"));
    let r = report(&app, &eng, "month=2026-06").await;
    assert_eq!(r["from"], "2026-06-01");
    assert_eq!(r["to"], "2026-06-30");
    // The instant is written in the contract's timezone, with its offset.
    assert_eq!(r["as_of"], "2026-07-01T00:00:00+08:00");
    assert_eq!(r["contract_name"], CONTRACT);
    assert_eq!(r["scope"], json!({"agencies": [], "line_item": null}));
    assert_eq!(r["metric_names"]["on_site"], json!({"zh": "到场", "en": "On site"}));
    assert_eq!(r["line_item_names"]["1"], json!({"name": ITEM1, "agency": "education-bureau"}));
    let c = &r["contract"];
    assert_eq!(c["tickets_by_severity"], json!({"general": 2, "major": 1}));
    assert_eq!(c["tickets_by_state"], json!({"resolved": 2, "acknowledged": 1}));
    let m = &c["metrics"];
    assert_eq!(
        (
            m["response"]["met"].as_u64(),
            m["response"]["breached"].as_u64(),
            m["response"]["running"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(m["response"]["attainment_percent"], 50.0);
    assert_eq!(m["response"]["mean_seconds_to_meet"], 1950.0);
    assert_eq!(m["response"]["p90_seconds_to_meet"], 2700);
    // On-site: T1 after 50 min; T2 resolved remotely at exactly 1 h, which is on time.
    assert_eq!((m["on_site"]["met"].as_u64(), m["on_site"]["breached"].as_u64()), (Some(2), Some(0)));
    assert_eq!(m["on_site"]["mean_seconds_to_meet"], 3300.0);
    // Recovery: T1 5 h over a reopen, T2 1 h; T3 running.
    assert_eq!((m["recovery"]["met"].as_u64(), m["recovery"]["running"].as_u64()), (Some(2), Some(1)));
    assert_eq!(m["recovery"]["mean_seconds_to_meet"], 10800.0);
    assert_eq!(m["recovery"]["p90_seconds_to_meet"], 18000);
    assert_eq!(r["agencies"]["education-bureau"]["metrics"]["response"]["breached"], 1);
    assert_eq!(r["agencies"]["justice-bureau"]["metrics"]["response"]["running"], 1);
    assert_eq!(r["line_items"]["3"]["tickets_by_severity"], json!({"general": 1}));
    let breached = r["breached_tickets"].as_array().expect("list");
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0]["id"], t2.as_str());
    assert_eq!(breached[0]["metrics"], json!(["response"]));
    assert_eq!(breached[0]["title"], "T2");
    assert_eq!(breached[0]["severity"], "major");
    assert_eq!(breached[0]["reported_at"], "2026-06-03T11:00:00+08:00");
    assert_eq!(breached[0]["link"], Value::Null, "no public base URL, no link");

    // In July T3's response is met... but it belongs to June, where it stays running.
    let july = report(&app, &eng, "month=2026-07").await;
    assert_eq!(july["contract"]["metrics"], json!({}));
    // Narrowed to one item.
    let one = report(&app, &eng, &format!("month=2026-06&line_item={item3}")).await;
    assert_eq!(one["contract"]["metrics"]["response"]["running"], 1);
    assert_eq!(one["scope"], json!({"agencies": [], "line_item": 3}));
}

/// June as in `june_figures_match_the_tickets`, reduced to what the files show.
async fn june(app: &TestApp, eng: &str) -> String {
    let item1 = app.item_id(1).await;
    let item3 = app.item_id(3).await;
    app.clock.set(sh("2026-06-01 10:00"));
    let t1 = app.file(eng, json!({"line_item_id": item1, "title": "T1"})).await;
    let t1 = t1["id"].as_str().expect("id").to_owned();
    for (at, action) in [
        ("2026-06-01 10:20", "acknowledge"),
        ("2026-06-01 10:50", "arrive"),
        ("2026-06-01 14:00", "resolve"),
        ("2026-06-02 09:00", "reopen"),
        ("2026-06-02 10:00", "resolve"),
    ] {
        app.clock.set(sh(at));
        app.act(eng, &t1, action, json!({}), StatusCode::OK).await;
    }
    // A title that a spreadsheet would run as a formula, and one that needs quoting.
    app.clock.set(sh("2026-06-03 11:00"));
    let title = "=HYPERLINK(\"http://evil.example\",\"点这里\"), 或者 \"引号\"";
    let t2 = app.file(eng, json!({"line_item_id": item1, "title": title, "severity": "major"})).await;
    let t2 = t2["id"].as_str().expect("id").to_owned();
    app.clock.set(sh("2026-06-03 11:45"));
    app.act(eng, &t2, "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-03 12:00"));
    app.act(eng, &t2, "resolve", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-30 17:50"));
    app.file(eng, json!({"line_item_id": item3, "title": "T3"})).await;
    app.clock.set(sh("2026-07-02 12:00"));
    t2
}

async fn the_files_hold_one_table_each_as_people_read_them(app: TestApp) {
    let (_, eng) = app.user("engineer", None).await;
    let t2 = june(&app, &eng).await;
    let number = app.ticket(&eng, &t2).await["number"].as_str().expect("number").to_owned();

    // CSV: one table per file, items by default. The figures: response met
    // by T1 (20 min), missed by T2 (45 min); on site after 50 and 60 min;
    // recovery 5 h (over a reopen) and 1 h; T3 (item 3) running.
    let items = csv_rows(&file(&app, &eng, "month=2026-06&format=csv", CSV).await);
    let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        items[0],
        row(&[
            "序号",
            "运维项目",
            "服务单位",
            "指标",
            "按时达成",
            "超时",
            "进行中",
            "达成率(%)",
            "平均用时(分钟)",
            "P90用时(分钟)"
        ])
    );
    assert_eq!(items[1], row(&["1", ITEM1, EDU, "响应", "1", "1", "0", "50.0", "32.5", "45.0"]));
    assert_eq!(items[2], row(&["1", ITEM1, EDU, "到场", "2", "0", "0", "100.0", "55.0", "60.0"]));
    assert_eq!(items[3], row(&["1", ITEM1, EDU, "恢复", "2", "0", "0", "100.0", "180.0", "300.0"]));
    assert_eq!(items[4], row(&["3", "视频会议保障服务", "洛阳市司法局", "响应", "0", "0", "1", "", "", ""]));
    assert_eq!(items.len(), 7, "item 3's three clocks run: {items:?}");
    let explicit = file(&app, &eng, "month=2026-06&format=csv&view=items", CSV).await;
    assert_eq!(csv_rows(&explicit), items);

    let contract = csv_rows(&file(&app, &eng, "month=2026-06&format=csv&view=contract", CSV).await);
    assert_eq!(contract[0][0], "指标");
    assert_eq!(contract[1], row(&["响应", "1", "1", "1", "50.0", "32.5", "45.0"]));
    let agencies = csv_rows(&file(&app, &eng, "month=2026-06&format=csv&view=agencies", CSV).await);
    assert_eq!(agencies[1], row(&[EDU, "响应", "1", "1", "0", "50.0", "32.5", "45.0"]));
    assert_eq!(agencies.iter().filter(|r| r[0] == "洛阳市司法局").count(), 3);

    // Breached tickets: the title stays text (a leading `=` is defused),
    // its comma and quotes survive RFC 4180 quoting.
    let breaches = csv_rows(&file(&app, &eng, "month=2026-06&format=csv&view=breaches", CSV).await);
    assert_eq!(
        breaches,
        vec![
            row(&[
                "工单号",
                "标题",
                "严重程度",
                "报告时间",
                "序号",
                "运维项目",
                "服务单位",
                "超时指标",
                "链接"
            ]),
            row(&[
                &number,
                "'=HYPERLINK(\"http://evil.example\",\"点这里\"), 或者 \"引号\"",
                "重大",
                "2026-06-03 11:00 (+08:00)",
                "1",
                ITEM1,
                EDU,
                "响应",
                ""
            ]),
        ]
    );
    // Inspections: item 1's weeks close on 06-05, 12, 19 and 26, none done.
    let inspections = csv_rows(&file(&app, &eng, "month=2026-06&format=csv&view=inspections", CSV).await);
    assert_eq!(
        inspections[0],
        row(&[
            "范围",
            "序号",
            "名称",
            "应巡检",
            "按时完成",
            "逾期完成",
            "未完成",
            "未到期",
            "补录",
            "补录已批准",
            "上线前"
        ])
    );
    assert_eq!(inspections[1][..3], row(&["合同", "", "全部"]));
    let item1 = inspections.iter().find(|r| r[0] == "运维项目" && r[1] == "1").expect("item 1");
    assert_eq!(*item1, row(&["运维项目", "1", ITEM1, "4", "0", "0", "4", "0", "0", "0", "0"]));
    // English headers and names, as before.
    let en = csv_rows(&file(&app, &eng, "month=2026-06&format=csv&lang=en", CSV).await);
    assert_eq!(
        en[0],
        row(&[
            "No.",
            "Line item",
            "Agency",
            "Metric",
            "Met",
            "Breached",
            "Running",
            "Attainment (%)",
            "Mean to meet (min)",
            "P90 to meet (min)"
        ])
    );
    assert_eq!(en[2][3], "On site");
    let disposition = app
        .client
        .get(app.url("/v1/reports/sla?month=2026-06&format=csv&view=breaches"))
        .bearer_auth(&eng)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        disposition.headers()["content-disposition"],
        "attachment; filename=\"sla-2026-06-breaches.csv\""
    );

    // XLSX, with a public base URL: absolute links to the console's ticket page.
    let linked = app.another(|s| s.public_base_url = Some("https://itsm.example.org/".into())).await;
    let r = linked
        .client
        .get(linked.url("/v1/reports/sla?month=2026-06"))
        .bearer_auth(&eng)
        .header("accept", XLSX)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.headers()["content-type"], XLSX);
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"sla-2026-06.xlsx\"");
    let mut book = Book::open(r.bytes().await.expect("bytes").to_vec());
    assert_eq!(
        book.sheets(),
        [
            ("合同汇总", false),
            ("达成率图", true),
            ("按运维项目", false),
            ("按服务单位", false),
            ("巡检", false),
            ("超时工单", false),
            ("各项目达成率", false)
        ]
        .map(|(n, chart)| (n.to_owned(), chart))
    );
    let title = format!(
        "{CONTRACT} 服务水平报告　范围：全部服务单位　期间：2026-06-01 至 2026-06-30　截至：2026-07-01 00:00 (+08:00)"
    );
    let summary = book.cells("合同汇总");
    assert_eq!(summary[0][0], text(&title));
    assert_eq!(
        summary[1][..5],
        [text("指标"), text("按时达成"), text("超时"), text("进行中"), text("达成率(%)")]
    );
    // Numbers are numbers: counts, attainment as a fraction shown as a percentage, minutes.
    assert_eq!(summary[2], [text("响应"), num(1.0), num(1.0), num(1.0), num(0.5), num(32.5), num(45.0)]);
    assert_eq!(book.number_format("合同汇总", (2, 4)).as_deref(), Some("0.0%"));
    assert_eq!(book.number_format("合同汇总", (2, 5)).as_deref(), Some("0.0"));
    let items = book.cells("按运维项目");
    assert_eq!(items[0][0], text(&title), "every sheet has the title row");
    assert_eq!(items[2][..5], [num(1.0), text(ITEM1), text(EDU), text("响应"), num(1.0)]);
    assert_eq!(items[5][..4], [num(3.0), text("视频会议保障服务"), text("洛阳市司法局"), text("响应")]);
    assert_eq!(items[5][7], Data::Empty, "no attainment when nothing was decided");
    let breached = book.cells("超时工单");
    let link = format!("https://itsm.example.org/tickets/{t2}");
    assert_eq!(
        breached[2],
        [
            text(&number),
            text("=HYPERLINK(\"http://evil.example\",\"点这里\"), 或者 \"引号\""),
            text("重大"),
            text("2026-06-03 11:00 (+08:00)"),
            num(1.0),
            text(ITEM1),
            text(EDU),
            text("响应"),
            text("打开"),
        ]
    );
    // The link is a hyperlink to the console's page, shown as 打开 (the address says nothing on paper).
    assert_eq!(book.links("超时工单"), vec![((2, 8), link.clone())]);
    let inspections = book.cells("巡检");
    let item1 = inspections.iter().find(|r| r[0] == text("运维项目") && r[1] == num(1.0)).expect("item 1");
    assert_eq!(item1[3..7], [num(4.0), num(0.0), num(0.0), num(4.0)]);
    // The chart's data: attainment per item and metric (item 3 decided nothing).
    let matrix = book.cells("各项目达成率");
    assert_eq!(matrix[1], [text("序号"), text("运维项目"), text("响应"), text("到场"), text("恢复")]);
    assert_eq!(matrix[2], [num(1.0), text(ITEM1), num(0.5), num(1.0), num(1.0)]);
    assert_eq!(matrix.len(), 3);
    // JSON carries the same link.
    let j = report(&linked, &eng, "month=2026-06").await;
    assert_eq!(j["breached_tickets"][0]["link"], link.as_str());

    // English sheets and headers.
    let mut en = Book::open(file(&app, &eng, "month=2026-06&format=xlsx&lang=en", XLSX).await);
    assert_eq!(en.sheets()[0].0, "Contract");
    let summary = en.cells("Contract");
    assert!(
        matches!(&summary[0][0], Data::String(t) if t.contains("SLA report · Scope: All agencies · Period: 2026-06-01 to 2026-06-30 · As of: 2026-07-01 00:00 (+08:00)")),
        "{:?}",
        summary[0][0]
    );
    assert_eq!(summary[2][0], text("Response"));
    for bad in ["view=all", "view=items%0A"] {
        app.call(
            Method::GET,
            &format!("/v1/reports/sla?month=2026-06&format=csv&{bad}"),
            &eng,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

async fn the_current_month_is_read_as_of_now(app: TestApp) {
    // Item 11 is inspected daily (7x24). On Sunday 2026-11-29 20:10 the
    // windows of November 1 to 28 have closed, undone: missed. The window of
    // the 29th is open and done now: on time, so decided. The window of the
    // 30th is open: neither due nor missed (rewritten: both open windows
    // used to count as missed, due 30, missed 30).
    let (_, eng) = app.user("engineer", None).await;
    let item11 = app.item_id(11).await;
    // A fault reported at 19:10, answered in 20 minutes; its recovery runs.
    app.clock.set(sh("2026-11-29 19:10"));
    let t = app.file(&eng, json!({"line_item_id": item11, "title": "门禁离线"})).await;
    app.clock.set(sh("2026-11-29 19:30"));
    app.act(&eng, t["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-11-29 20:10"));
    let q = format!(
        "/v1/inspections?line_item_id={item11}&limit=500&due_from={}&due_to={}",
        crate::helpers::in_query(&utc("2026-11-29 00:00")),
        crate::helpers::in_query(&utc("2026-11-30 00:00"))
    );
    let listed = app.call(Method::GET, &q, &eng, None, StatusCode::OK).await;
    let today = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|t| instant(&t["due_from"]) == sh("2026-11-29 00:00"))
        .expect("the window of the 29th")
        .clone();
    assert_eq!(today["status"], "open");
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", today["id"].as_str().expect("id")),
        &eng,
        Some(&json!({"findings": "正常"})),
        StatusCode::OK,
    )
    .await;

    let r = report(&app, &eng, &format!("month=2026-11&line_item={item11}")).await;
    assert_eq!(r["as_of"], "2026-11-29T20:10:00+08:00");
    assert_eq!(r["to"], "2026-11-30");
    assert_eq!(
        r["contract"]["inspections"],
        json!({"due": 29, "on_time": 1, "late": 0, "missed": 28, "open": 1, "recorded_late": 0, "approved": 0, "before_go_live": 0})
    );
    let m = &r["contract"]["metrics"];
    assert_eq!((m["response"]["met"].as_u64(), m["response"]["running"].as_u64()), (Some(1), Some(0)));
    assert_eq!((m["recovery"]["met"].as_u64(), m["recovery"]["running"].as_u64()), (Some(0), Some(1)));
    // The files say the same, and when.
    let rows = csv_rows(
        &file(&app, &eng, &format!("month=2026-11&line_item={item11}&format=csv&view=inspections"), CSV)
            .await,
    );
    let item = rows.iter().find(|r| r[0] == "运维项目").expect("item 11");
    assert_eq!(
        item[1..],
        ["11", "洛阳市运输门禁管控平台运维项目", "29", "1", "0", "28", "1", "0", "0", "0"].map(str::to_owned)
    );
    let mut book =
        Book::open(file(&app, &eng, &format!("month=2026-11&line_item={item11}&format=xlsx"), XLSX).await);
    let title = &book.cells("巡检")[0][0];
    assert!(
        matches!(title, Data::String(t) if t.ends_with("范围：全部服务单位 · 运维项目 11 洛阳市运输门禁管控平台运维项目　期间：2026-11-01 至 2026-11-30　截至：2026-11-29 20:10 (+08:00)")),
        "{title:?}"
    );
    // A closed month is read at its end.
    app.clock.set(sh("2026-12-02 09:00"));
    let r = report(&app, &eng, &format!("month=2026-11&line_item={item11}")).await;
    assert_eq!(r["as_of"], "2026-12-01T00:00:00+08:00");
    assert_eq!(r["contract"]["inspections"]["open"], 0);
    assert_eq!(r["contract"]["inspections"]["missed"], 29);
}
async fn a_month_that_crosses_holidays(app: TestApp) {
    // Item 3 is 5x8 with a 30-minute response. Filed Thursday 09-24 17:50,
    // before the Mid-Autumn holiday (09-25..27): ten minutes that day, the
    // rest from Monday 09-28 09:00; answered 09:10, so met after 20
    // business minutes. Filed 09-30 17:50, before National Day: still
    // running when September ends (due 10-08 09:20).
    let (_, eng) = app.user("engineer", None).await;
    let item3 = app.item_id(3).await;
    app.clock.set(sh("2026-09-24 17:50"));
    let a = app.file(&eng, json!({"line_item_id": item3, "title": "before Mid-Autumn"})).await;
    app.clock.set(sh("2026-09-28 09:10"));
    app.act(&eng, a["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-09-30 17:50"));
    let b = app.file(&eng, json!({"line_item_id": item3, "title": "before National Day"})).await;
    assert_eq!(crate::helpers::clock(&b, "response")["deadline"], shown("2026-10-08 09:20"));
    app.clock.set(sh("2026-10-09 12:00"));
    let r = report(&app, &eng, "month=2026-09").await;
    let response = &r["contract"]["metrics"]["response"];
    assert_eq!(
        (response["met"].as_u64(), response["breached"].as_u64(), response["running"].as_u64()),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(response["mean_seconds_to_meet"], 1200.0);
    assert_eq!(response["attainment_percent"], 100.0);
    // An empty month has no figures at all.
    let empty = report(&app, &eng, "month=2026-08").await;
    assert_eq!(empty["contract"]["metrics"], json!({}));
    assert_eq!(empty["breached_tickets"], json!([]));
}

async fn reports_are_scoped_and_checked(app: TestApp) {
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    app.file(&eng, json!({"line_item_id": item1, "title": "education"})).await;
    let (_, justice_manager) = app.user("manager", Some("justice-bureau")).await;
    let r = report(&app, &justice_manager, "month=2026-06").await;
    assert_eq!(r["contract"]["tickets_by_severity"], json!({}), "another agency's tickets are not counted");
    let (_, agency_user) = app.user("agency_user", Some("education-bureau")).await;
    app.call(Method::GET, "/v1/reports/sla?month=2026-06", &agency_user, None, StatusCode::FORBIDDEN).await;
    for q in [
        "month=2026-13",
        "month=june",
        "month=2026-06&from=2026-06-01",
        "from=2026-06-10&to=2026-06-01",
        "from=2026-06-01",
        "format=pdf",
    ] {
        let p =
            app.call(Method::GET, &format!("/v1/reports/sla?{q}"), &eng, None, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["code"], "bad_request", "{q}");
    }
    let range = report(&app, &eng, "from=2026-06-01&to=2026-06-01").await;
    assert_eq!(range["contract"]["tickets_by_severity"], json!({"general": 1}));
    // The reader's scope is the report's: an agency's manager reads their agency's.
    assert_eq!(r["scope"]["agencies"], json!(["洛阳市司法局"]));
    let p = app
        .call(
            Method::GET,
            &format!("/v1/reports/sla?month=2026-06&line_item={}", uuid::Uuid::nil()),
            &eng,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(p["code"], "bad_request");
}

/// A month with enough breached tickets to fill pages, across several
/// items, written where `scripts/check-xlsx` prints it with LibreOffice
/// (`target/tmp/xlsx-check/`); its cells checked here.
async fn a_workbook_to_print(app: TestApp) {
    let app = app.another(|s| s.public_base_url = Some("https://itsm.example.org".into())).await;
    let (_, eng) = app.user("engineer", None).await;
    // Items 1, 4, 11 and 13 get 30 tickets each on June 2nd from 09:01, a
    // minute apart; every third is answered within two minutes, the others
    // never: by July every clock of those has missed (120 - 40 = 80 breached).
    let mut filed = 0;
    for seq in [1, 4, 11, 13] {
        let item = app.item_id(seq).await;
        for n in 0..30 {
            let at = sh("2026-06-02 09:00").plus_seconds(60 * (filed + 1));
            app.clock.set(at);
            let title = format!("第 {n} 号故障：业务系统无法访问");
            let t = app.file(&eng, json!({"line_item_id": item, "title": title})).await;
            if n % 3 == 0 {
                app.clock.set(at.plus_seconds(100));
                app.act(&eng, t["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;
            }
            filed += 1;
        }
    }
    app.clock.set(sh("2026-07-01 09:00"));
    let bytes = file(&app, &eng, "month=2026-06&format=xlsx", XLSX).await;
    let mut book = Book::open(bytes.clone());
    let breached = book.cells("超时工单");
    assert_eq!(
        breached.len(),
        2 + 120,
        "title, header, a row per ticket (an answered one still missed on site)"
    );
    let links = book.links("超时工单");
    assert_eq!(links.len(), 120);
    assert!(links.iter().all(|(_, l)| l.starts_with("https://itsm.example.org/tickets/")));
    // Response met by one in three: 33.3 % on each item.
    let matrix = book.cells("各项目达成率");
    assert_eq!(matrix.len(), 2 + 4);
    assert!(
        matrix[2..].iter().all(|r| matches!(r[2], Data::Float(a) if (a - 1.0 / 3.0).abs() < 1e-9)),
        "{matrix:?}"
    );
    if app.backend() == Backend::Sqlite {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("xlsx-check");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("sla-2026-06.xlsx"), &bytes).expect("written");
    }
}
