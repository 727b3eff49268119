//! Serving connections, with the limits `axum::serve` does not offer: a
//! cap on connections served at once, a deadline for a request's headers,
//! and an idle deadline between requests, so that clients that send
//! nothing, send headers a byte at a time, or sit on a connection after
//! their answer (slowloris) cannot hold the server's connections.
//!
//! HTTP/1.1 through hyper, one task per connection, each with a watchdog
//! that looks at when bytes last moved: it never cuts a connection while a
//! request is being handled (the request timeout does that), and closes it
//! when a request's headers take longer than `header_read_timeout` from
//! their first byte (or from the connection's opening), or when it has been
//! idle for `keep_alive_idle` after an answer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The limits on connections, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this of their first byte (or of the connection's opening).
    pub header_read_timeout: Duration,
    /// A connection with nothing in flight and no bytes moving is closed after this.
    pub keep_alive_idle: Duration,
    /// Connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
}

/// Serve `router` on `listener` until `shutdown` is cancelled, then let the
/// requests in flight finish (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        // Take a slot before accepting: past the cap, clients wait in the
        // kernel's queue rather than holding a task here.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: not the listener's end.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, peer, router, limits, shutdown).await;
            drop(permit);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// When bytes last moved on a connection and whether a request is being
/// handled, in milliseconds since the connection opened.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Bytes read or written last.
    last_io: AtomicU64,
    /// The first byte of the next request's head arrived (0: none yet).
    head_started: AtomicU64,
    /// Requests being handled.
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_io: AtomicU64::new(0),
            // A new connection is waiting for a request's head from the start.
            head_started: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        // +1 so that 0 can mean "not started".
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn read(&self, bytes: usize) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if bytes > 0 && self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// When the connection must be closed (ms since opening), if nothing
    /// happens before; `None` while a request is being handled.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<u64> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
        match self.head_started.load(Ordering::Acquire) {
            0 => Some(self.last_io.load(Ordering::Relaxed).saturating_add(ms(limits.keep_alive_idle))),
            started => Some(started.saturating_add(ms(limits.header_read_timeout))),
        }
    }
}

/// A request being handled: counted while it lives.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_started.store(0, Ordering::Release);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when the connection has overstayed its deadline.
async fn overstayed(activity: &Activity, limits: &ConnectionLimits) {
    loop {
        let pause = match activity.deadline(limits) {
            // A request is being handled: look again in a while.
            None => limits.keep_alive_idle.min(limits.header_read_timeout).max(Duration::from_millis(100)),
            Some(deadline) => {
                let now = activity.now();
                if now >= deadline {
                    return;
                }
                Duration::from_millis(deadline - now)
            }
        };
        tokio::time::sleep(pause).await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let handler = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::enter(&handler);
        let mut request = request.map(Body::new);
        // The peer address feeds the sign-in throttle and the rate limit.
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await;
            drop(in_flight);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !closing => {
                // Finish the request in flight, if any, then close.
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = overstayed(&activity, &limits) => {
                tracing::debug!(%peer, "connection closed: too slow or idle too long");
                metrics::counter!("http_connections_cut_total").increment(1);
                return;
            }
        }
    }
}

/// A stream that records when bytes move on it.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            this.activity.wrote();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
