//! Turns a deadlock into a panic: a `range` callback that calls back into the map whose lock
//! the range holds (Go: calling the map's methods inside its own `Range` while `RLock` is held,
//! which deadlocks as soon as a writer queues).
//!
//! A thread-local list holds the addresses of the maps this thread is ranging over; every
//! operation of [`SafeMap`](super::SafeMap) and [`ShardedMap`](super::ShardedMap) checks it
//! first. The common case (no range on this thread) is one thread-local read of an empty list.
#![deny(unsafe_code)]

use std::cell::RefCell;

std::thread_local! {
    /// Addresses of the maps whose `range` is running on this thread, innermost last.
    static RANGING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Panics if the calling thread is inside a `range` over the map at `map`.
#[inline]
pub(super) fn check(map: *const (), operation: &str) {
    let address = map as usize;
    let inside = RANGING.with(|ranging| {
        let ranging = ranging.borrow();
        !ranging.is_empty() && ranging.contains(&address)
    });
    if inside {
        panic!(
            "hmap: `{operation}` called from inside a `range` callback over the same map; \
             the range holds the map's lock, so this would deadlock"
        );
    }
}

/// Marks the calling thread as ranging over `map` until dropped (also on unwind).
#[derive(Debug)]
pub(super) struct RangeScope {
    address: usize,
}

impl RangeScope {
    pub(super) fn enter(map: *const ()) -> Self {
        let address = map as usize;
        RANGING.with(|ranging| ranging.borrow_mut().push(address));
        Self { address }
    }
}

impl Drop for RangeScope {
    fn drop(&mut self) {
        RANGING.with(|ranging| {
            let mut ranging = ranging.borrow_mut();
            if let Some(at) = ranging.iter().rposition(|&a| a == self.address) {
                ranging.remove(at);
            }
        });
    }
}
