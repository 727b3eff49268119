//! A real SMTP server in the test process (mailin-embedded) that keeps every
//! message it accepts, and can refuse service to simulate an outage.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, response};

/// One accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message (headers and body).
    pub data: String,
    /// When the server accepted it.
    pub at: std::time::SystemTime,
}

impl Received {
    /// The value of a header, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The message as a MIME parser reads it.
    fn parsed(&self) -> Option<mail_parser::Message<'_>> {
        mail_parser::MessageParser::default().parse(self.data.as_bytes())
    }

    /// The subject, decoded (RFC 2047).
    pub fn subject(&self) -> String {
        self.parsed().and_then(|m| m.subject().map(str::to_owned)).unwrap_or_default()
    }

    /// The plain-text part, decoded.
    pub fn text(&self) -> String {
        self.parsed().and_then(|m| m.body_text(0).map(|t| t.into_owned())).unwrap_or_default()
    }

    /// The HTML part, decoded.
    pub fn html(&self) -> String {
        self.parsed().and_then(|m| m.body_html(0).map(|t| t.into_owned())).unwrap_or_default()
    }

    /// The attachments' file names.
    pub fn attachment_names(&self) -> Vec<String> {
        use mail_parser::MimeHeaders;
        self.parsed()
            .map(|m| m.attachments().filter_map(|a| a.attachment_name().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Collect {
    store: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
    current: Option<(String, Vec<String>, Vec<u8>)>,
}

impl Handler for Collect {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        if self.down.load(Ordering::SeqCst) { response::NO_SERVICE } else { response::OK }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.down.load(Ordering::SeqCst) {
            return response::NO_SERVICE;
        }
        self.current = Some((from.to_owned(), to.to_vec(), Vec::new()));
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some((_, _, data)) = self.current.as_mut() {
            data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some((from, to, data)) = self.current.take() {
            let data = String::from_utf8_lossy(&data).into_owned();
            if let Ok(mut store) = self.store.lock() {
                store.push(Received { from, to, data, at: std::time::SystemTime::now() });
            }
        }
        response::OK
    }
}

/// The running server.
#[derive(Clone, Debug)]
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    store: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
}

impl SmtpSink {
    /// Start on a free port of 127.0.0.1, in a background thread.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let handler = Collect { store: store.clone(), down: down.clone(), current: None };
        let mut server = Server::new(handler);
        // A connection holds its thread for as long as it stays open, idle
        // in a pool too: enough for several instances' pools (`mail_concurrency`,
        // 8 each) and a benchmark's own, so that the sink never makes a sender wait.
        server.with_name("sink.test").with_num_threads(64).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Ok(Self { addr, store, down })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// While down, the server answers 421 (service not available): a transient failure.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many messages were accepted so far.
    pub fn count(&self) -> usize {
        self.store.lock().map_or(0, |m| m.len())
    }

    /// Everything accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.store.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
