//! The operations the API offers, between thin handlers and storage:
//! validation, authorization, transactions, and the SLA clocks.

pub mod inspections;
pub mod reports;
pub mod tickets;
