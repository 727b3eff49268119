//! `/queue`: the engineers' work list, every agency's active tickets, the
//! nearest deadline first, coloured by the share of the target used;
//! htmx refreshes the table every 30 seconds (a request it marks
//! `HX-Request` gets the table alone).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::Chrome;
use super::error::PageError;
use super::session::{Viewer, encode};
use super::tickets::{TicketRow, row};
use crate::domain::access::Role;
use crate::service::tickets::{self, AssigneeQuery, ListQuery};
use crate::state::AppState;

/// The most tickets the queue shows at once.
const SHOWN: u64 = 100;

/// The queue's filters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filters {
    /// `mine`, `unassigned`, or everyone's.
    #[serde(default)]
    whose: String,
    /// One line item.
    #[serde(default)]
    item: String,
    /// One agency (key).
    #[serde(default)]
    agency: String,
}

/// A choice of a filter's select.
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/queue.html")]
struct QueuePage {
    c: Chrome,
    rows: Vec<TicketRow>,
    refresh: String,
    whose: Vec<Choice>,
    items: Vec<Choice>,
    agencies: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/queue_rows.html")]
struct QueueRows {
    c: Chrome,
    rows: Vec<TicketRow>,
}

pub(super) fn choice(value: impl Into<String>, label: impl Into<String>, current: &str) -> Choice {
    let value = value.into();
    Choice { selected: value == current, value, label: label.into() }
}

fn choices(state: &AppState, f: &Filters, lang: super::chrome::Lang) -> [Vec<Choice>; 3] {
    let whose = vec![
        choice("", lang.t("全部", "everyone's"), &f.whose),
        choice("mine", lang.t("我的", "mine"), &f.whose),
        choice("unassigned", lang.t("未指派", "unassigned"), &f.whose),
    ];
    let mut items = vec![choice("", lang.t("全部项目", "every item"), &f.item)];
    items.extend(
        state
            .catalog
            .items
            .iter()
            .map(|i| choice(state.item_id(i).to_string(), format!("{}. {}", i.seq, i.name), &f.item)),
    );
    let mut agencies = vec![choice("", lang.t("全部单位", "every agency"), &f.agency)];
    agencies.extend(state.catalog.agencies.iter().map(|a| choice(a.key.clone(), a.name.clone(), &f.agency)));
    [whose, items, agencies]
}

fn query_of(f: &Filters) -> ListQuery {
    let assignee = match f.whose.as_str() {
        "mine" => Some(AssigneeQuery::Me),
        "unassigned" => Some(AssigneeQuery::Nobody),
        _ => None,
    };
    ListQuery {
        assignee,
        line_items: f.item.parse::<Uuid>().ok().into_iter().collect(),
        agencies: Some(f.agency.clone()).filter(|a| !a.is_empty()).into_iter().collect(),
        limit: SHOWN,
        ..ListQuery::default()
    }
}

/// The queue, for those who work tickets; 404 for other roles, as the API
/// hides what a role may not see.
pub(super) async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    HxRequest(partial): HxRequest,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    if !matches!(viewer.session.caller.role, Role::Engineer | Role::Admin) {
        return Err(PageError::NotFound);
    }
    let found = tickets::queue(&state, &viewer.session.caller, query_of(&f)).await?;
    let rows = found.iter().map(|t| row(&state, t, viewer.lang)).collect();
    let c = Chrome::of(&viewer, "/queue");
    if partial {
        return Ok(QueueRows { c, rows }.into_response());
    }
    let refresh =
        format!("/queue?whose={}&item={}&agency={}", encode(&f.whose), encode(&f.item), encode(&f.agency));
    let [whose, items, agencies] = choices(&state, &f, viewer.lang);
    Ok(QueuePage { c, rows, refresh, whose, items, agencies }.into_response())
}
