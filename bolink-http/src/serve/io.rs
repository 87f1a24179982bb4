//! The socket as hyper sees it: a `TcpStream` that enforces the idle and
//! header-read timeouts, and that puts the protocol's JSON body into
//! hyper's own error answers.
//!
//! hyper 1.12 has one timer for HTTP/1 servers, `header_read_timeout`,
//! which runs from the moment hyper waits for a request head (connection
//! start, or the end of the previous answer) until the head is complete:
//! idle time and head-reading time share one limit, and hyper closes
//! without a word when it fires. To tell the two apart (and to answer a
//! slow head with 408) the wrapper keeps its own clock per connection:
//!
//! * waiting (no handler running, no byte of a new head yet): closed
//!   silently `idle_timeout` after the connection opened, a handler
//!   finished, or the last byte of an answer was written;
//! * head (a byte of a new head arrived while waiting): closed
//!   `header_read_timeout` after that first byte, with a 408 in the
//!   protocol's JSON when nothing else is being written;
//! * busy (a handler is running): no limit here; the request timeout of
//!   the serving layer bounds handlers, body reading included.
//!
//! hyper's own `header_read_timeout` stays set to the sum of both, as a
//! backstop that does not depend on this bookkeeping.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::answer::raw_error_answer;

/// How long a connection closing after an early answer reads and drops
/// what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// How much it reads and drops at most.
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// Where a connection is in its request cycle, as far as timeouts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the first byte of a request head.
    Waiting,
    /// Some of a request head has arrived.
    Head,
}

#[derive(Debug)]
struct Activity {
    /// Handlers running on this connection (HTTP/1: 0 or 1).
    handling: usize,
    /// A byte of a new head arrived while waiting.
    head: bool,
    /// When the current phase's clock started.
    since: Instant,
    /// Chosen to make room at the connection cap.
    evicting: bool,
    /// An answer went out before the request body was read.
    body_unread: bool,
}

/// One connection's activity, shared by its socket wrapper, its service
/// and the server's table of connections.
#[derive(Debug)]
pub(super) struct ConnState {
    activity: Mutex<Activity>,
    evict: Notify,
}

impl ConnState {
    pub(super) fn new() -> ConnState {
        ConnState {
            activity: Mutex::new(Activity {
                handling: 0,
                head: false,
                since: Instant::now(),
                evicting: false,
                body_unread: false,
            }),
            evict: Notify::new(),
        }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // Nothing panics while holding it; if something did, the times stay usable.
        self.activity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the connection must be closed, and in which phase, unless
    /// something happens first; `None` while a handler runs.
    fn deadline(&self, idle: Duration, header: Duration) -> Option<(Instant, Phase)> {
        let a = self.activity();
        if a.handling > 0 {
            return None;
        }
        // A limit too far to represent is no limit.
        if a.head {
            Some((a.since.checked_add(header)?, Phase::Head))
        } else {
            Some((a.since.checked_add(idle)?, Phase::Waiting))
        }
    }

    fn on_read(&self) {
        let mut a = self.activity();
        if a.handling == 0 && !a.head {
            a.head = true;
            a.since = Instant::now();
        }
    }

    fn on_write(&self) {
        let mut a = self.activity();
        if a.handling == 0 && !a.head {
            // An answer still going out is not idleness.
            a.since = Instant::now();
        }
    }

    fn is_handling(&self) -> bool {
        self.activity().handling > 0
    }

    /// A handler starts (hyper parsed a head and called the service).
    pub(super) fn start_handling(&self) {
        self.activity().handling += 1;
    }

    /// A handler finished or was dropped: the connection waits again.
    pub(super) fn end_handling(&self) {
        let mut a = self.activity();
        a.handling = a.handling.saturating_sub(1);
        if a.handling == 0 {
            a.head = false;
            a.since = Instant::now();
        }
    }

    /// Since when the connection has been idle, if it is idle and not
    /// already being evicted.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        let a = self.activity();
        (a.handling == 0 && !a.head && !a.evicting).then_some(a.since)
    }

