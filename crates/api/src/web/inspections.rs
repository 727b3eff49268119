//! `/inspections`: the inspection windows (巡检) open now, those overdue and
//! the late records awaiting a manager, for engineers, managers and admins;
//! `/inspections/{id}`: one window, with its completion form (a checklist of
//! named checks, pass or fail with notes, and findings) or what was recorded.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, TimeZone};
use serde::Deserialize;
use sla_engine::Timestamp;
use uuid::Uuid;

use super::chrome::{Chrome, Lang, local_time, local_window};
use super::error::{PageError, refusal};
use super::queue::{Choice, choice};
use super::session::Viewer;
use crate::domain::access::{Caller, Role};
use crate::domain::inspections::{Check, Task};
use crate::service::inspections::{self, CompletionInput, Progress, TaskFilter};
use crate::service::{Error, accounts};
use crate::state::AppState;

/// The most windows a section of the list shows.
const SHOWN: u64 = 100;
/// Checklist rows the form offers (the named ones and blank ones to name).
const FORM_ROWS: usize = 7;
/// The most checklist rows a form may send.
const MAX_ROWS: usize = 40;
/// The checks every inspection goes through, named in both languages.
const CHECKS: [(&str, &str); 5] = [
    ("设备与硬件运行状态", "Devices and hardware"),
    ("操作系统与服务进程", "Operating system and services"),
    ("数据库与存储空间", "Databases and storage"),
    ("数据备份", "Backups"),
    ("安全与日志", "Security and logs"),
];

/// Who sees inspections: those who do them, and the managers who answer for them.
fn may_view(caller: &Caller) -> Result<(), PageError> {
    match caller.role {
        Role::Engineer | Role::Manager | Role::Admin => Ok(()),
        Role::AgencyUser => Err(PageError::NotFound),
    }
}

/// One window as a row of the list.
pub(super) struct TaskRow {
    id: Uuid,
    item: String,
    cycle: String,
    window: String,
    status: &'static str,
    status_key: &'static str,
    awaiting: bool,
    /// When the window closes (Unix seconds), to list the soonest first.
    closes: i64,
}

fn cycle_label(state: &AppState, t: &Task, lang: Lang) -> String {
    let cycle = state.item(t.line_item_id).and_then(|i| i.inspections.get(t.cycle as usize));
    let mut label = cycle.map_or_else(|| t.every.clone(), |c| lang.cycle(c.every, c.times));
    for extra in [&t.device_class, &t.slot].into_iter().flatten() {
        label.push_str(" · ");
        label.push_str(extra);
    }
    label
}

fn task_row(state: &AppState, t: &Task, lang: Lang) -> TaskRow {
    let tz = state.item_timezone(t.line_item_id);
    let status = t.status(state.clock.now(), state.go_live.at);
    TaskRow {
        id: t.id,
        item: state.item(t.line_item_id).map_or_else(String::new, |i| format!("{}. {}", i.seq, i.name)),
        cycle: cycle_label(state, t, lang),
        window: local_window(t.due_from, t.due_to, tz),
        status: lang.inspection(status),
        status_key: status.as_str(),
        awaiting: t.recorded_late && t.approved_at.is_none(),
        closes: t.due_to.unix(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "web/inspections.html")]
pub(super) struct ListPage {
    c: Chrome,
    due: Vec<TaskRow>,
    overdue: Vec<TaskRow>,
    awaiting: Vec<TaskRow>,
    items: Vec<Choice>,
    shown: u64,
}

/// The list's filter: one line item.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    item: String,
}

/// `/inspections`: windows open now (those closing soonest first), overdue ones
/// since go-live (latest first) and late records awaiting approval.
pub(super) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ListParams>,
) -> Result<ListPage, PageError> {
    let caller = &viewer.session.caller;
    may_view(caller)?;
    let now = state.clock.now();
    let base = TaskFilter { line_item_id: p.item.parse().ok(), limit: SHOWN, ..TaskFilter::default() };
    let due = TaskFilter {
        due_from: Some(now),
        due_to: Some(Timestamp::from_unix(now.unix() + 1)),
        progress: Progress::NotDone,
        ..base.clone()
    };
    let overdue = TaskFilter {
        due_from: Some(state.go_live.at),
        closed_by: Some(now),
        progress: Progress::NotDone,
        latest_first: true,
        ..base.clone()
    };
    let awaiting = TaskFilter { progress: Progress::AwaitingApproval, latest_first: true, ..base };
    let rows = |list: Vec<Task>| list.iter().map(|t| task_row(&state, t, viewer.lang)).collect::<Vec<_>>();
    let mut due = rows(inspections::list(&state, caller, due).await?);
    due.sort_by_key(|r| r.closes);
    let overdue = rows(inspections::list(&state, caller, overdue).await?);
    let awaiting = rows(inspections::list(&state, caller, awaiting).await?);
    let mut items = vec![choice("", viewer.lang.t("全部项目", "every item"), &p.item)];
    let served = state.catalog.items.iter().filter(|i| !i.inspections.is_empty() && caller.sees(&i.agency));
    items.extend(
        served.map(|i| choice(state.item_id(i).to_string(), format!("{}. {}", i.seq, i.name), &p.item)),
    );
    let c = Chrome::of(&viewer, "/inspections");
    Ok(ListPage { c, due, overdue, awaiting, items, shown: SHOWN })
}

