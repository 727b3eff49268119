//! Scale benchmark of the timers, the recomputation, the reports and the
//! reads (issue 16): a database of N tickets generated in bulk, the service
//! started on it in a child process, and one line per figure.
//!
//! `cargo run --release -p api --example scale -- --backend postgres|sqlite --clocks N [--idle-seconds S] [--reads-seconds S] [--filing-alone-seconds S] [--phases idle,lateness,sender,reads,recompute,reports] [--keep-db]`
//! (`--help` lists every flag.)
//!
//! `--phases` runs only the phases named (after the import, which always
//! runs): for a quick look at one figure. All of them by default.
//!
//! The data: N tickets, a third of them open with three running clocks each
//! (mixed 7x24, 5x8, 6x8 and 7x8 items; the 5x8 ones reported on Friday
//! 2026-11-27, so that they stand still over the weekend), the rest closed,
//! reported between 2026-05-22 (the contract's start) and 2026-11-26. The
//! served instance runs on a virtual time, 2026-11-29 10:00 +08:00 (a
//! Sunday, nothing due) plus the wall time elapsed since the run began, so
//! that due instants are real instants.
//!
//! Printed as `word key=value …`, each as soon as it is measured:
//! `startup`, `catchup`, `idle` (at 10,000 clocks and at N, CPU and RSS of the
//! serving child process from /proc), `lateness` (10,000 clocks falling due
//! within one minute: to the outbox and to an SMTP sink), `sender` (a burst
//! through the sender beside the sink's own rate), `reads` (32 clients, every
//! list filter and single reads), `recompute` (a holiday added over HTTP
//! while 8 clients file and 200 alerts fall due, `recompute_alerts` their
//! lateness; then `recompute_ahead`, next year's holidays
//! uploaded a month ahead), `report` (month and year, JSON, CSV and XLSX, each
//! period in a child process of its own for its peak memory).
//!
//! Roles: `--role bench` (default) drives; `--role serve` and `--role report`
//! are the child processes it starts (this same program). Only loopback
//! traffic; a fresh database per run, dropped at the end.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use api::domain::access::{Caller, Role};
use api::service::filing::{PastTicket, Steps};
use api::settings::Settings;
use api::state::AppState;
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use sla_engine::{Severity, Timestamp};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The allocator `itsm` ships with: the serving child stands in for `itsm serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PASSWORD: &str = "scale bench owner passphrase";
const MANAGER_EMAIL: &str = "duty.manager@scale.invalid";
/// The virtual instant the run starts at: Sunday 2026-11-29 10:00 +08:00.
const T0: &str = "2026-11-29T10:00:00+08:00";
/// Running clocks of the small idle measurement.
const SMALL: u64 = 10_000;
/// Words of ticket titles (the `q` filter looks for one).
const WORDS: [&str; 8] = [
    "服务器宕机",
    "网络中断",
    "登录失败",
    "数据同步异常",
    "打印机故障",
    "视频会议卡顿",
    "存储告警",
    "备份失败",
];

// ---------------------------------------------------------------- arguments

/// One size of the scale benchmark (`--help` lists the flags).
#[derive(Clone, Debug, clap::Parser)]
#[command(about = "Scale benchmark: timers, recomputation, reports and reads at N tickets")]
struct Args {
    /// `bench` drives; `serve` and `report` are the child processes it starts.
    #[arg(long, default_value = "bench", value_parser = ["bench", "serve", "report"])]
    role: String,
    #[arg(long, default_value = "postgres", value_parser = ["postgres", "sqlite"])]
    backend: String,
    /// Tickets stored (a third of them open, with three running clocks each).
    #[arg(long, default_value_t = 100_000)]
    clocks: u64,
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
    /// Clocks falling due within one minute in the lateness phase.
    #[arg(long, default_value_t = 10_000)]
    lateness: u64,
    /// Alerts due at one instant in the sender phase.
    #[arg(long, default_value_t = 2_000)]
    burst: u64,
    #[arg(long, default_value_t = 20)]
    reads_seconds: u64,
    /// Filings a second by each of the 8 filing clients during the recomputation.
    #[arg(long, default_value_t = 25)]
    filing_rate: u64,
    /// Seconds of filing before the recomputation starts (the control).
    #[arg(long, default_value_t = 20)]
    filing_alone_seconds: u64,
    /// Import jobs at once (default: 2 on PostgreSQL, 1 on SQLite).
    #[arg(long)]
    import_jobs: Option<usize>,
    /// Seconds a phase may take before it is given up.
    #[arg(long = "phase-timeout", default_value_t = 900)]
    timeout: u64,
    /// Keep the PostgreSQL database after the run (to EXPLAIN its queries).
    #[arg(long)]
    keep_db: bool,
    /// The database (child roles).
    #[arg(long, default_value = "")]
    db: String,
    /// The wall instant the virtual time starts from (child roles).
    #[arg(long, default_value_t = 0)]
    epoch_ns: i128,
    /// The SMTP sink (child roles).
    #[arg(long, default_value = "")]
    smtp: String,
    /// The report's period (`report` role).
    #[arg(long, default_value = "month", value_parser = ["month", "year"])]
    period: String,
    /// Tickets stored (`report` role).
    #[arg(long, default_value_t = 0)]
    tickets: u64,
    /// The phases to run after the import (`--phases reads,recompute`); all when not given.
    #[arg(long, value_delimiter = ',', value_parser = PHASES)]
    phases: Vec<String>,
}

/// The phases after the import, in the order they run.
const PHASES: [&str; 6] = ["idle", "lateness", "sender", "reads", "recompute", "reports"];

impl Args {
    fn wants(&self, phase: &str) -> bool {
        self.phases.is_empty() || self.phases.iter().any(|p| p == phase)
    }

    fn import_jobs(&self) -> usize {
        self.import_jobs.unwrap_or(if self.backend == "postgres" { 2 } else { 1 })
    }
}

#[allow(clippy::print_stdout)]
fn figure(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn note(line: &str) {
    eprintln!("  {line}");
}

// ------------------------------------------------------------ virtual time

fn wall_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

fn t0() -> i64 {
    chrono::DateTime::parse_from_rfc3339(T0).map_or(0, |t| t.timestamp())
}

/// A local instant of the contract's timezone (+08:00, no summer time), as UTC seconds.
fn local(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_or(0, |t| t.and_utc().timestamp())
        - 8 * 3600
}

/// Virtual time: T0 plus the wall time elapsed since `epoch_ns`, so that
/// every process of a run (the driver and its children) reads the same time.
#[derive(Debug, Clone, Copy)]
struct OffsetClock {
    t0: i64,
    epoch_ns: i128,
}

impl OffsetClock {
    fn virtual_secs(&self) -> i64 {
        self.t0 + i64::try_from((wall_ns() - self.epoch_ns).div_euclid(1_000_000_000)).unwrap_or(0)
    }

    /// The wall instant (ns since the Unix epoch) of virtual second `at`.
    fn wall_of(&self, at: i64) -> i128 {
        i128::from(at - self.t0) * 1_000_000_000 + self.epoch_ns
    }
}

impl api::time::Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.virtual_secs())
    }

    fn until(&self, at: Timestamp) -> Duration {
        Duration::from_nanos(u64::try_from(self.wall_of(at.unix()) - wall_ns()).unwrap_or(0))
    }
}

// ------------------------------------------------------------------- misc

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `{prefix}p50_ms=… {prefix}p99_ms=… {prefix}max_ms=…` of sorted milliseconds.
fn spread(prefix: &str, sorted: &[f64]) -> String {
    format!(
        "{prefix}p50_ms={:.2} {prefix}p99_ms={:.2} {prefix}max_ms={:.2}",
        percentile(sorted, 0.5),
        percentile(sorted, 0.99),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

/// Those of sorted milliseconds over the 100 ms that filing must stay under.
fn over_100ms(sorted: &[f64]) -> usize {
    sorted.iter().filter(|ms| **ms > 100.0).count()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A statement written with `$1`, `$2`… for either engine.
fn stmt(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_owned() };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn count(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> anyhow::Result<i64> {
    let row = db.query_one_raw(stmt(db, sql, values)).await?.context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

fn settings(url: &str) -> anyhow::Result<Settings> {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut s = Settings::for_database(url, &config).map_err(|e| anyhow::anyhow!("{e}"))?;
    s.admin_password = Some(PASSWORD.to_owned().into());
    s.rate_limit_per_second = 0;
    Ok(s)
}

/// The server settings the figures depend on, as one `postgres …` line
/// (as the service's sessions see them): the same code gives other figures
/// on a server tuned otherwise.
async fn postgres_settings(db: &DatabaseConnection) -> anyhow::Result<String> {
    let names = [
        "server_version",
        "shared_buffers",
        "max_wal_size",
        "checkpoint_timeout",
        "wal_compression",
        "synchronous_commit",
        "autovacuum",
        "backend_flush_after",
    ];
    let mut line = String::from("postgres");
    for name in names {
        let row = db
            .query_one_raw(stmt(db, &format!("SELECT current_setting('{name}') AS v"), vec![]))
            .await?
            .context(name)?;
        let value: String = row.try_get("", "v")?;
        line.push_str(&format!(" {name}={}", value.split_whitespace().next().unwrap_or("")));
    }
    // How the sessions reach the server: a Unix socket or TCP, with or
    // without TLS (which sqlx uses by default where the server offers it).
    let how = "SELECT CASE WHEN inet_server_addr() IS NULL THEN 'unix' ELSE 'tcp' END AS via, \
               COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS tls";
    let row = db.query_one_raw(stmt(db, how, vec![])).await?.context("connection")?;
    let (via, tls): (String, bool) = (row.try_get("", "via")?, row.try_get("", "tls")?);
    line.push_str(&format!(" connection={via} tls={}", if tls { "on" } else { "off" }));
    Ok(line)
}

/// (utime + stime in clock ticks, VmRSS in kB) of a process.
fn proc_usage(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok((ticks, status_kb(&format!("/proc/{pid}/status"), "VmRSS:")?))
}

fn status_kb(path: &str, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(path)?;
    let line = status.lines().find(|l| l.starts_with(key)).with_context(|| format!("{key} in {path}"))?;
    Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

// ------------------------------------------------------------------- main

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    match args.role.as_str() {
        "serve" => serve_role(&args).await,
        "report" => report_role(&args).await,
        "bench" => bench(&args).await,
        other => bail!("--role {other}: bench, serve or report"),
    }
}

// ------------------------------------------------------------- child: serve

/// The service on the given database and virtual time, with its timer and
/// SMTP sender; `ready port=… startup_seconds=…` on standard output once
/// built, served until standard input closes.
async fn serve_role(args: &Args) -> anyhow::Result<()> {
    api::telemetry::init(api::settings::LogFormat::Human);
    let clock = OffsetClock { t0: t0(), epoch_ns: args.epoch_ns };
    let mut s = settings(&args.db)?;
    s.smtp_url = Some(args.smtp.clone().into());
    s.mail_from = "ITSM <itsm@scale.invalid>".into();
    s.timer_enabled = true;
    let started = Instant::now();
    let built = api::startup::build(s, Arc::new(clock)).await?;
    let startup = started.elapsed().as_secs_f64();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    figure(&format!("ready port={port} startup_seconds={startup:.2}"));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        stop.cancel();
    });
    api::startup::serve(built.state, listener, None, cancel).await?;
    Ok(())
}

// ------------------------------------------------------------ child: report

/// One period's SLA report as the CLI and the API make it (the service's
/// `reports::sla`, then each writer), with its time and this process's peak
/// resident memory after each format.
async fn report_role(args: &Args) -> anyhow::Result<()> {
    use api::service::reports::{self, Lang, Period, View};
    let clock = OffsetClock { t0: t0(), epoch_ns: args.epoch_ns };
    let mut s = settings(&args.db)?;
    s.timer_enabled = false;
    let started = Instant::now();
    let built = api::startup::build_for_tools(s, Arc::new(clock)).await?;
    let build = started.elapsed().as_secs_f64();
    // Tickets stored now (those filed during the recomputation included).
    let tickets = count(&built.state.db, "SELECT count(*) FROM tickets", vec![]).await?;
    let baseline = status_kb("/proc/self/status", "VmHWM:")? as f64 / 1024.0;
    let (name, period) = if args.period == "year" {
        let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?;
        let to = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).context("date")?;
        ("2026", Period { from, to })
    } else {
        ("2026-11", Period::month("2026-11").map_err(|e| anyhow::anyhow!(e))?)
    };
    let caller = Caller { id: Uuid::nil(), username: "scale".into(), role: Role::Admin, agency: None };
    let started = Instant::now();
    let report = reports::sla(&built.state, &caller, period, None, None)
        .await
        .map_err(|e| anyhow::anyhow!("report: {e}"))?;
    let compute = started.elapsed().as_secs_f64();
    let hwm = status_kb("/proc/self/status", "VmHWM:")? as f64 / 1024.0;
    figure(&format!(
        "report period={name} step=compute tickets={tickets} seconds={compute:.2} peak_rss_mb={hwm:.1} baseline_rss_mb={baseline:.1} build_seconds={build:.2} generated={} breached_listed={} breached_total={}",
        args.tickets,
        report.breached_tickets.len(),
        report.breached_total
    ));
    for format in ["json", "csv", "xlsx"] {
        let started = Instant::now();
        let bytes = match format {
            "csv" => reports::to_csv_view(&report, View::Items, Lang::Zh)?,
            "xlsx" => reports::to_xlsx(&report, Lang::Zh)?,
            _ => serde_json::to_vec_pretty(&report)?,
        };
        let export = started.elapsed().as_secs_f64();
        let hwm = status_kb("/proc/self/status", "VmHWM:")? as f64 / 1024.0;
        figure(&format!(
            "report period={name} format={format} tickets={tickets} seconds={:.2} compute_seconds={compute:.2} export_seconds={export:.3} bytes={} peak_rss_mb={hwm:.1}",
            compute + export,
            bytes.len()
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------- data

/// What the generated tickets are made of.
#[derive(Debug)]
struct Plan {
    /// Line items by window (7x24, 5x8, 6x8, 7x8), each with every target in its own window.
    by_window: HashMap<&'static str, Vec<Uuid>>,
    all: Vec<Uuid>,
    engineers: Vec<Uuid>,
    old_from: i64,
    old_open_to: i64,
    closed_to: i64,
    friday: i64,
}

const WINDOWS: [&str; 4] = ["7x24", "5x8", "6x8", "7x8"];

fn plan(state: &AppState, engineers: Vec<Uuid>) -> anyhow::Result<Plan> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 5, 22).context("date")?;
    let end = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).context("date")?;
    let mut by_window: HashMap<&'static str, Vec<Uuid>> = HashMap::new();
    let mut all = Vec::new();
    for item in &state.catalog.items {
        let Some(window) = WINDOWS.iter().find(|w| item.service_window.as_deref() == Some(**w)) else {
            continue;
        };
        let metrics: HashSet<&str> = item.targets.iter().map(|t| t.rule.metric.as_str()).collect();
        let own = item.targets.iter().all(|t| t.rule.calendar == *window);
        let covers = item.service_period.from <= start && item.service_period.to >= end;
        if own && covers && ["response", "on_site", "recovery"].iter().all(|m| metrics.contains(m)) {
            let id = state.item_id(item);
            by_window.entry(window).or_default().push(id);
            all.push(id);
        }
    }
    for w in WINDOWS {
        note(&format!("{} line items on {w}", by_window.get(w).map_or(0, Vec::len)));
        if by_window.get(w).is_none_or(Vec::is_empty) {
            bail!("no usable line item on {w}");
        }
    }
    Ok(Plan {
        by_window,
        all,
        engineers,
        old_from: local("2026-05-22 00:00"),
        old_open_to: local("2026-10-31 00:00"),
        closed_to: local("2026-11-26 00:00"),
        friday: local("2026-11-27 09:00"),
    })
}

impl Plan {
    fn pick(list: &[Uuid], h: u64) -> &Uuid {
        &list[(h % list.len() as u64) as usize]
    }

    /// Ticket `i` of the stored data: every third one open.
    fn ticket(&self, i: u64) -> PastTicket {
        let h = splitmix(i);
        let severity = match h % 100 {
            0..3 => Severity::Critical,
            3..13 => Severity::Major,
            _ => Severity::General,
        };
        let title = format!("{} #{i}", WORDS[(h >> 8) as usize % WORDS.len()]);
        let r = |k: u64| splitmix(h ^ k);
        if i.is_multiple_of(3) {
            // Open, no step taken: three running clocks.
            let (window, reported) = match (h >> 16) % 10 {
                0..4 => ("7x24", self.old(r(1), self.old_open_to)),
                // Friday 09:00 to 17:59: standing still over the weekend.
                4..8 => ("5x8", self.friday + (r(1) % (9 * 3600)) as i64),
                8 => ("6x8", self.old(r(1), self.old_open_to)),
                _ => ("7x8", self.old(r(1), self.old_open_to)),
            };
            let item = *Self::pick(&self.by_window[window], r(2));
            let assignee_id = (r(3) % 3 == 0).then(|| *Self::pick(&self.engineers, r(4)));
            return PastTicket {
                line_item_id: item,
                title,
                severity,
                reported_at: Timestamp::from_unix(reported),
                steps: Steps::default(),
                closed_at: None,
                assignee_id,
            };
        }
        let reported = self.old(r(1), self.closed_to);
        let ack = reported + 300 + (r(5) % 7_200) as i64;
        let arrived = ack + 600 + (r(6) % 14_400) as i64;
        let resolved = arrived + 1_800 + (r(7) % 43_200) as i64;
        let closed = resolved + 3_600 + (r(8) % 172_800) as i64;
        PastTicket {
            line_item_id: *Self::pick(&self.all, r(2)),
            title,
            severity,
            reported_at: Timestamp::from_unix(reported),
            steps: Steps {
                acknowledged_at: Some(Timestamp::from_unix(ack)),
                arrived_at: Some(Timestamp::from_unix(arrived)),
                resolved_at: Some(Timestamp::from_unix(resolved)),
            },
            closed_at: Some(Timestamp::from_unix(closed)),
            assignee_id: Some(*Self::pick(&self.engineers, r(4))),
        }
    }

    fn old(&self, h: u64, to: i64) -> i64 {
        self.old_from + (h % (to - self.old_from) as u64) as i64
    }
}

/// Import tickets `from..to` of the plan in batches, `jobs` batches at once,
/// with progress on standard error every 10 %.
async fn import_range(
    state: &AppState,
    admin: &Caller,
    plan: &Plan,
    from: u64,
    to: u64,
    jobs: usize,
) -> anyhow::Result<f64> {
    const BATCH: u64 = 2_000;
    let started = Instant::now();
    let total = to.saturating_sub(from);
    let done = AtomicU64::new(0);
    let batches: Vec<(u64, u64)> =
        (from..to).step_by(BATCH as usize).map(|b| (b, (b + BATCH).min(to))).collect();
    let mut runs = futures::stream::iter(batches)
        .map(|(a, b)| {
            let done = &done;
            async move {
                let tickets: Vec<PastTicket> = (a..b).map(|i| plan.ticket(i)).collect();
                api::service::filing::import(state, admin, tickets)
                    .await
                    .map_err(|e| anyhow::anyhow!("import: {e}"))?;
                let before = done.fetch_add(b - a, Ordering::SeqCst);
                let after = before + b - a;
                if after * 10 / total.max(1) > before * 10 / total.max(1) {
                    note(&format!(
                        "imported {after}/{total} tickets ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    ));
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(jobs.max(1));
    while let Some(r) = runs.next().await {
        r?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Tickets on a 7x24 item whose recovery clock crosses its first warning at
/// the given virtual instants (response and on-site met at once): one
/// message each, to the one manager.
fn due_tickets(state: &AppState, plan: &Plan, label: &str, dues: &[i64]) -> anyhow::Result<Vec<PastTicket>> {
    let item_id = plan.by_window["7x24"][0];
    let item = state.item(item_id).context("item")?;
    let target = item
        .targets
        .iter()
        .find(|t| t.rule.metric.as_str() == "recovery")
        .context("recovery target")?
        .rule
        .target
        .get() as i64;
    let first = *state.thresholds(item_id, Severity::General).first().context("thresholds")? as i64;
    let lead = target * first / 100;
    Ok(dues
        .iter()
        .enumerate()
        .map(|(k, due)| {
            let reported = due - lead;
            PastTicket {
                line_item_id: item_id,
                title: format!("{label} #{k}"),
                severity: Severity::General,
                reported_at: Timestamp::from_unix(reported),
                steps: Steps {
                    acknowledged_at: Some(Timestamp::from_unix(reported + 60)),
                    arrived_at: Some(Timestamp::from_unix(reported + 120)),
                    resolved_at: None,
                },
                closed_at: None,
                assignee_id: None,
            }
        })
        .collect())
}

// ------------------------------------------------------------ the children

#[derive(Debug)]
struct Child {
    process: tokio::process::Child,
    pid: u32,
    base: String,
}

async fn spawn_serve(url: &str, epoch_ns: i128, smtp: &str) -> anyhow::Result<(Child, f64)> {
    let exe = std::env::current_exe()?;
    let mut process = tokio::process::Command::new(exe)
        .args(["--role", "serve", "--db", url, "--smtp", smtp, "--epoch-ns", &epoch_ns.to_string()])
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = process.id().context("pid")?;
    let stdout = process.stdout.take().context("stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = lines.next_line().await?.context("the serving child ended before it was ready")?;
    // Keep reading whatever else it prints.
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            note(&format!("serve: {l}"));
        }
    });
    let field = |key: &str| {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key).map(str::to_owned)).unwrap_or_default()
    };
    let port = field("port=");
    let startup: f64 = field("startup_seconds=").parse().with_context(|| format!("ready line {line}"))?;
    Ok((Child { process, pid, base: format!("http://127.0.0.1:{port}") }, startup))
}

async fn stop(mut child: Child) {
    drop(child.process.stdin.take());
    if tokio::time::timeout(Duration::from_secs(20), child.process.wait()).await.is_err() {
        let _ = child.process.kill().await;
    }
}

async fn run_report(
    url: &str,
    epoch_ns: i128,
    period: &str,
    tickets: u64,
    timeout: u64,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut process = tokio::process::Command::new(exe)
        .args(["--role", "report", "--db", url, "--period", period, "--epoch-ns", &epoch_ns.to_string()])
        .args(["--tickets", &tickets.to_string()])
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .kill_on_drop(true)
        .spawn()?;
    let pid = process.id().unwrap_or(0);
    let mut peak = 0u64;
    let started = Instant::now();
    loop {
        tokio::select! {
            status = process.wait() => {
                let status = status?;
                if !status.success() {
                    figure(&format!("report period={period} failed status={status} seconds={:.1} observed_peak_rss_mb={:.1}", started.elapsed().as_secs_f64(), peak as f64 / 1024.0));
                }
                return Ok(());
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if let Ok((_, rss)) = proc_usage(pid) { peak = peak.max(rss); }
                if started.elapsed().as_secs() > timeout {
                    let _ = process.kill().await;
                    figure(&format!("report period={period} timeout seconds={timeout} observed_peak_rss_mb={:.1}", peak as f64 / 1024.0));
                    return Ok(());
                }
            }
        }
    }
}

// ------------------------------------------------------------------ driver

/// A fresh database for `backend`, and how to drop it afterwards.
async fn fresh(
    backend: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(String, Option<(DatabaseConnection, String)>)> {
    if backend == "sqlite" {
        return Ok((format!("sqlite://{}?mode=rwc", dir.join("scale.db").display()), None));
    }
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("itsm_scale_{}", std::process::id());
    let conn = Database::connect(&admin).await.context("PostgreSQL at 127.0.0.1:5432")?;
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    // The URL's query (`?host=/var/run/postgresql` for the Unix socket) carries over.
    let (path, query) = admin.split_once('?').map_or((admin.as_str(), None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    let url = query.map_or_else(|| format!("{base}/{name}"), |q| format!("{base}/{name}?{q}"));
    Ok((url, Some((conn, name))))
}

async fn bench(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, cleanup) = fresh(&args.backend, dir.path()).await?;
    let result = bench_on(args, &url).await;
    if let Some((_, name)) = cleanup.as_ref().filter(|_| args.keep_db) {
        note(&format!("kept database {name} (--keep-db): DROP DATABASE {name} when done"));
    } else if let Some((conn, name)) = cleanup {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
    result
}

/// Everything the phases share.
#[derive(Debug)]
struct Run {
    args: Args,
    clock: OffsetClock,
    state: AppState,
    db: DatabaseConnection,
    admin: Caller,
    token: String,
    plan: Plan,
    sink: notifier::sink::SmtpSink,
    http: reqwest::Client,
    /// Tickets stored.
    tickets: u64,
}

async fn bench_on(args: &Args, url: &str) -> anyhow::Result<()> {
    let run_started = Instant::now();
    let clock = OffsetClock { t0: t0(), epoch_ns: wall_ns() };
    let mut s = settings(url)?;
    s.timer_enabled = false;
    let built = api::startup::build(s, Arc::new(clock)).await?;
    let state = built.state;
    let db = state.db.clone();
    let issued = api::service::accounts::sign_in(&state, "admin", PASSWORD, None)
        .await
        .map_err(|e| anyhow::anyhow!("sign-in: {e}"))?;
    let admin = api::service::accounts::caller_for_token(&state, &issued.token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("admin")?;
    let mut engineers = Vec::new();
    for k in 0..4 {
        let user = api::service::accounts::create(
            &state,
            Some(&admin),
            api::domain::account::NewUser {
                username: format!("engineer.{k}"),
                role: Role::Engineer,
                agency: None,
                email: None,
                display_name: None,
                password: format!("field staff passphrase {k} of the bench"),
                must_change_password: false,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        engineers.push(user.id);
    }
    api::service::accounts::create(
        &state,
        Some(&admin),
        api::domain::account::NewUser {
            username: "duty.manager".into(),
            role: Role::Manager,
            agency: None,
            email: Some(MANAGER_EMAIL.into()),
            display_name: None,
            password: "duty roster passphrase of the bench".into(),
            must_change_password: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan(&state, engineers)?;
    let sink = notifier::sink::SmtpSink::start()?;
    let mut run = Run {
        args: args.clone(),
        clock,
        state,
        db,
        admin,
        token: issued.token,
        plan,
        sink,
        http: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
        tickets: 0,
    };
    let n = args.clocks;
    figure(&format!("run backend={} clocks={n} tickets={n}", args.backend));
    if args.backend == "postgres" {
        figure(&postgres_settings(&run.db).await?);
    }

    // Idle with 10,000 running clocks (the first 10,000 tickets hold 3,334 open).
    if n > SMALL && args.wants("idle") {
        let secs = import_range(&run.state, &run.admin, &run.plan, 0, SMALL, args.import_jobs()).await?;
        run.tickets = SMALL;
        note(&format!("{SMALL} tickets imported in {secs:.1} s"));
        let (child, startup) = spawn_serve(url, clock.epoch_ns, &run.sink.url()).await?;
        figure(&format!("startup tickets={SMALL} seconds={startup:.2}"));
        catch_up(&run).await?;
        idle(&run, &child).await?;
        stop(child).await;
    }
    let from = run.tickets;
    let secs = import_range(&run.state, &run.admin, &run.plan, from, n, args.import_jobs()).await?;
    run.tickets = n;
    if run.db.get_database_backend() == DbBackend::Postgres {
        run.db.execute_unprepared("ANALYZE").await?;
    }
    let stored = count(&run.db, "SELECT count(*) FROM tickets", vec![]).await?;
    let running = count(&run.db, "SELECT count(*) FROM clocks WHERE met_at IS NULL", vec![]).await?;
    let soonest =
        count(&run.db, "SELECT coalesce(min(next_at), 0) FROM clocks WHERE next_at IS NOT NULL", vec![])
            .await?;
    figure(&format!(
        "import tickets={stored} running_clocks={running} seconds={secs:.1} tickets_per_s={:.0} next_due_in_hours={:.1}",
        (n - from) as f64 / secs,
        (soonest - clock.virtual_secs()) as f64 / 3600.0
    ));

    let (child, startup) = spawn_serve(url, clock.epoch_ns, &run.sink.url()).await?;
    figure(&format!("startup tickets={stored} seconds={startup:.2}"));
    catch_up(&run).await?;
    if args.wants("idle") {
        idle(&run, &child).await?;
    }
    if args.wants("lateness") {
        lateness(&run, &child).await?;
    }
    if args.wants("sender") {
        sender(&run, &child).await?;
    }
    if args.wants("reads") {
        reads(&run, &child).await?;
    }
    if args.wants("recompute") {
        recompute(&run, &child).await?;
    }
    stop(child).await;
    for period in ["month", "year"].into_iter().filter(|_| args.wants("reports")) {
        run_report(url, clock.epoch_ns, period, run.tickets, args.timeout).await?;
    }
    figure(&format!("total seconds={:.1}", run_started.elapsed().as_secs_f64()));
    Ok(())
}

/// Wait until no clock is due any more: a start marks every clock whose
/// thresholds may be unannounced due at once, and the timer's first tick
/// goes through them.
async fn catch_up(run: &Run) -> anyhow::Result<()> {
    let started = Instant::now();
    let due = |db: &DatabaseConnection, now: i64| {
        let db = db.clone();
        async move {
            count(
                &db,
                "SELECT count(*) FROM clocks WHERE next_at IS NOT NULL AND next_at <= $1",
                vec![now.into()],
            )
            .await
        }
    };
    let first = due(&run.db, run.clock.virtual_secs()).await?;
    loop {
        let left = due(&run.db, run.clock.virtual_secs()).await?;
        if left == 0 {
            break;
        }
        if started.elapsed().as_secs() > run.args.timeout {
            figure(&format!("catchup timeout clocks_due={first} left={left} seconds={}", run.args.timeout));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    figure(&format!("catchup clocks_due={first} seconds={:.2}", started.elapsed().as_secs_f64()));
    Ok(())
}

/// CPU and resident memory of the serving child over the idle window.
async fn idle(run: &Run, child: &Child) -> anyhow::Result<()> {
    let running = count(&run.db, "SELECT count(*) FROM clocks WHERE met_at IS NULL", vec![]).await?;
    let ticks = clock_ticks();
    let (cpu0, _) = proc_usage(child.pid)?;
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed().as_secs() < run.args.idle_seconds {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(proc_usage(child.pid)?.1);
    }
    let (cpu1, rss) = proc_usage(child.pid)?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = (cpu1 - cpu0) as f64 / ticks as f64 / secs * 100.0;
    figure(&format!(
        "idle clocks={running} tickets={} cpu_percent={cpu:.2} rss_mb={:.1} peak_rss_mb={:.1} seconds={secs:.0}",
        run.tickets,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    ));
    Ok(())
}

/// A filing through the API, which also wakes the child's timer (it does
/// not know of tickets another process imported until it looks again).
async fn file_one(run: &Run, base: &str, item: Uuid, title: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let r = run
        .http
        .post(format!("{base}/v1/tickets"))
        .bearer_auth(&run.token)
        .json(&json!({"line_item_id": item, "title": title, "severity": "general"}))
        .send()
        .await?;
    let status = r.status();
    let _ = r.bytes().await?;
    anyhow::ensure!(status.as_u16() == 201, "filing answered {status}");
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// The tickets a phase imported (titled `{label} #k`), with the due
/// instant of each: (ticket id → due virtual second).
async fn phase_tickets(
    run: &Run,
    label: &str,
    since: i64,
    dues: &[i64],
) -> anyhow::Result<HashMap<Uuid, i64>> {
    // `created_at` (an imported ticket's report time) bounds the walk to an index range.
    let rows = run
        .db
        .query_all_raw(stmt(
            &run.db,
            "SELECT id, title FROM tickets WHERE created_at >= $1 AND title LIKE $2",
            vec![since.into(), format!("{label} #%").into()],
        ))
        .await?;
    let mut out = HashMap::with_capacity(dues.len());
    for row in rows {
        let title: String = row.try_get("", "title")?;
        let k = title.rsplit('#').next().and_then(|k| k.parse::<usize>().ok());
        if let Some(due) = k.and_then(|k| dues.get(k)) {
            out.insert(row.try_get::<Uuid>("", "id")?, *due);
        }
    }
    anyhow::ensure!(out.len() == dues.len(), "{label}: {} of {} tickets found", out.len(), dues.len());
    Ok(out)
}

