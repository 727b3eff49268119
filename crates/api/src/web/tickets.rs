//! The ticket pages: the list of the viewer's scope, the filing form, and
//! one ticket with its clocks, trail and the actions the viewer may take.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use sla_engine::{ClockState, Severity};
use uuid::Uuid;

use super::chrome::{Chrome, Lang, local_time};
use super::error::{PageError, refusal};
use super::session::{Viewer, encode};
use crate::domain::access::Caller;
use crate::domain::ticket::{self, Action};
use crate::service::filing::{self, Filed, NewTicket, Steps};
use crate::service::tickets::{self, ActionInput, ClockRead, ListQuery, TicketRead};
use crate::state::AppState;

/// Tickets on one page of the list.
const PAGE: u64 = 25;

/// One clock as a page shows it.
pub(super) struct ClockRow {
    pub(super) metric: String,
    pub(super) target: String,
    pub(super) state: &'static str,
    pub(super) deadline: String,
    pub(super) remaining: String,
    /// `ok`, `warn`, `risk` or `late`: the share of the target used.
    pub(super) band: &'static str,
}

/// One ticket as a row of a list.
pub(super) struct TicketRow {
    pub(super) id: Uuid,
    pub(super) number: String,
    pub(super) title: String,
    pub(super) item: String,
    pub(super) agency: String,
    pub(super) state: &'static str,
    pub(super) state_key: &'static str,
    pub(super) breached: bool,
    pub(super) created: String,
    /// The clock nearest its deadline, if one is counting.
    pub(super) next: Option<ClockRow>,
    pub(super) band: &'static str,
}

/// How much of a clock's target is used, as a colour band: under 50 %,
/// 50–80 %, over 80 %, breached.
pub(super) fn band(c: &ClockRead) -> &'static str {
    let s = &c.status;
    if s.breached_at.is_some() || s.state == ClockState::Breached {
        return "late";
    }
    let used = s.elapsed.get().saturating_mul(100) / s.target.get().max(1);
    match used {
        0..50 => "ok",
        50..=80 => "warn",
        _ => "risk",
    }
}

/// A metric's name for people, from the catalog.
fn metric_name(state: &AppState, metric: &str, lang: Lang) -> String {
    state
        .catalog
        .settings
        .metric_name(metric)
        .map_or_else(|| metric.to_owned(), |n| if lang == Lang::En { n.en.clone() } else { n.zh.clone() })
}

pub(super) fn clock_row(state: &AppState, c: &ClockRead, tz: sla_engine::Tz, lang: Lang) -> ClockRow {
    let s = &c.status;
    let deadline = match (s.met_at, s.deadline) {
        (Some(met), _) => format!("{} {}", lang.t("达成于", "met at"), local_time(met, tz)),
        (None, Some(d)) => local_time(d, tz),
        (None, None) => "—".into(),
    };
    let remaining = if s.met_at.is_some() {
        "—".into()
    } else if s.breached_at.is_some() || s.state == ClockState::Breached {
        format!("{} {}", lang.t("已超", "over by"), lang.duration(s.overdue.get()))
    } else {
        lang.duration(s.remaining.get())
    };
    ClockRow {
        metric: metric_name(state, &c.metric, lang),
        target: lang.duration(s.target.get()),
        state: lang.clock(s.state),
        deadline,
        remaining,
        band: band(c),
    }
}

fn item_label(state: &AppState, id: Uuid) -> String {
    state.item(id).map_or_else(String::new, |i| format!("{}. {}", i.seq, i.name))
}

fn agency_name(state: &AppState, key: &str) -> String {
    state.catalog.agency(key).map_or_else(|| key.to_owned(), |a| a.name.clone())
}

pub(super) fn row(state: &AppState, t: &TicketRead, lang: Lang) -> TicketRow {
    let tz = state.item_timezone(t.ticket.line_item_id);
    let counting = t.clocks.iter().filter(|c| c.status.met_at.is_none());
    let nearest = counting.min_by_key(|c| c.status.deadline.map_or(i64::MAX, |d| d.unix()));
    let next = nearest.map(|c| clock_row(state, c, tz, lang));
    let breached = t.clocks.iter().any(|c| band(c) == "late");
    TicketRow {
        id: t.ticket.id,
        number: t.ticket.number.clone(),
        title: t.ticket.title.clone(),
        item: item_label(state, t.ticket.line_item_id),
        agency: agency_name(state, &t.ticket.agency),
        state: lang.state(t.ticket.state),
        state_key: t.ticket.state.as_str(),
        breached,
        created: local_time(t.ticket.created_at, tz),
        band: next.as_ref().map_or("none", |c| c.band),
        next,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "web/tickets.html")]
