//! What every request handler shares: the database, the catalog, the clock.

use std::collections::HashMap;
use std::sync::Arc;

use catalog::{CalendarInputs, Catalog, LineItem};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use sla_engine::CalendarSet;
use uuid::Uuid;

use crate::settings::Settings;
use crate::store::users::TokenHolder;
use crate::time::Clock;

/// Shared, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The contract and its items, as loaded at start.
    pub catalog: Catalog,
    /// The service windows built over their holiday years: swapped whole
    /// when an administrator adds a year, so that readers never wait.
    pub calendars: arc_swap::ArcSwap<CalendarSet>,
    /// The windows and holiday years of the configuration (built in and
    /// folder), which the years stored in the database add to.
    pub calendar_base: CalendarInputs,
    /// The version of the stored holiday years `calendars` was built with.
    pub calendar_version: std::sync::atomic::AtomicI64,
    /// Line item id → index into `catalog.items`.
    pub items: HashMap<Uuid, usize>,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Wakes the SLA timer when a clock is created or changed.
    pub wake: Arc<tokio::sync::Notify>,
    /// Wakes the sender: a message was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// Wakes the recomputation: the holidays changed here.
    pub recompute_wake: Arc<tokio::sync::Notify>,
    /// Delivers alert emails.
    pub mailer: Arc<dyn notifier::Mailer>,
    /// Holders of tokens checked recently, and tokens found unknown.
    pub callers: CallerCache,
    /// When the gauges were last counted and the timer last cleaned up
    /// (unix seconds, on the service's clock).
    pub chores: Chores,
    /// When the service went live.
    pub go_live: GoLive,
    /// Figures worth keeping a while (the dashboard's earlier months).
    pub memo: Memo,
}

/// Results worth keeping a while, by key: each kept for the time given
/// when it is put, by the service's clock, of any type the caller names
/// (the service decides what goes in; this layer only keeps it). At most
/// 1,000 entries.
#[derive(Clone, Debug)]
pub struct Memo {
    entries: moka::sync::Cache<String, (i64, Arc<dyn std::any::Any + Send + Sync>)>,
}

impl Default for Memo {
    fn default() -> Self {
        Self { entries: moka::sync::Cache::new(1_000) }
    }
}

impl Memo {
    /// What was put under `key` and is still good at `now`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self, key: &str, now: i64) -> Option<T> {
        let (until, value) = self.entries.get(key)?;
        if now >= until {
            return None;
        }
        value.downcast_ref::<T>().cloned()
    }

    /// Keep `value` under `key` until `until`.
    pub fn put<T: Send + Sync + 'static>(&self, key: String, until: i64, value: T) {
        self.entries.insert(key, (until, Arc::new(value)));
    }
}

/// The day the service went live (上线): inspection windows that closed
/// before it are neither due nor missed, and monthly summaries start with
/// the first whole month after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoLive {
    /// The day, in the contract's timezone.
    pub date: chrono::NaiveDate,
    /// Its first instant.
    pub at: sla_engine::Timestamp,
}

/// When periodic work was last done, so that it is done at most so often.
#[derive(Debug, Default)]
pub struct Chores {
    /// The gauges `/metrics` shows were counted.
    pub gauges_at: std::sync::atomic::AtomicI64,
    /// Expired tokens, old idempotency keys and old sign-in failures were deleted.
    pub housekeeping_at: std::sync::atomic::AtomicI64,
}

impl Chores {
    /// True (and the time is taken) when `at`'s last run is `every` seconds
    /// or more before `now`; false when it ran since, here or in a race.
    pub fn due(slot: &std::sync::atomic::AtomicI64, now: i64, every: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = slot.load(Ordering::SeqCst);
        if last != 0 && now < last.saturating_add(every) {
            return false;
        }
        slot.compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }
}

/// The holders of recently checked tokens, keyed by token hash, so that a
/// request does not cost a database round trip to authenticate; and the
/// hashes of tokens recently found unknown, so that made-up tokens do not
/// each cost one either.
///
/// An entry is trusted for `auth_cache_seconds` after it was checked (an
/// unknown one for `auth_negative_cache_seconds`), and a holder only while
/// its token is unexpired, both by the service's clock (so tests move them
/// with a manual clock). Revoking a token, or changing an account, evicts
/// here at once; another instance notices once its entry is no longer
/// trusted. Each map holds at most 100,000 entries.
#[derive(Clone, Debug)]
pub struct CallerCache {
    entries: Option<moka::sync::Cache<String, Cached>>,
    unknown: Option<moka::sync::Cache<String, i64>>,
    trust_seconds: i64,
    unknown_seconds: i64,
}

