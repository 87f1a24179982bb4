//! How the simulated platform behaves: every choice with the faithful one
//! (the platform's public server code) as its default.

use std::time::Duration;

use crate::serve::ServeConfig;

/// The default [`SimulatorConfig::history_limit`]: 10,000 entries per list.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

/// The longest line the TCP link reads, in bytes without its delimiter:
/// the public server reads with netty's `LineBasedFrameDecoder(1024)`
/// (ParkingOS_cloud `netty/SensorServer.java` line 113) and drops longer
/// lines without an answer.
pub const TCP_LINE_LIMIT: usize = 1024;

/// How the simulator answers a request whose token is unknown, expired or
/// missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// As the platform's public code: HTTP 200 with
    /// `{"state":0,"errmsg":"error:token无效",...}`.
    #[default]
    Platform,
    /// HTTP 401 with the same body (what the simulator did before it
    /// followed the public code). The TCP link has no status: it always
    /// answers as [`TokenRefusal::Platform`].
    Unauthorized,
}

/// How the simulator answers a re-sent upload over SDK-HTTP (recorded once
/// either way). The TCP link answers re-sends as its public code does
/// whatever this says (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResendAnswer {
    /// As the platform's public code:
    /// `{"state":0,"errmsg":"数据已处理过...","service_name",...}`.
    #[default]
    AlreadyProcessed,
    /// Acknowledged again with `state` 1.
    Acknowledged,
}

/// A per-token rate limit: at most `requests` within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// How many requests a window allows.
    pub requests: usize,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// At most `requests` within any `window`.
    pub const fn new(requests: usize, window: Duration) -> RateLimit {
        RateLimit { requests, window }
    }

    /// The platform's: 100 requests per 10 s per token.
    pub const PLATFORM: RateLimit = RateLimit {
        requests: 100,
        window: Duration::from_secs(10),
    };
}

/// How the simulated platform behaves: [`SimulatorConfig::default`] is the
/// platform's behaviour, and a setter per field changes one choice.
///
/// ```
/// use std::time::Duration;
/// use bolink_http::simulator::SimulatorConfig;
///
/// let config = SimulatorConfig::default()
///     .poll_hold(Duration::from_millis(200))
///     .rate_limit(None);
/// assert_eq!(config.poll_hold, Duration::from_millis(200));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulatorConfig {
    /// How long a long poll is held when no message comes (the platform:
    /// 30 s). Handlers get this plus 10 s before the server answers 408.
    pub poll_hold: Duration,
    /// How long a token of SDK-HTTP mode lives. A token of the TCP link
    /// lives as long as its connection, as in the public server code
    /// (`channelInactive` logs the channel out; nothing else expires it).
    pub token_ttl: Duration,
    /// How long a driver ([`SimulatorHandle::call`](super::SimulatorHandle::call),
    /// a push without `timeout_ms`, a callback) waits for the lot's answer.
    pub answer_timeout: Duration,
    /// The largest request body accepted (64 KiB); a larger declared
    /// length is answered 413 before the body is read.
    pub body_limit: usize,
    /// How many entries each of its lists keeps (received, rejected,
    /// deliveries, in-park orders, sessions, queued downstream messages per
    /// instance, the TCP link's memory of re-sends): [`DEFAULT_HISTORY_LIMIT`].
    /// The oldest go first.
    pub history_limit: usize,
    /// How long a connection may take to send a request head, from its
    /// first byte (10 s).
    pub header_read_timeout: Duration,
    /// How long a connection may stay without a request (60 s).
    pub idle_timeout: Duration,
    /// How many HTTP connections are served at once (512; see
    /// [`ServeConfig::max_connections`]).
    pub max_connections: usize,
    /// How many TCP-link connections are open at once (512). At the cap a
    /// newcomer is closed at once (the public server has no cap of its
    /// own; this keeps the simulator bounded).
    pub tcp_max_connections: usize,
    /// How long a TCP-link connection may stay silent (no line, heartbeats
    /// included) before it is closed: 120 s. The public server has no idle
    /// timeout (`SensorServer.java` adds no `IdleStateHandler`); this is a
    /// bound of the simulator's, well above the SDK's heartbeat interval.
    pub tcp_idle_timeout: Duration,
    /// How long requests in progress may take to finish at shutdown (2 s).
    pub shutdown_grace: Duration,
    /// How an unknown or expired token is answered ([`TokenRefusal::Platform`]).
    pub invalid_token: TokenRefusal,
    /// The per-token rate limit on uploads ([`RateLimit::PLATFORM`]); `None`
    /// for none.
    pub rate_limit: Option<RateLimit>,
    /// How a re-sent upload is answered ([`ResendAnswer::AlreadyProcessed`]).
    pub resend: ResendAnswer,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            poll_hold: Duration::from_secs(30),
            token_ttl: Duration::from_secs(2 * 60 * 60),
            answer_timeout: Duration::from_secs(10),
            body_limit: 64 * 1024,
            history_limit: DEFAULT_HISTORY_LIMIT,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            tcp_max_connections: 512,
            tcp_idle_timeout: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(2),
            invalid_token: TokenRefusal::Platform,
            rate_limit: Some(RateLimit::PLATFORM),
            resend: ResendAnswer::AlreadyProcessed,
        }
    }
}

