//! Bounded collections for what the simulator remembers: under sustained
//! load (junk included) its memory stays bounded by a count per list.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// How much of an untrusted name (a path, a service name) a rejection
/// keeps, in characters.
pub(crate) const NAME_PREFIX: usize = 128;
/// How much of an errmsg a rejection keeps, in characters (errmsgs quote
/// parts of the input).
pub(crate) const REASON_PREFIX: usize = 256;

/// At most `max` characters of `text`, marked with `…` when cut.
pub(crate) fn prefix(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A list that keeps its newest `limit` entries.
#[derive(Debug)]
pub(crate) struct History<T> {
    items: VecDeque<T>,
    limit: usize,
}

impl<T> History<T> {
    pub(crate) fn new(limit: usize) -> History<T> {
        History {
            items: VecDeque::new(),
            limit,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.limit == 0 {
            return;
        }
        if self.items.len() == self.limit {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

/// A map that forgets its oldest keys (by first insertion) beyond
/// `limit`. Removal is lazy in the order queue, which is compacted when
/// stale entries outnumber live ones.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    map: HashMap<K, (u64, V)>,
    order: VecDeque<(u64, K)>,
    next: u64,
    limit: usize,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(limit: usize) -> BoundedMap<K, V> {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            limit,
        }
    }

    /// Inserts or replaces (a replaced key keeps its age); returns the
    /// entries forgotten to stay within the limit.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<(K, V)> {
        if let Some(slot) = self.map.get_mut(&key) {
            slot.1 = value;
            return Vec::new();
        }
        let mut forgotten = Vec::new();
        if self.limit == 0 {
            forgotten.push((key, value));
            return forgotten;
        }
        while self.map.len() >= self.limit {
            match self.pop_oldest() {
                Some(entry) => forgotten.push(entry),
                None => break,
            }
        }
        let seq = self.next;
        self.next += 1;
        self.order.push_back((seq, key.clone()));
        self.map.insert(key, (seq, value));
        forgotten
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(_, v)| v)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (_, value) = self.map.remove(key)?;
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(seq, key)| map.get(key).is_some_and(|(s, _)| s == seq));
        }
        Some(value)
    }

    /// Removes the oldest entries while `expired` says so (entries that
    /// age together, such as sessions, expire oldest first).
    pub(crate) fn pop_oldest_while(&mut self, mut expired: impl FnMut(&V) -> bool) -> Vec<(K, V)> {
        let mut popped = Vec::new();
        while let Some((seq, key)) = self.order.front() {
            match self.map.get(key) {
                Some((s, value)) if s == seq => {
                    if !expired(value) {
                        break;
                    }
                    popped.extend(self.pop_oldest());
                }
                // A stale queue entry: its key was removed or re-inserted.
                _ => {
                    self.order.pop_front();
                }
            }
        }
        popped
    }

    fn pop_oldest(&mut self) -> Option<(K, V)> {
        while let Some((seq, key)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|(s, _)| *s == seq) {
                let (_, value) = self.map.remove(&key)?;
                return Some((key, value));
            }
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order.iter().filter_map(|(seq, key)| {
            let (s, value) = self.map.get(key)?;
            (s == seq).then_some((key, value))
        })
    }

    pub(crate) fn clear(&mut self) -> Vec<(K, V)> {
        self.order.clear();
        self.map.drain().map(|(k, (_, v))| (k, v)).collect()
    }

    /// Entries in the order queue, live and stale (for the tests of the bound).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_keeps_the_newest() {
        let mut history = History::new(3);
        for i in 0..10 {
            history.push(i);
        }
        assert_eq!(history.iter().copied().collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn a_bounded_map_forgets_the_oldest_and_stays_compact() {
        let mut map = BoundedMap::new(3);
        for i in 0..5 {
            map.insert(i, i * 10);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&1), None);
        // Replacing keeps the age: 2 is still the oldest.
        map.insert(2, 99);
        let forgotten = map.insert(5, 50);
        assert_eq!(forgotten, [(2, 99)]);
        assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [3, 4, 5]);
        // Sessions age together: the expired ones are the oldest.
        let expired = map.pop_oldest_while(|v| *v < 45);
        assert_eq!(expired, [(3, 30), (4, 40)]);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn insert_and_remove_churn_leaves_no_trail() {
        let mut map = BoundedMap::new(10);
        for i in 0..3 {
            map.insert(i, i);
        }
        for i in 100..10_000 {
            map.insert(i, 0);
            map.remove(&i);
        }
        assert!(map.queued() < 100, "{}", map.queued());
        assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn prefixes_count_characters() {
        assert_eq!(prefix("京A12345", 3), "京A1…");
        assert_eq!(prefix("short", 128), "short");
    }
}
