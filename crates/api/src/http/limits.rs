//! Per-client request limits and the client's address, so that one client,
//! signed in or not, cannot starve the others.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{Quota, RateLimiter};

use super::error::{ApiError, Code};
use crate::state::AppState;
use crate::time::Clock;

/// The service's clock as the rate limiter reads it, so that tests with a
/// manual clock decide when tokens refill, not the wall clock.
#[derive(Clone, Debug)]
pub struct LimiterClock(pub Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.0.now().unix()).unwrap_or(0))
    }
}

/// Requests per client key, refilled at the sustained rate.
pub type ClientLimiter = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    LimiterClock,
    governor::middleware::NoOpMiddleware<Duration>,
>;

/// A limiter for `per_second` sustained and `burst` at once; none when `per_second` is 0.
pub fn limiter(per_second: u32, burst: u32, clock: Arc<dyn Clock>) -> Option<ClientLimiter> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
    Some(RateLimiter::dashmap_with_clock(Quota::per_second(rate).allow_burst(burst), LimiterClock(clock)))
}

/// Keys beyond this many trigger forgetting the clients that are back to full.
const SWEEP_AT: usize = 50_000;

/// The address a request came from: the peer, or the last entry of the
/// configured proxy header.
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    if let Some(name) = &state.settings.client_ip_header {
        let forwarded = headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|p| p.ip())
}

/// The key a request is limited under: its bearer token (hashed) or its address.
fn client_key(state: &AppState, request: &Request) -> String {
    if let Some(token) = super::extract::bearer_in(request.headers()) {
        return format!("t:{}", crate::service::accounts::token_hash(token));
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    client_ip(state, request.headers(), peer).map_or_else(|| "a:unknown".to_owned(), |ip| format!("a:{ip}"))
}

/// The limiter a router's requests share, and the state its keys are read with.
#[derive(Clone, Debug)]
pub struct Limits {
    state: AppState,
    limiter: Option<Arc<ClientLimiter>>,
}

impl Limits {
    /// The limits configured in `state`'s settings, on its clock.
    pub fn new(state: AppState) -> Self {
        let s = &state.settings;
        let limiter = limiter(s.rate_limit_per_second, s.rate_limit_burst, state.clock.clone()).map(Arc::new);
        Self { state, limiter }
    }
}

/// Refuse `/v1` requests beyond the client's rate with 429 and `Retry-After`.
pub async fn rate_limit(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let Some(limiter) = &limits.limiter else {
        return next.run(request).await;
    };
    let state = &limits.state;
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let key = client_key(state, &request);
    if let Err(not_until) = limiter.check_key(&key) {
        let wait = not_until.wait_time_from(limiter.clock().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        metrics::counter!("http_rate_limited_total").increment(1);
        return ApiError::new(Code::TooManyRequests, "too many requests from this client; slow down")
            .retry_after(seconds.max(1))
            .into_response();
    }
    if limiter.len() > SWEEP_AT {
        limiter.retain_recent();
    }
    next.run(request).await
}
