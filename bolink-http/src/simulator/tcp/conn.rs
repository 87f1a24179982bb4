//! One TCP-link connection: a reader that decodes lines and handles them in
//! order, and a writer that sends the frames queued for it (answers,
//! heartbeat answers, pushed downstream messages, relays).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::handler::{handle, Conn, Reply};
use super::lines::{Line, LineDecoder};
use super::SEND_QUEUE;
use crate::simulator::state::{Outbound, State};
use crate::simulator::TCP_LINE_LIMIT;

/// Serves one connection until either side closes it (or it stays silent
/// too long); its sessions end with it.
pub(crate) async fn serve(state: State, stream: TcpStream, id: u64, _permit: OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let (mut read, write) = stream.into_split();
    let (outbound, queue) = mpsc::channel(SEND_QUEUE);
    let (stop_tx, stop_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_loop(write, queue, stop_rx));
    let mut conn = Conn {
        id,
        outbound,
        channel: None,
    };
    let mut decoder = LineDecoder::default();
    let mut buf = vec![0u8; 4096];
    let idle = state.config.tcp_idle_timeout;
    let mut writer_done = false;
    'connection: loop {
        let n = tokio::select! {
            read = tokio::time::timeout(idle, read.read(&mut buf)) => match read {
                Ok(Ok(n)) if n > 0 => n,
                Ok(_) => break,
                Err(_) => {
                    state.books().reject("", "TCP connection closed: silent past the idle timeout");
                    break;
                }
            },
            // A failed write ends the connection.
            _ = &mut writer => {
                writer_done = true;
                break;
            }
        };
        for line in decoder.push(&buf[..n]) {
            let line = match line {
                Line::Text(line) => line,
                Line::TooLong => {
                    state.books().reject(
                        "",
                        &format!("dropped unanswered: a line over {TCP_LINE_LIMIT} bytes (LineBasedFrameDecoder)"),
                    );
                    continue;
                }
            };
            let (answer, close) = match handle(&state, &mut conn, &line) {
                Reply::Silent => continue,
                Reply::Frame(answer) => (answer, false),
                Reply::FrameThenClose(answer) => (answer, true),
            };
            let sent = conn.outbound.try_send(Outbound {
                bytes: super::frame(answer.as_bytes()),
                written: None,
            });
            if sent.is_err() {
                state.books().reject(
                    "",
                    "an answer was dropped: the connection does not read its answers",
                );
            }
            if close {
                break 'connection;
            }
        }
    }
    // Logged out first: nothing is routed to a connection that is closing.
    state.books().close_tcp_conn(id);
    if !writer_done {
        // The writer sends what is queued (a refused login's answer), then
        // closes its half.
        let _ = stop_tx.send(());
        let grace = std::time::Duration::from_secs(2);
        if tokio::time::timeout(grace, &mut writer).await.is_err() {
            writer.abort();
        }
    }
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Outbound>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let next = tokio::select! {
            next = queue.recv() => next,
            _ = &mut stop => {
                // Drain what was queued before the close.
                while let Ok(out) = queue.try_recv() {
                    if write.write_all(&out.bytes).await.is_err() {
                        return;
                    }
                    if let Some(written) = out.written {
                        let _ = written.send(());
                    }
                }
                let _ = write.shutdown().await;
                return;
            }
        };
        let Some(out) = next else {
            return;
        };
        if write.write_all(&out.bytes).await.is_err() {
            return;
        }
        if let Some(written) = out.written {
            let _ = written.send(());
        }
    }
}