pub(super) struct ListPage {
    c: Chrome,
    q: String,
    rows: Vec<TicketRow>,
    next: Option<String>,
}

/// The list's query string.
#[derive(Debug, Deserialize)]
pub(super) struct ListParams {
    q: Option<String>,
    after: Option<String>,
}

fn decode_after(text: &str) -> Option<(i64, Uuid)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (created, id) = text.split_once('/')?;
    Some((created.parse().ok()?, id.parse().ok()?))
}

fn encode_after((created, id): (i64, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created}/{id}"))
}

/// `/tickets`: the viewer's scope, newest first, a page at a time (keyset:
/// `after` is where the last page ended), searched by number or text.
pub(super) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ListParams>,
) -> Result<ListPage, PageError> {
    let q = p.q.unwrap_or_default().chars().take(200).collect::<String>();
    let query = ListQuery {
        text: Some(q.trim().to_owned()).filter(|t| !t.is_empty()),
        cursor: p.after.as_deref().and_then(decode_after),
        limit: PAGE,
        ..ListQuery::default()
    };
    let (found, next) = tickets::list(&state, &viewer.session.caller, query).await?;
    let rows = found.iter().map(|t| row(&state, t, viewer.lang)).collect();
    let next = next.map(|n| format!("/tickets?q={}&after={}", encode(&q), encode_after(n)));
    Ok(ListPage { c: Chrome::of(&viewer, "/tickets"), q, rows, next })
}

/// A line item the viewer may file against: its id and `序号. 名称`.
pub(super) struct ItemOption {
    id: Uuid,
    label: String,
}

fn own_items(state: &AppState, caller: &Caller) -> Vec<ItemOption> {
    let items = state.catalog.items.iter().filter(|i| caller.sees(&i.agency));
    items.map(|i| ItemOption { id: state.item_id(i), label: format!("{}. {}", i.seq, i.name) }).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "web/new.html")]
pub(super) struct NewPage {
    c: Chrome,
    items: Vec<ItemOption>,
    form: NewForm,
    errors: Vec<(&'static str, String)>,
}

impl NewPage {
    /// The refusal of `field`, if any.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, t)| t.as_str())
    }
}

/// The filing form's fields (as sent, to show them again).
#[derive(Debug, Default, Deserialize)]
pub(super) struct NewForm {
    #[serde(default)]
    line_item_id: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    csrf: String,
}

/// `/tickets/new`: the filing form.
pub(super) async fn new_form(State(state): State<AppState>, viewer: Viewer) -> NewPage {
    let items = own_items(&state, &viewer.session.caller);
    let form = NewForm { severity: "general".into(), ..NewForm::default() };
    NewPage { c: Chrome::of(&viewer, "/tickets/new"), items, form, errors: Vec::new() }
}

/// File the fault and show it; or the form again with what is wrong.
pub(super) async fn file(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<NewForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let again = |form: NewForm, field: &'static str, text: String| {
        let items = own_items(&state, &viewer.session.caller);
        let c = Chrome::of(&viewer, "/tickets/new");
        (StatusCode::UNPROCESSABLE_ENTITY, NewPage { c, items, form, errors: vec![(field, text)] })
            .into_response()
    };
    let Ok(line_item_id) = form.line_item_id.parse::<Uuid>() else {
        return Ok(again(form, "line_item_id", lang.t("请选择服务项目。", "Choose a line item.").into()));
    };
    let Ok(severity) = form.severity.parse::<Severity>() else {
        return Ok(again(form, "severity", lang.t("请选择故障级别。", "Choose a severity.").into()));
    };
    let new = NewTicket {
        line_item_id,
        title: form.title.clone(),
        description: form.description.clone(),
        severity,
        reported_at: None,
        tags: Vec::new(),
        steps: Steps::default(),
    };
    match filing::file(&state, &viewer.session.caller, new, None).await {
        Ok(Filed::Created(t) | Filed::Replayed(t)) => {
            Ok(Redirect::to(&format!("/tickets/{}", t.ticket.id)).into_response())
        }
        Err(crate::service::Error::NotFound(_)) => {
            Ok(again(form, "line_item_id", lang.t("没有这个服务项目。", "No such line item.").into()))
        }
        Err(e) => match refusal(&e, lang) {
            Some((field, text)) => Ok(again(form, field.unwrap_or("title"), text)),
            None => Err(e.into()),
        },
    }
}

