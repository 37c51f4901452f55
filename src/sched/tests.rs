//! Tests of the scheduler itself: determinism, the byte mapping, blocking, panics, tokens.

use std::sync::{Arc, Mutex};

use super::{run, session, RunReport, SWITCH_MIN};
use crate::sync::{spin_loop, AtomicBool, AtomicUsize, Ordering::SeqCst};

type Threads = Vec<Box<dyn FnOnce() + Send>>;
/// `(thread, step)` in the order the threads logged them.
type Log = Arc<Mutex<Vec<(usize, usize)>>>;

/// `count` threads, each doing `steps` facade loads and logging `(thread, step)` between them.
fn logging_threads(count: usize, steps: usize) -> (Threads, Log) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let cell = Arc::new(AtomicUsize::new(0));
    let threads = (0..count)
        .map(|thread| {
            let log = Arc::clone(&log);
            let cell = Arc::clone(&cell);
            Box::new(move || {
                for step in 0..steps {
                    cell.load(SeqCst);
                    log.lock().expect("log").push((thread, step));
                }
            }) as Box<dyn FnOnce() + Send>
        })
        .collect();
    (threads, log)
}

/// A deterministic byte string with switch bytes at about one point in `one_in`.
fn bytes(seed: u64, len: usize, one_in: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % one_in == 0 {
                SWITCH_MIN + (state >> 32) as u8 % 16
            } else {
                (state >> 40) as u8 % SWITCH_MIN
            }
        })
        .collect()
}

#[test]
fn same_bytes_give_the_same_interleaving() {
    for seed in 0..20 {
        let choices = bytes(seed, 200, 3);
        let (threads, log_a) = logging_threads(3, 30);
        let a = run(threads, &choices);
        let (threads, log_b) = logging_threads(3, 30);
        let b = run(threads, &choices);
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(a, b, "seed {seed}");
        assert_eq!(*log_a.lock().expect("log"), *log_b.lock().expect("log"));
        assert!(
            a.switches > 3,
            "seed {seed}: the bytes should switch: {a:?}"
        );
    }
}

#[test]
fn the_log_follows_the_trace() {
    // Only the token holder runs: the order in which threads log is the order of the trace.
    let choices = bytes(7, 300, 4);
    let (threads, log) = logging_threads(3, 40);
    let report = run(threads, &choices);
    let mut from_trace = Vec::new();
    for &(thread, points) in &report.trace {
        from_trace.extend(std::iter::repeat_n(thread, points));
    }
    // Each load is followed by one log push, so the thread of the k-th point logged k-th.
    let logged: Vec<usize> = log.lock().expect("log").iter().map(|&(t, _)| t).collect();
    assert_eq!(logged, from_trace);
}

#[test]
fn without_bytes_each_thread_runs_to_completion_in_order() {
    let (threads, _) = logging_threads(3, 5);
    let report = run(threads, &[]);
    assert_eq!(report.trace, vec![(0, 5), (1, 5), (2, 5)]);
    assert_eq!(report.choices_used, 0);
}

#[test]
fn a_switch_byte_switches_and_other_bytes_do_not() {
    // Thread 0: point 1 keeps running (0x00); at point 2, 0xF0 switches to the first other
    // thread. Thread 1: point 1 keeps running; at point 2, 0xF0 switches back. The bytes have
    // run out: thread 0 runs to completion, then thread 1.
    let (threads, _) = logging_threads(2, 3);
    let report = run(threads, &[0x00, SWITCH_MIN, 0xEF, SWITCH_MIN]);
    assert_eq!(report.trace, vec![(0, 1), (1, 1), (0, 2), (1, 2)]);
    assert_eq!((report.choices_used, report.points), (4, 6));
    // With three threads, 0xF1 from thread 0 picks the second other one: thread 2, before
    // thread 0 ran its first operation. Then round robin: 0, 1.
    let (threads, log) = logging_threads(3, 1);
    let report = run(threads, &[SWITCH_MIN + 1]);
    assert_eq!(report.trace, [(2, 1), (0, 1), (1, 1)]);
    assert_eq!(*log.lock().expect("log"), [(2, 0), (0, 0), (1, 0)]);
}

#[test]
fn a_blocked_thread_hands_over_to_the_holder() {
    // Thread 0 takes a flag lock and is switched out while holding it; thread 1 spins on it,
    // which must give the token back, or the run would never end.
    for seed in 0..50 {
        let lock = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Threads = (0..3)
            .map(|_| {
                let lock = Arc::clone(&lock);
                let counter = Arc::clone(&counter);
                Box::new(move || {
                    for _ in 0..5 {
                        while lock.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
                            spin_loop();
                        }
                        // A non-atomic increment made of two points: correct only under the lock.
                        let value = counter.load(SeqCst);
                        counter.store(value + 1, SeqCst);
                        lock.store(false, SeqCst);
                    }
                }) as Box<dyn FnOnce() + Send>
            })
            .collect();
        let report = run(threads, &bytes(seed, 400, 2));
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(counter.load(SeqCst), 15, "seed {seed}");
    }
}

