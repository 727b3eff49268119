//! Typed settings: `config/default.toml`, overridden by `ITSM_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything `itsm serve` needs to know.
#[derive(Clone, Deserialize)]
pub struct Settings {
    /// `sqlite://…` (embedded default) or `postgres://…`. Secret: it may carry a password.
    pub database_url: SecretString,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The configuration folder (catalog/ and calendars/); none for the one
    /// built into the binary.
    #[serde(default)]
    pub config_dir: Option<PathBuf>,
    /// Human or JSON logs.
    #[serde(default)]
    pub log_format: LogFormat,
    /// How long a bearer token lives.
    pub token_ttl_seconds: u64,
    /// How long an instance trusts a token it has already checked before it
    /// asks the database again; 0 asks on every request. Revocations made on
    /// this instance take effect at once, those made on another within this.
    pub auth_cache_seconds: u64,
    /// Password for the first admin account; a random one is printed when absent.
    #[serde(default)]
    pub admin_password: Option<SecretString>,
    /// How long an instance remembers that a token is unknown (made up,
    /// expired or revoked) before it asks the database again; 0 never remembers.
    pub auth_negative_cache_seconds: u64,
    /// Failed sign-ins allowed for one account from one address within
    /// `login_window_seconds`, then that pair is refused (429); 0 never refuses.
    pub login_max_failures: u32,
    /// Failed sign-ins allowed from one address (any account) within the window; 0 never refuses.
    pub login_max_failures_per_address: u32,
    /// The window failed sign-ins are counted in.
    pub login_window_seconds: u64,
    /// Failed sign-ins for one account from all addresses within the window
    /// beyond which every attempt on it is slowed (never refused); 0 never slows.
    pub login_slow_after_failures: u32,
    /// The first such delay, in milliseconds; it doubles with each further failure.
    pub login_slow_step_ms: u64,
    /// The longest such delay, in milliseconds.
    pub login_slow_max_ms: u64,
    /// Sustained requests per second allowed per client (its token once it
    /// is known to be real, otherwise its address); 0 turns the limit off.
    pub rate_limit_per_second: u32,
    /// Requests a client may make at once above the sustained rate.
    pub rate_limit_burst: u32,
    /// The most clients the rate limit keeps count of; past it, new clients
    /// share one count until the idle ones are forgotten.
    pub rate_limit_max_clients: usize,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (e.g. `x-forwarded-for`; its last entry is used). Unset: the peer address.
    #[serde(default)]
    pub client_ip_header: Option<String>,
    /// Origins allowed to call the API from a browser; none (the default) sends no CORS headers.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Requests taking longer are answered 408.
    pub request_timeout_seconds: u64,
    /// A connection must deliver a request's headers within this many
    /// seconds of starting it (or of opening); a slower one is closed.
    pub header_read_timeout_seconds: u64,
    /// A connection idle this many seconds between requests is closed.
    pub keep_alive_idle_seconds: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Where Prometheus scrapes `/metrics`: its own listener, off the API.
    pub metrics_listen: SocketAddr,
    /// The gauges (tickets, clocks, mail by state) are counted at most this often.
    pub metrics_refresh_seconds: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Pool size for the database.
    pub database_max_connections: u32,
    /// `smtp://host:port`, `smtps://user:pass@host`, or `smtp://host?tls=required` (STARTTLS).
    /// Without it, messages are written as `.eml` files under `outbox_dir`.
    #[serde(default)]
    pub smtp_url: Option<SecretString>,
    /// The sender of alert emails.
    pub mail_from: String,
    /// `zh-CN` (default) or `en`.
    pub mail_locale: String,
    /// Where `.eml` files go when no SMTP server is configured.
    pub outbox_dir: PathBuf,
    /// Failed sends are retried this many times, then dead-lettered.
    pub mail_max_attempts: u32,
    /// How long a sender holds a message it is sending; a sender that dies
    /// mid-send releases it when this runs out.
    pub mail_lease_seconds: u64,
    /// Links in emails point here, e.g. `https://itsm.example.org`.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// A web console session unused this long is over (sign in again).
    pub session_idle_seconds: u64,
    /// A web console session is over this long after its sign-in, used or not.
    pub session_max_seconds: u64,
    /// How long an instance reuses an earlier month's figures for the
    /// dashboard's trend before it counts them again; 0 always counts.
    pub trend_cache_seconds: u64,
    /// Run the SLA timer and the mail sender inside `serve`.
    pub timer_enabled: bool,
    /// Tell managers about inspections not done within their window.
    pub inspection_alerts: bool,
    /// An inspection recorded more than this many seconds after the time it
    /// claims (or after its window closed) is recorded late: it counts as
    /// late until a manager approves it.
    pub inspection_record_grace_seconds: u64,
    /// How long an Idempotency-Key is kept; the timer deletes older ones.
    pub idempotency_key_ttl_seconds: u64,
    /// Send managers last month's summary on the first working day of each month.
    pub monthly_reports: bool,
    /// The day the service went live (`ITSM_GO_LIVE`, e.g. `2026-11-29`); by
    /// default the day the database was first set up.
    #[serde(default)]
    pub go_live: Option<chrono::NaiveDate>,
    /// A manager hears of inspections that closed undone at most once in this many hours (one digest).
    pub inspection_digest_hours: u64,
    /// How often an instance asks whether another changed the holiday years:
    /// the longest it runs on old holidays after a change elsewhere.
    pub calendar_poll_seconds: u64,
    /// Thresholds that fell before a ticket was filed (a fault phoned in and
    /// filed later) wait this long after the filing, so that the steps already
    /// taken can be recorded first.
    pub filing_grace_minutes: u64,
    /// An agency may reopen a closed ticket for this many days after it was closed.
    pub reopen_closed_days: u64,
    /// Messages sent at once, each over a connection of the SMTP pool.
    pub mail_concurrency: u32,
    /// The share of its time a recomputation after a holiday change spends
    /// rewriting clocks; it rests the remainder, so that the pages it writes
    /// reach the disk at a pace that leaves room for filings (100: no rest).
    pub recompute_duty_percent: DutyPercent,
}

