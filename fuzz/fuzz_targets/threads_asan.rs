//! `threads_asan`: see `hmap_fuzz::threads` and design/testing.md ("Fuzzing"). Built with the
//! default AddressSanitizer of `cargo fuzz run`; nondeterministic (real threads).
#![no_main]

use hmap_fuzz::threads::{run, ThreadsInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: ThreadsInput| run(&input));
