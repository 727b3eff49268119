//! Sign-in attempts, shared by every instance: a row is reserved before a
//! password is checked and deleted when it was right, so that what stays
//! are the failures, guesses still in flight included.
//!
//! The check of the limits and the reservation are one step: on SQLite one
//! `INSERT … SELECT … WHERE` statement, which takes the database's write
//! lock before it reads; on PostgreSQL the same statement after transaction
//! locks on the account and the address (`pg_advisory_xact_lock`), so that
//! concurrent attempts on one key queue instead of all reading the same count.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};
use sha2::{Digest, Sha256};
use sla_engine::Timestamp;
use uuid::Uuid;

use crate::domain::throttle::{self, SignInLimits};

/// The answer to a request to try a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead: the attempt is counted as a failure until [`release`]d.
    Granted {
        /// The attempt's row.
        id: Uuid,
        /// Failures for the account from all addresses in the window, this one included.
        account_failures: u64,
    },
    /// Too many failures: try again after this many seconds.
    Refused {
        /// Seconds to wait.
        wait: u64,
    },
}

/// A lock key for one account or address: 8 bytes of its SHA-256.
fn lock_key(kind: &str, value: &str) -> i64 {
    let digest = Sha256::digest(format!("sign-in/{kind}/{value}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// SQL with numbered placeholders for this engine.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self { backend, text: String::new(), values: Vec::new() }
    }
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        if self.backend == DbBackend::Postgres {
            self.text.push_str(&format!("${}", self.values.len()));
        } else {
            self.text.push('?');
        }
        self
    }
    fn statement(&self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text.clone(), self.values.clone())
    }
}

/// Reserve an attempt for `account` from `address` at `now`, unless the
/// failures already counted refuse it.
pub async fn reserve(
    db: &DatabaseConnection,
    account: &str,
    address: &str,
    limits: &SignInLimits,
    now: Timestamp,
) -> Result<Reservation, DbErr> {
    let backend = db.get_database_backend();
    let since = now.unix().saturating_sub(limits.window);
    let txn = db.begin().await?;
    if backend == DbBackend::Postgres {
        // Always in one order, so that two attempts cannot wait on each other.
        let mut keys = [lock_key("account", account), lock_key("address", address)];
        keys.sort_unstable();
        for key in keys {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT pg_advisory_xact_lock($1)",
                [key.into()],
            ))
            .await?;
        }
    }
    let id = Uuid::now_v7();
    let mut insert = Sql::new(backend);
    insert
        .push("INSERT INTO sign_in_attempts (id, account, address, at) SELECT ")
        .bind(id)
        .push(", ")
        .bind(account)
        .push(", ")
        .bind(address)
        .push(", ")
        .bind(now.unix())
        .push(" WHERE (SELECT COUNT(*) FROM sign_in_attempts WHERE account = ")
        .bind(account)
        .push(" AND address = ")
        .bind(address)
        .push(" AND at > ")
        .bind(since)
        .push(") < ")
        .bind(SignInLimits::cap(limits.per_pair))
        .push(" AND (SELECT COUNT(*) FROM sign_in_attempts WHERE address = ")
        .bind(address)
        .push(" AND at > ")
        .bind(since)
        .push(") < ")
        .bind(SignInLimits::cap(limits.per_address));
    let inserted = txn.execute_raw(insert.statement()).await?.rows_affected() == 1;
    let answer = if inserted {
        let mut count = Sql::new(backend);
        count
            .push("SELECT COUNT(*) AS n FROM sign_in_attempts WHERE account = ")
            .bind(account)
            .push(" AND at > ")
            .bind(since);
        let n: i64 = match txn.query_one_raw(count.statement()).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Reservation::Granted { id, account_failures: u64::try_from(n).unwrap_or(0) }
    } else {
        let pair = recent(&txn, Some(account), address, since, limits.per_pair).await?;
        let from_address = recent(&txn, None, address, since, limits.per_address).await?;
        let wait = [
            throttle::wait(&pair, limits.per_pair, limits.window, now.unix()),
            throttle::wait(&from_address, limits.per_address, limits.window, now.unix()),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1);
        Reservation::Refused { wait }
    };
    txn.commit().await?;
    Ok(answer)
}

/// The newest `max` failures in the window of a pair (or of an address), newest first.
async fn recent(
    db: &impl ConnectionTrait,
    account: Option<&str>,
    address: &str,
    since: i64,
    max: u32,
) -> Result<Vec<i64>, DbErr> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT at FROM sign_in_attempts WHERE address = ").bind(address);
    if let Some(account) = account {
        sql.push(" AND account = ").bind(account);
    }
    sql.push(" AND at > ").bind(since).push(" ORDER BY at DESC LIMIT ").bind(i64::from(max));
    db.query_all_raw(sql.statement()).await?.iter().map(|r| r.try_get::<i64>("", "at")).collect()
}

/// The password was right: forget the failures of this account from this
/// address, the reservation included.
pub async fn release(db: &impl ConnectionTrait, account: &str, address: &str) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM sign_in_attempts WHERE account = ")
        .bind(account)
        .push(" AND address = ")
        .bind(address);
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Delete the attempts that have left the window by `now`; how many.
pub async fn forget_before(db: &impl ConnectionTrait, before: Timestamp) -> Result<u64, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM sign_in_attempts WHERE at <= ").bind(before.unix());
    Ok(db.execute_raw(sql.statement()).await?.rows_affected())
}
