//! `differential_std`: see `hmap_fuzz::sequential` and design/testing.md ("Fuzzing").
#![no_main]

use hmap_fuzz::sequential::{run, Mode};
use hmap_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| run(&input, Mode::Differential));
