//! End-to-end tests: the real app on a random port, its own fresh database,
//! talking HTTP; every test runs on SQLite and on PostgreSQL.

#![allow(unreachable_pub)]

mod helpers;

mod access;
mod alerts;
mod auth;
mod catalog;
mod flows;
mod hardening;
mod http;
mod inspections;
mod reports;
mod tickets;
