//! The scheduler: real OS threads, one running at a time, switched at the facade's points by
//! the bytes of a fuzz input.
//!
//! # Model
//! [`run`] starts each closure on its own OS thread (from a pool kept for the process) and
//! passes a token between them: only the thread holding it runs; the others wait (they yield a
//! few times, then sleep on a condition variable). The token moves only at a *point* (every
//! facade atomic operation and `fence`, [`point`]), at a *block* (`spin_loop` / `yield_now`:
//! the thread waits for another one, [`blocked`]) and when a thread finishes. All shared memory
//! the map touches is therefore accessed by one thread at a time, and the order of those
//! accesses is a function of the bytes alone: a failing input replays exactly, in a fresh
//! process too.
//!
//! # Bytes → decisions
//! At each point the running thread consumes the next byte `b` of `choices`:
//! - `b < SWITCH_MIN` (0x00–0xEF, 15 values in 16): keep running.
//! - `b ≥ SWITCH_MIN` (0xF0–0xFF): switch to another unfinished thread, the
//!   `(b − SWITCH_MIN) mod k`-th of the `k` others counting cyclically after the current one.
//!   With no other thread left, keep running.
//!
//! Random bytes thus preempt about once per 16 points, and a switch at an exact point is one
//! deliberate byte. Once the bytes run out (or after [`MAX_CHOICES`] of them), points never
//! switch: the running thread runs to completion, then the next unfinished one in index order.
//! At a block the thread always hands the token to the next unfinished thread in index order
//! (round robin, no byte consumed): a thread spinning on a chain lock held by a descheduled
//! thread cannot make progress itself, and round robin reaches the holder within `n − 1` hops.
//!
//! # Determinism
//! - One thread runs at a time, and the token moves only at the decisions above, which depend
//!   only on the bytes and on which threads have finished; code between two points sees the
//!   same memory in every replay.
//! - `crate::sync::thread_token()` returns the scheduler's token on a scheduled thread: a fresh
//!   block of [`TOKENS_PER_SESSION`] numbers per [`session`] (or per `run` outside one), a
//!   multiple of 2^20 above `1 << (usize::BITS - 2)`, plus `1 + 8·(run within the session) +
//!   thread index`; the host of a session gets the block's base. Slots are chosen by
//!   `token & (len − 1)` in each segment of the slot table (at most 2^15 slots per segment),
//!   so every replay claims the same handle slots, and tokens are still unique in the process.
//! - A map created on a scheduled thread (or in a session) has a fixed number of handle slots
//!   (`DETERMINISTIC_SLOTS`, 16), not one that depends on the machine's core count.
//! - A logical thread's end (and a session's end, for its host) gives back the handle slots the
//!   thread claimed, as a thread's exit would: the pool thread lives on, and its thread-local
//!   list of slots would otherwise carry one input's maps into the next.
//! - What the scheduler cannot see stays outside the interleaving: crossbeam-epoch's own
//!   atomics are not points, so each of its operations runs without a switch (it is lock-free
//!   and never waits for another thread). Its deferred destructors call back into the map's code
//!   and may be preempted there.
//!
//! # Limits
//! - A run that reaches [`MAX_POINTS`] points panics in the running thread ("livelock"), and a
//!   thread that keeps blocking while every other thread has finished panics ("deadlock"): a
//!   fuzz input can never hang the process.
//! - A panicking thread counts as finished; its message is reported in [`RunReport::panics`]
//!   after every thread has finished.
//! - Interleavings only: every access is sequentially consistent here, so a too-weak memory
//!   ordering is invisible (that is loom's job).

#![allow(
    clippy::disallowed_types,
    reason = "the scheduler's own handoff (`Run::current`) must not be a scheduling point, so it \
              uses std's atomic, not the facade's"
)]

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The smallest byte value that switches threads at a point.
pub const SWITCH_MIN: u8 = 0xF0;

/// At most this many choice bytes are consumed per run; later points never switch.
pub const MAX_CHOICES: usize = 1 << 16;

/// A run that reaches this many points is stopped with a panic (a livelock or a deadlock among
/// spinning threads). Correct runs of the race harness take a few thousand.
pub const MAX_POINTS: usize = 50_000;

