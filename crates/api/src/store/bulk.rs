//! Statements over many rows at once (bulk inserts, updates from a list of
//! values), with their parameters numbered as each engine wants them.

use sea_orm::{DbBackend, Statement, Value};

/// Both engines bind at most 32,766 values to a statement: chunks stay well under it.
pub(crate) const MAX_VALUES: usize = 30_000;

/// Bind parameters for one statement, numbered as the engine wants them.
pub(crate) struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self { backend, values: Vec::new() }
    }

    /// Bind `v`; the placeholder that names it.
    pub(crate) fn bind(&mut self, v: Value) -> String {
        self.values.push(v);
        if self.backend == DbBackend::Postgres { format!("${}", self.values.len()) } else { "?".to_owned() }
    }

    /// Bind a row of values; `(p1, p2, …)`.
    pub(crate) fn row(&mut self, row: Vec<Value>) -> String {
        let cells: Vec<String> = row.into_iter().map(|v| self.bind(v)).collect();
        format!("({})", cells.join(", "))
    }

    /// Bind rows of values; `(…), (…)`.
    pub(crate) fn rows(&mut self, rows: Vec<Vec<Value>>) -> String {
        let values: Vec<String> = rows.into_iter().map(|r| self.row(r)).collect();
        values.join(", ")
    }

    pub(crate) fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}
