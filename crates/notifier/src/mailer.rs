//! Where messages go: an SMTP server through a pooled lettre transport, or
//! `.eml` files in a folder when no server is configured.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

/// A message ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// Stable per alert: a resend after a crash carries the same `Message-ID`,
    /// so mail clients show one message, never two distinct alerts.
    pub message_id: String,
    /// Sender.
    pub from: String,
    /// Recipients' addresses.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// An attached file, e.g. the monthly report's workbook.
    pub attachment: Option<Attachment>,
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file's name as the reader sees it.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The `Message-ID` for a dedupe key, at the sender's domain.
pub fn message_id(dedupe_key: &str, from: &str) -> String {
    let digest = Sha256::digest(dedupe_key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let domain = from.rsplit_once('@').map_or("itsm.invalid", |(_, d)| d.trim_end_matches('>'));
    format!("<{hex}@{domain}>")
}

/// Why a message was not sent; `permanent` ones are not retried.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// A readable account, with a hint where one helps.
    pub message: String,
    /// True when retrying cannot help (a malformed address, a rejected recipient).
    pub permanent: bool,
}

/// Sends messages.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Send one message.
    async fn send(&self, email: &Email) -> Result<(), SendError>;
}

fn build(email: &Email) -> Result<Message, SendError> {
    let permanent = |message: String| SendError { message, permanent: true };
    let from: Mailbox =
        email.from.parse().map_err(|e| permanent(format!("sender \"{}\": {e}", email.from)))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        // RFC 3834: written by a program, so that auto-responders stay quiet.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    for to in &email.to {
        let mailbox: Mailbox = to.parse().map_err(|e| permanent(format!("recipient \"{to}\": {e}")))?;
        builder = builder.to(mailbox);
    }
    let body = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = match &email.attachment {
        None => body,
        Some(a) => {
            let content_type = ContentType::parse(&a.content_type)
                .map_err(|e| permanent(format!("attachment type \"{}\": {e}", a.content_type)))?;
            MultiPart::mixed().multipart(body).singlepart(
                lettre::message::Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type),
            )
        }
    };
    builder.multipart(body).map_err(|e| permanent(format!("cannot build the message: {e}")))
}

/// SMTP through a pooled connection.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    url: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: show its scheme and host only.
        let shown = self.url.split_once("://").map_or("?", |(s, _)| s);
        f.debug_struct("SmtpMailer").field("scheme", &shown).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `smtp://host:port` (plain), `smtp://host?tls=required`
    /// (STARTTLS) or `smtps://host` (TLS), with optional `user:password@`.
    pub fn from_url(url: &str) -> Result<Self, SendError> {
        Self::pooled(url, 10)
    }

    /// As [`SmtpMailer::from_url`], keeping up to `connections` open to send on at once.
    pub fn pooled(url: &str, connections: u32) -> Result<Self, SendError> {
        let pool = lettre::transport::smtp::PoolConfig::new().max_size(connections.max(1));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SendError {
                message: format!("ITSM_SMTP_URL is not a usable SMTP URL ({e}); e.g. smtp://127.0.0.1:2525 or smtps://user:pass@mail.example.org"),
                permanent: true,
            })?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .pool_config(pool)
            .build();
        Ok(Self { transport, url: url.to_owned() })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), SendError> {
        let message = build(email)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let hint = if e.is_permanent() {
                "the server refused the message"
            } else if e.to_string().contains("Connection refused") {
                "is the SMTP server running at ITSM_SMTP_URL?"
            } else {
                // Whether it is tried again is the queue's to say, not the mailer's.
                "a temporary failure"
            };
            SendError { message: format!("SMTP: {e} ({hint})"), permanent: e.is_permanent() }
        })
    }
}

/// Writes each message as an `.eml` file (the default without SMTP), named
/// after its Message-ID so that a resend overwrites rather than duplicates.
#[derive(Clone, Debug)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// Write into `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file a message is written to: its Message-ID without the angle
    /// brackets (`3f…9a@itsm.example.org.eml`), any character a file name
    /// should not hold replaced by `_`.
    pub fn path_for(&self, email: &Email) -> PathBuf {
        let id = email.message_id.trim_start_matches('<').trim_end_matches('>');
        let name: String = id
            .chars()
            .take(200)
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_') { c } else { '_' })
            .collect();
        let name = name.trim_start_matches('.');
        self.dir.join(format!("{}.eml", if name.is_empty() { "message" } else { name }))
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), SendError> {
        let message = build(email)?;
        let path = self.path_for(email);
        let transient = |e: std::io::Error| SendError {
            message: format!("cannot write {}: {e}", path.display()),
            permanent: false,
        };
        // Messages hold names and addresses: the folder and the files are the owner's alone.
        let mut dir = tokio::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        dir.mode(0o700);
        dir.create(&self.dir).await.map_err(transient)?;
        // Write then rename, so a crash never leaves half a message.
        let tmp = path.with_extension("eml.tmp");
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp).await.map_err(transient)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &message.formatted()).await.map_err(transient)?;
        file.sync_all().await.map_err(transient)?;
        drop(file);
        tokio::fs::rename(&tmp, &path).await.map_err(transient)?;
        Ok(())
    }
}
