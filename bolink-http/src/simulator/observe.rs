//! One event per exchange the simulator takes part in, for logs
//! (`bolink simulate` prints one line each) and tests. Events never carry
//! a key, a sign or a whole payload.

use std::fmt;
use std::sync::Arc;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a lot (or a vendor) to the platform: a login, an upload, an
    /// answer to a downstream message, a new-API request.
    Up,
    /// From the platform to a lot (or a vendor's callback server): a
    /// downstream message and what became of it.
    Down,
}

/// Which link a message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// SDK-HTTP mode: uploads, long polls.
    Http,
    /// The SDK's TCP link.
    Tcp,
    /// The new platform API (server to server over HTTP).
    NewApi,
}

impl Link {
    /// `http`, `tcp` or `newapi`.
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Http => "http",
            Link::Tcp => "tcp",
            Link::NewApi => "newapi",
        }
    }
}

/// One exchange, as seen by an [`ExchangeObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exchange {
    /// Which way the message went.
    pub direction: Direction,
    /// The link it travelled on.
    pub link: Link,
    /// The lot, when known (from the session, or the message's data).
    pub park_id: Option<String>,
    /// The charging-system instance, when known.
    pub local_id: Option<String>,
    /// The service (or a new-API interface's key); empty when unreadable,
    /// at most 64 characters of untrusted text.
    pub service_name: String,
    /// What became of it, in a few words: `accepted`, `logged in`,
    /// `refused: <errmsg>`, `answered`, `no_answer: <why>`, ... (the
    /// errmsg at most 160 characters).
    pub outcome: String,
}

impl Exchange {
    pub(crate) fn new(
        direction: Direction,
        link: Link,
        park_id: Option<&str>,
        local_id: Option<&str>,
        service_name: &str,
        outcome: impl Into<String>,
    ) -> Exchange {
        Exchange {
            direction,
            link,
            park_id: park_id.map(|p| super::history::prefix(p, 64)),
            local_id: local_id.map(|l| super::history::prefix(l, 64)),
            service_name: super::history::prefix(service_name, 64),
            outcome: super::history::prefix(&outcome.into(), 160),
        }
    }
}

impl fmt::Display for Exchange {
    /// `up   tcp    21835/lane-1  in_park  accepted`: direction, link,
    /// park/local_id (`-` when unknown), service, outcome.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::Up => "up",
            Direction::Down => "down",
        };
        let who = match (&self.park_id, &self.local_id) {
            (Some(park), Some(local)) if !local.is_empty() => format!("{park}/{local}"),
            (Some(park), _) => park.clone(),
            (None, _) => "-".to_string(),
        };
        let service = if self.service_name.is_empty() {
            "-"
        } else {
            &self.service_name
        };
        write!(
            f,
            "{direction:<4} {:<6} {who}  {service}  {}",
            self.link.as_str(),
            self.outcome
        )
    }
}

/// A callback that sees every exchange ([`Simulator::observe`](super::Simulator::observe)).
/// It runs on the simulator's tasks: keep it quick (print, count, send on
/// a channel).
pub type ExchangeObserver = Arc<dyn Fn(&Exchange) + Send + Sync>;
