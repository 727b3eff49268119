//! What every request handler shares: the database, the catalog, the clock.

use std::collections::HashMap;
use std::sync::Arc;

use catalog::{Catalog, LineItem};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::settings::Settings;
use crate::time::Clock;

/// Shared, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The contract, its items and calendars, as loaded at start.
    pub catalog: Catalog,
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
    /// Delivers alert emails.
    pub mailer: Arc<dyn notifier::Mailer>,
}

impl AppState {
    /// Wrap the shared parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
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
