//! Notices that are not about one clock: inspections whose window closed
//! undone, and last month's summary on each month's first working day.

use chrono::{Datelike, Months, NaiveDate, TimeZone};
use sea_orm::{DbErr, TransactionTrait};
use sla_engine::Timestamp;

use super::TickReport;
use crate::domain::access::{Caller, Role};
use crate::domain::account::User;
use crate::domain::inspections::Task;
use crate::domain::outbox::{Attachment, MessageKind, NewMessage};
use crate::service::mail::locale;
use crate::service::reports::{self, Lang, Period};
use crate::state::AppState;
use crate::store;

/// The calendar whose first opening in a month is "the first working day".
const WORKING_CALENDAR: &str = "5x8";

fn db_err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Inspection windows listed in one digest; the rest are counted.
const DIGEST_LIST: u64 = 200;

/// Inspection windows that closed undone since the service went live: one
/// digest per manager (of their agency, or supplier-wide) listing every such
/// window they have not been told about, at most once in
/// `inspection_digest_hours`. When the next open window closes.
pub(super) async fn late_inspections(
    state: &AppState,
    report: &mut TickReport,
) -> Result<Option<Timestamp>, DbErr> {
    let now = state.clock.now();
    let every = i64::try_from(state.settings.inspection_digest_hours.max(1) * 3600).unwrap_or(i64::MAX);
    for m in store::users::managers_with_email(&state.db).await? {
        let last = store::inspections::last_notice(&state.db, m.id).await?;
        if last.is_some_and(|at| now.unix() < at.unix().saturating_add(every)) {
            continue;
        }
        report.queued += digest(state, &m, now, every).await?;
    }
    store::inspections::next_close(&state.db, now).await
}

/// Queue `m`'s digest, if any window is owed to them; how many were queued (0 or 1).
async fn digest(state: &AppState, m: &User, now: Timestamp, every: i64) -> Result<usize, DbErr> {
    let Some(email) = m.email.clone() else { return Ok(0) };
    let txn = state.db.begin().await?;
    let (tasks, total) =
        store::inspections::unannounced(&txn, m.id, m.agency.as_deref(), state.go_live.at, now, DIGEST_LIST)
            .await?;
    if tasks.is_empty() {
        return Ok(0);
    }
    let windows = tasks.iter().map(|t| late_window(state, t)).collect();
    let link =
        state.settings.public_base_url.as_ref().map(|b| format!("{}/inspections", b.trim_end_matches('/')));
    let notice = notifier::Notice::InspectionDigest { windows, more: total - tasks.len() as u64, link };
    let rendered = notifier::render_notice(&notice, locale(state)).map_err(db_err)?;
    // One digest per person per period: a second instance in the same period queues nothing.
    let dedupe_key = format!("inspections/{}/{}", m.id, now.unix() / every);
    let message = NewMessage {
        message_id: notifier::message_id(&dedupe_key, &state.settings.mail_from),
        dedupe_key,
        ticket_id: None,
        kind: MessageKind::InspectionLate,
        recipient: email,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        attachment: None,
        covers: Vec::new(),
    };
    let Some(outbox_id) = store::outbox::queue(&txn, &message, now).await? else { return Ok(0) };
    let ids: Vec<_> = tasks.iter().map(|t| t.id).collect();
    store::inspections::record_notices(&txn, &ids, m.id, outbox_id, now).await?;
    txn.commit().await?;
    Ok(1)
}

