//! Inspection tasks: the schedule kept in step with the catalog, listing and
//! completion, the windows that closed undone, and the windows a report counts.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::{inspection_notice as notice, inspection_task as task, outbox};
use super::{json, to_json};
use crate::domain::inspections::{Completion, Task};
use crate::domain::outbox::OutboxStatus;

fn from_row(m: task::Model) -> Result<Task, DbErr> {
    Ok(Task {
        id: m.id,
        schedule_key: m.schedule_key,
        line_item_id: m.line_item_id,
        agency: m.agency_key,
        cycle: u32::try_from(m.cycle).unwrap_or(0),
        every: m.every,
        device_class: m.device_class,
        slot: m.slot,
        due_from: Timestamp::from_unix(m.due_from),
        due_to: Timestamp::from_unix(m.due_to),
        completed_at: m.completed_at.map(Timestamp::from_unix),
        completed_by: m.completed_by,
        recorded_at: m.recorded_at.map(Timestamp::from_unix),
        recorded_late: m.recorded_late,
        approved_by: m.approved_by,
        approved_at: m.approved_at.map(Timestamp::from_unix),
        findings: m.findings,
        checklist: json("checklist", &m.checklist)?,
        attachments: json("attachments", &m.attachments)?,
    })
}

/// A stored task as the schedule sees it.
#[derive(Clone, Debug)]
pub struct Scheduled {
    /// Id.
    pub id: Uuid,
    /// Its window's key.
    pub key: String,
    /// Which cycle of the item.
    pub cycle: u32,
    /// When it was done, if it was.
    pub completed_at: Option<Timestamp>,
}

/// Every stored task of a line item, as the schedule sees them.
pub async fn scheduled(db: &impl ConnectionTrait, line_item_id: Uuid) -> Result<Vec<Scheduled>, DbErr> {
    let rows: Vec<(Uuid, String, i32, Option<i64>)> = task::Entity::find()
        .select_only()
        .columns([
            task::Column::Id,
            task::Column::ScheduleKey,
            task::Column::Cycle,
            task::Column::CompletedAt,
        ])
        .filter(task::Column::LineItemId.eq(line_item_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, key, cycle, done)| Scheduled {
            id,
            key,
            cycle: u32::try_from(cycle).unwrap_or(0),
            completed_at: done.map(Timestamp::from_unix),
        })
        .collect())
}

