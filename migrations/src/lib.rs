//! The database schema as migrations, applied in order on start (`itsm migrate` alone).
//!
//! Instants are stored as whole UTC epoch seconds (BIGINT): the engine's own
//! unit, identical on SQLite and PostgreSQL, and cheap to index and compare.

pub use sea_orm_migration::prelude::*;

mod indexes;
mod m20261128_000001_catalog;
mod m20261128_000002_accounts;
mod m20261128_000003_tickets;
mod m20261128_000004_alerts;
mod m20261128_000005_inspections;
mod m20261128_000006_outbox_attachments;
mod m20261129_000007_drop_unused_ticket_index;
mod m20261130_000008_one_due_instant;
mod m20261130_000009_clock_rules;
mod m20261130_000010_go_live_and_digests;
mod m20261130_000011_holiday_years;
mod m20261201_000009_account_states;
mod m20261201_000010_sign_in_attempts;
mod m20261201_000011_inspection_records;
mod m20261201_000012_housekeeping_indexes;
mod m20261202_000013_alert_covers;
mod m20261204_000014_web_sessions;
mod m20261204_000015_ticket_read_indexes;
mod m20261204_000016_ticket_text_search;
mod m20261204_000017_ticket_filter_indexes;
mod m20261204_000018_queue_deadline_index;
mod m20261205_000019_ticket_breach_instant;
mod m20261205_000020_postgres_write_costs;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_catalog::Migration),
            Box::new(m20261128_000002_accounts::Migration),
            Box::new(m20261128_000003_tickets::Migration),
            Box::new(m20261128_000004_alerts::Migration),
            Box::new(m20261128_000005_inspections::Migration),
            Box::new(m20261128_000006_outbox_attachments::Migration),
            Box::new(m20261129_000007_drop_unused_ticket_index::Migration),
            Box::new(m20261130_000008_one_due_instant::Migration),
            Box::new(m20261130_000009_clock_rules::Migration),
            Box::new(m20261130_000010_go_live_and_digests::Migration),
            Box::new(m20261130_000011_holiday_years::Migration),
            Box::new(m20261201_000009_account_states::Migration),
            Box::new(m20261201_000010_sign_in_attempts::Migration),
            Box::new(m20261201_000011_inspection_records::Migration),
            Box::new(m20261201_000012_housekeeping_indexes::Migration),
            Box::new(m20261202_000013_alert_covers::Migration),
            Box::new(m20261204_000014_web_sessions::Migration),
            Box::new(m20261204_000015_ticket_read_indexes::Migration),
            Box::new(m20261204_000016_ticket_text_search::Migration),
            Box::new(m20261204_000017_ticket_filter_indexes::Migration),
            Box::new(m20261204_000018_queue_deadline_index::Migration),
            Box::new(m20261205_000019_ticket_breach_instant::Migration),
            Box::new(m20261205_000020_postgres_write_costs::Migration),
        ]
    }
}