/// Threads per run.
pub const MAX_THREADS: usize = 8;

/// Handle slots of a map created on a scheduled thread (see `Reclaimer::default_slots`).
pub(crate) const DETERMINISTIC_SLOTS: usize = 16;

/// Times a waiting thread yields its core, checking for the token, before it sleeps. Measured
/// on the 2-core VM (1000 harness runs, release): sleeping at once 1.7 s; spinning with
/// `spin_loop` first 2–15 s (pause-loop exits under virtualization); yielding 30 times 0.39 s.
const HANDOFF_YIELDS: usize = 30;

/// Tokens per session (see "Determinism"); a multiple of the largest segment of a slot table
/// (2^15 slots; a table holds at most 2^16), so home positions repeat across sessions.
const TOKENS_PER_SESSION: usize = 1 << 20;

/// Blocks a logical thread may make while every other thread has finished, before it is
/// declared deadlocked. A correct thread makes at most one backoff loop's worth (63 spins) before
/// it looks at the lock again and finds it free.
const WAIT_ALONE_LIMIT: usize = 10_000;

/// Spins a session's host may make before it is declared deadlocked (it runs alone: whatever it
/// waits for can never happen).
const HOST_SPIN_LIMIT: usize = 1 << 20;

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// `(thread, message)` of every thread that panicked, in the order they panicked.
    pub panics: Vec<(usize, String)>,
    /// Points reached (all threads).
    pub points: usize,
    /// Times the token moved to another thread (at points, blocks and finishes).
    pub switches: usize,
    /// Choice bytes consumed.
    pub choices_used: usize,
    /// The interleaving: `(thread, points it ran)` for each stretch between two switches.
    pub trace: Vec<(usize, usize)>,
}

impl RunReport {
    /// Whether no thread panicked.
    pub fn is_ok(&self) -> bool {
        self.panics.is_empty()
    }
}

/// What the scheduler knows about the current thread.
enum Context {
    /// The thread that called [`session`]: deterministic token, never switched.
    Host {
        base: usize,
        runs: usize,
        spins: usize,
    },
    /// Thread `index` of a run.
    Logical {
        run: Arc<Run>,
        index: usize,
        token: usize,
    },
}

std::thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
    /// Whether `CONTEXT` is set: the hooks' fast path on every other thread is this one load
    /// (a `const`, destructor-free thread-local, so no lazy-initialization check either).
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Sets the current thread's context (`None`: not scheduled any more).
fn set_context(context: Option<Context>) {
    let scheduled = context.is_some();
    let _ = CONTEXT.try_with(|slot| *slot.borrow_mut() = context);
    let _ = SCHEDULED.try_with(|flag| flag.set(scheduled));
}

/// Whether the current thread is a logical thread or a session host (one thread-local load).
#[inline(always)]
fn scheduled() -> bool {
    SCHEDULED.try_with(Cell::get).unwrap_or(false)
}

/// One run's shared state.
struct Run {
    state: Mutex<State>,
    /// `State::current`, readable without the lock, for a waiting thread's spin phase.
    current: StdAtomicUsize,
    /// `turns[i]` is signalled when thread `i` becomes the running thread and sleeps.
    turns: Vec<Condvar>,
    /// Signalled when the last thread finishes.
    done: Condvar,
}

struct State {
    /// The thread holding the token.
    current: usize,
    /// Whether thread `i` sleeps on `turns[i]` (it gave up spinning).
    sleeping: Vec<bool>,
    finished: Vec<bool>,
    unfinished: usize,
    choices: Vec<u8>,
    cursor: usize,
    /// Blocks with no other unfinished thread (see `blocked`).
    waits_alone: usize,
    report: RunReport,
}

