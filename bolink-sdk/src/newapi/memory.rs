//! What a callback endpoint remembers between calls: the `rand` values it
//! has seen (5.2: "与上次请求不能重复,否则认为是非法请求", a repeated one is
//! an illegal request) and the answers it gave, so that the platform's
//! retry of a callback already answered (the same message again) is
//! answered the same way without calling the handler twice.
//!
//! Behind a small trait so that several instances of a callback server can
//! share one memory (a database, a cache); [`InMemory`] is the default,
//! bounded in entries and in time.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// What every memory method returns.
pub type MemoryFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A callback endpoint's memory.
pub trait CallbackMemory: Send + Sync + 'static {
    /// Records `rand` under `scope` (the vendor and the callback); `false`
    /// when it was already seen within the memory's window.
    fn first_rand(&self, scope: String, rand: String, now_ms: u64) -> MemoryFuture<'_, bool>;

    /// The answer stored for a handled callback with this idempotency key.
    fn answer_for(&self, key: String, now_ms: u64) -> MemoryFuture<'_, Option<Vec<u8>>>;

    /// Stores the answer given to a handled callback.
    fn remember_answer(&self, key: String, answer: Vec<u8>, now_ms: u64) -> MemoryFuture<'_, ()>;
}

/// A memory in this process: at most `capacity` entries of each kind, each
/// forgotten after `window`.
#[derive(Debug)]
pub struct InMemory {
    window: Duration,
    capacity: usize,
    rands: Mutex<Recent<()>>,
    answers: Mutex<Recent<Vec<u8>>>,
}

impl InMemory {
    /// A memory of `capacity` entries per kind over `window`.
    pub fn new(window: Duration, capacity: usize) -> InMemory {
        InMemory {
            window,
            capacity: capacity.max(1),
            rands: Mutex::new(Recent::default()),
            answers: Mutex::new(Recent::default()),
        }
    }
}

impl Default for InMemory {
    /// A day, 100,000 entries per kind.
    fn default() -> Self {
        InMemory::new(Duration::from_secs(24 * 60 * 60), 100_000)
    }
}

/// Entries by key, oldest first for eviction.
#[derive(Debug)]
struct Recent<V> {
    entries: HashMap<String, (u64, V)>,
    order: VecDeque<(u64, String)>,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Clone> Recent<V> {
    /// Drops what is older than the window, and the oldest beyond capacity.
    fn prune(&mut self, now_ms: u64, window_ms: u64, capacity: usize) {
        while let Some((at, key)) = self.order.front() {
            let stale = now_ms.saturating_sub(*at) >= window_ms;
            if !stale && self.entries.len() <= capacity {
                break;
            }
            // An entry rewritten later has a newer stamp; only its own
            // stamp removes it.
            if self.entries.get(key).is_some_and(|(stamp, _)| stamp == at) {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        self.entries.get(key).map(|(_, v)| v.clone())
    }

    fn put(&mut self, key: String, value: V, now_ms: u64) {
        self.order.push_back((now_ms, key.clone()));
        self.entries.insert(key, (now_ms, value));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CallbackMemory for InMemory {
    fn first_rand(&self, scope: String, rand: String, now_ms: u64) -> MemoryFuture<'_, bool> {
        let window = self.window.as_millis() as u64;
        let mut rands = lock(&self.rands);
        rands.prune(now_ms, window, self.capacity);
        let key = format!("{scope}\u{0}{rand}");
        let first = rands.get(&key).is_none();
        if first {
            rands.put(key, (), now_ms);
            rands.prune(now_ms, window, self.capacity);
        }
        Box::pin(std::future::ready(first))
    }

    fn answer_for(&self, key: String, now_ms: u64) -> MemoryFuture<'_, Option<Vec<u8>>> {
        let window = self.window.as_millis() as u64;
        let mut answers = lock(&self.answers);
        answers.prune(now_ms, window, self.capacity);
        Box::pin(std::future::ready(answers.get(&key)))
    }

    fn remember_answer(&self, key: String, answer: Vec<u8>, now_ms: u64) -> MemoryFuture<'_, ()> {
        let window = self.window.as_millis() as u64;
        let mut answers = lock(&self.answers);
        answers.put(key, answer, now_ms);
        answers.prune(now_ms, window, self.capacity);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_rand_is_accepted_once_per_scope_within_the_window() {
        let memory = InMemory::new(Duration::from_secs(10), 100);
        let first = |scope: &str, rand: &str, at: u64| {
            block_on(memory.first_rand(scope.into(), rand.into(), at))
        };
        assert!(first("v1", "0.5", 0));
        assert!(!first("v1", "0.5", 1_000), "repeated");
        assert!(first("v2", "0.5", 1_000), "another vendor");
        assert!(first("v1", "0.5", 11_000), "outside the window");
    }

    #[test]
    fn the_memory_stays_within_its_capacity() {
        let memory = InMemory::new(Duration::from_secs(3600), 10);
        for i in 0..1_000u64 {
            block_on(memory.first_rand("v".into(), i.to_string(), i));
            block_on(memory.remember_answer(i.to_string(), vec![1], i));
        }
        assert!(lock(&memory.rands).entries.len() <= 10);
        assert!(lock(&memory.answers).entries.len() <= 10);
        assert!(lock(&memory.rands).order.len() <= 11);
        // The newest are kept.
        assert_eq!(
            block_on(memory.answer_for("999".into(), 1_000)),
            Some(vec![1])
        );
        assert_eq!(block_on(memory.answer_for("1".into(), 1_000)), None);
    }
}
