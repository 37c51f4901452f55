//! `resize_race`: 2–3 threads on a tiny `ConcurrentHashMap` across a growth, interleaved by the
//! input itself through hmap's deterministic scheduler (`hmap::sched`, feature `sched`), checked
//! for per-key linearizability, iteration, the final state and the map's invariants. The harness
//! is `hmap::sched::race` (one copy, shared with `tests/resize_race.rs`); design/testing.md,
//! "Deterministic scheduler", has the input layout. Deterministic: an artifact replays exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hmap::sched::race::check(data));
