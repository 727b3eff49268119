//! Inspection tasks: generated from each item's cycles, listed in scope, completed by engineers.

use std::collections::BTreeMap;

use sla_engine::Timestamp;
use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::inspections::{Check, Completion, Task, recorded_late, windows};
use crate::domain::message::Invalid;
use crate::domain::text::{self, TEXT_MAX};
use crate::state::AppState;
use crate::store;
use crate::store::inspections::NewTask;

/// Filters for listing tasks (the caller's scope is added by [`list`]).
pub type TaskFilter = store::inspections::Filter;
pub use crate::store::inspections::Progress;

/// Bring the stored tasks in line with the catalog: add missing windows,
/// and drop tasks not done whose window no cycle produces any more. A
/// completion whose window disappears is never lost: its task moves to the
/// new window of the same cycle that covers the time it was done.
pub async fn sync(state: &AppState) -> Result<(usize, usize)> {
    let (mut added, mut removed) = (0, 0);
    for item in &state.catalog.items {
        let item_id = state.item_id(item);
        let mut wanted = wanted(state, item, item_id);
        let existing = store::inspections::scheduled(&state.db, item_id).await?;
        let mut stale = Vec::new();
        for task in existing {
            if wanted.remove(&task.key).is_some() {
                continue;
            }
            let home = task.completed_at.and_then(|at| {
                wanted
                    .iter()
                    .find(|(_, w)| w.cycle == task.cycle && w.due_from <= at && at < w.due_to)
                    .map(|(k, _)| k.clone())
            });
            match home.and_then(|k| wanted.remove(&k)) {
                Some(window) => store::inspections::move_to(&state.db, task.id, &window).await?,
                // Kept: a record of work done outside every window of the new schedule.
                None if task.completed_at.is_some() => {}
                None => stale.push(task.id),
            }
        }
        added += wanted.len();
        removed += stale.len();
        store::inspections::add(&state.db, wanted.into_values().collect()).await?;
        store::inspections::remove(&state.db, &stale).await?;
    }
    Ok((added, removed))
}

/// Every window an item's cycles produce over its service period, by key.
fn wanted(state: &AppState, item: &catalog::LineItem, item_id: Uuid) -> BTreeMap<String, NewTask> {
    let tz = state.catalog.settings.timezone;
    let mut out = BTreeMap::new();
    for (i, cycle) in item.inspections.iter().enumerate() {
        let every = serde_json::to_value(cycle.every)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        for w in windows(item.seq, i, cycle, item.service_period, &state.catalog.filing_periods, tz) {
            let task = NewTask {
                schedule_key: w.key.clone(),
                line_item_id: item_id,
                agency: item.agency.clone(),
                cycle: u32::try_from(w.cycle).unwrap_or(u32::MAX),
                every: every.clone(),
                device_class: cycle.device_class.clone(),
                slot: w.slot,
                due_from: w.from,
                due_to: w.to,
            };
            out.insert(w.key, task);
        }
    }
    out
}

/// A task the caller may see; 404 otherwise.
pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> Result<Task> {
    store::inspections::get(&state.db, id)
        .await?
        .filter(|t| caller.sees(&t.agency))
        .ok_or(Error::NotFound("inspection"))
}

/// Tasks in scope, by window.
pub async fn list(state: &AppState, caller: &Caller, mut f: TaskFilter) -> Result<Vec<Task>> {
    f.scope = caller.scope().map(str::to_owned);
    Ok(store::inspections::list(&state.db, &f).await?)
}

/// What an engineer says on completing an inspection.
#[derive(Clone, Debug, Default)]
pub struct CompletionInput {
    /// When it was done (default now).
    pub completed_at: Option<Timestamp>,
    /// Findings.
    pub findings: String,
    /// The checklist.
    pub checklist: Vec<Check>,
    /// Links to photos or reports.
    pub attachments: Vec<String>,
}

/// The text rules every free text keeps (`domain::text`): the findings and
/// each check's note are multi-line text, each check's name one line.
fn check_completion(c: &CompletionInput) -> Result<()> {
    if c.checklist.len() > 200 || c.attachments.len() > 50 {
        return Err(Invalid::request(
            "检查项最多 200 条，附件最多 50 个",
            "findings up to 10,000 characters, 200 checks, 50 attachments",
        )
        .into());
    }
    text::check("findings", &c.findings, 0, TEXT_MAX)?;
    for check in &c.checklist {
        if check.name.trim().is_empty() {
            return Err(Invalid::field(
                "checklist",
                "每个检查项须有 1 到 200 个字符的名称，备注最多 2000 个字符",
                "each check needs a name of 1 to 200 characters and a note of at most 2,000",
            )
            .into());
        }
        text::check_line("checklist", &check.name, 1, 200)?;
        if let Some(note) = &check.note {
            text::check("checklist", note, 0, 2000)?;
        }
    }
    c.attachments.iter().try_for_each(|a| text::check_link(a))?;
    Ok(())
}

/// Record an inspection as done. The time of recording is kept beside the
/// time claimed: a completion claimed inside a window that has closed, or
/// more than `inspection_record_grace_seconds` before it is recorded, is
/// recorded late and counts as late until a manager approves it.
pub async fn complete(state: &AppState, caller: &Caller, id: Uuid, c: CompletionInput) -> Result<Task> {
    let t = get(state, caller, id).await?;
    if !matches!(caller.role, Role::Engineer | Role::Admin) {
        return Err(Error::forbidden("only engineers record inspections"));
    }
    if t.completed_at.is_some() {
        return Err(Error::Conflict("this inspection is already recorded".into()));
    }
    let now = state.clock.now();
    let at = c.completed_at.unwrap_or(now);
    if at > now {
        return Err(
            Invalid::field("completed_at", "完成时间不能晚于现在", "completed_at is in the future").into()
        );
    }
    if at < t.due_from {
        return Err(Invalid::field(
            "completed_at",
            "完成时间早于巡检窗口开始",
            "completed_at is before the inspection's window opens",
        )
        .into());
    }
    check_completion(&c)?;
    let grace = i64::try_from(state.settings.inspection_record_grace_seconds).unwrap_or(i64::MAX);
    let late = recorded_late(at, now, t.due_to, grace);
    let completion = Completion {
        completed_at: at,
        completed_by: caller.id,
        recorded_at: now,
        recorded_late: late,
        findings: c.findings,
        checklist: c.checklist,
        attachments: c.attachments,
    };
    if !store::inspections::complete(&state.db, id, &completion).await? {
        return Err(Error::Conflict("this inspection is already recorded".into()));
    }
    if late {
        tracing::info!(inspection = %id, claimed = %at, by = %caller.username, "inspection recorded late; needs a manager's approval to count on time");
    }
    get(state, caller, id).await
}

/// Approve a completion recorded late, so that it counts by the time it
/// claims (managers, in their scope). Who approved and when are kept.
pub async fn approve(state: &AppState, caller: &Caller, id: Uuid) -> Result<Task> {
    let t = get(state, caller, id).await?;
    if caller.role != Role::Manager {
        return Err(Error::forbidden("only managers approve inspections recorded late"));
    }
    if !t.recorded_late || t.approved_at.is_some() {
        return Err(Error::Conflict(if t.recorded_late {
            "this inspection is already approved".into()
        } else {
            "only an inspection recorded late needs an approval".into()
        }));
    }
    if !store::inspections::approve(&state.db, id, caller.id, state.clock.now()).await? {
        return Err(Error::Conflict("this inspection is already approved".into()));
    }
    tracing::info!(inspection = %id, by = %caller.username, "late inspection record approved");
    get(state, caller, id).await
}