/// Give a task another window: the schedule changed, and a completion
/// recorded against the old window now counts for the new one that covers
/// its time. Everything recorded on the task stays as it is.
pub async fn move_to(db: &impl ConnectionTrait, id: Uuid, w: &NewTask) -> Result<(), DbErr> {
    task::Entity::update_many()
        .col_expr(task::Column::ScheduleKey, Expr::value(w.schedule_key.clone()))
        .col_expr(task::Column::Cycle, Expr::value(i32::try_from(w.cycle).unwrap_or(i32::MAX)))
        .col_expr(task::Column::Every, Expr::value(w.every.clone()))
        .col_expr(task::Column::DeviceClass, Expr::value(w.device_class.clone()))
        .col_expr(task::Column::Slot, Expr::value(w.slot.clone()))
        .col_expr(task::Column::DueFrom, Expr::value(w.due_from.unix()))
        .col_expr(task::Column::DueTo, Expr::value(w.due_to.unix()))
        .filter(task::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A window to add to the schedule.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// Stable key of the window.
    pub schedule_key: String,
    /// The line item.
    pub line_item_id: Uuid,
    /// Its agency.
    pub agency: String,
    /// Which cycle.
    pub cycle: u32,
    /// The cycle's period kind.
    pub every: String,
    /// The device class, for per-class cycles.
    pub device_class: Option<String>,
    /// A named slot.
    pub slot: Option<String>,
    /// Opens.
    pub due_from: Timestamp,
    /// Due before.
    pub due_to: Timestamp,
}

/// Add windows, a few hundred rows per statement.
pub async fn add(db: &impl ConnectionTrait, tasks: Vec<NewTask>) -> Result<(), DbErr> {
    let mut rows = tasks.into_iter().map(|t| task::ActiveModel {
        id: Set(Uuid::now_v7()),
        schedule_key: Set(t.schedule_key),
        line_item_id: Set(t.line_item_id),
        agency_key: Set(t.agency),
        cycle: Set(i32::try_from(t.cycle).unwrap_or(i32::MAX)),
        every: Set(t.every),
        device_class: Set(t.device_class),
        slot: Set(t.slot),
        due_from: Set(t.due_from.unix()),
        due_to: Set(t.due_to.unix()),
        completed_at: Set(None),
        completed_by: Set(None),
        findings: Set(None),
        checklist: Set("[]".into()),
        attachments: Set("[]".into()),
        recorded_at: Set(None),
        recorded_late: Set(false),
        approved_by: Set(None),
        approved_at: Set(None),
    });
    loop {
        let chunk: Vec<_> = rows.by_ref().take(200).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        task::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
}

/// Remove tasks.
pub async fn remove(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<(), DbErr> {
    for chunk in ids.chunks(200) {
        task::Entity::delete_many().filter(task::Column::Id.is_in(chunk.to_vec())).exec(db).await?;
    }
    Ok(())
}

/// One task.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Task>, DbErr> {
    task::Entity::find_by_id(id).one(db).await?.map(from_row).transpose()
}

/// What a list of tasks is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this agency.
    pub scope: Option<String>,
    /// Line item.
    pub line_item_id: Option<Uuid>,
    /// Windows ending after.
    pub due_from: Option<Timestamp>,
    /// Windows starting before.
    pub due_to: Option<Timestamp>,
    /// Windows closed at or before.
    pub closed_by: Option<Timestamp>,
    /// Which records.
    pub progress: Progress,
    /// Earliest window first, or the latest.
    pub latest_first: bool,
    /// Page size.
    pub limit: u64,
}

/// Which tasks a list holds by what has been recorded of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// Every task.
    #[default]
    Any,
    /// Not yet recorded as done.
    NotDone,
    /// Recorded late and not yet approved by a manager.
    AwaitingApproval,
}