    /// Asks the connection to close (gracefully: an answer in progress
    /// still goes out).
    pub(super) fn evict(&self) {
        self.activity().evicting = true;
        self.evict.notify_one();
    }

    /// Notes that an answer goes out before the request body was read
    /// (413 on the declared length, 408): the socket then lingers at close.
    pub(super) fn mark_body_unread(&self) {
        self.activity().body_unread = true;
    }

    fn body_unread(&self) -> bool {
        self.activity().body_unread
    }

    /// Whether [`ConnState::evict`] was called.
    pub(super) fn is_evicting(&self) -> bool {
        self.activity().evicting
    }

    /// Resolves once the connection is asked to close.
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

/// Marks a handler as running for as long as it lives.
pub(super) struct Handling(Arc<ConnState>);

impl Handling {
    pub(super) fn start(conn: Arc<ConnState>) -> Handling {
        conn.start_handling();
        Handling(conn)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.end_handling();
    }
}

/// The limits the wrapper enforces, and what it says when it answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct IoLimits {
    pub idle: Duration,
    pub header: Duration,
    pub max_header_size: usize,
}

/// The socket hyper reads and writes.
pub(super) struct Guarded {
    io: TcpStream,
    conn: Arc<ConnState>,
    limits: IoLimits,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// Bytes written in place of hyper's own error answer, and how many are out.
    replacement: Vec<u8>,
    replaced: usize,
    /// Everything hyper wrote has been flushed.
    clean: bool,
    /// Lingering at close: until when, and whether it is over.
    linger: Option<Pin<Box<Sleep>>>,
    lingered: bool,
    discarded: usize,
}

impl Guarded {
    pub(super) fn new(io: TcpStream, conn: Arc<ConnState>, limits: IoLimits) -> Guarded {
        Guarded {
            io,
            conn,
            limits,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
            replacement: Vec::new(),
            replaced: 0,
            clean: true,
            linger: None,
            lingered: false,
            discarded: 0,
        }
    }

    /// After an answer given before the body was read, closing at once
    /// with the body still arriving would make the system reset the
    /// connection, and the client could lose the answer. So the write side
    /// is shut first, and what still arrives is read and dropped until the
    /// client closes, for at most [`LINGER`] and [`LINGER_BYTES`].
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.linger.is_none() {
            ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
            self.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut sink = [0u8; 8192];
        loop {
            if self
                .linger
                .as_mut()
                .is_some_and(|t| t.as_mut().poll(cx).is_ready())
                || self.discarded >= LINGER_BYTES
            {
                break;
            }
            let mut buf = ReadBuf::new(&mut sink);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.discarded += buf.filled().len();
                }
                // The client closed (or broke) its side: done.
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.lingered = true;
        Poll::Ready(Ok(()))
    }

