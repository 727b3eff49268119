//! Tickets and clocks read by the position of their columns rather than by
//! name: a page of the ticket list decodes about 3,000 values, and finding
//! each one's column by name took a quarter of the service's CPU for it
//! (docs/benchmarks.md, "Reads and the walk").

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, Select};

use super::entities::{clock, ticket};

/// A model decoded from the columns `Entity::find()` selects, which are the
/// model's fields in their declared order.
pub trait Positional: Sized {
    /// The model from a row of its own columns, in their declared order.
    fn decode(row: &QueryResult) -> Result<Self, DbErr>;
}

struct ByPosition<M>(M);

impl<M: Positional> FromQueryResult for ByPosition<M> {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        M::decode(row).map(ByPosition)
    }
}

/// Every row of `select` (which must select the entity's own columns, as
/// `Entity::find()` does), decoded by position.
pub async fn all<E>(select: Select<E>, db: &impl ConnectionTrait) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
{
    let rows = select.into_model::<ByPosition<E::Model>>().all(db).await?;
    Ok(rows.into_iter().map(|ByPosition(m)| m).collect())
}

/// The first row of `select`, decoded by position.
pub async fn one<E>(select: Select<E>, db: &impl ConnectionTrait) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
{
    Ok(select.into_model::<ByPosition<E::Model>>().one(db).await?.map(|ByPosition(m)| m))
}

impl Positional for ticket::Model {
    fn decode(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            number: row.try_get_by_index(1)?,
            line_item_id: row.try_get_by_index(2)?,
            agency_key: row.try_get_by_index(3)?,
            title: row.try_get_by_index(4)?,
            description: row.try_get_by_index(5)?,
            severity: row.try_get_by_index(6)?,
            state: row.try_get_by_index(7)?,
            paused_from: row.try_get_by_index(8)?,
            tags: row.try_get_by_index(9)?,
            assignee_id: row.try_get_by_index(10)?,
            created_by: row.try_get_by_index(11)?,
            reported_at: row.try_get_by_index(12)?,
            created_at: row.try_get_by_index(13)?,
            updated_at: row.try_get_by_index(14)?,
            version: row.try_get_by_index(15)?,
            breach_at: row.try_get_by_index(16)?,
        })
    }
}

impl Positional for clock::Model {
    fn decode(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            ticket_id: row.try_get_by_index(0)?,
            metric: row.try_get_by_index(1)?,
            target_seconds: row.try_get_by_index(2)?,
            calendar: row.try_get_by_index(3)?,
            state: row.try_get_by_index(4)?,
            events: row.try_get_by_index(5)?,
            started_at: row.try_get_by_index(6)?,
            deadline: row.try_get_by_index(7)?,
            next_at: row.try_get_by_index(8)?,
            breached_at: row.try_get_by_index(9)?,
            met_at: row.try_get_by_index(10)?,
            updated_at: row.try_get_by_index(11)?,
            rule: row.try_get_by_index(12)?,
            choice_beyond_holiday_data: row.try_get_by_index(13)?,
        })
    }
}
