//! A deterministic scheduler for real threads, driven by bytes: the `resize_race` fuzz target
//! and its test twin (`tests/resize_race.rs`) let their input choose how 2–3 threads working on
//! a [`ConcurrentHashMap`](crate::ConcurrentHashMap) interleave across a growth, so that a
//! failure replays exactly from its input. Compiled only with the doc-hidden, non-default
//! `sched` feature; not part of the crate's API.
//!
//! - `scheduler.rs`: [`run`] and [`session`]. Every facade operation of `crate::sync` is a
//!   scheduling point with the feature on; `point()` and `blocked()` are one thread-local
//!   check, and nothing else, on a thread the scheduler did not start.
//! - [`race`]: the harness that decodes an input into a tiny growing map, per-thread operation
//!   lists and a schedule, runs them, and checks the outcome (per-key linearizability against a
//!   sequential model, the exact final state, iteration, `len`, the map's invariants).
//!
//! Why not shuttle or loom: both run every task on one OS thread or their own runtime, so the
//! map's `thread_local!` state (handle slots, `thread_token`) would be shared by all tasks
//! (verification.md §2e). Here each logical thread is a real OS thread, and only the token
//! passed between them decides which one runs. Design and limits: design/testing.md,
//! "Deterministic scheduler".
#![forbid(unsafe_code)]

mod linearize;
pub mod race;
mod scheduler;
#[cfg(test)]
mod tests;

pub(crate) use self::scheduler::{blocked, is_scheduled, point, token, DETERMINISTIC_SLOTS};
pub use self::scheduler::{
    run, session, RunReport, MAX_CHOICES, MAX_POINTS, MAX_THREADS, SWITCH_MIN,
};
