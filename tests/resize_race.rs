//! The `resize_race` fuzz target's twin: the same harness (`hmap::sched::race`), fed thousands of
//! pseudo-random inputs, as an ordinary test. 2–3 threads race on a tiny map across a growth,
//! interleaved by the deterministic scheduler; every run is checked for per-key linearizability,
//! iteration, the final state, `len` and the map's invariants. A failure prints its input, which
//! replays exactly (`replay` below, or the fuzz target; both builds have debug assertions, which
//! add scheduling points of their own).
//!
//! ```sh
//! cargo test --features sched --test resize_race
//! ```
#![cfg(feature = "sched")]

use hmap::sched::race::{self, Case, Growth, Op, CHOICES_AT};
use hmap::sched::SWITCH_MIN;

/// A small xorshift generator: the inputs are the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random input: a random header and operations, then a schedule whose switch density
/// varies between inputs (from every other point to one in 64), so that both long stretches and
/// fine interleavings are tried.
fn input(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut data: Vec<u8> = (0..CHOICES_AT).map(|_| rng.next() as u8).collect();
    let one_in = [2, 4, 8, 16, 64][rng.below(5) as usize];
    let schedule = 100 + rng.below(1500) as usize;
    data.extend((0..schedule).map(|_| {
        if rng.below(one_in) == 0 {
            SWITCH_MIN + rng.below(16) as u8
        } else {
            rng.below(u64::from(SWITCH_MIN)) as u8
        }
    }));
    data
}

/// Runs inputs `seeds`, failing with the first failing input in hex. With
/// `RESIZE_RACE_VERBOSE` set, each seed is printed before it runs (for a bug that crashes the
/// process instead of failing a check).
fn run_seeds(seeds: std::ops::Range<u64>) -> Vec<race::RaceStats> {
    let verbose = std::env::var_os("RESIZE_RACE_VERBOSE").is_some();
    seeds
        .map(|seed| {
            let data = input(seed);
            if verbose {
                eprintln!("seed {seed}");
            }
            race::run_case(&Case::decode(&data)).unwrap_or_else(|failure| {
                let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                panic!("seed {seed} failed; input (hex) {hex}\n{failure}")
            })
        })
        .collect()
}

#[test]
fn random_races_across_growths_are_linearizable_part_1() {
    let stats = run_seeds(0..1500);
    // The harness must actually race growths: most runs start inside one or start one.
    let growing = stats
        .iter()
        .filter(|s| s.growing_at_start || s.growths_during > 0)
        .count();
    assert!(
        growing * 10 >= stats.len() * 8,
        "only {growing} of {} runs grew",
        stats.len()
    );
    // ... and `retain` and `clear` must race them too.
    let aggregates = (0..1500)
        .zip(&stats)
        .filter(|&(seed, s)| {
            let case = Case::decode(&input(seed));
            let aggregate = case
                .threads
                .iter()
                .flatten()
                .any(|op| matches!(op, Op::Retain(_) | Op::Clear));
            aggregate && (s.growing_at_start || s.growths_during > 0)
        })
        .count();
    assert!(
        aggregates * 4 >= stats.len(),
        "only {aggregates} runs raced retain or clear with a growth"
    );
    let switched = stats.iter().filter(|s| s.report.switches > 2).count();
    assert!(
        switched * 10 >= stats.len() * 8,
        "only {switched} runs interleaved"
    );
}

#[test]
fn random_races_across_growths_are_linearizable_part_2() {
    run_seeds(1500..3000);
}

/// The random inputs rarely start a growth under a `retain`'s walk (4 of the 3000 runs above),
/// so this case aims at it: one thread retains while the other inserts new keys into a map at
/// its growth threshold, under random schedules. The walk must restart on the new table when it
/// meets an evacuated chain, and the predicate then sees some keys again.
#[test]
fn retain_restarts_when_the_next_growth_starts_under_it() {
    let mut restarts = 0;
    for seed in 0..400 {
        let mut data = input(seed);
        // Two threads, no growth yet (the prefill stops at the threshold), 2^B = 16 chains.
        data[0] = (data[0] & 0b1000_0110) | 0b0110_0000;
        let mut case = Case::decode(&data);
        assert_eq!((case.growth, case.log2), (Growth::AtThreshold, 4));
        case.threads = vec![
            vec![Op::Retain(seed), Op::Get(101)],
            (0..6).map(|i| Op::Insert(20_000 + i, 5000 + i)).collect(),
        ];
        let stats =
            race::run_case(&case).unwrap_or_else(|failure| panic!("seed {seed}: {failure}"));
        restarts += usize::from(stats.retain_repeats > 0);
    }
    // 22 of 400 at the time of writing; the schedules are deterministic, so this changes only
    // when the map's scheduling points do.
    assert!(restarts >= 10, "only {restarts} of 400 retains restarted");
}

#[test]
fn a_replay_is_identical() {
    for seed in 0..50 {
        let case = Case::decode(&input(seed));
        let first = race::run_case(&case).expect("passes");
        let second = race::run_case(&case).expect("passes");
        assert_eq!(first, second, "seed {seed}");
    }
}

#[test]
fn decoding_covers_every_setup() {
    let mut growths = [false; 3];
    let mut computes = 0;
    for seed in 0..200 {
        let case = Case::decode(&input(seed));
        computes += case
            .threads
            .iter()
            .flatten()
            .filter(|op| matches!(op, Op::Compute(..)))
            .count();
        growths[match case.growth {
            Growth::AtThreshold => 0,
            Growth::Doubling => 1,
            Growth::SameSize => 2,
        }] = true;
        assert!((2..=3).contains(&case.threads.len()));
    }
    assert_eq!(growths, [true; 3]);
    assert!(computes > 0, "no compute in 200 random inputs");
    // Short inputs decode too (missing bytes read as 0).
    race::check(&[]);
    race::check(&[0xFF]);
}

/// Replays one input file (a fuzz artifact, or an input printed by a failing test as hex and
/// written out): `RESIZE_RACE_INPUT=path cargo test --features sched --test resize_race replay
/// -- --nocapture`. Does nothing without the variable.
#[test]
fn replay() {
    let Some(path) = std::env::var_os("RESIZE_RACE_INPUT") else {
        return;
    };
    let data = std::fs::read(&path).expect("RESIZE_RACE_INPUT names a readable file");
    let case = Case::decode(&data);
    println!("{case:?}");
    match race::run_case(&case) {
        Ok(stats) => println!("passed: {stats:?}"),
        Err(failure) => panic!("{failure}"),
    }
}