impl Run {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic inside the scheduler itself, never while user code
        // holds it; the state is still consistent (every update is a single assignment).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `index` holds the token: yields a few times first (a switch is often
    /// answered by a switch back a few points later, and a futex sleep and wake-up costs tens of
    /// microseconds here), then sleeps.
    fn wait_turn(&self, index: usize) {
        for _ in 0..HANDOFF_YIELDS {
            // ORDERING: Acquire. Pairs with the Release store in `hand_over`: what the previous
            // holder did happens before what this thread does next.
            if self.current.load(StdOrdering::Acquire) == index {
                return;
            }
            std::thread::yield_now();
        }
        let mut state = self.lock();
        state.sleeping[index] = true;
        while state.current != index {
            state = self.turns[index]
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.sleeping[index] = false;
    }

    /// Hands the token from `from` to `to` and waits until it comes back.
    fn switch(&self, mut state: MutexGuard<'_, State>, from: usize, to: usize) {
        self.hand_over(&mut state, to);
        drop(state);
        self.wait_turn(from);
    }

    /// Gives the token to `to` (the caller holds the lock).
    fn hand_over(&self, state: &mut State, to: usize) {
        state.current = to;
        // ORDERING: Release. Pairs with the Acquire load in `wait_turn`.
        self.current.store(to, StdOrdering::Release);
        if state.sleeping[to] {
            self.turns[to].notify_one();
        }
        state.report.switches += 1;
        let trace = &mut state.report.trace;
        // A stretch in which the thread ran no point (it was switched out at its first one) is
        // dropped, and the stretches around it merge.
        if trace.last().is_some_and(|&(_, points)| points == 0) {
            trace.pop();
        }
        if trace.last().is_none_or(|&(thread, _)| thread != to) {
            trace.push((to, 0));
        }
    }

    /// Counts a point of the running thread (after the decision taken at it: the operation that
    /// follows is executed by the thread that holds the token then).
    fn count_point(state: &mut State) {
        state.report.points += 1;
        if let Some(last) = state.report.trace.last_mut() {
            last.1 += 1;
        }
    }

    /// The `nth` unfinished thread after `from`, cyclically, other than `from`.
    fn other(state: &State, from: usize, nth: usize) -> Option<usize> {
        let n = state.finished.len();
        let others: Vec<usize> = (1..n)
            .map(|step| (from + step) % n)
            .filter(|&i| !state.finished[i])
            .collect();
        if others.is_empty() {
            None
        } else {
            Some(others[nth % others.len()])
        }
    }
}

/// The calling thread's run and index, if it is a logical thread.
fn logical() -> Option<(Arc<Run>, usize)> {
    CONTEXT
        .try_with(|context| match &*context.borrow() {
            Some(Context::Logical { run, index, .. }) => Some((Arc::clone(run), *index)),
            _ => None,
        })
        .ok()
        .flatten()
}

/// The deterministic token of a scheduled thread (logical thread or session host).
#[inline]
pub(crate) fn token() -> Option<usize> {
    if !scheduled() {
        return None;
    }
    CONTEXT
        .try_with(|context| match &*context.borrow() {
            Some(Context::Host { base, .. }) => Some(*base),
            Some(Context::Logical { token, .. }) => Some(*token),
            None => None,
        })
        .ok()
        .flatten()
}

/// Whether the current thread is a logical thread or a session host.
pub(crate) fn is_scheduled() -> bool {
    scheduled()
}

/// A scheduling point: on a logical thread, consume a choice byte and maybe switch.
#[inline(always)]
pub(crate) fn point() {
    if scheduled() {
        scheduled_point();
    }
}

#[cold]
#[inline(never)]
fn scheduled_point() {
    let Some((run, index)) = logical() else {
        return;
    };
    let mut state = run.lock();
    debug_assert_eq!(state.current, index, "only the token holder runs");
    if state.report.points >= MAX_POINTS {
        drop(state);
        if !std::thread::panicking() {
            panic!(
                "sched: the run reached {MAX_POINTS} points (livelock, or threads spinning on \
                 each other)"
            );
        }
        return;
    }
    if state.cursor < state.choices.len() {
        let byte = state.choices[state.cursor];
        state.cursor += 1;
        state.report.choices_used = state.cursor;
        if byte >= SWITCH_MIN {
            if let Some(to) = Run::other(&state, index, usize::from(byte - SWITCH_MIN)) {
                run.switch(state, index, to);
                state = run.lock();
            }
        }
    }
    Run::count_point(&mut state);
}

/// The current thread waits for another one (`spin_loop`, `yield_now`): on a logical thread,
/// hand the token to the next unfinished thread.
///
/// # Panics
/// "deadlock" if the thread keeps waiting while no other thread can run (every other one
/// finished, or the thread is a session's host).
#[inline(always)]
pub(crate) fn blocked() {
    if scheduled() {
        scheduled_block();
    }
}

#[cold]
#[inline(never)]
fn scheduled_block() {
    let host_spins = CONTEXT
        .try_with(|context| match &mut *context.borrow_mut() {
            Some(Context::Host { spins, .. }) => {
                *spins += 1;
                Some(*spins)
            }
            _ => None,
        })
        .ok()
        .flatten();
    if host_spins.is_some_and(|spins| spins > HOST_SPIN_LIMIT) && !std::thread::panicking() {
        panic!("sched: deadlock: the session host keeps waiting, and nothing else runs");
    }
    let Some((run, index)) = logical() else {
        return;
    };
    let mut state = run.lock();
    match Run::other(&state, index, 0) {
        Some(to) => run.switch(state, index, to),
        None => {
            // Alone: the thread may still be in its backoff loop, about to find the lock free
            // (its holder finished). Only a thread that keeps waiting alone is deadlocked.
            state.waits_alone += 1;
            let waits = state.waits_alone;
            drop(state);
            if waits > WAIT_ALONE_LIMIT && !std::thread::panicking() {
                panic!(
                    "sched: deadlock: thread {index} keeps waiting for another thread, and every \
                     other thread has finished"
                );
            }
        }
    }
}

/// Runs `f` on the current thread as the host of a deterministic session: inside, the thread
/// gets a deterministic token and maps it creates have `DETERMINISTIC_SLOTS` (16) handle slots, so
/// that what the host does before and after [`run`] (filling the map, auditing it) claims the
/// same slots in every replay. Runs started inside take their tokens from the session.
///
/// # Panics
/// If the thread is already scheduled (a nested session, or a session on a logical thread).
pub fn session<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            // As at the end of a logical thread: the host's thread-local list of handle slots
            // would keep this session's maps' slot tables until its next pin (see `IDLE`).
            let _ = catch_unwind(crate::concurrent::release_thread_slots);
            set_context(None);
        }
    }
    assert!(!is_scheduled(), "sched: sessions do not nest");
    let base = next_session_base();
    set_context(Some(Context::Host {
        base,
        runs: 0,
        spins: 0,
    }));
    let _leave = Leave;
    f()
}

