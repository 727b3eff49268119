//! Storage: the connection, migrations, and every query the service makes,
//! on SQLite (embedded default) and PostgreSQL alike. No other layer writes
//! SQL or asks which engine it is talking to; where the engines differ
//! (row locks, filing in one statement) the difference stays in here.

mod bulk;
pub mod catalog_sync;
pub mod clocks;
pub mod entities;
pub mod facts;
pub mod filing;
pub mod holidays;
pub mod housekeeping;
pub mod inspections;
pub mod metrics;
pub mod outbox;
pub mod rows;
pub mod sessions;
pub mod sign_ins;
pub mod tickets;
pub mod trail;
pub mod users;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QuerySelect, Select,
};

/// Connect to `url`. A SQLite file's folder is created; SQLite gets a single
/// connection, because it allows one writer and a pool only trades queueing
/// for "database is locked" errors. The SQLite file is readable by its
/// owner only (see [`owner_only`]).
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url) {
        owner_only(std::path::Path::new(path))
            .map_err(|e| DbErr::Custom(format!("cannot prepare the database file {path}: {e}")))?;
    }
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if sqlite { 1 } else { max_connections })
        .min_connections(if sqlite { 1 } else { 2 })
        .acquire_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        // A connection is tested as it is given back (the driver always
        // does); testing it again as it is taken cost each query under load
        // a second round trip. One idle for a second or more may have been
        // dropped by a restarted server or a firewall, so it is still tested
        // before use: only under load does a restart cost a connection in
        // use one failed query (503 with Retry-After) before it is replaced.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_TEST)
        .sqlx_logging(false);
    if !url.contains(FLUSH_AFTER.0) {
        options.map_sqlx_postgres_opts(|pg| pg.options([FLUSH_AFTER]));
    }
    Database::connect(options).await
}

/// How long a pooled connection may sit unused before it is tested again
/// before use.
const IDLE_BEFORE_TEST: Duration = Duration::from_secs(1);

/// PostgreSQL's `backend_flush_after` for the service's own sessions (a URL
/// that names it keeps its own). A session that dirties many pages (a
/// recomputation, an import) then has them written out as it goes; left to
/// the kernel, gigabytes went out in bursts that stalled every commit
/// behind them: filings waited up to half a second while a recomputation
/// ran (docs/benchmarks.md).
const FLUSH_AFTER: (&str, &str) = ("backend_flush_after", "256kB");

/// Make the SQLite file (and its folder, when it is made here) readable by
/// the owner only: the file is created empty with mode 0600 before SQLite
/// opens it, or set to 0600 when it exists. SQLite gives its `-wal` and
/// `-shm` files the mode of the database file, so they follow.
fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Apply pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Ask the database to answer at all.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// True for PostgreSQL, whose SQL differs in a few places.
fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Let this transaction's commit return before its record is on disk
/// (PostgreSQL; SQLite commits as always). Only for work that is redone
/// when lost: a recomputation is recorded done by a later, durable commit,
/// and the log is written in order, so a crash loses at most batches that
/// the next start recomputes.
pub async fn commit_without_waiting_for_disk(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if is_postgres(txn) {
        txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
    }
    Ok(())
}

/// `select` as a claim of work several instances share: on PostgreSQL the
/// rows are locked `FOR UPDATE SKIP LOCKED`, so another instance's claimed
/// rows are skipped rather than waited for. SQLite has one writer and needs
/// no lock.
fn claim<E: EntityTrait>(select: Select<E>, db: &impl ConnectionTrait) -> Select<E> {
    if is_postgres(db) {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        select
    }
}

/// `select` with its rows locked until the transaction ends, so that
/// concurrent writers of one row queue instead of failing their version
/// check (SQLite's single connection serialises them anyway).
fn lock<E: EntityTrait>(select: Select<E>, db: &impl ConnectionTrait) -> Select<E> {
    if is_postgres(db) { select.lock_exclusive() } else { select }
}

/// True when `error` is a unique-constraint violation (a lost race, not a bug).
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// True when `error` says two writers crossed (a unique key taken first, or
/// a deadlock PostgreSQL broke by failing this one): trying again with a
/// fresh read succeeds.
pub fn is_lost_race(error: &DbErr) -> bool {
    const DEADLOCK_DETECTED: &str = "40P01";
    is_unique_violation(error) || sqlstate(error).as_deref() == Some(DEADLOCK_DETECTED)
}

/// The SQLSTATE of a database error, if the database gave one.
fn sqlstate(error: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = error else {
        return None;
    };
    match &**e {
        sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Why a database error is the database's condition rather than a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// No connection, a pool timeout, or the connection dropped mid-query.
    Unreachable,
    /// The database answered, but cannot store anything (disk full, read-only).
    CannotWrite,
}

/// Classify `error`: a database that is down, restarting or out of space is
/// an outage (worth retrying), every other error is a bug.
pub fn outage(error: &DbErr) -> Option<Outage> {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let e = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Some(Outage::Unreachable),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => &**e,
        _ => return None,
    };
    match e {
        // A connection that was cut while it was in use (PostgreSQL stopped,
        // a network fault) fails its statement with an I/O error.
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => {
            Some(Outage::Unreachable)
        }
        Sqlx::Database(db) => {
            let code = db.code()?;
            if let Ok(extended) = code.parse::<i32>() {
                // SQLite's result codes: READONLY (8), IOERR (10), FULL (13), CANTOPEN (14).
                return matches!(extended & 0xff, 8 | 10 | 13 | 14).then_some(Outage::CannotWrite);
            }
            // PostgreSQL's SQLSTATEs: class 08 (connection exception), the
            // server shutting down or starting (57P01..57P03), too many
            // connections (53300), out of disk (53100).
            let unreachable =
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300");
            if unreachable {
                Some(Outage::Unreachable)
            } else if code == "53100" {
                Some(Outage::CannotWrite)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A stored text that should name an enum value but does not: the schema
/// and the code disagree, which is a bug, not bad input.
fn corrupt(what: &str, value: &str) -> DbErr {
    DbErr::Custom(format!("stored {what} \"{value}\" is not known to this version"))
}

/// Parse a stored enum name.
fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, DbErr> {
    value.parse().map_err(|_| corrupt(what, value))
}

/// Parse a stored JSON column.
fn json<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> Result<T, DbErr> {
    serde_json::from_str(value).map_err(|e| DbErr::Custom(format!("stored {what} is not valid: {e}")))
}

/// Write a JSON column.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(e.to_string()))
}
