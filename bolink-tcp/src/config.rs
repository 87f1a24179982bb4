//! Where and how the TCP transport talks to the platform (plain data).

use std::time::Duration;

use bolink_sdk::backoff::BackoffPolicy;

/// The test parking cloud's SDK address: `cloud_addr` and `cport` of the
/// SDK 4.2+ initialisation table (1.2 车场初始化: "测试环境:test.parkingos.club",
/// cport "6789"; `reference/sdk/_protocol.json`, section 1.2).
pub const TEST_ADDRESS: &str = "test.parkingos.club:6789";

/// The production parking cloud's SDK address (1.2: "正式环境:1029.parkingos.club",
/// cport 6789).
pub const PRODUCTION_ADDRESS: &str = "1029.parkingos.club:6789";

/// The largest line the public cloud server reads: netty's
/// `LineBasedFrameDecoder(1024)` (`github:ParkingOS/ParkingOS_cloud`,
/// `parkingos_cloud_api/src/main/java/parkingos/com/bolink/netty/SensorServer.java`
/// line 113) drops longer lines without answering. A value for
/// [`TcpConfig::max_send_bytes`] when talking to that server.
pub const SERVER_LINE_LIMIT: usize = 1024;

/// How the TCP transport connects, times out, beats and reconnects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TcpConfig {
    /// `host:port` of the platform's SDK port, e.g. [`TEST_ADDRESS`].
    pub address: String,
    /// Timeout of establishing a connection; also how long a caller waits
    /// for the link to come up before failing with `Connect`.
    pub connect_timeout: Duration,
    /// How long the answer to a frame may take once it was written. A
    /// timeout also re-establishes the link: the late answer would
    /// otherwise be taken for the next frame's.
    pub request_timeout: Duration,
    /// How often a heartbeat is sent once logged in; zero sends none.
    pub heartbeat_interval: Duration,
    /// How many heartbeats in a row may go unanswered; at the next one the
    /// link is declared dead and re-established (at least 1).
    pub heartbeat_misses: u32,
    /// The largest frame read from the link; a larger one is an error and
    /// the link is re-established.
    pub max_frame_bytes: usize,
    /// The largest frame written, if limited: a larger one fails at once
    /// with `TooLarge` instead of going unanswered (see
    /// [`SERVER_LINE_LIMIT`]). Unlimited by default: the platform's own
    /// limit is not documented.
    pub max_send_bytes: Option<usize>,
    /// Backoff between connection attempts (reset by a successful login).
    pub reconnect_backoff: BackoffPolicy,
    /// How long one `receive` waits for a downstream message before it
    /// returns without one (the engine then checks its session and waits
    /// again).
    pub receive_wait: Duration,
    /// How many downstream messages are held for `receive`; past that the
    /// oldest is dropped (and counted), so that a lot that never receives
    /// cannot stall its uploads' answers on the same link.
    pub downstream_queue: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            address: TEST_ADDRESS.to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            // Not published; the public server has no idle timeout of its
            // own (SensorServer.java lines 112-115 add no IdleStateHandler),
            // so this only has to find dead links and keep NATs open.
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_misses: 3,
            max_frame_bytes: 64 * 1024,
            max_send_bytes: None,
            reconnect_backoff: BackoffPolicy::new(
                Duration::from_millis(200),
                Duration::from_secs(30),
            ),
            receive_wait: Duration::from_secs(30),
            downstream_queue: 256,
        }
    }
}

impl TcpConfig {
    /// The default configuration against another address (`host:port`).
    pub fn with_address(address: impl Into<String>) -> TcpConfig {
        TcpConfig {
            address: address.into(),
            ..TcpConfig::default()
        }
    }

    /// Sets the address (`host:port`).
    pub fn address(mut self, address: impl Into<String>) -> TcpConfig {
        self.address = address.into();
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> TcpConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> TcpConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets the heartbeat interval (zero: no heartbeats).
    pub fn heartbeat_interval(mut self, interval: Duration) -> TcpConfig {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets how many heartbeats may go unanswered (at least 1).
    pub fn heartbeat_misses(mut self, misses: u32) -> TcpConfig {
        self.heartbeat_misses = misses.max(1);
        self
    }

    /// Sets the largest frame read.
    pub fn max_frame_bytes(mut self, limit: usize) -> TcpConfig {
        self.max_frame_bytes = limit;
        self
    }

    /// Sets the largest frame written (`None`: unlimited).
    pub fn max_send_bytes(mut self, limit: Option<usize>) -> TcpConfig {
        self.max_send_bytes = limit;
        self
    }

    /// Sets the reconnect backoff.
    pub fn reconnect_backoff(mut self, backoff: BackoffPolicy) -> TcpConfig {
        self.reconnect_backoff = backoff;
        self
    }

    /// Sets how long one `receive` waits.
    pub fn receive_wait(mut self, wait: Duration) -> TcpConfig {
        self.receive_wait = wait;
        self
    }

    /// Sets how many downstream messages are held.
    pub fn downstream_queue(mut self, messages: usize) -> TcpConfig {
        self.downstream_queue = messages.max(1);
        self
    }
}