/// Tasks by window.
pub async fn list(db: &impl ConnectionTrait, f: &Filter) -> Result<Vec<Task>, DbErr> {
    let mut cond = Condition::all();
    if let Some(scope) = &f.scope {
        cond = cond.add(task::Column::AgencyKey.eq(scope.clone()));
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
    if let Some(closed) = f.closed_by {
        cond = cond.add(task::Column::DueTo.lte(closed.unix()));
    }
    cond = match f.progress {
        Progress::Any => cond,
        Progress::NotDone => cond.add(task::Column::CompletedAt.is_null()),
        Progress::AwaitingApproval => {
            cond.add(task::Column::RecordedLate.eq(true)).add(task::Column::ApprovedAt.is_null())
        }
    };
    let order = if f.latest_first { sea_orm::Order::Desc } else { sea_orm::Order::Asc };
    task::Entity::find()
        .filter(cond)
        .order_by(task::Column::DueFrom, order.clone())
        .order_by(task::Column::Id, order)
        .limit(f.limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Record a task done, unless it already is; false when it was.
pub async fn complete(db: &impl ConnectionTrait, id: Uuid, c: &Completion) -> Result<bool, DbErr> {
    let updated = task::Entity::update_many()
        .col_expr(task::Column::CompletedAt, Expr::value(c.completed_at.unix()))
        .col_expr(task::Column::CompletedBy, Expr::value(c.completed_by))
        .col_expr(task::Column::RecordedAt, Expr::value(c.recorded_at.unix()))
        .col_expr(task::Column::RecordedLate, Expr::value(c.recorded_late))
        .col_expr(task::Column::Findings, Expr::value(c.findings.clone()))
        .col_expr(task::Column::Checklist, Expr::value(to_json(&c.checklist)?))
        .col_expr(task::Column::Attachments, Expr::value(to_json(&c.attachments)?))
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::CompletedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Approve a completion recorded late, unless it already is; false when it was.
pub async fn approve(db: &impl ConnectionTrait, id: Uuid, by: Uuid, at: Timestamp) -> Result<bool, DbErr> {
    let updated = task::Entity::update_many()
        .col_expr(task::Column::ApprovedBy, Expr::value(by))
        .col_expr(task::Column::ApprovedAt, Expr::value(at.unix()))
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::RecordedLate.eq(true))
        .filter(task::Column::ApprovedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Windows that closed undone within `(after, now]`, in `scope` (an agency,
/// or all), that `user` has not been told about: no message naming them to
/// them was sent or is waiting to be. Oldest first, at most `limit`, and how
/// many there are in all.
pub async fn unannounced(
    db: &impl ConnectionTrait,
    user: Uuid,
    scope: Option<&str>,
    after: Timestamp,
    now: Timestamp,
    limit: u64,
) -> Result<(Vec<Task>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    use sea_orm::sea_query::Query;
    let mut told = Query::select();
    told.expr(Expr::val(1))
        .from(notice::Entity)
        .inner_join(
            outbox::Entity,
            Expr::col((outbox::Entity, outbox::Column::Id))
                .equals((notice::Entity, notice::Column::OutboxId)),
        )
        .and_where(
            Expr::col((notice::Entity, notice::Column::TaskId)).equals((task::Entity, task::Column::Id)),
        )
        .and_where(Expr::col((notice::Entity, notice::Column::UserId)).eq(user))
        .and_where(
            Expr::col((outbox::Entity, outbox::Column::Status))
                .is_in([OutboxStatus::Pending.as_str(), OutboxStatus::Sent.as_str()]),
        );
    let mut query = task::Entity::find()
        .filter(task::Column::CompletedAt.is_null())
        .filter(task::Column::DueTo.gt(after.unix()))
        .filter(task::Column::DueTo.lte(now.unix()))
        .filter(Expr::exists(told).not());
    if let Some(agency) = scope {
        query = query.filter(task::Column::AgencyKey.eq(agency));
    }
    let total = query.clone().count(db).await?;
    let tasks = query
        .order_by_asc(task::Column::DueTo)
        .order_by_asc(task::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
    Ok((tasks, total))
}

/// Record that the message `outbox_id` names these windows to `user`.
pub async fn record_notices(
    db: &impl ConnectionTrait,
    tasks: &[Uuid],
    user: Uuid,
    outbox_id: Uuid,
    now: Timestamp,
) -> Result<(), DbErr> {
    for chunk in tasks.chunks(200) {
        let rows = chunk.iter().map(|t| notice::ActiveModel {
            task_id: Set(*t),
            user_id: Set(user),
            outbox_id: Set(outbox_id),
            queued_at: Set(now.unix()),
        });
        notice::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(())
}

/// When `user` was last sent a digest of overdue windows.
pub async fn last_notice(db: &impl ConnectionTrait, user: Uuid) -> Result<Option<Timestamp>, DbErr> {
    let at: Option<Option<i64>> = notice::Entity::find()
        .select_only()
        .column_as(notice::Column::QueuedAt.max(), "m")
        .filter(notice::Column::UserId.eq(user))
        .into_tuple()
        .one(db)
        .await?;
    Ok(at.flatten().map(Timestamp::from_unix))
}

/// When the next window still undone closes after `now`.
pub async fn next_close(db: &impl ConnectionTrait, now: Timestamp) -> Result<Option<Timestamp>, DbErr> {
    let at: Option<Option<i64>> = task::Entity::find()
        .select_only()
        .column_as(task::Column::DueTo.min(), "m")
        .filter(task::Column::CompletedAt.is_null())
        .filter(task::Column::DueTo.gt(now.unix()))
        .into_tuple()
        .one(db)
        .await?;
    Ok(at.flatten().map(Timestamp::from_unix))
}

/// Tasks whose window closes within `(from, to]`, in scope.
pub async fn closing_between(
    db: &impl ConnectionTrait,
    from: Timestamp,
    to: Timestamp,
    agencies: &[&str],
    line_item: Option<Uuid>,
) -> Result<Vec<Task>, DbErr> {
    let mut query = task::Entity::find()
        .filter(task::Column::DueTo.gt(from.unix()))
        .filter(task::Column::DueTo.lte(to.unix()));
    for a in agencies {
        query = query.filter(task::Column::AgencyKey.eq(*a));
    }
    if let Some(li) = line_item {
        query = query.filter(task::Column::LineItemId.eq(li));
    }
    query.all(db).await?.into_iter().map(from_row).collect()
}