    /// The phase whose deadline passed, if one did; otherwise arms the
    /// timer so that this task is woken at the deadline.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<Phase> {
        let (deadline, phase) = self.conn.deadline(self.limits.idle, self.limits.header)?;
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Some(phase),
            Poll::Pending => None,
        }
    }

    /// A head too slow to arrive: say so in the protocol's JSON, when
    /// nothing of hyper's is half-written, with one non-blocking attempt
    /// (the connection closes either way).
    fn answer_slow_head(&mut self, cx: &mut Context<'_>) {
        if !self.clean || self.replaced < self.replacement.len() {
            return;
        }
        let errmsg = format!(
            "error:请求头读取超时 (no complete request head within {} ms)",
            self.limits.header.as_millis()
        );
        let answer = raw_error_answer("HTTP/1.1 408 Request Timeout", "", &errmsg);
        let _ = Pin::new(&mut self.io).poll_write(cx, &answer);
    }

    /// Writes out what is left of a replacement answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.replaced < self.replacement.len() {
            let n =
                ready!(Pin::new(&mut self.io).poll_write(cx, &self.replacement[self.replaced..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.replaced += n;
        }
        if !self.replacement.is_empty() {
            self.replacement = Vec::new();
            self.replaced = 0;
        }
        Poll::Ready(Ok(()))
    }

    fn timed_out(phase: Phase) -> io::Error {
        let what = match phase {
            Phase::Waiting => "idle timeout",
            Phase::Head => "header-read timeout",
        };
        io::Error::new(io::ErrorKind::TimedOut, what)
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(phase) = this.expired(cx) {
            if phase == Phase::Head {
                this.answer_slow_head(cx);
            }
            // hyper ends the connection on a read error; with no head
            // begun it does so without writing anything.
            return Poll::Ready(Err(Guarded::timed_out(phase)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.conn.on_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if !this.conn.is_handling() {
            if let Some(replacement) = replace_hyper_error(buf, this.limits.max_header_size) {
                this.replacement = replacement;
                this.replaced = 0;
                this.clean = false;
                // What does not go out now goes out on flush or shutdown,
                // which hyper always calls before closing.
                if let Poll::Ready(Err(e)) = this.drain(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(buf.len()));
            }
        }
        this.clean = false;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.conn.on_write();
                }
                Poll::Ready(Ok(n))
            }
            // A client that stops reading an answer is idle too.
            Poll::Pending => match this.expired(cx) {
                Some(phase) => Poll::Ready(Err(Guarded::timed_out(phase))),
                None => Poll::Pending,
            },
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        this.clean = true;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if this.conn.body_unread() && !this.lingered {
            return this.poll_linger(cx);
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // Not vectored: hyper then flattens each answer head into one
        // buffer, which is what `replace_hyper_error` recognises.
        false
    }
}

/// hyper's own answer to a request head it cannot parse, as hyper 1.12
/// writes it (`proto::h1::role::Server::on_error`): a status line with
/// 400 (bad request line or header), 414 (URI too long) or 431 (head over
/// the size limit), `content-length: 0`, `date`, maybe `connection:
/// close`, and nothing else; hyper closes the connection after it. When
/// `buf` is exactly that, returns the same answer with the protocol's JSON
/// body.
///
/// It is only asked while no handler runs, and every answer a handler
/// gives that has an error status carries a JSON body (the serving layer
/// rewrites those that do not), so a match is hyper's own answer: the one
/// thing that could look the same is the tail of an answer body made of
/// exactly these bytes, which protocol answers (JSON, base64) cannot be.
fn replace_hyper_error(buf: &[u8], max_header_size: usize) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(buf).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let mut zero_length = false;
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value == "0" => zero_length = true,
            "date" => date = Some(line),
            "connection" if value.eq_ignore_ascii_case("close") => {}
            _ => return None,
        }
    }
    if !zero_length {
        return None;
    }
    let errmsg = match code {
        400 => "error:报文格式错误 (malformed HTTP request line or header)".to_string(),
        414 => "error:请求地址过长 (URI too long)".to_string(),
        431 => format!("error:请求头过大 (request head over {max_header_size} bytes)"),
        _ => return None,
    };
    let extra = date.map(|d| format!("{d}\r\n")).unwrap_or_default();
    Some(raw_error_answer(status_line, &extra, &errmsg))
}

#[cfg(test)]
mod tests {
    use super::replace_hyper_error;

    #[test]
    fn only_hypers_own_empty_error_heads_are_replaced() {
        let hyper = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(replace_hyper_error(hyper, 16384).unwrap()).unwrap();
        assert!(
            replaced.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{replaced}"
        );
        assert!(replaced.contains("content-type: application/json;charset=utf-8\r\n"));
        assert!(replaced.contains("date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"));
        let (head, body) = replaced.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["state"], 0);

        let too_large =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let replaced = String::from_utf8(replace_hyper_error(too_large, 100).unwrap()).unwrap();
        assert!(replaced.contains("over 100 bytes"), "{replaced}");

        // Anything else is left alone: other statuses, other headers, a body.
        for other in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nallow: POST\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\r\n",
            b"{\"state\":0}",
        ] {
            assert!(replace_hyper_error(other, 16384).is_none());
        }
    }
}
