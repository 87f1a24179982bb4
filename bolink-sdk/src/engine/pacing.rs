//! Pacing: keeping one session below the platform's rates.
//!
//! The in_park page asks one SDK to send fewer than 10 orders a second, and
//! the platform's public server code answers `request_over_times` past 100
//! requests of one token within about 10 s. Uploads are therefore spaced
//! (a backlog after an outage drains at the paced rate, not as fast as the
//! link allows) and every request of the session counts in a sliding
//! window; a `request_over_times` answer pauses everything for a window.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::stop::Stop;

/// How fast one session may send (plain data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pacing {
    /// Uploads per second at most (default 8: "fewer than 10").
    pub uploads_per_second: u32,
    /// Requests of the session within `window` at most (uploads, answers,
    /// polls; default 90 of the platform's 100, leaving room for what
    /// another instance of the lot may send).
    pub window_requests: u32,
    /// The sliding window (default 10 s).
    pub window: Duration,
    /// How long nothing is sent after a rate-limit answer (default 10 s).
    pub rate_limited_pause: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            uploads_per_second: 8,
            window_requests: 90,
            window: Duration::from_secs(10),
            rate_limited_pause: Duration::from_secs(10),
        }
    }
}

impl Pacing {
    /// No pacing at all (for a simulator on loopback in tests).
    pub fn unlimited() -> Pacing {
        Pacing {
            uploads_per_second: 0,
            window_requests: 0,
            window: Duration::ZERO,
            rate_limited_pause: Duration::ZERO,
        }
    }

    /// Sets the upload rate (0: unlimited).
    pub fn uploads_per_second(mut self, rate: u32) -> Pacing {
        self.uploads_per_second = rate;
        self
    }

    /// Sets the window (0 requests: no window).
    pub fn window(mut self, requests: u32, window: Duration) -> Pacing {
        self.window_requests = requests;
        self.window = window;
        self
    }

    /// Sets the pause after a rate-limit answer.
    pub fn rate_limited_pause(mut self, pause: Duration) -> Pacing {
        self.rate_limited_pause = pause;
        self
    }
}

/// Which spacing a request is subject to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paced {
    /// An upload: spaced by the upload rate and counted in the window.
    Upload,
    /// Anything else on the session (answers, polls): counted only.
    Other,
}

#[derive(Debug, Default)]
struct Slots {
    /// Start times of the requests in the window (reserved ones included),
    /// in order.
    sent: VecDeque<Instant>,
    last_upload: Option<Instant>,
    paused_until: Option<Instant>,
}

/// The pacing state of one engine's session.
#[derive(Debug)]
pub(crate) struct Pacer {
    pacing: Pacing,
    slots: Mutex<Slots>,
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing) -> Pacer {
        Pacer {
            pacing,
            slots: Mutex::new(Slots::default()),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves the earliest slot at or after `now` for a request of
    /// `kind`; the request may start at the returned time.
    pub(crate) fn reserve(&self, kind: Paced, now: Instant) -> Instant {
        let pacing = self.pacing;
        let mut slots = self.slots();
        let mut at = now;
        if let Some(until) = slots.paused_until {
            at = at.max(until);
        }
        if kind == Paced::Upload && pacing.uploads_per_second > 0 {
            if let Some(last) = slots.last_upload {
                at = at.max(last + Duration::from_secs(1) / pacing.uploads_per_second);
            }
        }
        if pacing.window_requests > 0 {
            while slots
                .sent
                .front()
                .is_some_and(|&t| t + pacing.window <= now)
            {
                slots.sent.pop_front();
            }
            let limit = pacing.window_requests as usize;
            if slots.sent.len() >= limit {
                let oldest_in_window = slots.sent[slots.sent.len() - limit];
                at = at.max(oldest_in_window + pacing.window);
            }
            slots.sent.push_back(at);
        }
        if kind == Paced::Upload {
            slots.last_upload = Some(at);
        }
        at
    }

    /// Waits for a slot; `false` when `stop` came first (the slot is spent).
    pub(crate) async fn wait(&self, kind: Paced, stop: &Stop) -> bool {
        let at = self.reserve(kind, Instant::now());
        stop.sleep_until(at.into()).await
    }

    /// A rate-limit answer arrived: nothing goes out for a while.
    pub(crate) fn pause(&self, now: Instant) {
        let pause = self.pacing.rate_limited_pause;
        if !pause.is_zero() {
            let mut slots = self.slots();
            let until = now + pause;
            slots.paused_until = Some(slots.paused_until.map_or(until, |u| u.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_spaced_below_the_documented_rate() {
        let pacer = Pacer::new(Pacing::default());
        let start = Instant::now();
        let slots: Vec<Instant> = (0..20)
            .map(|_| pacer.reserve(Paced::Upload, start))
            .collect();
        for pair in slots.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(125));
        }
        // Other requests are not spaced, only counted.
        assert_eq!(pacer.reserve(Paced::Other, start), start);
    }

    #[test]
    fn the_window_holds_requests_of_one_token_under_the_limit() {
        let pacing = Pacing::unlimited().window(100, Duration::from_secs(10));
        let pacer = Pacer::new(pacing);
        let start = Instant::now();
        let slots: Vec<Instant> = (0..250)
            .map(|_| pacer.reserve(Paced::Other, start))
            .collect();
        // Any 10 s span holds at most 100 request starts.
        for (i, &t) in slots.iter().enumerate() {
            let in_window = slots[i..]
                .iter()
                .take_while(|&&u| u < t + Duration::from_secs(10))
                .count();
            assert!(in_window <= 100, "{in_window} requests from slot {i}");
        }
        assert_eq!(slots[100], start + Duration::from_secs(10));
        assert_eq!(slots[200], start + Duration::from_secs(20));
    }

    #[test]
    fn a_rate_limit_answer_pauses_everything() {
        let pacer = Pacer::new(Pacing::default());
        let now = Instant::now();
        pacer.pause(now);
        assert_eq!(
            pacer.reserve(Paced::Other, now),
            now + Duration::from_secs(10)
        );
        assert!(pacer.reserve(Paced::Upload, now) >= now + Duration::from_secs(10));
    }
}
