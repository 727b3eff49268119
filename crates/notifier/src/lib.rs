//! Delivering alerts: messages rendered from templates, sent with lettre over
//! SMTP or written as `.eml` files, retried with exponential backoff.
//!
//! Nothing here knows HTTP or the database: the service hands over rendered
//! [`Email`]s with a stable dedupe key and records the outcome itself.

mod correction;
mod mailer;
mod render;
mod retry;
#[cfg(feature = "smtp-sink")]
pub mod sink;

pub use correction::{Correction, Withdrawn, render_correction};
pub use mailer::{Attachment, Email, FileMailer, Mailer, SendError, SmtpMailer, message_id};
pub use render::{
    Alert, AlertKind, BreachedLine, InspectionLine, ItemSummary, LateWindow, Locale, MetricLine,
    MonthlySummary, Notice, Rendered, duration, one_line, quoted, render, render_notice,
};
pub use retry::RetryPolicy;

/// What can go wrong before sending.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Nothing to render.
    #[error("no alerts to render")]
    Empty,
    /// A template failed.
    #[error("template: {0}")]
    Template(String),
}