/// A share of the time from 10 to 100 %: below a tenth, a recomputation
/// would take ten times as long as its work, with this instance's timer
/// waiting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct DutyPercent(u32);

impl DutyPercent {
    /// The share, in percent.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for DutyPercent {
    type Error = String;

    fn try_from(percent: u32) -> Result<Self, String> {
        if (10..=100).contains(&percent) {
            Ok(Self(percent))
        } else {
            Err(format!("recompute_duty_percent must be 10 to 100, not {percent}"))
        }
    }
}

impl From<DutyPercent> for u32 {
    fn from(d: DutyPercent) -> u32 {
        d.0
    }
}

impl std::fmt::Debug for Settings {
    // The database URL may hold a password: show only its scheme.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.database_url.expose_secret();
        let scheme = url.split_once("://").map_or("?", |(s, _)| s);
        f.debug_struct("Settings")
            .field("database_url", &format_args!("{scheme}://[redacted]"))
            .field("listen", &self.listen)
            .field("config_dir", &self.config_dir)
            .field("log_format", &self.log_format)
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("smtp", &self.smtp_url.as_ref().map(|_| "[configured]"))
            .field("mail_from", &self.mail_from)
            .field("timer_enabled", &self.timer_enabled)
            .finish_non_exhaustive()
    }
}

/// The defaults: the `default.toml` this binary was built with, so that
/// the file a reader sees is the one source of every default.
const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

impl Settings {
    /// Built-in defaults, then `<config_dir>/default.toml` when a folder is
    /// given (`ITSM_CONFIG_DIR`), then `ITSM_*` variables (`ITSM_DATABASE_URL`,
    /// `ITSM_LISTEN`, …).
    pub fn load() -> Result<Self, Box<figment::Error>> {
        Self::load_from(std::env::var_os("ITSM_CONFIG_DIR").map(PathBuf::from).as_deref())
    }

    /// As [`Settings::load`], reading `default.toml` from `config_dir` when one is given.
    pub fn load_from(config_dir: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(dir) = config_dir {
            figment = figment
                .merge(Serialized::default("config_dir", dir))
                .merge(Toml::file(dir.join("default.toml")));
        }
        figment.merge(Env::prefixed("ITSM_")).extract().map_err(Box::new)
    }

    /// The configuration's catalog and calendar files: the folder's, or the ones built in.
    pub fn config_files(&self) -> Result<catalog::ConfigFiles, catalog::LoadErrors> {
        match &self.config_dir {
            Some(dir) => catalog::ConfigFiles::read_folder(dir),
            None => Ok(crate::builtin::config()),
        }
    }

    /// Settings for tests and tools: defaults with the given database and config folder.
    pub fn for_database(database_url: &str, config_dir: &Path) -> Result<Self, Box<figment::Error>> {
        Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Serialized::default("config_dir", config_dir))
            .merge(Serialized::default("database_url", database_url))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::{DEFAULT_TOML, Settings};

    fn with(line: &str) -> Result<Settings, Box<figment::Error>> {
        Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(line)).extract().map_err(Box::new)
    }

    #[test]
    fn a_recomputation_works_at_least_a_tenth_of_its_time() {
        assert_eq!(with("").expect("the defaults").recompute_duty_percent.get(), 60);
        for ok in [10, 100] {
            let s = with(&format!("recompute_duty_percent = {ok}")).expect("in range");
            assert_eq!(s.recompute_duty_percent.get(), ok);
        }
        for bad in [0, 9, 101] {
            let e = with(&format!("recompute_duty_percent = {bad}")).expect_err("out of range");
            assert!(e.to_string().contains("recompute_duty_percent must be 10 to 100"), "{e}");
        }
    }
}
