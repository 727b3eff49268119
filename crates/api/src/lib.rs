//! The itsm service: HTTP API and web console over SQLite or PostgreSQL, with tickets clocked
//! by the SLA engine against the contract's catalog.
//!
//! `main.rs` only parses the command line and wires these together.

pub mod builtin;
pub mod domain;
pub mod fault;
pub mod http;
pub mod service;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod web;
pub mod worker;
