//! The service's rules, free of HTTP and storage: tickets, their states and
//! clocks, accounts and access, inspections, text and the mail queue's records.
//! Nothing here does I/O; every layer above may use it.

pub mod access;
pub mod account;
pub mod clock;
pub mod inspections;
pub mod message;
pub mod outbox;
pub mod text;
pub mod throttle;
pub mod ticket;

pub use message::{Invalid, Message};
