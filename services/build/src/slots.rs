//! The build host's limit on concurrent npm runs (`BUILDWIRE_BUILD_CONCURRENCY`): a build
//! takes a slot for its install and build and gives it back when done. Slots go first
//! come, first served; a build that waits knows how many are ahead of it, so it can tell
//! its viewers ("Waiting for a build slot (2 ahead)") instead of the machine thrashing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// A fixed number of build slots with a first-come, first-served queue.
#[derive(Debug)]
pub struct BuildSlots {
    limit: usize,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    queue: VecDeque<u64>,
    next_ticket: u64,
}

/// A taken slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<BuildSlots>,
}

/// A build in line for a slot; leaves the line when dropped.
#[derive(Debug)]
pub struct Waiter {
    slots: Arc<BuildSlots>,
    ticket: Option<u64>,
    told: Option<usize>,
}

/// Where a waiter stands.
#[derive(Debug)]
pub enum Turn {
    /// The slot is ours.
    Go(Slot),
    /// Still waiting, with this many builds ahead in line (0: next).
    Wait(usize),
}

impl BuildSlots {
    /// `limit` slots (at least one).
    pub fn new(limit: usize) -> Arc<BuildSlots> {
        Arc::new(BuildSlots {
            limit: limit.max(1),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        })
    }

    /// How many slots there are.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Builds holding a slot now, and builds waiting.
    pub fn load(&self) -> (usize, usize) {
        let state = self.lock();
        (state.running, state.queue.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gets in line.
    pub fn waiter(self: &Arc<Self>) -> Waiter {
        let ticket = {
            let mut state = self.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            ticket
        };
        Waiter {
            slots: Arc::clone(self),
            ticket: Some(ticket),
            told: None,
        }
    }
}

impl Waiter {
    /// The slot when it is ours, else the number ahead: at once on the first call, then
    /// whenever that number changes.
    pub async fn next(&mut self) -> Turn {
        let slots = Arc::clone(&self.slots);
        loop {
            let changed = slots.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.try_take() {
                Ok(slot) => return Turn::Go(slot),
                Err(ahead) if self.told != Some(ahead) => {
                    self.told = Some(ahead);
                    return Turn::Wait(ahead);
                }
                Err(_) => changed.await,
            }
        }
    }

    fn try_take(&mut self) -> Result<Slot, usize> {
        let Some(ticket) = self.ticket else {
            return Err(0);
        };
        let mut state = self.slots.lock();
        let ahead = state
            .queue
            .iter()
            .position(|t| *t == ticket)
            .unwrap_or_default();
        if ahead == 0 && state.running < self.slots.limit {
            state.queue.pop_front();
            state.running += 1;
            drop(state);
            self.ticket = None;
            // The next in line moved up.
            self.slots.changed.notify_waiters();
            return Ok(Slot {
                slots: Arc::clone(&self.slots),
            });
        }
        Err(ahead)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.slots.lock().queue.retain(|t| *t != ticket);
            self.slots.changed.notify_waiters();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut state = self.slots.lock();
            state.running = state.running.saturating_sub(1);
        }
        self.slots.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn take(waiter: &mut Waiter) -> Slot {
        match waiter.next().await {
            Turn::Go(slot) => slot,
            Turn::Wait(ahead) => panic!("waiting with {ahead} ahead"),
        }
    }

    async fn ahead(waiter: &mut Waiter) -> usize {
        match tokio::time::timeout(Duration::from_secs(1), waiter.next()).await {
            Ok(Turn::Wait(ahead)) => ahead,
            Ok(Turn::Go(_)) => panic!("got a slot"),
            Err(_) => panic!("no news"),
        }
    }

    #[tokio::test]
    async fn waiters_learn_their_place_and_go_in_order() {
        let slots = BuildSlots::new(2);
        let first = take(&mut slots.waiter()).await;
        let second = take(&mut slots.waiter()).await;
        let mut third = slots.waiter();
        let mut fourth = slots.waiter();
        let mut fifth = slots.waiter();
        assert_eq!(ahead(&mut third).await, 0);
        assert_eq!(ahead(&mut fourth).await, 1);
        assert_eq!(ahead(&mut fifth).await, 2);
        assert_eq!(slots.load(), (2, 3));

        // The fourth gives up: the fifth moves up.
        drop(fourth);
        assert_eq!(ahead(&mut fifth).await, 1);

        // A slot frees: the third (first in line) takes it, the fifth is next.
        drop(first);
        let third_slot = take(&mut third).await;
        assert_eq!(ahead(&mut fifth).await, 0);
        // Nothing changes for the fifth until another slot frees.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), fifth.next())
                .await
                .is_err()
        );
        drop(second);
        let _fifth_slot = take(&mut fifth).await;
        drop(third_slot);
        assert_eq!(slots.load(), (1, 0));
    }

    #[tokio::test]
    async fn a_newcomer_never_jumps_the_line() {
        let slots = BuildSlots::new(1);
        let running = take(&mut slots.waiter()).await;
        let mut waiting = slots.waiter();
        assert_eq!(ahead(&mut waiting).await, 0);
        drop(running);
        let mut late = slots.waiter();
        assert_eq!(ahead(&mut late).await, 1, "the earlier waiter goes first");
        let _slot = take(&mut waiting).await;
        assert_eq!(slots.limit(), 1);
    }
}
