//! The worker threads of `stress` and `crash`. Their panics are expected (`failfast` shared by
//! several threads) and recorded by the runner, so the panic hook keeps them quiet; a panic on
//! any other thread, the main one included, still reaches the previous hook and is printed.
//! And a start line that a failed spawn can call off, where a `Barrier` would keep the threads
//! already spawned waiting forever for one that never came.

use std::cell::Cell;
use std::panic;
use std::sync::{Condvar, Mutex, Once, PoisonError};

thread_local! {
    /// Whether this thread's panics are recorded by the runner that spawned it.
    static RECORDED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a worker whose panics its runner records, and installs (once
/// per process) the hook that keeps those panics quiet and hands every other one on.
pub(crate) fn record_panics_of_this_thread() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while the thread's locals are being destroyed is not ours.
            if !RECORDED.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
    RECORDED.with(|recorded| recorded.set(true));
}

/// A `Barrier` for `expected` threads that can be called off.
#[derive(Debug)]
pub(crate) struct StartLine {
    expected: usize,
    /// Threads arrived, and the outcome once decided: `Some(true)` go, `Some(false)` called off.
    state: Mutex<(usize, Option<bool>)>,
    decided: Condvar,
}

impl StartLine {
    pub(crate) fn new(expected: usize) -> StartLine {
        StartLine {
            expected,
            state: Mutex::new((0, None)),
            decided: Condvar::new(),
        }
    }

    /// Waits until all `expected` threads have arrived (true) or the start is called off (false).
    pub(crate) fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += 1;
        if state.0 == self.expected && state.1.is_none() {
            state.1 = Some(true);
            self.decided.notify_all();
        }
        loop {
            if let Some(go) = state.1 {
                return go;
            }
            state = self
                .decided
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sends every waiting thread, and any that arrives later, home.
    pub(crate) fn call_off(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1.get_or_insert(false);
        self.decided.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[test]
    fn only_the_panics_of_marked_threads_are_kept_quiet() {
        static PRINTED: AtomicUsize = AtomicUsize::new(0);
        // Stands for the default hook; the first `record_panics_of_this_thread` wraps it (no
        // other test of this binary calls it).
        panic::set_hook(Box::new(|_| {
            PRINTED.fetch_add(1, Ordering::SeqCst);
        }));
        let quiet = thread::spawn(|| {
            record_panics_of_this_thread();
            panic!("recorded by its runner")
        })
        .join();
        let loud = thread::spawn(|| panic!("nobody records this one")).join();
        // Back to the default hook for the other tests.
        drop(panic::take_hook());
        assert!(quiet.is_err() && loud.is_err());
        assert_eq!(PRINTED.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_called_off_start_line_releases_the_threads_waiting_at_it() {
        let line = StartLine::new(3);
        let went: Vec<bool> = thread::scope(|s| {
            let waiting: Vec<_> = (0..2).map(|_| s.spawn(|| line.wait())).collect();
            // The third thread never comes.
            line.call_off();
            waiting.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(went, [false, false]);
    }

    #[test]
    fn a_full_start_line_lets_every_thread_go() {
        let line = StartLine::new(3);
        thread::scope(|s| {
            let waiting: Vec<_> = (0..3).map(|_| s.spawn(|| line.wait())).collect();
            assert!(waiting.into_iter().all(|w| w.join().unwrap()));
        });
    }
}