/// A checked token's holder, and when it was checked.
#[derive(Clone, Debug)]
struct Cached {
    holder: TokenHolder,
    checked_at: i64,
}

impl CallerCache {
    /// A cache that trusts a holder `seconds` and an unknown token
    /// `unknown_seconds`; none at 0.
    pub fn new(seconds: u64, unknown_seconds: u64) -> Self {
        Self {
            entries: (seconds > 0).then(|| moka::sync::Cache::builder().max_capacity(100_000).build()),
            unknown: (unknown_seconds > 0)
                .then(|| moka::sync::Cache::builder().max_capacity(100_000).build()),
            trust_seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
            unknown_seconds: i64::try_from(unknown_seconds).unwrap_or(i64::MAX),
        }
    }

    /// The holder of the token with this hash, if cached, still trusted and unexpired at `now`.
    pub fn get(&self, hash: &str, now: i64) -> Option<TokenHolder> {
        let cached = self.entries.as_ref()?.get(hash)?;
        let trusted = now < cached.checked_at.saturating_add(self.trust_seconds);
        (trusted && cached.holder.expires_at.unix() > now).then_some(cached.holder)
    }

    /// Remember the holder of a token checked at `now`.
    pub fn put(&self, hash: String, holder: TokenHolder, now: i64) {
        if let Some(c) = &self.entries {
            c.insert(hash, Cached { holder, checked_at: now });
        }
    }

    /// True when the token with this hash was found unknown recently.
    pub fn known_unknown(&self, hash: &str, now: i64) -> bool {
        self.unknown
            .as_ref()
            .and_then(|c| c.get(hash))
            .is_some_and(|at| now < at.saturating_add(self.unknown_seconds))
    }

    /// Remember that the token with this hash was unknown at `now`.
    pub fn put_unknown(&self, hash: String, now: i64) {
        if let Some(c) = &self.unknown {
            c.insert(hash, now);
        }
    }

    /// Forget one token.
    pub fn evict(&self, hash: &str) {
        if let Some(c) = &self.entries {
            c.invalidate(hash);
        }
    }

    /// Forget every token: an account changed.
    pub fn clear(&self) {
        if let Some(c) = &self.entries {
            c.invalidate_all();
        }
    }
}

impl AppState {
    /// Wrap the shared parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The service windows as they stand now.
    pub fn calendars(&self) -> Arc<CalendarSet> {
        self.0.calendars.load_full()
    }

    /// The key of the agency `given` names by its key or its exact name;
    /// refused on the field `agency` when none is so named.
    pub fn agency_key(&self, given: &str) -> Result<String, crate::domain::Invalid> {
        let agencies = self.0.catalog.agencies.iter().map(|a| (a.key.as_str(), a.name.as_str()));
        crate::domain::account::resolve_agency(given, agencies)
            .ok_or_else(|| crate::domain::account::unknown_agency(given))
    }

    /// The contract's timezone: where times that belong to no line item are shown.
    pub fn timezone(&self) -> sla_engine::Tz {
        self.0.catalog.settings.timezone
    }

    /// The timezone a line item's times are shown in: its service window's.
    pub fn item_timezone(&self, id: Uuid) -> sla_engine::Tz {
        let window = self.item(id).and_then(|i| i.service_window.clone());
        window.and_then(|w| self.calendars().get(&w).map(|c| c.timezone())).unwrap_or_else(|| self.timezone())
    }

    /// A line item by id.
    pub fn item(&self, id: Uuid) -> Option<&LineItem> {
        self.0.items.get(&id).and_then(|&i| self.0.catalog.items.get(i))
    }

    /// The thresholds a clock of this line item and severity watches.
    pub fn thresholds(&self, item: Uuid, severity: sla_engine::Severity) -> Vec<u32> {
        let item_warn = self.item(item).and_then(|i| i.alert_warn.as_deref());
        self.catalog.settings.alerts.thresholds(item_warn, severity)
    }

    /// How long thresholds that fell before `t` was filed wait before they are announced.
    pub fn hold(&self, t: &crate::domain::ticket::Ticket) -> crate::domain::clock::Hold {
        crate::domain::clock::Hold::after(t.created_at, self.settings.filing_grace_minutes.saturating_mul(60))
    }

    /// The id of a catalog item.
    pub fn item_id(&self, item: &LineItem) -> Uuid {
        crate::store::catalog_sync::line_item_id(&self.0.catalog.contract.registration_number, item.seq)
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
