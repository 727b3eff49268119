//! End-to-end tests: the real app on a random port, its own fresh database,
//! talking HTTP; every test runs on SQLite and on PostgreSQL.

#![allow(unreachable_pub)]

mod helpers;

mod access;
mod alerts;
mod auth;
mod browser;
mod catalog;
mod contract;
mod flows;
mod hardening;
mod holidays;
mod http;
mod import;
mod inspections;
mod lookups;
mod phoned_in;
mod reports;
mod tickets;
mod web;
mod web_access;
mod web_inspections;