#[test]
fn panics_are_reported_and_the_others_finish() {
    let done = Arc::new(AtomicUsize::new(0));
    let first = Arc::clone(&done);
    let second = Arc::clone(&done);
    let report = run(
        vec![
            Box::new(move || {
                first.load(SeqCst);
                panic!("planted");
            }),
            Box::new(move || {
                second.fetch_add(1, SeqCst);
            }),
        ],
        &[SWITCH_MIN],
    );
    assert_eq!(report.panics, vec![(0, "planted".to_owned())]);
    assert_eq!(done.load(SeqCst), 1);
}

#[test]
fn a_thread_waiting_for_nobody_is_a_deadlock() {
    let flag = Arc::new(AtomicBool::new(false));
    let report: RunReport = run(
        vec![Box::new(move || {
            while !flag.load(SeqCst) {
                spin_loop();
            }
        })],
        &[],
    );
    assert_eq!(report.panics.len(), 1);
    assert!(report.panics[0].1.contains("deadlock"), "{report:?}");
}

#[test]
fn two_threads_spinning_on_each_other_are_stopped() {
    let a = Arc::new(AtomicBool::new(false));
    let b = Arc::new(AtomicBool::new(false));
    let threads: Threads = vec![
        {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            Box::new(move || {
                a.store(true, SeqCst);
                while b.load(SeqCst) {
                    spin_loop();
                }
            })
        },
        Box::new(move || {
            b.store(true, SeqCst);
            while a.load(SeqCst) {
                spin_loop();
            }
        }),
    ];
    // Thread 0 sets its flag, then the byte switches to thread 1 before it checks.
    let report = run(threads, &[0, SWITCH_MIN]);
    assert!(!report.panics.is_empty());
    // The first one to give up reports the livelock; the other then waits alone (deadlock), or
    // reaches the bound too.
    assert!(
        report.panics[0].1.contains("livelock"),
        "{:?}",
        report.panics
    );
}

#[test]
fn tokens_are_deterministic_within_a_session() {
    let tokens = |_: ()| {
        session(|| {
            let host = crate::sync::thread_token();
            let seen = Arc::new(Mutex::new(vec![0; 3]));
            let threads: Threads = (0..3)
                .map(|i| {
                    let seen = Arc::clone(&seen);
                    Box::new(move || seen.lock().expect("seen")[i] = crate::sync::thread_token())
                        as Box<dyn FnOnce() + Send>
                })
                .collect();
            assert!(run(threads, &[]).is_ok());
            let seen = seen.lock().expect("seen").clone();
            (host, seen)
        })
    };
    let (host, seen) = tokens(());
    let (host_again, seen_again) = tokens(());
    assert_ne!(host, host_again, "sessions get fresh tokens");
    // ... which every slot-table segment of up to 1024 slots maps to the same slots.
    assert_eq!(host & 1023, 0);
    assert_eq!(host_again & 1023, 0);
    assert_eq!(seen.iter().map(|t| t & 1023).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        seen_again.iter().map(|t| t & 1023).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(!super::is_scheduled(), "the session ended");
}

#[test]
fn threads_outside_the_scheduler_are_not_affected() {
    // A plain thread hammering facade atomics and spinning while runs go on in parallel: its
    // points are no-ops and it never waits for a token.
    let started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let plain = {
        let (started, stop) = (Arc::clone(&started), Arc::clone(&stop));
        std::thread::spawn(move || {
            let counter = AtomicUsize::new(0);
            started.store(true, SeqCst);
            while !stop.load(SeqCst) || counter.load(SeqCst) < 1000 {
                counter.fetch_add(1, SeqCst);
                spin_loop();
            }
            assert!(super::token().is_none());
            counter.load(SeqCst)
        })
    };
    while !started.load(SeqCst) {
        std::thread::yield_now();
    }
    for seed in 0..20 {
        let (threads, _) = logging_threads(2, 20);
        assert!(run(threads, &bytes(seed, 50, 3)).is_ok());
    }
    stop.store(true, SeqCst);
    assert!(plain.join().expect("plain thread") >= 1000);
    assert!(super::token().is_none());
}

/// `AuditedMap` caches the calling thread's entry; a pooled OS thread runs one logical thread
/// after another, each with its own token, and each must be counted as itself. Found by a review
/// in session 31: the second run's thread was recorded under the first one's token.
#[test]
fn audited_map_tells_the_logical_threads_of_a_pooled_thread_apart() {
    use crate::wrappers::{AuditedMap, SharedMap};
    let map = Arc::new(AuditedMap::new(crate::ConcurrentHashMap::<u64, u64>::new()));
    for key in [1u64, 2] {
        let map = Arc::clone(&map);
        let report = run(vec![Box::new(move || map.store(key, key))], &[]);
        assert!(report.is_ok(), "{report:?}");
    }
    let report = map.report();
    let token = |key: &str| {
        let key = report.key(key).expect("accessed");
        assert_eq!(key.writes, 1);
        key.last_thread.as_ref().expect("accessed").token
    };
    assert_ne!(token("1"), token("2"), "{report:#?}");
    assert_eq!(report.threads.len(), 2, "{report:#?}");
}