/// One row of the trail.
pub(super) struct TrailRow {
    at: String,
    who: String,
    what: String,
    note: String,
}

/// One action button.
pub(super) struct ActionButton {
    value: &'static str,
    label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/ticket.html")]
pub(super) struct TicketPage {
    c: Chrome,
    id: Uuid,
    number: String,
    title: String,
    description: String,
    item: String,
    agency: String,
    severity: &'static str,
    state: &'static str,
    state_key: &'static str,
    reported: String,
    clocks: Vec<ClockRow>,
    trail: Vec<TrailRow>,
    actions: Vec<ActionButton>,
    error: Option<String>,
    body: String,
}

/// The actions a page offers, in the order work goes.
const OFFERED: [Action; 9] = [
    Action::Acknowledge,
    Action::Arrive,
    Action::Contain,
    Action::Pause,
    Action::Resume,
    Action::Resolve,
    Action::Close,
    Action::Reopen,
    Action::Comment,
];

/// What the viewer may do to this ticket now: their role allows it, its
/// state allows it, and `contain` only where the item has that metric.
fn actions(caller: &Caller, t: &TicketRead, lang: Lang) -> Vec<ActionButton> {
    let contains = t.clocks.iter().any(|c| c.metric == ticket::CONTAINMENT);
    let allowed = |a: Action| {
        caller.may(a)
            && ticket::next_state(t.ticket.state, t.ticket.paused_from, a).is_ok()
            && (a != Action::Contain || contains)
    };
    OFFERED
        .into_iter()
        .filter(|a| allowed(*a))
        .map(|a| ActionButton { value: a.as_str(), label: lang.action(a) })
        .collect()
}

fn event_note(data: &serde_json::Value) -> String {
    ["body", "note", "reason"]
        .iter()
        .find_map(|k| data.get(k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

async fn ticket_page(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    error: Option<String>,
    body: String,
) -> Result<TicketPage, PageError> {
    let caller = &viewer.session.caller;
    let lang = viewer.lang;
    let t = tickets::read(state, caller, id).await?;
    let tz = state.item_timezone(t.ticket.line_item_id);
    let trail = tickets::events(state, caller, id).await?;
    let trail = trail
        .into_iter()
        .map(|r| TrailRow {
            at: local_time(r.event.at, tz),
            who: r.actor.map_or_else(|| lang.t("系统", "the service").to_owned(), |a| a.name),
            what: r
                .event
                .kind
                .action()
                .map_or_else(|| r.event.kind.as_str().to_owned(), |a| lang.action(a).to_owned()),
            note: event_note(&r.event.data),
        })
        .collect();
    Ok(TicketPage {
        c: Chrome::of(viewer, &format!("/tickets/{id}")),
        id,
        number: t.ticket.number.clone(),
        title: t.ticket.title.clone(),
        description: t.ticket.description.clone(),
        item: item_label(state, t.ticket.line_item_id),
        agency: agency_name(state, &t.ticket.agency),
        severity: lang.severity(t.ticket.severity),
        state: lang.state(t.ticket.state),
        state_key: t.ticket.state.as_str(),
        reported: local_time(t.ticket.reported_at, tz),
        clocks: t.clocks.iter().map(|c| clock_row(state, c, tz, lang)).collect(),
        actions: actions(caller, &t, lang),
        trail,
        error,
        body,
    })
}

/// `/tickets/{id}` (an id or a number): 404 outside the viewer's scope.
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(reference): Path<String>,
) -> Result<TicketPage, PageError> {
    let id = tickets::resolve(&state, &reference).await?;
    ticket_page(&state, &viewer, id, None, String::new()).await
}

/// The action form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct ActForm {
    action: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    csrf: String,
}

/// Take the action pressed; back to the ticket, or the ticket with why not.
pub(super) async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(reference): Path<String>,
    Form(form): Form<ActForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let id = tickets::resolve(&state, &reference).await?;
    let action =
        Action::ROUTABLE.into_iter().find(|a| a.as_str() == form.action).ok_or(PageError::NotFound)?;
    let body = Some(form.body.trim().to_owned()).filter(|b| !b.is_empty());
    let input = ActionInput { body, ..ActionInput::default() };
    match tickets::act(&state, &viewer.session.caller, id, action, input, None).await {
        Ok(_) => Ok(Redirect::to(&format!("/tickets/{id}")).into_response()),
        Err(e) => {
            let Some((_, text)) = refusal(&e, viewer.lang) else { return Err(e.into()) };
            let page = ticket_page(&state, &viewer, id, Some(text), form.body).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}
