//! The SDK's TCP link, the platform's side, as the public parkingOS cloud
//! server runs it (`github:ParkingOS/ParkingOS_cloud`,
//! `parkingos_cloud_api/src/main/java/parkingos/com/bolink/netty/`):
//!
//! * reading: netty's `LineBasedFrameDecoder(1024)` and a UTF-8
//!   `StringDecoder` (`SensorServer.java` lines 112-115): [`lines`];
//! * writing: every message as `("\n" + mesg + "\r").getBytes("UTF-8")`
//!   (`SensorServerHandler.java` line 474): [`frame`];
//! * each line handled as `SensorServerHandler` handles it: [`handler`],
//!   with the re-send check of `TempUtil` ([`resend`]), the server's
//!   reading of `data` and its sign ([`wire`]), `login` ([`login`]) and the
//!   uploads it dispatches ([`uploads`]);
//! * a closed connection logs its sessions out (`channelInactive`, lines
//!   441-453).
//!
//! Where the server hands each message to a thread pool (lines 66-67), so
//! that answers may overtake one another, the simulator handles a
//! connection's lines in order; a client that keeps one frame in flight
//! (as it must, answers carrying no ids) sees no difference.
//!
//! Bounds of the simulator's own (the server has none): at most
//! [`SimulatorConfig::tcp_max_connections`](crate::simulator::SimulatorConfig::tcp_max_connections)
//! connections (a newcomer beyond is closed at once), a silent connection
//! is closed after
//! [`SimulatorConfig::tcp_idle_timeout`](crate::simulator::SimulatorConfig::tcp_idle_timeout),
//! and at most [`SEND_QUEUE`] frames wait for a connection that does not
//! read; more are dropped, as netty's `doBackMessage` skips a channel that
//! is not writable (lines 467-488).

mod conn;
mod handler;
mod lines;
mod login;
mod resend;
mod uploads;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::state::State;

/// How many frames wait for a connection's writer.
pub(crate) const SEND_QUEUE: usize = 256;

/// A message framed for the wire: `"\n" + message + "\r"`.
pub(crate) fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    out.push(b'\n');
    out.extend_from_slice(message);
    out.push(b'\r');
    out
}

/// Accepts connections until `stop` changes, then closes them all.
pub(crate) async fn serve(state: State, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(state.config.tcp_max_connections.max(1)));
    let next_conn = AtomicU64::new(1);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        let Ok((stream, _peer)) = accepted else {
            // Out of file descriptors, say: pause rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            state.books().reject(
                "",
                "TCP connection closed at once: the connection cap is reached",
            );
            drop(stream);
            continue;
        };
        let id = next_conn.fetch_add(1, Ordering::Relaxed);
        connections.spawn(conn::serve(state.clone(), stream, id, permit));
    }
    // Dropping the tasks closes their sockets; their sessions end with them.
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    state.books().close_all_tcp_sessions();
}
