//! One hardened way to serve an axum [`Router`] on a
//! [`tokio::net::TcpListener`]: the simulator uses it, and so can a
//! vendor's callback server ([`serve`]).
//!
//! What it adds to a plain `axum::serve`:
//!
//! * **Timeouts per connection** ([`ServeConfig::idle_timeout`],
//!   [`ServeConfig::header_read_timeout`]): a connection that sends
//!   nothing (at first, or between requests on keep-alive) is closed after
//!   the idle timeout; one that starts a request head and does not finish
//!   it is answered 408 and closed after the header-read timeout; a
//!   handler (body reading included) gets [`ServeConfig::request_timeout`]
//!   and is answered 408 beyond it.
//! * **A connection cap** ([`ServeConfig::max_connections`]): at the cap,
//!   the connection idle the longest is closed to make room; only when
//!   every connection is in the middle of a request is the newcomer
//!   answered 503 and closed. Idle connections can never lock others out.
//! * **A body limit checked before reading** ([`ServeConfig::body_limit`]):
//!   a declared `Content-Length` over it is answered 413 at once, without
//!   reading the body, and the connection closes; a chunked body is cut at
//!   the limit (the handler's read fails and it answers as it does for any
//!   unreadable body). After such an early answer the socket shuts its
//!   write side and reads and drops what the client still sends (up to
//!   2 s, 4 MiB) before closing, so that a client busy sending its body is
//!   not reset before it reads the answer.
//! * **Protocol answers for every error**: whatever the serving layer
//!   answers, and any error answer of the router that is not already the
//!   protocol's (axum's empty 404 and 405, its plain-text rejections), is
//!   `{"state":0,"errmsg":"..."}` typed `application/json;charset=utf-8`,
//!   with the same status. hyper's own answers to a head it cannot parse
//!   (400 malformed, 414 URI too long, 431 head too large) get the same
//!   body: see [below](#hypers-own-answers).
//! * **Graceful shutdown** ([`ServeConfig::graceful_shutdown`]): stop
//!   accepting, let requests in progress finish (for at most
//!   [`ServeConfig::shutdown_grace`]), close the rest, return.
//!
//! HTTP/1.1 only (as the platform and its clients speak it).
//!
//! # hyper's own answers
//!
//! hyper answers a request head it cannot parse by itself, before any
//! service sees it, and it has no option to change that answer: it writes
//! `HTTP/1.1 400 Bad Request` (or 414, 431), `content-length: 0` and
//! `date`, then closes. The socket hyper writes to is a wrapper of this
//! module's, which recognises exactly that answer (an empty 400, 414 or 431
//! written while no handler runs: handlers' error answers always have a
//! body here) and sends the same status with the protocol's JSON body and
//! `connection: close` instead. One case keeps hyper's empty answer: a
//! malformed head pipelined behind a request whose answer hyper has not
//! yet flushed, where both go out in one write. hyper's header-read
//! timeout is only a backstop here (see [`ServeConfig::header_read_timeout`]);
//! the wrapper answers a slow head itself with a 408 in protocol JSON.

mod answer;
mod io;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use http_body_util::Limited;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use answer::{error_body, error_response, JSON_CONTENT_TYPE};

use answer::{closing_error_response, protocol_errors, raw_error_answer};
use io::{ConnState, Guarded, Handling, IoLimits};