/// One row of the checklist form, as shown (and shown again with what was sent).
pub(super) struct CheckRow {
    index: usize,
    name: String,
    /// `pass`, `fail`, or empty for not checked.
    result: String,
    note: String,
}

/// One check of a recorded completion.
pub(super) struct CheckView {
    name: String,
    passed: bool,
    note: String,
}

/// What was recorded of a completed window.
pub(super) struct RecordView {
    completed: String,
    by: String,
    recorded: String,
    recorded_late: bool,
    approved: Option<String>,
    findings: String,
    checks: Vec<CheckView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/inspection.html")]
pub(super) struct TaskPage {
    c: Chrome,
    id: Uuid,
    row: TaskRow,
    record: Option<RecordView>,
    /// The completion form, when the viewer may record this window now.
    form: Option<Vec<CheckRow>>,
    findings: String,
    completed_at: String,
    may_approve: bool,
    errors: Vec<(&'static str, String)>,
}

impl TaskPage {
    /// The refusal of `field`, if any.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, t)| t.as_str())
    }
}

async fn record_view(state: &AppState, t: &Task) -> Result<Option<RecordView>, PageError> {
    let Some(completed_at) = t.completed_at else { return Ok(None) };
    let tz = state.item_timezone(t.line_item_id);
    let ids: Vec<Uuid> = [t.completed_by, t.approved_by].into_iter().flatten().collect();
    let names = accounts::names(state, &ids).await?;
    let name = |id: Option<Uuid>| {
        let known = id.and_then(|id| names.iter().find(|(i, _)| *i == id));
        known.map_or_else(|| "—".to_owned(), |(_, n)| n.clone())
    };
    let approved = t.approved_at.map(|at| format!("{} · {}", name(t.approved_by), local_time(at, tz)));
    Ok(Some(RecordView {
        completed: local_time(completed_at, tz),
        by: name(t.completed_by),
        recorded: t.recorded_at.map_or_else(|| "—".to_owned(), |r| local_time(r, tz)),
        recorded_late: t.recorded_late,
        approved,
        findings: t.findings.clone().unwrap_or_default(),
        checks: t
            .checklist
            .iter()
            .map(|c| CheckView {
                name: c.name.clone(),
                passed: c.passed,
                note: c.note.clone().unwrap_or_default(),
            })
            .collect(),
    }))
}

/// The form's rows before anything was sent: the usual checks, then blank ones.
fn blank_rows(lang: Lang) -> Vec<CheckRow> {
    let named = CHECKS.iter().map(|(zh, en)| lang.t(zh, en).to_owned());
    let names = named.chain(std::iter::repeat(String::new())).take(FORM_ROWS.max(CHECKS.len()));
    names
        .enumerate()
        .map(|(index, name)| CheckRow { index, name, result: String::new(), note: String::new() })
        .collect()
}

async fn task_page(state: &AppState, viewer: &Viewer, id: Uuid) -> Result<TaskPage, PageError> {
    let caller = &viewer.session.caller;
    may_view(caller)?;
    let t = inspections::get(state, caller, id).await?;
    let record = record_view(state, &t).await?;
    let records = matches!(caller.role, Role::Engineer | Role::Admin);
    let form = (records && t.completed_at.is_none() && t.due_from <= state.clock.now())
        .then(|| blank_rows(viewer.lang));
    Ok(TaskPage {
        c: Chrome::of(viewer, &format!("/inspections/{id}")),
        id,
        row: task_row(state, &t, viewer.lang),
        record,
        form,
        findings: String::new(),
        completed_at: String::new(),
        may_approve: caller.role == Role::Manager && t.recorded_late && t.approved_at.is_none(),
        errors: Vec::new(),
    })
}

/// `/inspections/{id}`: 404 outside the viewer's scope or role.
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<TaskPage, PageError> {
    task_page(&state, &viewer, id.parse().map_err(|_| PageError::NotFound)?).await
}

/// The completion form as sent: its fields by name (`check_name_3`,
/// `check_result_3`, `check_note_3`, `findings`, `completed_at`, `action`, `csrf`).
struct Sent(Vec<(String, String)>);

impl Sent {
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn rows(&self) -> Vec<CheckRow> {
        let last =
            self.0.iter().filter_map(|(k, _)| k.strip_prefix("check_")?.rsplit_once('_')?.1.parse().ok());
        let count = last.max().map_or(0, |n: usize| n + 1).clamp(FORM_ROWS, MAX_ROWS);
        (0..count)
            .map(|index| CheckRow {
                index,
                name: self.get(&format!("check_name_{index}")).trim().to_owned(),
                result: self.get(&format!("check_result_{index}")).to_owned(),
                note: self.get(&format!("check_note_{index}")).trim().to_owned(),
            })
            .collect()
    }
}

/// The checks marked pass or fail; a marked check needs a name.
fn checklist(rows: &[CheckRow], lang: Lang) -> Result<Vec<Check>, (&'static str, String)> {
    let marked = rows.iter().filter(|r| r.result == "pass" || r.result == "fail");
    marked
        .map(|r| {
            if r.name.is_empty() {
                return Err((
                    "checklist",
                    lang.t("标了结果的检查项须有名称。", "A check with a result needs a name.").to_owned(),
                ));
            }
            let note = Some(r.note.clone()).filter(|n| !n.is_empty());
            Ok(Check { name: r.name.clone(), passed: r.result == "pass", note })
        })
        .collect()
}

/// `completed_at` as typed (`2026-12-04T10:30`, local time of the item), or now when empty.
fn claimed_time(
    text: &str,
    tz: sla_engine::Tz,
    lang: Lang,
) -> Result<Option<Timestamp>, (&'static str, String)> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let wrong = || {
        (
            "completed_at",
            lang.t("请按“年-月-日 时:分”填写完成时间。", "Give the time as year-month-day hour:minute.")
                .to_owned(),
        )
    };
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(wrong)?;
    let at = tz.from_local_datetime(&local).earliest().ok_or_else(wrong)?;
    Ok(Some(Timestamp::from_unix(at.timestamp())))
}

