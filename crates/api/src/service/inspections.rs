//! Inspection tasks: generated from each item's cycles, listed in scope, completed by engineers.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sla_engine::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::access::{Caller, Role};
use crate::domain::inspections::windows;
use crate::http::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::store::entities::inspection_task as task;

/// Where an inspection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InspectionStatus {
    /// Not done, still within (or before) its window.
    Open,
    /// Done within its window.
    Done,
    /// Done after its window closed.
    Late,
    /// Not done, and its window has closed.
    Missed,
}

/// The status of a task at `now`.
pub fn status(t: &task::Model, now: Timestamp) -> InspectionStatus {
    match t.completed_at {
        Some(at) if at <= t.due_to => InspectionStatus::Done,
        Some(_) => InspectionStatus::Late,
        None if t.due_to <= now.unix() => InspectionStatus::Missed,
        None => InspectionStatus::Open,
    }
}

/// Bring the stored tasks in line with the catalog: add missing windows, and
/// drop open future tasks that no cycle produces any more (past and completed
/// tasks are history and stay).
pub async fn sync(state: &AppState) -> Result<(usize, usize), DbErr> {
    let now = state.clock.now().unix();
    let tz = state.catalog.settings.timezone;
    let (mut added, mut removed) = (0, 0);
    for item in &state.catalog.items {
        let item_id = state.item_id(item);
        let mut wanted = BTreeMap::new();
        for (i, cycle) in item.inspections.iter().enumerate() {
            for w in windows(item.seq, i, cycle, item.service_period, &state.catalog.filing_periods, tz) {
                let every = serde_json::to_value(cycle.every)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                wanted.insert(w.key.clone(), (w, every, cycle.device_class.clone()));
            }
        }
        let existing: Vec<(Uuid, String, i64, Option<i64>)> = task::Entity::find()
            .select_only()
            .columns([
                task::Column::Id,
                task::Column::ScheduleKey,
                task::Column::DueFrom,
                task::Column::CompletedAt,
            ])
            .filter(task::Column::LineItemId.eq(item_id))
            .into_tuple()
            .all(&state.db)
            .await?;
        let have: BTreeSet<&str> = existing.iter().map(|(_, k, _, _)| k.as_str()).collect();
        let stale: Vec<Uuid> = existing
            .iter()
            .filter(|(_, k, from, done)| done.is_none() && *from > now && !wanted.contains_key(k))
            .map(|(id, ..)| *id)
            .collect();
        let fresh: Vec<task::ActiveModel> = wanted
            .iter()
            .filter(|(k, _)| !have.contains(k.as_str()))
            .map(|(k, (w, every, class))| task::ActiveModel {
                id: Set(Uuid::now_v7()),
                schedule_key: Set(k.clone()),
                line_item_id: Set(item_id),
                agency_key: Set(item.agency.clone()),
                cycle: Set(w.cycle as i32),
                every: Set(every.clone()),
                device_class: Set(class.clone()),
                slot: Set(w.slot.clone()),
                due_from: Set(w.from.unix()),
                due_to: Set(w.to.unix()),
                completed_at: Set(None),
                completed_by: Set(None),
                findings: Set(None),
                checklist: Set("[]".into()),
                attachments: Set("[]".into()),
                late_alerted: Set(false),
            })
            .collect();
        added += fresh.len();
        let mut rows = fresh.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(200).collect();
            task::Entity::insert_many(chunk).exec_without_returning(&state.db).await?;
        }
        for chunk in stale.chunks(200) {
            removed += chunk.len();
            task::Entity::delete_many()
                .filter(task::Column::Id.is_in(chunk.to_vec()))
                .exec(&state.db)
                .await?;
        }
    }
    Ok((added, removed))
}

/// One named check of a completed inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What was checked.
    #[schema(max_length = 200)]
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// What an engineer records on completing an inspection.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// When it was done (default now; not in the future, not before the window opens).
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Findings, up to 10,000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub findings: String,
    /// The checklist.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub checklist: Vec<Check>,
    /// Links to photos or reports.
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<LinkText>)]
    pub attachments: Vec<String>,
}