/// The default [`ServeConfig::header_read_timeout`]: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`ServeConfig::idle_timeout`]: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`ServeConfig::request_timeout`]: 60 s (more than the
/// platform's 30 s long poll).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`ServeConfig::max_connections`]: 512, well under the
/// usual 1,024 file descriptors per process.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The default [`ServeConfig::body_limit`]: 64 KiB (the protocol's
/// messages are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The default [`ServeConfig::max_header_size`]: 16 KiB.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;
/// The default [`ServeConfig::shutdown_grace`]: 10 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// At most this many refused connections (503 at the cap) are being
/// answered at a time; beyond it a newcomer is closed without an answer,
/// so that a flood at the cap cannot pile up tasks either.
const MAX_REFUSING: usize = 64;
/// How long a refused connection may take to read its 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// The pause after an accept error that is not the client's (out of file
/// descriptors, say), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The largest backstop given to hyper's own header-read timeout (a year).
const BACKSTOP_CAP: Duration = Duration::from_secs(365 * 24 * 60 * 60);

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How [`serve`] bounds connections and requests. Every limit has a
/// documented default ([`ServeConfig::default`]); set them with the
/// builder-style methods of the same names.
///
/// Not `Clone`: it owns the shutdown signal.
#[non_exhaustive]
pub struct ServeConfig {
    /// How long a client may take to send a complete request head, from
    /// its first byte ([`DEFAULT_HEADER_READ_TIMEOUT`]). Beyond it the
    /// connection is answered 408 in protocol JSON and closed.
    pub header_read_timeout: Duration,
    /// How long a connection may stay without a request in progress: from
    /// its opening, the end of a handler, or the last byte of an answer
    /// written, to the first byte of the next request head
    /// ([`DEFAULT_IDLE_TIMEOUT`]). Beyond it the connection is closed
    /// without an answer, as an idle keep-alive connection is.
    pub idle_timeout: Duration,
    /// How long a handler may take, reading the body included
    /// ([`DEFAULT_REQUEST_TIMEOUT`]); beyond it the answer is 408 in
    /// protocol JSON. Must exceed any long-poll hold time.
    pub request_timeout: Duration,
    /// How many connections are served at once ([`DEFAULT_MAX_CONNECTIONS`],
    /// at least 1). At the cap the longest-idle connection is closed to make
    /// room; when none is idle, the newcomer gets 503 and is closed.
    pub max_connections: usize,
    /// The largest request body ([`DEFAULT_BODY_LIMIT`]): a larger declared
    /// `Content-Length` is answered 413 before the body is read.
    pub body_limit: usize,
    /// The largest request head (request line and headers,
    /// [`DEFAULT_MAX_HEADER_SIZE`]); beyond it hyper answers 431.
    pub max_header_size: usize,
    /// After the shutdown signal, how long requests in progress may take
    /// to finish before their connections are closed
    /// ([`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    shutdown: Option<Signal>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_limit: DEFAULT_BODY_LIMIT,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            shutdown: None,
        }
    }
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("body_limit", &self.body_limit)
            .field("max_header_size", &self.max_header_size)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("graceful_shutdown", &self.shutdown.is_some())
            .finish()
    }
}

impl ServeConfig {
    /// The defaults (the same as [`ServeConfig::default`]).
    pub fn new() -> ServeConfig {
        ServeConfig::default()
    }

    /// Sets [`ServeConfig::header_read_timeout`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> ServeConfig {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Duration) -> ServeConfig {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> ServeConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::max_connections`] (0 counts as 1).
    pub fn max_connections(mut self, max: usize) -> ServeConfig {
        self.max_connections = max;
        self
    }

    /// Sets [`ServeConfig::body_limit`].
    pub fn body_limit(mut self, limit: usize) -> ServeConfig {
        self.body_limit = limit;
        self
    }

    /// Sets [`ServeConfig::max_header_size`].
    pub fn max_header_size(mut self, max: usize) -> ServeConfig {
        self.max_header_size = max;
        self
    }

    /// Sets [`ServeConfig::shutdown_grace`].
    pub fn shutdown_grace(mut self, grace: Duration) -> ServeConfig {
        self.shutdown_grace = grace;
        self
    }

    /// Shuts the server down gracefully when `signal` resolves (without
    /// one, [`serve`] runs until its future is dropped).
    pub fn graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> ServeConfig {
        self.shutdown = Some(Box::pin(signal));
        self
    }
}

/// The limits every connection task needs.
#[derive(Debug)]
struct Limits {
    io: IoLimits,
    request_timeout: Duration,
    body_limit: usize,
}

/// The live connections, for the cap.
#[derive(Debug, Default)]
struct Table {
    inner: Mutex<TableInner>,
}

#[derive(Debug, Default)]
struct TableInner {
    next_id: u64,
    live: std::collections::HashMap<u64, Arc<ConnState>>,
    /// Live connections asked to close, not yet closed.
    evicting: usize,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, TableInner> {
        // Nothing panics while holding it; if something did, the table stays usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection, closing the longest-idle one if at the cap;
    /// `None` when every connection is busy.
    fn admit(self: &Arc<Self>, max: usize) -> Option<Entry> {
        let mut table = self.lock();
        if table.live.len() - table.evicting >= max {
            let victim = table
                .live
                .values()
                .filter_map(|conn| Some((conn.idle_since()?, conn)))
                .min_by_key(|(since, _)| *since)
                .map(|(_, conn)| conn.clone())?;
            victim.evict();
            table.evicting += 1;
        }
        let id = table.next_id;
        table.next_id += 1;
        let conn = Arc::new(ConnState::new());
        table.live.insert(id, conn.clone());
        Some(Entry {
            table: self.clone(),
            id,
            conn,
        })
    }
}

/// A connection's place in the table, given back when its task ends.
struct Entry {
    table: Arc<Table>,
    id: u64,
    conn: Arc<ConnState>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if table.live.remove(&self.id).is_some() && self.conn.is_evicting() {
            table.evicting -= 1;
        }
    }
}

