//! The ticket's rules, free of HTTP and storage: its states, the actions
//! allowed from each, and how its trail becomes SLA clocks.

pub mod access;
pub mod inspections;
pub mod throttle;
pub mod ticket;