/// A task the caller may see; 404 otherwise.
pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<task::Model> {
    task::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|t| caller.sees(&t.agency_key))
        .ok_or_else(|| ApiError::not_found("inspection"))
}

/// Filters for the list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Line item.
    pub line_item_id: Option<Uuid>,
    /// Windows ending at or after.
    pub due_from: Option<Timestamp>,
    /// Windows starting before.
    pub due_to: Option<Timestamp>,
    /// Page size.
    pub limit: u64,
}

/// Tasks in scope, by window.
pub async fn list(state: &AppState, caller: &Caller, f: Filter) -> ApiResult<Vec<task::Model>> {
    let mut cond = Condition::all();
    if let Some(scope) = caller.scope() {
        cond = cond.add(task::Column::AgencyKey.eq(scope));
    }
    if let Some(li) = f.line_item_id {
        cond = cond.add(task::Column::LineItemId.eq(li));
    }
    if let Some(from) = f.due_from {
        cond = cond.add(task::Column::DueTo.gt(from.unix()));
    }
    if let Some(to) = f.due_to {
        cond = cond.add(task::Column::DueFrom.lt(to.unix()));
    }
    Ok(task::Entity::find()
        .filter(cond)
        .order_by_asc(task::Column::DueFrom)
        .order_by_asc(task::Column::Id)
        .limit(f.limit)
        .all(&state.db)
        .await?)
}

/// A link to a photo or a report as the spec states it: an http(s) URL of
/// at most 2,000 characters (the service checks the same rule).
#[derive(Debug)]
pub struct LinkText;

impl utoipa::PartialSchema for LinkText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::http::bounded_text(7, 2000, "^https?://")
    }
}

impl utoipa::ToSchema for LinkText {}

/// Record an inspection as done.
pub async fn complete(state: &AppState, caller: &Caller, id: Uuid, c: Completion) -> ApiResult<task::Model> {
    let t = get(state, caller, id).await?;
    if !matches!(caller.role, Role::Engineer | Role::Admin) {
        return Err(ApiError::forbidden("only engineers record inspections"));
    }
    if t.completed_at.is_some() {
        return Err(ApiError::new(Code::Conflict, "this inspection is already recorded"));
    }
    let now = state.clock.now();
    let at = c.completed_at.map_or(now, Timestamp::from);
    if at > now {
        return Err(ApiError::invalid("completed_at is in the future"));
    }
    if at.unix() < t.due_from {
        return Err(ApiError::invalid("completed_at is before the inspection's window opens"));
    }
    if c.findings.chars().count() > 10_000 || c.checklist.len() > 200 || c.attachments.len() > 50 {
        return Err(ApiError::invalid("findings up to 10,000 characters, 200 checks, 50 attachments"));
    }
    for check in &c.checklist {
        if check.name.trim().is_empty()
            || check.name.chars().count() > 200
            || check.note.as_ref().is_some_and(|n| n.chars().count() > 2000)
        {
            return Err(ApiError::invalid(
                "each check needs a name of 1 to 200 characters and a note of at most 2,000",
            ));
        }
    }
    for a in &c.attachments {
        if !(a.starts_with("https://") || a.starts_with("http://")) || a.len() > 2000 {
            return Err(ApiError::invalid(format!("attachment \"{a}\" is not an http(s) URL")));
        }
    }
    let updated = task::Entity::update_many()
        .col_expr(task::Column::CompletedAt, sea_orm::sea_query::Expr::value(at.unix()))
        .col_expr(task::Column::CompletedBy, sea_orm::sea_query::Expr::value(caller.id))
        .col_expr(task::Column::Findings, sea_orm::sea_query::Expr::value(c.findings))
        .col_expr(
            task::Column::Checklist,
            sea_orm::sea_query::Expr::value(serde_json::to_string(&c.checklist).map_err(ApiError::internal)?),
        )
        .col_expr(
            task::Column::Attachments,
            sea_orm::sea_query::Expr::value(
                serde_json::to_string(&c.attachments).map_err(ApiError::internal)?,
            ),
        )
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::CompletedAt.is_null())
        .exec(&state.db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(ApiError::new(Code::Conflict, "this inspection is already recorded"));
    }
    get(state, caller, id).await
}