impl SimulatorConfig {
    /// Sets how long a long poll is held when no message comes ([`SimulatorConfig::poll_hold`]).
    pub fn poll_hold(mut self, poll_hold: Duration) -> SimulatorConfig {
        self.poll_hold = poll_hold;
        self
    }

    /// Sets how long a token of SDK-HTTP mode lives ([`SimulatorConfig::token_ttl`]).
    pub fn token_ttl(mut self, token_ttl: Duration) -> SimulatorConfig {
        self.token_ttl = token_ttl;
        self
    }

    /// Sets how long a driver waits for the lot's answer ([`SimulatorConfig::answer_timeout`]).
    pub fn answer_timeout(mut self, answer_timeout: Duration) -> SimulatorConfig {
        self.answer_timeout = answer_timeout;
        self
    }

    /// Sets the largest request body accepted ([`SimulatorConfig::body_limit`]).
    pub fn body_limit(mut self, body_limit: usize) -> SimulatorConfig {
        self.body_limit = body_limit;
        self
    }

    /// Sets how many entries each of the simulator's lists keeps ([`SimulatorConfig::history_limit`]).
    pub fn history_limit(mut self, history_limit: usize) -> SimulatorConfig {
        self.history_limit = history_limit;
        self
    }

    /// Sets how long a connection may take to send a request head ([`SimulatorConfig::header_read_timeout`]).
    pub fn header_read_timeout(mut self, header_read_timeout: Duration) -> SimulatorConfig {
        self.header_read_timeout = header_read_timeout;
        self
    }

    /// Sets how long a connection may stay without a request ([`SimulatorConfig::idle_timeout`]).
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> SimulatorConfig {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets how many HTTP connections are served at once ([`SimulatorConfig::max_connections`]).
    pub fn max_connections(mut self, max_connections: usize) -> SimulatorConfig {
        self.max_connections = max_connections;
        self
    }

    /// Sets how many TCP-link connections are open at once ([`SimulatorConfig::tcp_max_connections`]).
    pub fn tcp_max_connections(mut self, tcp_max_connections: usize) -> SimulatorConfig {
        self.tcp_max_connections = tcp_max_connections;
        self
    }

    /// Sets how long a TCP-link connection may stay silent ([`SimulatorConfig::tcp_idle_timeout`]).
    pub fn tcp_idle_timeout(mut self, tcp_idle_timeout: Duration) -> SimulatorConfig {
        self.tcp_idle_timeout = tcp_idle_timeout;
        self
    }

    /// Sets how long requests in progress may take to finish at shutdown ([`SimulatorConfig::shutdown_grace`]).
    pub fn shutdown_grace(mut self, shutdown_grace: Duration) -> SimulatorConfig {
        self.shutdown_grace = shutdown_grace;
        self
    }

    /// Sets how an unknown or expired token is answered ([`SimulatorConfig::invalid_token`]).
    pub fn invalid_token(mut self, invalid_token: TokenRefusal) -> SimulatorConfig {
        self.invalid_token = invalid_token;
        self
    }

    /// Sets the per-token rate limit on uploads (`None` for none) ([`SimulatorConfig::rate_limit`]).
    pub fn rate_limit(mut self, rate_limit: Option<RateLimit>) -> SimulatorConfig {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets how a re-sent upload is answered ([`SimulatorConfig::resend`]).
    pub fn resend(mut self, resend: ResendAnswer) -> SimulatorConfig {
        self.resend = resend;
        self
    }

    /// How long the serving layer lets a request take: the long poll's
    /// hold plus 10 s.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.poll_hold + Duration::from_secs(10)
    }

    /// The longest a push or callback driven through `/_simulator/*` may
    /// wait: 5 s under [`SimulatorConfig::request_timeout`], so that the
    /// serving layer's 408 never cuts the verdict off.
    pub(crate) fn max_drive_timeout(&self) -> Duration {
        self.poll_hold + Duration::from_secs(5)
    }

    /// The serving limits of this configuration.
    pub(crate) fn serve_config(&self) -> ServeConfig {
        ServeConfig::new()
            .header_read_timeout(self.header_read_timeout)
            .idle_timeout(self.idle_timeout)
            .request_timeout(self.request_timeout())
            .max_connections(self.max_connections)
            .body_limit(self.body_limit)
            .shutdown_grace(self.shutdown_grace)
    }
}
