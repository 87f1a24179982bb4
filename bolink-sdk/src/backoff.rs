//! Capped exponential backoff with jitter: the one implementation behind
//! record retries, reconnects and refused logins.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A backoff schedule: `initial`, doubling per failure, capped at `max`,
/// each wait drawn from its upper half ("equal jitter"), so that clients
/// that failed together spread out without waiting much less than planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffPolicy {
    /// The wait after the first failure (before jitter).
    pub initial: Duration,
    /// The longest wait (before jitter).
    pub max: Duration,
}

impl BackoffPolicy {
    /// A schedule from `initial` to `max`.
    pub const fn new(initial: Duration, max: Duration) -> BackoffPolicy {
        BackoffPolicy { initial, max }
    }

    /// The un-jittered wait after `failures` failures (0 for none).
    pub fn base(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (failures - 1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The wait after `failures` failures, jittered by `random` (any
    /// well-mixed 64-bit value: the same value gives the same wait).
    pub fn wait(&self, failures: u32, random: u64) -> Duration {
        let base = self.base(failures);
        let permille = (splitmix(random) % 1001) as u32;
        base / 2 + (base / 2).saturating_mul(permille) / 1000
    }
}

/// A failure counter over a [`BackoffPolicy`] with its own random jitter:
/// for loops that retry one thing (a link, a login).
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    seed: u64,
}

impl Backoff {
    /// A counter with no failures yet.
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            failures: 0,
            seed: random_seed(),
        }
    }

    /// Counts a failure and returns how long to wait before the next try.
    pub fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.seed = splitmix(self.seed);
        self.policy.wait(self.failures, self.seed)
    }

    /// A success: the next failure starts from `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// How many failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser).
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seed that differs per call and per process: std's hasher keys are
/// random per `RandomState`, which is all jitter needs (no crate for it).
pub(crate) fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_are_capped_and_stay_in_the_upper_half() {
        let policy = BackoffPolicy::new(Duration::from_millis(100), Duration::from_secs(3));
        let mut backoff = Backoff::new(policy);
        for failure in 1..=12u32 {
            let wait = backoff.fail();
            let base = policy.base(failure);
            assert!(base <= policy.max);
            assert!(
                wait >= base / 2 && wait <= base,
                "failure {failure}: {wait:?} outside [{:?}, {base:?}]",
                base / 2
            );
        }
        assert_eq!(policy.base(12), Duration::from_secs(3));
        backoff.reset();
        assert!(backoff.fail() <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_clients_that_failed_together() {
        let policy = BackoffPolicy::new(Duration::from_secs(1), Duration::from_secs(60));
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|client| policy.wait(4, client)).collect();
        assert!(waits.len() > 40, "only {} distinct waits", waits.len());
    }
}