fn late_window(state: &AppState, t: &Task) -> notifier::LateWindow {
    let zh = locale(state) == notifier::Locale::ZhCn;
    let every = match (t.every.as_str(), zh) {
        ("day", true) => "每天",
        ("week", true) => "每周",
        ("month", true) => "每月",
        ("quarter", true) => "每季度",
        ("year", true) => "每年",
        ("day", false) => "daily",
        ("week", false) => "weekly",
        ("month", false) => "monthly",
        ("quarter", false) => "quarterly",
        ("year", false) => "yearly",
        (other, _) => other,
    };
    let extra: Vec<&str> = [t.device_class.as_deref(), t.slot.as_deref()].into_iter().flatten().collect();
    let cycle = if extra.is_empty() { every.to_owned() } else { format!("{every} ({})", extra.join(", ")) };
    let item = state.item(t.line_item_id);
    notifier::LateWindow {
        agency: state.catalog.agency(&t.agency).map_or_else(|| t.agency.clone(), |a| a.name.clone()),
        line_item: item.map_or_else(String::new, |i| format!("{} {}", i.seq, i.name)),
        cycle,
        from: t.due_from.to_datetime(),
        to: t.due_to.to_datetime(),
        timezone: state.catalog.settings.timezone,
    }
}

/// The first working-day opening of the month that starts on `first`, and
/// whether finding it read dates without holiday data.
fn first_opening(state: &AppState, first: NaiveDate) -> Option<(Timestamp, bool)> {
    let tz = state.catalog.settings.timezone;
    let midnight = tz.from_local_datetime(&first.and_hms_opt(0, 0, 0)?).earliest()?;
    let calendars = state.calendars();
    let calendar = calendars.get(WORKING_CALENDAR)?;
    let opens = calendar.next_open(Timestamp::from(midnight.to_utc())).ok()?;
    Some((opens.value, opens.beyond_holiday_data))
}

/// On the first working day of a month, last month's summary to every
/// manager with an address, for their scope, with the workbook attached:
/// once each. When the next month's summaries fall due.
pub(super) async fn monthly_summaries(
    state: &AppState,
    report: &mut TickReport,
) -> Result<Option<Timestamp>, DbErr> {
    let now = state.clock.now();
    let today = now.to_datetime().with_timezone(&state.catalog.settings.timezone).date_naive();
    let Some(first) = today.with_day(1) else { return Ok(None) };
    let Some((opens, guessed)) = first_opening(state, first) else { return Ok(None) };
    if now < opens {
        return Ok(Some(opens));
    }
    let Some(prev_first) = first.pred_opt().and_then(|d| d.with_day(1)) else { return Ok(None) };
    let period = Period { from: prev_first, to: first };
    // Summaries start with the first whole month after go-live.
    if period.from >= state.go_live.date {
        for m in store::users::managers_with_email(&state.db).await? {
            report.queued += summarize(state, &m, period, now, guessed).await?;
        }
    }
    Ok(first.checked_add_months(Months::new(1)).and_then(|next| first_opening(state, next)).map(|(at, _)| at))
}

/// Queue `m`'s summary of `period`, unless it was queued before.
/// `guessed` says the first working day was found over dates without holiday data.
async fn summarize(
    state: &AppState,
    m: &User,
    period: Period,
    now: Timestamp,
    guessed: bool,
) -> Result<usize, DbErr> {
    let Some(email) = m.email.clone() else { return Ok(0) };
    let month = format!("{:04}-{:02}", period.from.year(), period.from.month());
    let dedupe_key = format!("monthly/{month}/{email}");
    if store::outbox::exists(&state.db, &dedupe_key).await? {
        return Ok(0);
    }
    let caller =
        Caller { id: m.id, username: m.username.clone(), role: Role::Manager, agency: m.agency.clone() };
    let sla = reports::sla(state, &caller, period, None, None)
        .await
        .map_err(|e| db_err(format!("monthly report: {e}")))?;
    let locale = locale(state);
    let lang = if locale == notifier::Locale::En { Lang::En } else { Lang::Zh };
    let xlsx = reports::to_xlsx(&sla, lang).map_err(db_err)?;
    let scope = m
        .agency
        .as_deref()
        .and_then(|a| state.catalog.agency(a))
        .map_or_else(|| state.catalog.contract.name.clone(), |a| a.name.clone());
    let attachment = format!("sla-{month}.xlsx");
    let summary = monthly_summary(&sla, lang, scope, &month, attachment.clone(), guessed, state);
    let notice = notifier::Notice::Monthly(Box::new(summary));
    let rendered = notifier::render_notice(&notice, locale).map_err(db_err)?;
    let message = NewMessage {
        message_id: notifier::message_id(&dedupe_key, &state.settings.mail_from),
        dedupe_key,
        ticket_id: None,
        kind: MessageKind::Monthly,
        recipient: email,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        attachment: Some(Attachment { filename: attachment, bytes: xlsx }),
        covers: Vec::new(),
    };
    let txn = state.db.begin().await?;
    let queued = store::outbox::queue(&txn, &message, now).await?;
    txn.commit().await?;
    Ok(usize::from(queued.is_some()))
}