/// The first token of a fresh session.
fn next_session_base() -> usize {
    static SESSIONS: Mutex<usize> = Mutex::new(0);
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let session = *sessions;
    *sessions += 1;
    (1 << (usize::BITS - 2)) + session * TOKENS_PER_SESSION
}

/// The tokens of the next run: the session's if the caller hosts one, else a fresh session's.
fn run_token_base() -> usize {
    let in_session = CONTEXT
        .try_with(|context| match &mut *context.borrow_mut() {
            Some(Context::Host { base, runs, .. }) => {
                let first = *base + 1 + *runs * MAX_THREADS;
                *runs += 1;
                Some(first)
            }
            _ => None,
        })
        .ok()
        .flatten();
    in_session.unwrap_or_else(|| next_session_base() + 1)
}

/// Runs `threads` interleaved as `choices` says (module documentation), each on its own OS
/// thread, one at a time; returns when all have finished, panicking or not. Thread 0 starts.
///
/// # Panics
/// With more than [`MAX_THREADS`] threads, or when called from a logical thread.
pub fn run(threads: Vec<Box<dyn FnOnce() + Send>>, choices: &[u8]) -> RunReport {
    assert!(
        threads.len() <= MAX_THREADS,
        "sched: at most {MAX_THREADS} threads"
    );
    assert!(logical().is_none(), "sched: runs do not nest");
    let count = threads.len();
    if count == 0 {
        return RunReport::default();
    }
    let base = run_token_base();
    let run = Arc::new(Run {
        state: Mutex::new(State {
            current: 0,
            sleeping: vec![false; count],
            finished: vec![false; count],
            unfinished: count,
            choices: choices[..choices.len().min(MAX_CHOICES)].to_vec(),
            cursor: 0,
            waits_alone: 0,
            report: RunReport {
                trace: vec![(0, 0)],
                ..RunReport::default()
            },
        }),
        current: StdAtomicUsize::new(0),
        turns: (0..count).map(|_| Condvar::new()).collect(),
        done: Condvar::new(),
    });
    for (index, body) in threads.into_iter().enumerate() {
        let run = Arc::clone(&run);
        let token = base + index;
        execute(Box::new(move || logical_thread(run, index, token, body)));
    }
    let report = {
        let mut state = run.lock();
        while state.unfinished > 0 {
            state = run.done.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        std::mem::take(&mut state.report)
    };
    // The last thread's final step still holds the run for a moment after it said "done": wait
    // for it, so that the run's memory is freed before `run` returns (see `IDLE`).
    while Arc::strong_count(&run) > 1 {
        std::thread::yield_now();
    }
    report
}

/// The life of logical thread `index` on a pool thread. Returns the step that hands the token
/// on, which the pool thread takes once it is back in the pool (so that a run never ends before
/// its pool threads are free again).
fn logical_thread(
    run: Arc<Run>,
    index: usize,
    token: usize,
    body: Box<dyn FnOnce() + Send>,
) -> Box<dyn FnOnce() + Send> {
    set_context(Some(Context::Logical {
        run: Arc::clone(&run),
        index,
        token,
    }));
    run.wait_turn(index);
    // The closure (and everything it captured) is consumed inside, so its drops are scheduled
    // like the rest of its code.
    let outcome = catch_unwind(AssertUnwindSafe(body));
    // What the thread's exit would do, since its OS thread lives on: give back the map handle
    // slots it owns (their thread-local list would otherwise keep dead maps' slot tables).
    let _ = catch_unwind(crate::concurrent::release_thread_slots);
    set_context(None);
    Box::new(move || {
        let mut state = run.lock();
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a panic with a non-string payload)".to_owned());
            state.report.panics.push((index, message));
        }
        state.finished[index] = true;
        state.unfinished -= 1;
        if state.unfinished == 0 {
            run.done.notify_all();
        } else {
            // Round robin after the finished thread: the next unfinished one in index order.
            let to = Run::other(&state, index, 0).expect("another thread is unfinished");
            run.hand_over(&mut state, to);
        }
    })
}