/// Queued alerts of the phase's tickets as they appear: (message id, due
/// virtual second, wall ns seen). Each poll reads the rows created since
/// the earliest due instant not yet seen (a message is never queued before
/// its due instant), so that it stays small without missing a row
/// committed late, and rows of other tickets (the previous phase's last
/// second) are never counted.
async fn poll_outbox(
    run: &Run,
    tickets: &HashMap<Uuid, i64>,
    deadline: Instant,
) -> anyhow::Result<HashMap<String, (i64, i128)>> {
    let mut seen: HashMap<String, (i64, i128)> = HashMap::new();
    let mut waiting: HashSet<Uuid> = tickets.keys().copied().collect();
    while !waiting.is_empty() && Instant::now() < deadline {
        let window_from = waiting.iter().filter_map(|id| tickets.get(id)).min().copied().unwrap_or(0);
        let rows = run
            .db
            .query_all_raw(stmt(
                &run.db,
                "SELECT message_id, ticket_id FROM outbox WHERE created_at >= $1 AND ticket_id IS NOT NULL",
                vec![window_from.into()],
            ))
            .await?;
        let at = wall_ns();
        for row in rows {
            let ticket: Uuid = row.try_get("", "ticket_id")?;
            let Some(due) = tickets.get(&ticket) else { continue };
            let id: String = row.try_get("", "message_id")?;
            if waiting.remove(&ticket) {
                seen.insert(id, (*due, at));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(seen)
}

/// When the sink accepted each message, by Message-ID.
fn accepted(sink: &notifier::sink::SmtpSink) -> HashMap<String, i128> {
    sink.messages()
        .iter()
        .filter_map(|m| {
            let at = m.at.duration_since(UNIX_EPOCH).ok()?.as_nanos() as i128;
            Some((m.header("Message-ID")?, at))
        })
        .collect()
}

async fn wait_for_sink(run: &Run, target: usize, deadline: Instant) {
    while run.sink.count() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Import `count` tickets due at `dues`, wake the child, and collect when
/// each alert was queued and accepted.
async fn fire(
    run: &Run,
    child: &Child,
    label: &str,
    dues: &[i64],
) -> anyhow::Result<(HashMap<String, (i64, i128)>, HashMap<String, i128>)> {
    let before_sink = run.sink.count();
    let tickets = due_tickets(&run.state, &run.plan, label, dues)?;
    // An imported ticket is created at its report time.
    let reported_from = tickets.iter().map(|t| t.reported_at.unix()).min().unwrap_or(0);
    let started = Instant::now();
    for chunk in tickets.chunks(2_000) {
        api::service::filing::import(&run.state, &run.admin, chunk.to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("import: {e}"))?;
    }
    let first_due = dues.iter().min().copied().unwrap_or(0);
    let imported_at = run.clock.virtual_secs();
    note(&format!(
        "{label}: {} tickets imported in {:.1} s, {} s before the first falls due",
        tickets.len(),
        started.elapsed().as_secs_f64(),
        first_due - imported_at
    ));
    if imported_at >= first_due {
        note(&format!("{label}: the import ended after the first due instant: lateness overstated"));
    }
    file_one(run, &child.base, run.plan.by_window["5x8"][0], "wake the timer").await?;
    let last_due = dues.iter().max().copied().unwrap_or(0);
    let deadline = Instant::now()
        + Duration::from_secs(
            u64::try_from(last_due - run.clock.virtual_secs()).unwrap_or(0) + run.args.timeout.min(300),
        );
    let phase = phase_tickets(run, label, reported_from, dues).await?;
    let queued = poll_outbox(run, &phase, deadline).await?;
    wait_for_sink(run, before_sink + queued.len(), deadline).await;
    Ok((queued, accepted(&run.sink)))
}

fn lateness_ms(run: &Run, due: i64, at: i128) -> f64 {
    (at - run.clock.wall_of(due)) as f64 / 1e6
}

/// 10,000 clocks falling due within one minute: lateness to the outbox and to the sink.
async fn lateness(run: &Run, child: &Child) -> anyhow::Result<()> {
    let n = run.args.lateness;
    let start = run.clock.virtual_secs() + 15;
    let dues: Vec<i64> = (0..n).map(|k| start + (k * 60 / n.max(1)) as i64).collect();
    let (queued, accepted) = fire(run, child, "lateness", &dues).await?;
    let q = sorted(queued.values().map(|(due, at)| lateness_ms(run, *due, *at)).collect());
    let a = sorted(
        queued
            .iter()
            .filter_map(|(id, (due, _))| accepted.get(id).map(|at| lateness_ms(run, *due, *at)))
            .collect(),
    );
    figure(&format!(
        "lateness clocks={n} queued={} p50_ms={:.0} p99_ms={:.0} max_ms={:.0} accepted={} accepted_p50_ms={:.0} accepted_p99_ms={:.0} accepted_max_ms={:.0}",
        q.len(),
        percentile(&q, 0.5),
        percentile(&q, 0.99),
        q.last().copied().unwrap_or(f64::NAN),
        a.len(),
        percentile(&a, 0.5),
        percentile(&a, 0.99),
        a.last().copied().unwrap_or(f64::NAN),
    ));
    Ok(())
}

/// A burst due at one instant: the timer queues it all before it wakes the
/// sender, so the sender's rate is its own; then the sink's own rate, the
/// same messages sent over lettre's pooled transport at `mail_concurrency`.
async fn sender(run: &Run, child: &Child) -> anyhow::Result<()> {
    let n = run.args.burst;
    let due = run.clock.virtual_secs() + 10;
    let dues = vec![due; n as usize];
    let (queued, accepted) = fire(run, child, "burst", &dues).await?;
    let span = |times: &mut dyn Iterator<Item = i128>| {
        let v: Vec<i128> = times.collect();
        let (lo, hi) = (v.iter().min().copied().unwrap_or(0), v.iter().max().copied().unwrap_or(0));
        (v.len(), (hi - lo) as f64 / 1e9)
    };
    let (sent, sent_span) = span(&mut queued.keys().filter_map(|id| accepted.get(id).copied()));
    let (nq, queue_span) = span(&mut queued.values().map(|(_, at)| *at));
    let alerts_per_s = sent as f64 / sent_span.max(1e-3);

    // The sink's own rate: the same messages, straight from the outbox rows.
    let rows = run
        .db
        .query_all_raw(stmt(
            &run.db,
            "SELECT message_id, subject, body_text, body_html FROM outbox WHERE created_at >= $1 AND ticket_id IS NOT NULL",
            vec![(due - 1).into()],
        ))
        .await?;
    let mut emails = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        let id: String = row.try_get("", "message_id")?;
        if !queued.contains_key(&id) {
            continue;
        }
        emails.push(notifier::Email {
            message_id: id.replace('<', &format!("<direct{k}.")),
            from: "ITSM <itsm@scale.invalid>".into(),
            to: vec![MANAGER_EMAIL.into()],
            subject: row.try_get("", "subject")?,
            text: row.try_get("", "body_text")?,
            html: row.try_get("", "body_html")?,
            attachment: None,
        });
    }
    // A sink of its own, the same server: the service's pooled connections
    // to the first one stay open and hold its threads.
    let own = notifier::sink::SmtpSink::start()?;
    let concurrency = run.state.settings.mail_concurrency.max(1);
    let mailer = notifier::SmtpMailer::pooled(&own.url(), concurrency).map_err(|e| anyhow::anyhow!("{e}"))?;
    let direct_ids: HashSet<String> = emails.iter().map(|e| e.message_id.clone()).collect();
    let mut sends = futures::stream::iter(emails.iter())
        .map(|e| {
            use notifier::Mailer;
            mailer.send(e)
        })
        .buffer_unordered(concurrency as usize);
    while let Some(r) = sends.next().await {
        r.map_err(|e| anyhow::anyhow!("direct send: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while own.count() < emails.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = self::accepted(&own);
    let (direct, direct_span) =
        span(&mut all.iter().filter(|(id, _)| direct_ids.contains(*id)).map(|(_, at)| *at));
    let sink_per_s = direct as f64 / direct_span.max(1e-3);
    figure(&format!(
        "sender alerts_per_s={alerts_per_s:.0} sink_per_s={sink_per_s:.0} ratio={:.2} messages={sent} queued={nq} queued_per_s={:.0} concurrency={concurrency}",
        alerts_per_s / sink_per_s,
        nq as f64 / queue_span.max(1e-3),
    ));
    Ok(())
}

async fn get_ms(run: &Run, client: &reqwest::Client, url: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let r = client.get(url).bearer_auth(&run.token).send().await?;
    let status = r.status();
    let _ = r.bytes().await?;
    anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// 32 clients reading ticket lists with each filter, and single tickets.
async fn reads(run: &Run, child: &Child) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = run
        .db
        .query_all_raw(stmt(&run.db, "SELECT id FROM tickets ORDER BY random() LIMIT 2000", vec![]))
        .await?
        .iter()
        .filter_map(|r| r.try_get::<Uuid>("", "id").ok())
        .collect();
    let agency = run.state.item(run.plan.all[0]).map(|i| i.agency.clone()).unwrap_or_default();
    let base = format!("{}/v1/tickets", child.base);
    let kinds: Vec<(&'static str, String)> = vec![
        ("state", format!("{base}?state=open")),
        ("agency", format!("{base}?agency={agency}")),
        ("item", format!("{base}?line_item_id={}", run.plan.by_window["7x24"][0])),
        ("assignee", format!("{base}?assignee={}", run.plan.engineers[0])),
        ("severity", format!("{base}?severity=major")),
        ("breached", format!("{base}?breached=true")),
        ("dates", format!("{base}?created_from=2026-09-01&created_to=2026-09-30")),
        ("q", format!("{base}?q={}", WORDS[3])),
        ("get", String::new()),
    ];
    // Each kind once first: a kind that fails or is very slow is said so at once.
    for (kind, url) in &kinds {
        if !url.is_empty() {
            let ms = get_ms(run, &run.http, url).await?;
            note(&format!("reads: first {kind} {ms:.1} ms"));
        }
    }
    let (child_cpu0, _) = proc_usage(child.pid)?;
    let (own_cpu0, _) = proc_usage(std::process::id())?;
    let reads_started = Instant::now();
    let all = read_load(run, &kinds, &ids, &base, None).await?;
    for (i, (kind, _)) in kinds.iter().enumerate() {
        let v = sorted(all.iter().filter(|(k, _)| *k == i).map(|(_, ms)| *ms).collect());
        figure(&format!("reads kind={kind} requests={} {}", v.len(), spread("", &v)));
    }
    let secs = reads_started.elapsed().as_secs_f64();
    let ticks = clock_ticks() as f64;
    let child_cpu = (proc_usage(child.pid)?.0 - child_cpu0) as f64 / ticks / secs * 100.0;
    let own_cpu = (proc_usage(std::process::id())?.0 - own_cpu0) as f64 / ticks / secs * 100.0;
    let v = sorted(all.iter().map(|(_, ms)| *ms).collect());
    let per_s = v.len() as f64 / secs;
    figure(&format!(
        "reads clients=32 tickets={} requests={} per_s={per_s:.0} {} server_cpu_percent={child_cpu:.0} client_cpu_percent={own_cpu:.0}",
        run.tickets,
        v.len(),
        spread("", &v)
    ));
    // The same clients at half the rate the service just sustained: the
    // time a request takes when it does not queue behind 31 others.
    let offered = per_s / 2.0;
    let every = Duration::from_secs_f64(32.0 / offered.max(1.0));
    let paced_started = Instant::now();
    let v = sorted(
        read_load(run, &kinds, &ids, &base, Some(every)).await?.into_iter().map(|(_, ms)| ms).collect(),
    );
    figure(&format!(
        "reads_paced clients=32 offered_per_s={offered:.0} per_s={:.0} {}",
        v.len() as f64 / paced_started.elapsed().as_secs_f64(),
        spread("", &v)
    ));
    Ok(())
}

/// 32 clients cycling through `kinds` for `--reads-seconds`, each flat out
/// or one request every `every`; (kind, ms) of each request.
async fn read_load(
    run: &Run,
    kinds: &[(&'static str, String)],
    ids: &[Uuid],
    base: &str,
    every: Option<Duration>,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let stop_at = Instant::now() + Duration::from_secs(run.args.reads_seconds);
    let mut tasks = Vec::new();
    for c in 0..32usize {
        let (kinds, ids, http) = (kinds.to_vec(), ids.to_vec(), reqwest::Client::new());
        let (base, token) = (base.to_owned(), run.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut pace = every.map(|every| {
                // Spread the clients' first requests over one period.
                let first = tokio::time::Instant::now() + every.mul_f64(c as f64 / 32.0);
                let mut pace = tokio::time::interval_at(first, every);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                pace
            });
            let mut out: Vec<(usize, f64)> = Vec::new();
            let mut k = c;
            while Instant::now() < stop_at {
                if let Some(pace) = pace.as_mut() {
                    pace.tick().await;
                }
                let kind = k % kinds.len();
                let url = if kinds[kind].0 == "get" {
                    format!("{base}/{}", ids[(k * 7919) % ids.len().max(1)])
                } else {
                    kinds[kind].1.clone()
                };
                let started = Instant::now();
                let r = http.get(&url).bearer_auth(&token).send().await?;
                let status = r.status();
                let _ = r.bytes().await?;
                anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
                out.push((kind, started.elapsed().as_secs_f64() * 1e3));
                k += 1;
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// A holiday added on Monday 2026-11-30 over the API while 8 clients file:
/// the time until every affected clock's deadline is rewritten, and filing latency meanwhile.
async fn recompute(run: &Run, child: &Child) -> anyhow::Result<()> {
    let monday = local("2026-11-30 00:00");
    let names: Vec<String> = run
        .state
        .calendars()
        .iter()
        .filter(|(_, c)| c.window().holidays.is_some())
        .map(|(n, _)| n.to_owned())
        .collect();
    let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(",");
    let affected_sql = format!(
        "SELECT ticket_id, metric, deadline FROM clocks WHERE met_at IS NULL AND calendar IN ({list}) AND deadline >= $1 ORDER BY ticket_id, metric"
    );
    let affected: Vec<(Uuid, String, i64)> = run
        .db
        .query_all_raw(stmt(&run.db, &affected_sql, vec![monday.into()]))
        .await?
        .iter()
        .map(|r| Ok((r.try_get("", "ticket_id")?, r.try_get("", "metric")?, r.try_get("", "deadline")?)))
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let unmet = count(
        &run.db,
        &format!("SELECT count(*) FROM clocks WHERE met_at IS NULL AND calendar IN ({list})"),
        vec![],
    )
    .await?;
    let moved_before = moved_events(&run.db).await?;
    let Some(last) = affected.last().cloned() else {
        figure("recompute skipped: no clock has a deadline after the weekend");
        return Ok(());
    };
    note(&format!(
        "recompute: {} of {unmet} unmet clocks on {list} have a deadline after the weekend",
        affected.len()
    ));

    // Eight clients file on a 5x8 item (standing still on Sunday: nothing
    // falls due), each at a steady pace: flat out, they would add clocks
    // faster than any recomputation walks them.
    let stop = CancellationToken::new();
    let rate = run.args.filing_rate.max(1) as f64;
    let item = run.plan.by_window["5x8"][0];
    let mut filers = Vec::new();
    for c in 0..8 {
        let (stop, http, base, token) =
            (stop.clone(), reqwest::Client::new(), child.base.clone(), run.token.clone());
        filers.push(tokio::spawn(async move {
            let mut out: Vec<(Instant, f64)> = Vec::new();
            let mut k = 0;
            let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.is_cancelled() {
                pace.tick().await;
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({"line_item_id": item, "title": format!("filed during the recompute {c}/{k}"), "severity": "general"}))
                    .send()
                    .await?;
                let status = r.status();
                let _ = r.bytes().await?;
                anyhow::ensure!(status.as_u16() == 201, "filing answered {status}");
                out.push((started, started.elapsed().as_secs_f64() * 1e3));
                k += 1;
            }
            anyhow::Ok(out)
        }));
    }
    // First the same filing with nothing recomputing, as the control: what
    // this machine's disk and cores give a filing on their own.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alone_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(run.args.filing_alone_seconds)).await;

    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/calendars/cn-2026.toml");
    let body = std::fs::read_to_string(config)?
        + "\n[[holiday]]\nname = \"扩展测试假日\"\nfrom = \"2026-11-30\"\nto = \"2026-11-30\"\n";
    // Alerts falling due while the walk runs, on a 7x24 item (no holiday
    // moves them): the timer must not wait for the recomputation.
    let label = "due during the recompute";
    let first_due = run.clock.virtual_secs() + 3;
    let n = DUE_DURING_RECOMPUTE;
    let dues: Vec<i64> = (0..n).map(|k| first_due + (k * 40 / n) as i64).collect();
    let due = due_tickets(&run.state, &run.plan, label, &dues)?;
    let reported_from = due.iter().map(|t| t.reported_at.unix()).min().unwrap_or(0);
    api::service::filing::import(&run.state, &run.admin, due)
        .await
        .map_err(|e| anyhow::anyhow!("import: {e}"))?;
    let due = phase_tickets(run, label, reported_from, &dues).await?;

    let inputs_before = clock_inputs(&run.db).await?;
    let put_v = run.clock.virtual_secs();
    let started = Instant::now();
    put_holidays(run, child, 2026, body).await?;
    let put_ms = started.elapsed().as_secs_f64() * 1e3;
    let alerts_until = started + Duration::from_secs(run.args.timeout);
    let left_sql = left_sql(&list);
    let (walked, queued) = tokio::join!(
        walked(run, &last, &left_sql, monday, put_v, started),
        poll_outbox(run, &due, alerts_until)
    );
    let (timed_out, left, done) = walked?;
    let queued = queued?;
    let seconds = (done - started).as_secs_f64();
    stop.cancel();
    let mut filings = Vec::new();
    for f in filers {
        filings.extend(f.await??);
    }
    let between = |from: Instant, to: Instant| {
        sorted(filings.iter().filter(|(at, _)| *at >= from && *at < to).map(|(_, ms)| *ms).collect())
    };
    let alone = between(alone_from, started);
    figure(&format!(
        "filing_alone seconds={} filings={} {} filing_over_100ms={}",
        run.args.filing_alone_seconds,
        alone.len(),
        spread("filing_", &alone),
        over_100ms(&alone),
    ));
    let during = between(started, done);

    // Checked: none left unrewritten, moves on the trail, and a sample read fresh through the API.
    let moved = moved_events(&run.db).await? - moved_before;
    let mut wrong = 0;
    let mut checked = 0;
    for k in 0..100usize {
        let (ticket, metric, old) = &affected[(k * 104_729) % affected.len()];
        let read: Value = run
            .http
            .get(format!("{}/v1/tickets/{ticket}", child.base))
            .bearer_auth(&run.token)
            .send()
            .await?
            .json()
            .await?;
        let fresh = read["clocks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["metric"] == metric.as_str()))
            .and_then(|c| c["deadline"].as_str())
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.timestamp());
        let stored = run
            .db
            .query_one_raw(stmt(
                &run.db,
                "SELECT deadline FROM clocks WHERE ticket_id = $1 AND metric = $2",
                vec![(*ticket).into(), metric.clone().into()],
            ))
            .await?
            .and_then(|r| r.try_get::<Option<i64>>("", "deadline").ok().flatten());
        checked += 1;
        if fresh.is_none() || fresh != stored || stored == Some(*old) {
            wrong += 1;
        }
    }
    figure(&format!(
        "recompute clocks={} unmet_clocks={unmet} seconds={seconds:.2}{} moved={moved} left={left} sample_wrong={wrong}/{checked} put_ms={put_ms:.0} filings={} filings_per_s={:.0} {} filing_over_100ms={}",
        affected.len(),
        if timed_out { " timeout=true" } else { "" },
        during.len(),
        during.len() as f64 / seconds,
        spread("filing_", &during),
        over_100ms(&during),
    ));
    let late = sorted(queued.values().map(|(due, at)| lateness_ms(run, *due, *at)).collect());
    figure(&format!("recompute_alerts due={n} queued={} {}", late.len(), spread("", &late)));
    recompute_ahead(run, child, inputs_before).await
}

/// Alerts due while the recomputation walks.
const DUE_DURING_RECOMPUTE: usize = 200;

/// Clocks of `list` unmet, due after `monday`, not rewritten since `put_v`.
fn left_sql(list: &str) -> String {
    format!(
        "SELECT count(*) FROM clocks WHERE met_at IS NULL AND calendar IN ({list}) AND deadline >= $1 AND updated_at < $2"
    )
}

/// Wait until the recomputation rewrote the `last` affected clock and left
/// none behind: whether it timed out, how many were left, and when it ended.
async fn walked(
    run: &Run,
    last: &(Uuid, String, i64),
    left_sql: &str,
    monday: i64,
    put_v: i64,
    started: Instant,
) -> anyhow::Result<(bool, i64, Instant)> {
    // The recomputation walks clocks in (ticket, metric) order in batches,
    // each committed before the next: the last affected one rewritten means all are.
    let timed_out = || started.elapsed().as_secs() > run.args.timeout;
    loop {
        let row = run
            .db
            .query_one_raw(stmt(
                &run.db,
                "SELECT updated_at FROM clocks WHERE ticket_id = $1 AND metric = $2",
                vec![last.0.into(), last.1.clone().into()],
            ))
            .await?
            .context("the last affected clock")?;
        if row.try_get::<i64>("", "updated_at")? >= put_v {
            break;
        }
        if timed_out() {
            let left = count(&run.db, left_sql, vec![monday.into(), put_v.into()]).await?;
            return Ok((true, left, Instant::now()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then none left behind, the tickets filed since the list was read included.
    loop {
        let left = count(&run.db, left_sql, vec![monday.into(), put_v.into()]).await?;
        if left == 0 || timed_out() {
            return Ok((left > 0, left, Instant::now()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An admin uploads a year of holidays (TOML) for region `cn`.
async fn put_holidays(run: &Run, child: &Child, year: i32, body: String) -> anyhow::Result<()> {
    let r = run
        .http
        .put(format!("{}/v1/calendars/holidays/cn/{year}", child.base))
        .bearer_auth(&run.token)
        .header("content-type", "application/toml")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    anyhow::ensure!(status.is_success(), "PUT holidays {year} answered {status}: {}", r.text().await?);
    Ok(())
}

/// The fingerprint of the inputs the running clocks were last computed on.
async fn clock_inputs(db: &DatabaseConnection) -> anyhow::Result<Option<String>> {
    Ok(api::store::facts::get(db, "clock_inputs").await?)
}

/// The `deadline_moved` rows on every trail.
async fn moved_events(db: &DatabaseConnection) -> anyhow::Result<i64> {
    count(db, "SELECT count(*) FROM ticket_events WHERE kind = 'deadline_moved'", vec![]).await
}

/// The next year's holidays uploaded a month ahead, as an administrator
/// would in December: only clocks whose deadline or next instant lies in
/// the new year are walked. Timed until the service records that every
/// running clock stands on the new holidays.
async fn recompute_ahead(run: &Run, child: &Child, first: Option<String>) -> anyhow::Result<()> {
    // The first recomputation records its inputs once its walk has ended.
    let waited = Instant::now();
    let mut before = clock_inputs(&run.db).await?;
    while before == first && waited.elapsed().as_secs() < run.args.timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
        before = clock_inputs(&run.db).await?;
    }
    let moved_before = moved_events(&run.db).await?;
    let year = "region = \"cn\"\nyear = 2027\n\n[[holiday]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-03\"\n";
    let started = Instant::now();
    put_holidays(run, child, 2027, year.to_owned()).await?;
    let mut timed_out = false;
    while clock_inputs(&run.db).await? == before {
        if started.elapsed().as_secs() > run.args.timeout {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let moved = moved_events(&run.db).await? - moved_before;
    figure(&format!(
        "recompute_ahead year=2027 seconds={seconds:.2}{} moved={moved}",
        if timed_out { " timeout=true" } else { "" }
    ));
    Ok(())
}
