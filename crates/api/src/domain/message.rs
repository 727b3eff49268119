//! A sentence for people in the two languages the service speaks, and the
//! refusal of one field of input: what a front end shows next to what was typed.

use std::fmt;

/// The same sentence in Chinese (for people, the default) and English (for
/// API clients and logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// 简体中文.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Message {
    /// A sentence given in both languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// Input refused: which field (when one is to blame) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The field as the client named it (`title`, `reported_at`, …).
    pub field: Option<&'static str>,
    /// Why.
    pub message: Message,
}

impl Invalid {
    /// `field` is refused for the reason given in both languages.
    pub fn field(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { field: Some(field), message: Message::new(zh, en) }
    }

    /// The request as a whole is refused.
    pub fn request(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { field: None, message: Message::new(zh, en) }
    }
}
