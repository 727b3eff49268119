//! A trend: the contract-wide figures of a run of months. A month that has
//! ended changes only as its last tickets close, so its figures are kept a
//! while (`trend_cache_seconds`) for each scope instead of reading its
//! tickets again on every dashboard; a month not yet over is always counted.

use super::{GroupReport, Period, sla};
use crate::domain::access::Caller;
use crate::service::Result;
use crate::state::AppState;

/// The contract-wide figures of each of `months`, in the caller's scope.
pub async fn contract_by_month(
    state: &AppState,
    caller: &Caller,
    months: &[Period],
) -> Result<Vec<GroupReport>> {
    let now = state.clock.now().unix();
    let keep = i64::try_from(state.settings.trend_cache_seconds).unwrap_or(i64::MAX);
    let mut out = Vec::with_capacity(months.len());
    for &period in months {
        let key = format!("trend/{}/{}/{}", caller.scope().unwrap_or("*"), period.from, period.to);
        if let Some(kept) = state.memo.get::<GroupReport>(&key, now) {
            out.push(kept);
            continue;
        }
        let report = sla(state, caller, period, None, None).await?;
        let ended = report.as_of.timestamp() < now;
        if keep > 0 && ended {
            state.memo.put(key, now.saturating_add(keep), report.contract.clone());
        }
        out.push(report.contract);
    }
    Ok(out)
}
