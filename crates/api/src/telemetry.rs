//! Logging through tracing-subscriber: human lines by default, JSON on request.
//!
//! Human lines escape control characters (and bidirectional controls) in
//! every field, so that text a client sent (a username, a title) cannot
//! break a line in two or forge one; JSON lines are escaped by JSON itself.

use std::fmt::Write as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::settings::LogFormat;

/// Install the global subscriber once. `RUST_LOG` overrides the default level.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colour only for a person at a terminal: a file or a pipe gets plain text.
    let colour =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    // A second initialisation (tests) is harmless: keep the first.
    let _ = match format {
        LogFormat::Human => builder.fmt_fields(human_fields()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// `text` with every control character and bidirectional control shown as
/// an escape (`\n`, `\u{1b}`, `\u{202e}`), everything else as it is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// How human lines write fields: `name=value`, the message bare, each value
/// with its control characters escaped.
pub fn human_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(|w: &mut Writer<'_>, field, value| {
        let text = escape_controls(&format!("{value:?}"));
        if field.name() == "message" { w.write_str(&text) } else { write!(w, "{field}={text}") }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_field_cannot_forge_a_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(human_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let name = "x\n2026-06-01T10:00:00Z  INFO token issued username=admin\u{202e}";
            tracing::warn!(username = %name, quoted = ?name, "failed sign-in");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("failed sign-in username=x\\n2026"), "{text}");
        assert!(text.contains("\\u{202e}"), "{text}");
    }
}