/// Serves `router` on `listener` with the limits of `config` until its
/// shutdown signal (see [`ServeConfig::graceful_shutdown`]), then drains
/// and returns. Without a signal it runs until the future is dropped.
///
/// Accept errors do not end it: a client's (reset before accept) is
/// skipped, any other (out of file descriptors) pauses accepting briefly.
pub async fn serve(listener: TcpListener, router: Router, mut config: ServeConfig) {
    let mut shutdown = config
        .shutdown
        .take()
        .unwrap_or_else(|| Box::pin(std::future::pending()));
    let limits = Arc::new(Limits {
        io: IoLimits {
            idle: config.idle_timeout,
            header: config.header_read_timeout,
            max_header_size: config.max_header_size,
        },
        request_timeout: config.request_timeout,
        body_limit: config.body_limit,
    });
    let max_connections = config.max_connections.max(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A backstop only: the socket wrapper enforces both limits apart.
        // (Capped: hyper adds it to the current instant, which must not overflow.)
        .header_read_timeout(
            config
                .idle_timeout
                .saturating_add(config.header_read_timeout)
                .min(BACKSTOP_CAP),
        )
        .max_header_size(config.max_header_size)
        .writev(false);
    let refusal: Arc<[u8]> = raw_error_answer(
        "HTTP/1.1 503 Service Unavailable",
        "retry-after: 1\r\n",
        &format!("error:服务繁忙 (all {max_connections} connections busy, retry later)"),
    )
    .into();
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let table = Arc::new(Table::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Finished connections are reaped as they end, so the set stays small.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(_) => {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                // Small answers go out at once.
                let _ = stream.set_nodelay(true);
                match table.admit(max_connections) {
                    Some(entry) => {
                        let connection = connection(
                            stream,
                            entry,
                            builder.clone(),
                            router.clone(),
                            limits.clone(),
                            stop_rx.clone(),
                        );
                        tasks.spawn(connection);
                    }
                    None => {
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            let refusal = refusal.clone();
                            tasks.spawn(async move {
                                refuse(stream, &refusal).await;
                                drop(permit);
                            });
                        }
                    }
                }
            }
        }
    }
    // Stop accepting: new connections are refused by the system from here.
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Answers 503 at the cap, then closes: the answer is written, the write
/// side shut, and what the client sent is read and dropped until it
/// closes (for at most [`REFUSAL_LINGER`]) so that closing does not reset
/// the connection before the client has read the answer.
async fn refuse(mut stream: TcpStream, refusal: &[u8]) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(refusal).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Serves one connection until it ends, is evicted, or the server stops.
async fn connection(
    stream: TcpStream,
    entry: Entry,
    builder: http1::Builder,
    router: Router,
    limits: Arc<Limits>,
    mut stop: watch::Receiver<bool>,
) {
    let conn = entry.conn.clone();
    let io = TokioIo::new(Guarded::new(stream, conn.clone(), limits.io));
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        // Counted from the call, before the future first runs, so the
        // socket never sees a gap between the head and the handler.
        let handling = Handling::start(service_conn.clone());
        let router = router.clone();
        let limits = limits.clone();
        let conn = service_conn.clone();
        async move {
            let response = handle(router, &limits, &conn, request).await;
            drop(handling);
            Ok::<_, Infallible>(response)
        }
    });
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    let mut closing = false;
    loop {
        tokio::select! {
            // Errors are the client's (reset, timeout, bad head): the connection just ends.
            _ = served.as_mut() => break,
            () = conn.evicted(), if !closing => {
                closing = true;
                served.as_mut().graceful_shutdown();
            }
            _ = stop.wait_for(|stop| *stop), if !closing => {
                closing = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
    drop(entry);
}

/// One request: the body limit first, then the router within the request
/// timeout, then error answers in protocol JSON.
async fn handle(
    router: Router,
    limits: &Limits,
    conn: &ConnState,
    request: Request<Incoming>,
) -> Response {
    let limit = limits.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        // The body is never read: hyper closes the connection after this
        // answer, and the socket lingers so that the client reads it.
        conn.mark_body_unread();
        return closing_error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("error:报文过大 (over {limit} bytes)"),
        );
    }
    let request = request.map(|body| Body::new(Limited::new(body, limit)));
    let answered = tokio::time::timeout(limits.request_timeout, async {
        let response = match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        protocol_errors(response).await
    })
    .await;
    match answered {
        Ok(response) => response,
        Err(_) => {
            // The body may be half read.
            conn.mark_body_unread();
            closing_error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "error:请求超时 (no answer within {} ms)",
                    limits.request_timeout.as_millis()
                ),
            )
        }
    }
}
