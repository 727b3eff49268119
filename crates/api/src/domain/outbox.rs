//! The mail queue's records: a message, what it is about, and where it stands.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sla_engine::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

use super::clock::Recorded;
use super::ticket::AlertLevel;

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting to be sent, or to be tried again.
    Pending,
    /// Accepted by the mail server (or written as a file).
    Sent,
    /// Given up on; an admin may send it again.
    Dead,
    /// Not sent after all: what it announced did not happen (an action
    /// recorded later, with an earlier real time, undid it).
    Withdrawn,
}

impl OutboxStatus {
    /// Every status.
    pub const ALL: [OutboxStatus; 4] =
        [OutboxStatus::Pending, OutboxStatus::Sent, OutboxStatus::Dead, OutboxStatus::Withdrawn];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboxStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("\"{s}\" is not a message status (pending, sent, dead, withdrawn)"))
    }
}

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A ticket's clock reached a threshold.
    Alert(AlertLevel),
    /// Inspections whose window closed undone.
    InspectionLate,
    /// Last month's summary.
    Monthly,
    /// A correction: alerts sent before did not happen after all.
    Correction,
}

impl MessageKind {
    /// The name stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert(level) => level.as_str(),
            MessageKind::InspectionLate => "inspection_late",
            MessageKind::Monthly => "monthly",
            MessageKind::Correction => "correction",
        }
    }
}

impl FromStr for MessageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inspection_late" => Ok(MessageKind::InspectionLate),
            "monthly" => Ok(MessageKind::Monthly),
            "correction" => Ok(MessageKind::Correction),
            other => AlertLevel::ALL
                .into_iter()
                .find(|l| l.as_str() == other)
                .map(MessageKind::Alert)
                .ok_or_else(|| format!("\"{other}\" is not a message kind")),
        }
    }
}

/// A file sent with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// Its name.
    pub filename: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A message to put in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// Unique per message: queuing a second one with the same key does nothing.
    pub dedupe_key: String,
    /// The `Message-ID`, the same on every attempt.
    pub message_id: String,
    /// The ticket it is about, if any.
    pub ticket_id: Option<Uuid>,
    /// What it is about.
    pub kind: MessageKind,
    /// Its one recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Plain text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// A workbook, for the monthly summary.
    pub attachment: Option<Attachment>,
    /// The thresholds an alert announces (none for other messages).
    pub covers: Vec<Recorded>,
}

/// A message in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Id.
    pub id: Uuid,
    /// The `Message-ID`.
    pub message_id: String,
    /// The ticket it is about, if any.
    pub ticket_id: Option<Uuid>,
    /// What it is about (the stored name; kinds may be added over time).
    pub kind: String,
    /// Recipients' addresses.
    pub recipients: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// A workbook, for the monthly summary.
    pub attachment: Option<Attachment>,
    /// Where it stands.
    pub status: OutboxStatus,
    /// Send attempts so far.
    pub attempts: u32,
    /// When it is next due (a leased message: when its lease runs out).
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it was sent.
    pub sent_at: Option<Timestamp>,
    /// The thresholds an alert announces.
    pub covers: Vec<Recorded>,
}

/// The thresholds a message covers as stored: `response@100,recovery@50`.
pub fn covers_to_text(covers: &[Recorded]) -> Option<String> {
    (!covers.is_empty()).then(|| covers.iter().map(|(m, p)| format!("{m}@{p}")).collect::<Vec<_>>().join(","))
}

/// The thresholds a stored `covers` names; parts that do not parse are skipped.
pub fn covers_of_text(text: Option<&str>) -> Vec<Recorded> {
    text.unwrap_or_default()
        .split(',')
        .filter_map(|part| {
            let (metric, percent) = part.rsplit_once('@')?;
            Some((metric.to_owned(), percent.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{covers_of_text, covers_to_text};

    #[test]
    fn covers_read_back_as_written() {
        let covers = vec![("response".to_owned(), 100), ("on_site".to_owned(), 50)];
        let text = covers_to_text(&covers);
        assert_eq!(text.as_deref(), Some("response@100,on_site@50"));
        assert_eq!(covers_of_text(text.as_deref()), covers);
        assert_eq!(covers_to_text(&[]), None);
        assert!(covers_of_text(None).is_empty());
        assert_eq!(covers_of_text(Some("x@y,recovery@150,@")), vec![("recovery".to_owned(), 150)]);
    }
}
