//! A ticket's trail (审计记录): one immutable row per action or threshold,
//! numbered from 1; a number taken twice is a lost race, never a second row.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::ticket_event;
use super::{json, parse};
use crate::domain::ticket::{Event, EventKind, TicketState};

/// A row to append to a trail.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The ticket.
    pub ticket_id: Uuid,
    /// Its position: one past the last.
    pub seq: i32,
    /// What happened.
    pub kind: EventKind,
    /// Who did it (none for the worker).
    pub actor_id: Option<Uuid>,
    /// When it happened.
    pub at: Timestamp,
    /// When it is recorded.
    pub recorded_at: Timestamp,
    /// The state before.
    pub from_state: Option<TicketState>,
    /// The state after.
    pub to_state: TicketState,
    /// Details.
    pub data: serde_json::Value,
}

/// The row of a new event.
pub(crate) fn to_row(e: &NewEvent) -> ticket_event::Model {
    ticket_event::Model {
        id: Uuid::now_v7(),
        ticket_id: e.ticket_id,
        seq: e.seq,
        kind: e.kind.as_str().to_owned(),
        actor_id: e.actor_id,
        at: e.at.unix(),
        recorded_at: e.recorded_at.unix(),
        from_state: e.from_state.map(|s| s.as_str().to_owned()),
        to_state: e.to_state.as_str().to_owned(),
        data: e.data.to_string(),
    }
}

#[allow(clippy::needless_pass_by_value)] // called from an iterator of owned rows
fn from_row(m: ticket_event::Model) -> Result<Event, DbErr> {
    Ok(Event {
        id: m.id,
        ticket_id: m.ticket_id,
        seq: m.seq,
        kind: parse("event kind", &m.kind)?,
        actor_id: m.actor_id,
        at: Timestamp::from_unix(m.at),
        recorded_at: Timestamp::from_unix(m.recorded_at),
        from_state: m.from_state.as_deref().map(|s| parse("ticket state", s)).transpose()?,
        to_state: parse("ticket state", &m.to_state)?,
        data: json("event data", &m.data)?,
    })
}

/// Append an event. A unique violation means another writer took `seq` first.
pub async fn append(db: &impl ConnectionTrait, e: &NewEvent) -> Result<(), DbErr> {
    ticket_event::Entity::insert(ticket_event::ActiveModel::from(to_row(e)))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Append many rows at once (each ticket's `seq` one past its last).
pub async fn append_many(db: &impl ConnectionTrait, events: &[NewEvent]) -> Result<(), DbErr> {
    // Ten values a row: a thousand rows a statement stays under every engine's limit.
    for chunk in events.chunks(1000) {
        let rows = chunk.iter().map(|e| ticket_event::ActiveModel::from(to_row(e)));
        ticket_event::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(())
}

/// The last `seq` of each of these tickets' trails (0 for none).
pub async fn last_seqs(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, DbErr> {
    let rows: Vec<(Uuid, Option<i32>)> = ticket_event::Entity::find()
        .select_only()
        .column(ticket_event::Column::TicketId)
        .column_as(ticket_event::Column::Seq.max(), "m")
        .filter(ticket_event::Column::TicketId.is_in(ids.iter().copied()))
        .group_by(ticket_event::Column::TicketId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, seq)| (id, seq.unwrap_or(0))).collect())
}

/// A ticket's trail, in order.
pub async fn of_ticket(db: &impl ConnectionTrait, ticket_id: Uuid) -> Result<Vec<Event>, DbErr> {
    ticket_event::Entity::find()
        .filter(ticket_event::Column::TicketId.eq(ticket_id))
        .order_by_asc(ticket_event::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The position of a ticket's last event (0 for none).
pub async fn last_seq(db: &impl ConnectionTrait, ticket_id: Uuid) -> Result<i32, DbErr> {
    Ok(ticket_event::Entity::find()
        .select_only()
        .column_as(ticket_event::Column::Seq.max(), "m")
        .filter(ticket_event::Column::TicketId.eq(ticket_id))
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}
