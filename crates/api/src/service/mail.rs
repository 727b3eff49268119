//! What every message the service writes shares: its language, the
//! notifier's names for alert levels, and links people can open.

use notifier::{AlertKind, Locale};
use uuid::Uuid;

use crate::domain::ticket::AlertLevel;
use crate::state::AppState;

/// The notifier's kind of an alert at this level.
pub fn alert_kind(level: AlertLevel) -> AlertKind {
    match level {
        AlertLevel::Warning => AlertKind::Warning,
        AlertLevel::Breach => AlertKind::Breach,
        AlertLevel::Escalation => AlertKind::Escalation,
    }
}

/// The locale emails are written in.
pub fn locale(state: &AppState) -> Locale {
    Locale::parse(&state.settings.mail_locale).unwrap_or_default()
}

/// A link a person can open to a ticket: its page in the web console, when
/// the service knows its public address.
pub fn ticket_link(state: &AppState, id: Uuid) -> Option<String> {
    let base = state.settings.public_base_url.as_deref()?.trim_end_matches('/');
    // An empty setting (`ITSM_PUBLIC_BASE_URL=`) names no console: no link, rather than "/tickets/…".
    (!base.is_empty()).then(|| format!("{base}/tickets/{id}"))
}
