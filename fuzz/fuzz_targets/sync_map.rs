//! `sync_map`: see `hmap_fuzz::sync_map` and design/testing.md ("Fuzzing").
#![no_main]

use hmap_fuzz::sync_map::{run, SyncInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: SyncInput| run(&input));
