//! `concurrent_differential`: see `hmap_fuzz::concurrent` and design/testing.md ("Fuzzing").
#![no_main]

use hmap_fuzz::concurrent::{run, ConcurrentInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: ConcurrentInput| run(&input));