/// Breached tickets listed in a summary; the rest are counted (the workbook has them all).
const SUMMARY_BREACHES: usize = 50;

/// The summary's figures from the month's report, names in `lang`.
fn monthly_summary(
    sla: &reports::SlaReport,
    lang: Lang,
    scope: String,
    month: &str,
    attachment: String,
    guessed: bool,
    state: &AppState,
) -> notifier::MonthlySummary {
    let name = |metric: &str| {
        sla.metric_names
            .get(metric)
            .map_or_else(|| metric.to_owned(), |n| if lang == Lang::En { n.en.clone() } else { n.zh.clone() })
    };
    let metric_lines = |g: &reports::GroupReport| {
        let mut keys: Vec<&String> = g.metrics.keys().collect();
        keys.sort_by(|a, b| reports::metric_order(a, b));
        keys.into_iter()
            .map(|k| {
                let f = &g.metrics[k];
                notifier::MetricLine {
                    name: name(k),
                    met: f.met,
                    breached: f.breached,
                    running: f.running,
                    attainment_percent: f.attainment_percent,
                }
            })
            .collect()
    };
    let inspections = |i: &reports::InspectionFigures| notifier::InspectionLine {
        due: i.due,
        on_time: i.on_time,
        late: i.late,
        missed: i.missed,
        open: i.open,
        recorded_late: i.recorded_late,
        approved: i.approved,
        before_go_live: i.before_go_live,
    };
    let item_name = |seq: u32| sla.line_item_names.get(&seq).map_or_else(String::new, |n| n.name.clone());
    let agency_name = |key: &str| sla.agency_names.get(key).cloned().unwrap_or_else(|| key.to_owned());
    notifier::MonthlySummary {
        month: month.to_owned(),
        scope,
        contract: sla.contract_name.clone(),
        from: sla.from,
        to: sla.to,
        as_of: sla.as_of.to_utc(),
        timezone: state.catalog.settings.timezone,
        totals: metric_lines(&sla.contract),
        inspections: inspections(&sla.contract.inspections),
        items: sla
            .line_items
            .iter()
            .map(|(seq, g)| notifier::ItemSummary {
                seq: *seq,
                name: item_name(*seq),
                agency: sla.line_item_names.get(seq).map_or_else(String::new, |n| agency_name(&n.agency)),
                metrics: metric_lines(g),
                inspections: inspections(&g.inspections),
            })
            .collect(),
        breached: sla
            .breached_tickets
            .iter()
            .take(SUMMARY_BREACHES)
            .map(|t| notifier::BreachedLine {
                number: t.number.clone(),
                title: t.title.clone(),
                line_item: format!("{} {}", t.line_item_seq, item_name(t.line_item_seq)),
                metrics: t.metrics.iter().map(|m| name(m)).collect(),
                link: t.link.clone(),
            })
            .collect(),
        // Counted over every breach, the report's list being capped too.
        more_breached: (sla.breached_total as usize)
            .saturating_sub(SUMMARY_BREACHES.min(sla.breached_tickets.len())),
        attachment,
        beyond_holiday_data: guessed || sla.beyond_holiday_data,
    }
}