/// A job for a pool thread: runs a logical thread, returns its last step.
type Job = Box<dyn FnOnce() -> Box<dyn FnOnce() + Send> + Send>;

/// A pool thread's mailbox: the job it is to run next.
#[derive(Default)]
struct Worker {
    job: Mutex<Option<Job>>,
    posted: Condvar,
}

/// Idle pool threads.
///
/// Pool threads live as long as the process. A run allocates nothing that outlives it (no
/// channel blocks, no thread-local lists): libFuzzer runs a full LeakSanitizer scan after
/// every input that made more allocations than frees, which made `resize_race` 50 times slower.
static IDLE: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

/// Runs `job` on an idle pool thread, or on a new one.
fn execute(job: Job) {
    let idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let worker = idle.unwrap_or_else(spawn_pool_thread);
    *worker.job.lock().unwrap_or_else(PoisonError::into_inner) = Some(job);
    worker.posted.notify_one();
}

/// A new pool thread, waiting for jobs in its mailbox.
fn spawn_pool_thread() -> Arc<Worker> {
    let worker = Arc::new(Worker::default());
    let own = Arc::clone(&worker);
    std::thread::Builder::new()
        .name("hmap-sched".to_owned())
        .spawn(move || loop {
            let job = {
                let mut job = own.job.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if let Some(job) = job.take() {
                        break job;
                    }
                    job = own.posted.wait(job).unwrap_or_else(PoisonError::into_inner);
                }
            };
            let finish = job();
            IDLE.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::clone(&own));
            finish();
        })
        .expect("sched: cannot spawn a pool thread");
    worker
}