fn completion(
    sent: &Sent,
    rows: &[CheckRow],
    tz: sla_engine::Tz,
    lang: Lang,
) -> Result<CompletionInput, (&'static str, String)> {
    Ok(CompletionInput {
        completed_at: claimed_time(sent.get("completed_at"), tz, lang)?,
        findings: sent.get("findings").trim().to_owned(),
        checklist: checklist(rows, lang)?,
        attachments: Vec::new(),
    })
}

/// Record the window as done (`action=complete`) or approve a late record
/// (`action=approve`); back to the window, or the form again with why not.
pub(super) async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let id: Uuid = id.parse().map_err(|_| PageError::NotFound)?;
    let sent = Sent(fields);
    viewer.check_csrf(sent.get("csrf"))?;
    let caller = &viewer.session.caller;
    may_view(caller)?;
    let lang = viewer.lang;
    let rows = sent.rows();
    let outcome = match (sent.get("action"), caller.role) {
        ("approve", Role::Manager) => {
            inspections::approve(&state, caller, id).await.err().map(|e| refused(e, lang))
        }
        ("complete", Role::Engineer | Role::Admin) => {
            let t = inspections::get(&state, caller, id).await?;
            match completion(&sent, &rows, state.item_timezone(t.line_item_id), lang) {
                Err((field, text)) => Some(Ok((Some(field), text))),
                Ok(input) => {
                    inspections::complete(&state, caller, id, input).await.err().map(|e| refused(e, lang))
                }
            }
        }
        _ => return Err(PageError::NotFound),
    };
    let Some(refusal) = outcome else {
        return Ok(Redirect::to(&format!("/inspections/{id}")).into_response());
    };
    let (field, text) = refusal?;
    let mut page = task_page(&state, &viewer, id).await?;
    if page.form.is_some() {
        page.form = Some(rows);
        page.findings = sent.get("findings").to_owned();
        page.completed_at = sent.get("completed_at").to_owned();
    }
    page.errors.push((field.unwrap_or("action"), text));
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// A service's refusal as a form shows it, or the error page for a failure.
/// A conflict here is always the same one, said in the viewer's language.
fn refused(e: Error, lang: Lang) -> Result<(Option<&'static str>, String), PageError> {
    if let Error::Conflict(_) = e {
        let text = lang.t(
            "这次巡检已有人登记（或已审批），请刷新页面查看。",
            "This inspection was already recorded (or approved); reload the page to see it.",
        );
        return Ok((None, text.to_owned()));
    }
    refusal(&e, lang).ok_or_else(|| PageError::from(e))
}
