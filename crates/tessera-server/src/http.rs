//! The HTTP/1 server loop (API.md §1 `[http]`), instead of `axum::serve`, which has no limits:
//! at most `max_connections` connections (the rest wait in the kernel's accept queue); a request
//! head must arrive within `header_timeout` of its first byte; a whole request and the head of
//! its answer within `request_timeout` (else 408); a keep-alive connection with nothing in
//! flight is closed after `idle_timeout`; a new connection owes its first head within
//! `header_timeout` of opening; and a write of an answer (a stream's included) that makes no
//! progress for `request_timeout` ends the connection, so a client that never reads cannot keep
//! it. Slow or half-open clients cost a connection for a bounded time, and cannot starve the
//! others.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower_service::Service;

use crate::config::HttpSettings;
use crate::error::ApiError;

/// After a shutdown signal, connections get this long to finish what they are doing.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let closed = closed.clone();
        connections.spawn(async move {
            connection(stream, peer, router, limits, closed).await;
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    let _ = closing.send(true);
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
    Ok(())
}

/// What the watchdog knows about a connection. Every field is read and written `SeqCst`: the
/// watchdog publishes `armed` and then reads the rest; a change writes its field and then reads
/// `armed`. So either the watchdog sees the change, or the change sees it must wake the watchdog.
struct Activity {
    /// Milliseconds (since the connection opened) of the last byte read or written.
    last: AtomicU64,
    /// When the first byte of a request head arrived (ms + 1; 0: no head in progress).
    head_started: AtomicU64,
    /// A request is being handled (its head has arrived, its answer's head is not out yet).
    in_request: AtomicBool,
    /// When a write of ours began to wait for the client to read (ms + 1; 0: no write waits).
    /// Cleared by the next write that moves bytes.
    write_stalled: AtomicU64,
    /// When the watchdog will next look (ms); `u64::MAX` while it is working out when.
    armed: AtomicU64,
    /// Wakes the watchdog for a change that brings a deadline before `armed`. Changes that only
    /// push deadlines later (a request starting, bytes moving) do not wake it: under keep-alive
    /// load that would be a wake-up, and a poll of the whole connection, per request.
    changed: tokio::sync::Notify,
    header_ms: u64,
    idle_ms: u64,
    request_ms: u64,
}

impl Activity {
    fn new(limits: &HttpSettings) -> Self {
        Activity {
            last: AtomicU64::new(0),
            // A new connection owes us a request head: silent ones are cut like slow ones.
            head_started: AtomicU64::new(1),
            in_request: AtomicBool::new(false),
            write_stalled: AtomicU64::new(0),
            armed: AtomicU64::new(u64::MAX),
            changed: tokio::sync::Notify::new(),
            header_ms: limits.header_timeout.as_millis() as u64,
            idle_ms: limits.idle_timeout.as_millis() as u64,
            request_ms: limits.request_timeout.as_millis() as u64,
        }
    }

    /// Wakes the watchdog if `deadline` (ms) comes before it would look anyway.
    fn deadline_at(&self, deadline: u64) {
        if deadline < self.armed.load(SeqCst) {
            self.changed.notify_one();
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: HttpSettings,
    mut closed: watch::Receiver<bool>,
) {
    let opened = Instant::now();
    let activity = Arc::new(Activity::new(&limits));
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
        opened,
    };
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // Both push deadlines later: no need to wake the watchdog.
            activity.head_started.store(0, SeqCst);
            activity.in_request.store(true, SeqCst);
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            let activity = activity.clone();
            async move {
                let answer = tokio::time::timeout(limits.request_timeout, router.call(req)).await;
                activity.in_request.store(false, SeqCst);
                // Idle from now on: the idle deadline may come before the watchdog looks.
                let now = opened.elapsed().as_millis() as u64;
                activity.deadline_at(now + activity.idle_ms);
                Ok::<_, std::convert::Infallible>(match answer {
                    Ok(Ok(res)) => res,
                    Ok(Err(never)) => match never {},
                    Err(_) => ApiError::request_timeout().into_response(),
                })
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    let request_ms = activity.request_ms;
    loop {
        // The deadlines as things stand now; recomputed after every wake-up. Changes made while
        // this runs see `armed` at its maximum and wake the next wait at once.
        activity.armed.store(u64::MAX, SeqCst);
        let now_ms = opened.elapsed().as_millis() as u64;
        let stalled = activity.write_stalled.load(SeqCst);
        let write_deadline = (stalled > 0).then(|| stalled - 1 + request_ms);
        if write_deadline.is_some_and(|d| now_ms >= d) {
            // The client stopped reading: no deadline of hyper's would ever end this, not even a
            // graceful shutdown (it finishes the answer it is writing).
            tracing::debug!(%peer, "answer not read in time; closing");
            return;
        }
        let head_started = activity.head_started.load(SeqCst);
        let deadline = if head_started > 0 {
            // A head in progress: it has header_timeout from its first byte.
            Some(head_started - 1 + activity.header_ms)
        } else if activity.in_request.load(SeqCst) || shutting_down {
            None
        } else {
            // Nothing in flight: idle_timeout from the last byte either way.
            Some(activity.last.load(SeqCst) + activity.idle_ms)
        };
        if let Some(d) = deadline
            && now_ms >= d
        {
            if head_started > 0 {
                // A head that never completed: there is no one to answer; cut it.
                tracing::debug!(%peer, "request head not received in time; closing");
                return;
            }
            shutting_down = true;
            conn.as_mut().graceful_shutdown();
            continue;
        }
        let next = match (deadline, write_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A request in flight has no deadline of ours (its timeout is the service's), so the
        // watchdog looks again after request_timeout at the latest.
        let wake_at = next.unwrap_or(now_ms + request_ms);
        activity.armed.store(wake_at, SeqCst);
        let wake = Duration::from_millis(wake_at.saturating_sub(now_ms));
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = closed.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = activity.changed.notified() => {}
            _ = tokio::time::sleep(wake) => {}
        }
    }
}

/// The TCP stream, noting when bytes move and when a request head begins.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    opened: Instant,
}

impl Tracked {
    fn touch(&self) -> u64 {
        let now = self.opened.elapsed().as_millis() as u64;
        self.activity.last.store(now, SeqCst);
        now
    }

    /// Notes how a write went: bytes moved, or the first wait for the client to read.
    fn wrote(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.touch();
                self.activity.write_stalled.store(0, SeqCst);
            }
            Poll::Pending => {
                let now = self.opened.elapsed().as_millis() as u64;
                let a = &self.activity;
                if a.write_stalled
                    .compare_exchange(0, now + 1, SeqCst, SeqCst)
                    .is_ok()
                {
                    a.deadline_at(now + a.request_ms);
                }
            }
            _ => {}
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = self.touch();
            let a = &self.activity;
            if !a.in_request.load(SeqCst) {
                // Bytes outside a request: the head of the next one has begun.
                if a.head_started
                    .compare_exchange(0, now + 1, SeqCst, SeqCst)
                    .is_ok()
                {
                    a.deadline_at(now + a.header_ms);
                }
            }
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
