//! Per-client request limits and the client's address, so that one client,
//! signed in or not, cannot starve the others.
//!
//! A client is its bearer token only once the token is known to be real;
//! until then (a made-up token, a first request with a token not checked
//! yet) it is its address, so that a fresh random token per request buys no
//! fresh allowance, and the database lookup that tells a token is real is
//! itself paid for from the address's allowance.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Code};
use super::extract::{ResolvedToken, bearer_in};
use crate::domain::throttle::address_key;
use crate::service::accounts;
use crate::state::AppState;
use crate::time::Clock;

/// The generic cell rate algorithm over many keys, on the service's clock
/// (so that tests with a manual clock decide when allowances refill), in
/// bounded memory: at most `max_keys` clients are counted; a client whose
/// allowance is full again is as good as forgotten and is swept when room
/// is needed; past the bound, new clients share one count.
#[derive(Debug)]
pub struct KeyedLimiter {
    clock: Arc<dyn Clock>,
    /// Nanoseconds between two requests at the sustained rate.
    interval: u128,
    /// How far ahead of now a client's theoretical arrival time may run: the burst.
    tolerance: u128,
    max_keys: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Each client's theoretical arrival time, in nanoseconds.
    next: HashMap<String, u128>,
    /// When the table was last swept, so that a full table is swept at most once a second.
    swept_at: u128,
}

/// Where clients go when the table is full of busy ones.
const OVERFLOW: &str = "~overflow";
const SECOND: u128 = 1_000_000_000;

impl KeyedLimiter {
    /// `per_second` sustained and `burst` at once per key; none when `per_second` is 0.
    pub fn new(per_second: u32, burst: u32, max_keys: usize, clock: Arc<dyn Clock>) -> Option<Self> {
        if per_second == 0 {
            return None;
        }
        let interval = SECOND / u128::from(per_second);
        let burst = u128::from(burst.max(per_second).max(1));
        Some(Self {
            clock,
            interval,
            tolerance: interval * (burst - 1),
            max_keys: max_keys.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    fn now(&self) -> u128 {
        u128::try_from(self.clock.now().unix()).unwrap_or(0) * SECOND
    }

    /// Count one request of `key`: `Ok` when allowed, else the seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = self.now();
        let mut table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = if table.next.contains_key(key) || table.next.len() < self.max_keys {
            key
        } else {
            if now >= table.swept_at + SECOND {
                table.swept_at = now;
                table.next.retain(|_, at| *at > now);
            }
            if table.next.len() < self.max_keys { key } else { OVERFLOW }
        };
        let at = table.next.get(key).copied().unwrap_or(now).max(now);
        if at - now > self.tolerance {
            let wait = at - now - self.tolerance;
            return Err(u64::try_from(wait.div_ceil(SECOND)).unwrap_or(u64::MAX).max(1));
        }
        table.next.insert(key.to_owned(), at + self.interval);
        Ok(())
    }

    /// Clients counted now.
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next.len()
    }

    /// True when no client is counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The address a request came from: the peer, or the last entry of the
/// configured proxy header (only when one is configured: otherwise any
/// client could name any address).
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

fn address_of(state: &AppState, request: &Request) -> String {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    format!("a:{}", address_key(client_ip(state, request.headers(), peer)))
}

/// The limiter a router's requests share, and the state its keys are read with.
#[derive(Clone, Debug)]
pub struct Limits {
    state: AppState,
    limiter: Option<Arc<KeyedLimiter>>,
}

impl Limits {
    /// The limits configured in `state`'s settings, on its clock.
    pub fn new(state: AppState) -> Self {
        let s = &state.settings;
        let limiter = KeyedLimiter::new(
            s.rate_limit_per_second,
            s.rate_limit_burst,
            s.rate_limit_max_clients,
            state.clock.clone(),
        )
        .map(Arc::new);
        Self { state, limiter }
    }
}

fn too_many(seconds: u64) -> Response {
    metrics::counter!("http_rate_limited_total").increment(1);
    ApiError::new(
        Code::TooManyRequests,
        format!("too many requests from this client; slow down and try again in {seconds} s"),
    )
    .retry_after(seconds)
    .into_response()
}

/// Refuse `/v1` requests beyond the client's rate with 429 and `Retry-After`.
pub async fn rate_limit(State(limits): State<Limits>, mut request: Request, next: Next) -> Response {
    let Some(limiter) = &limits.limiter else {
        return next.run(request).await;
    };
    let state = &limits.state;
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let token = bearer_in(request.headers()).map(str::to_owned);
    let key = match &token {
        Some(t) if accounts::known_token(state, t) => format!("t:{}", accounts::token_hash(t)),
        Some(t) if !accounts::known_unknown_token(state, t) => {
            // Not checked yet: the address pays for the lookup, which is
            // then handed to the handler so it is not made twice.
            if let Err(wait) = limiter.check(&address_of(state, &request)) {
                return too_many(wait);
            }
            match accounts::holder_of_token(state, t).await {
                Ok(holder) => {
                    request.extensions_mut().insert(ResolvedToken { token: t.clone(), holder });
                }
                Err(e) => return ApiError::from(e).into_response(),
            }
            return next.run(request).await;
        }
        _ => address_of(state, &request),
    };
    if let Err(wait) = limiter.check(&key) {
        return too_many(wait);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    #[test]
    fn bursts_then_the_sustained_rate_in_bounded_memory() {
        let clock = ManualClock::new(sla_engine::Timestamp::from_unix(1_000));
        let limiter = KeyedLimiter::new(2, 5, 3, Arc::new(clock.clone())).expect("a limit");
        for _ in 0..5 {
            assert_eq!(limiter.check("a"), Ok(()));
        }
        assert_eq!(limiter.check("a"), Err(1));
        assert_eq!(limiter.check("b"), Ok(()), "another client has its own allowance");
        clock.advance(1);
        assert_eq!((limiter.check("a"), limiter.check("a"), limiter.check("a")), (Ok(()), Ok(()), Err(1)));
        // Three busy clients fill the table; a fourth and a fifth share the
        // overflow count until the others are full again and can be forgotten.
        for _ in 0..5 {
            assert_eq!(limiter.check("b"), Ok(()));
            assert_eq!(limiter.check("c"), Ok(()));
        }
        assert_eq!(limiter.len(), 3);
        for _ in 0..5 {
            assert_eq!(limiter.check("d"), Ok(()));
        }
        assert_eq!(limiter.check("e"), Err(1), "e shares the overflow count with d");
        assert_eq!(limiter.len(), 4, "three clients and the overflow");
        clock.advance(10);
        assert_eq!(limiter.check("e"), Ok(()));
        assert_eq!(limiter.len(), 1, "the idle clients were swept");
        assert!(KeyedLimiter::new(0, 5, 3, Arc::new(clock)).is_none(), "0 is no limit");
    }
}
