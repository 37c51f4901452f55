//! Turns a deadlock into a panic: a callback that calls back into the map whose lock its caller
//! holds. Go: calling the map's methods inside its own `Range` while `RLock` is held, which
//! deadlocks as soon as a writer queues; and a write from inside a copy-on-write map's update
//! function, which waits for the writer mutex its own thread holds.
//!
//! A thread-local list holds the maps (by address) whose lock this thread holds while it runs a
//! callback, each with the name of the method that runs it (`range`, `modify`); the operations
//! of [`SafeMap`](super::SafeMap) and [`ShardedMap`](super::ShardedMap), and the writes of
//! [`CowMap`](super::CowMap), check it first. The common case (no such callback on this
//! thread) is one thread-local read of an empty list.
//!
//! Once the thread's list has been destroyed (a thread-local destructor that runs after it and
//! writes to a map, such as a per-thread tally flushed on exit), nothing is recorded or checked:
//! the thread runs no callback any more. `with` would panic there, and a panic in a thread-local
//! destructor aborts the process (found by session 30's review).
#![deny(unsafe_code)]

use std::cell::RefCell;

std::thread_local! {
    /// The maps whose lock this thread holds while running a callback, innermost last, with
    /// the method that runs it.
    static INSIDE: RefCell<Vec<(usize, &'static str)>> = const { RefCell::new(Vec::new()) };
}

/// Panics if the calling thread runs a callback of a method of the map at `map` that holds the
/// lock `operation` needs.
#[inline]
pub(super) fn check(map: *const (), operation: &str) {
    let address = map as usize;
    let inside = INSIDE
        .try_with(|inside| {
            let inside = inside.borrow();
            if inside.is_empty() {
                return None;
            }
            inside
                .iter()
                .rev()
                .find(|&&(a, _)| a == address)
                .map(|&(_, method)| method)
        })
        .ok()
        .flatten();
    if let Some(method) = inside {
        panic!(
            "hmap: `{operation}` called from inside a `{method}` callback over the same map; \
             the {method} holds the map's lock, so this would deadlock"
        );
    }
}

/// Marks the calling thread as running a callback of `method` on `map`, which holds the map's
/// lock, until dropped (also on unwind).
#[derive(Debug)]
pub(super) struct CallbackScope {
    address: usize,
}

impl CallbackScope {
    pub(super) fn enter(map: *const (), method: &'static str) -> Self {
        let address = map as usize;
        // A thread whose list is gone records nothing (module docs); its scope's drop then
        // finds nothing to remove.
        let _ = INSIDE.try_with(|inside| inside.borrow_mut().push((address, method)));
        Self { address }
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|inside| {
            let mut inside = inside.borrow_mut();
            if let Some(at) = inside.iter().rposition(|&(a, _)| a == self.address) {
                inside.remove(at);
            }
        });
    }
}
