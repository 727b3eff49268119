//! Trigram indexes for the ticket list's `q` filter on PostgreSQL: it looks
//! for text anywhere in the lowered title, description and number
//! (`lower(…) LIKE '%…%'`), which no B-tree can serve. With `pg_trgm` a rare
//! term is a bitmap scan of a few index pages, and the statistics gathered
//! on the indexed expressions let the planner see that a common term is
//! cheaper walked newest first (at 100,000 tickets it had guessed 19 rows
//! and scanned the whole table, 53 ms, for a page it now finds in 10 ms).
//!
//! Only where the extension is installed on the server (it ships with
//! PostgreSQL's contrib package, and is trusted: a database owner may
//! create it); without it, or on SQLite, `q` stays a scan.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, lowered column) of each index made here: the columns `q` reads.
const INDEXES: [(&str, &str); 3] = [
    ("tickets_title_trgm", "title"),
    ("tickets_description_trgm", "description"),
    ("tickets_number_trgm", "number"),
];

/// Whether `pg_trgm` is there or may be made here: PostgreSQL with the
/// contrib package, and a role allowed to create it in this database (a
/// service running as a role without that privilege keeps the scan
/// rather than failing to start).
async fn trigrams_available(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let probe = Statement::from_string(
        DbBackend::Postgres,
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') \
         OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') \
             AND has_database_privilege(current_database(), 'CREATE'))",
    );
    Ok(db.query_one_raw(probe).await?.is_some())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !trigrams_available(manager).await? {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
        for (name, column) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON tickets USING gin (lower({column}) gin_trgm_ops)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // The extension stays: other schemas of the database may use it.
        for (name, _) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
        }
        Ok(())
    }
}
