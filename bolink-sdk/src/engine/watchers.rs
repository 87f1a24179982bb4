//! Tickets waiting for their record's outcome.
//!
//! A record is claimable as soon as the store inserted it, but its ticket
//! can only be registered once the insert returned its id: a delivery pass
//! running meanwhile may settle the record in between. Such outcomes are
//! kept while any upload is between the two steps, and handed to the ticket
//! when it registers, so no ticket waits for an outcome that already came.
//! Likewise an upload that passed the shutdown check but registers only
//! after the engine stopped and drained its tickets learns at once that its
//! record stays queued: nothing would settle it any more.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::events::Outcome;

/// The engine's tickets, and the outcomes that came before their ticket.
#[derive(Debug, Default)]
pub(crate) struct Watchers(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    waiting: HashMap<u64, oneshot::Sender<Outcome>>,
    /// Uploads between their store insert and their ticket's registration.
    inserting: usize,
    /// Outcomes of records without a ticket, settled while an upload was
    /// inserting: one of them may be that upload's. Emptied when no upload
    /// is inserting (the rest were records of no ticket: recovered from
    /// the store, say), so it stays as small as the uploads in flight.
    early: HashMap<u64, Outcome>,
    /// The engine stopped and its tickets were drained: no pass will
    /// settle a ticket registered from now on.
    drained: bool,
}

impl Watchers {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks an upload as inserting until the returned guard registers
    /// its ticket (or is dropped: the insert failed or was cancelled).
    pub(crate) fn inserting(&self) -> Inserting<'_> {
        self.state().inserting += 1;
        Inserting {
            watchers: self,
            done: false,
        }
    }

    /// Hands `outcome` to the ticket of record `id`, or keeps it for a
    /// ticket still registering.
    pub(crate) fn settle(&self, id: u64, outcome: Outcome) {
        let mut state = self.state();
        match state.waiting.remove(&id) {
            Some(waiter) => {
                // The ticket may have been dropped; nobody waits then.
                let _ = waiter.send(outcome);
            }
            None if state.inserting > 0 => {
                state.early.insert(id, outcome);
            }
            None => {}
        }
    }

    /// Takes every waiting ticket (the engine stopped); tickets that
    /// register later are answered [`Outcome::StillQueued`] at once.
    pub(crate) fn drain(&self) -> Vec<oneshot::Sender<Outcome>> {
        let mut state = self.state();
        state.drained = true;
        state.waiting.drain().map(|(_, tx)| tx).collect()
    }
}

/// An upload between its store insert and its ticket's registration.
pub(crate) struct Inserting<'a> {
    watchers: &'a Watchers,
    done: bool,
}

impl Inserting<'_> {
    /// Registers the ticket of the inserted record `id`: the receiver of
    /// its outcome, already sent if a pass settled it first.
    pub(crate) fn register(mut self, id: u64) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        let mut state = self.watchers.state();
        match state.early.remove(&id) {
            Some(outcome) => {
                let _ = tx.send(outcome);
            }
            // The engine stopped while this upload was inserting (it
            // passed the shutdown check before): waiting would be for ever.
            None if state.drained => {
                let _ = tx.send(Outcome::StillQueued);
            }
            None => {
                state.waiting.insert(id, tx);
            }
        }
        finish(&mut state);
        self.done = true;
        rx
    }
}

impl Drop for Inserting<'_> {
    fn drop(&mut self) {
        if !self.done {
            finish(&mut self.watchers.state());
        }
    }
}

/// One upload fewer inserting; with none left, no kept outcome can be a
/// ticket's any more.
fn finish(state: &mut State) {
    state.inserting -= 1;
    if state.inserting == 0 {
        state.early.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_settled_before_its_ticket_registers_reaches_it() {
        let watchers = Watchers::default();
        let inserting = watchers.inserting();
        // A pass claims and settles record 7 before the upload registers.
        watchers.settle(7, Outcome::StillQueued);
        let mut rx = inserting.register(7);
        assert_eq!(rx.try_recv().ok(), Some(Outcome::StillQueued));
        assert!(watchers.state().early.is_empty());
    }

    #[test]
    fn outcomes_of_records_without_a_ticket_are_not_kept() {
        let watchers = Watchers::default();
        watchers.settle(1, Outcome::StillQueued);
        assert!(watchers.state().early.is_empty());
        // Kept while an upload inserts, dropped when it is done (or fails).
        let inserting = watchers.inserting();
        watchers.settle(2, Outcome::StillQueued);
        assert_eq!(watchers.state().early.len(), 1);
        drop(inserting);
        assert!(watchers.state().early.is_empty());
        assert_eq!(watchers.state().inserting, 0);
    }

    #[test]
    fn a_ticket_registering_after_the_drain_learns_its_record_stays_queued() {
        let watchers = Watchers::default();
        let inserting = watchers.inserting();
        // The engine stops while the upload's insert is under way.
        assert!(watchers.drain().is_empty());
        let mut rx = inserting.register(3);
        assert_eq!(rx.try_recv().ok(), Some(Outcome::StillQueued));
        assert!(watchers.state().waiting.is_empty());
    }
}
