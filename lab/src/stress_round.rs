//! One stress round, generic over the map: the checked workload of `stress.rs` (whose module
//! docs state the checks), its shared state, and the end-of-round audit.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use hmap::wrappers::SharedMap;

use crate::keys::{hit_key, mix};
use crate::shared::Visit;
use crate::stress::OpMix;
use crate::{interrupt, workers};

/// How many violations are described in full.
pub(crate) const DESCRIBED: usize = 10;

/// One value: a key's stamp, with a checksum over its other fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    key: u64,
    version: u64,
    writer: u64,
    check: u64,
}

impl Stamp {
    fn new(key: u64, version: u64, writer: u64) -> Stamp {
        Stamp {
            key,
            version,
            writer,
            check: Stamp::checksum(key, version, writer),
        }
    }

    fn checksum(key: u64, version: u64, writer: u64) -> u64 {
        mix(key ^ mix(version ^ mix(writer ^ 0x57A3_9C00_DE5E_ED00)))
    }

    /// Whether this stamp is whole and belongs to `key`.
    fn valid_for(&self, key: u64) -> bool {
        self.key == key && self.check == Stamp::checksum(self.key, self.version, self.writer)
    }
}

/// What a round (or a whole map's run) found.
#[derive(Debug, Default)]
pub(crate) struct RoundOutcome {
    pub(crate) ops: u64,
    pub(crate) violations: u64,
    pub(crate) described: Vec<String>,
}

/// Violations found by any thread: a count, and the first few described.
#[derive(Debug, Default)]
struct Violations {
    count: AtomicU64,
    described: Mutex<Vec<String>>,
}

impl Violations {
    #[cold]
    fn report(&self, what: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut described = self
            .described
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if described.len() < DESCRIBED {
            described.push(what);
        }
    }
}

/// One round's parameters, generic over the map through [`Visit`].
pub(crate) struct Round<'a> {
    pub(crate) threads: usize,
    pub(crate) keys: usize,
    pub(crate) mix: OpMix,
    pub(crate) seed: u64,
    pub(crate) length: Duration,
    pub(crate) bar: &'a indicatif::ProgressBar,
    pub(crate) ticks_before: u64,
    pub(crate) map_started: Instant,
}

/// The key of shared key `i`.
fn shared_key(i: usize) -> u64 {
    hit_key(i as u64)
}

/// The key of thread `t`'s owned key `i`.
fn owned_key(keys: usize, t: usize, i: usize) -> u64 {
    hit_key((keys * (t + 1) + i) as u64)
}

/// splitmix64 as a stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// State every worker of a round shares.
struct Board {
    /// Per shared key: the version its writer has started storing, and finished storing.
    started: Vec<AtomicU64>,
    finished: Vec<AtomicU64>,
    stop: AtomicBool,
    ops: AtomicU64,
    violations: Violations,
}

impl Visit for Round<'_> {
    type Value = Stamp;
    /// An error when the round could not start its threads; `None` when a signal stopped it
    /// while the map was being filled, before any worker ran (`interrupt.rs`).
    type Output = Result<Option<RoundOutcome>, String>;

    fn visit<M: SharedMap<u64, Stamp> + Sync>(self, map: M) -> Self::Output {
        let (threads, keys) = (self.threads, self.keys);
        let board = Board {
            started: (0..keys).map(|_| AtomicU64::new(1)).collect(),
            finished: (0..keys).map(|_| AtomicU64::new(1)).collect(),
            stop: AtomicBool::new(false),
            ops: AtomicU64::new(0),
            violations: Violations::default(),
        };
        for i in 0..keys {
            // A large `--keys` on a slow map fills for seconds: a signal stops it here too
            // (found by a black-box test: up to 17 s from the signal to the exit).
            if i % 64 == 0 && interrupt::requested() {
                return Ok(None);
            }
            map.store(
                shared_key(i),
                Stamp::new(shared_key(i), 1, (i % threads) as u64),
            );
        }
        let (models, spawn_error) = thread::scope(|s| {
            let mut workers = Vec::with_capacity(threads);
            let mut spawn_error = None;
            for t in 0..threads {
                let (map, board, round) = (&map, &board, &self);
                let spawned = thread::Builder::new().spawn_scoped(s, move || {
                    // Its panics are caught below and reported as violations.
                    workers::record_panics_of_this_thread();
                    let mut model = vec![None; keys];
                    let result = panic::catch_unwind(AssertUnwindSafe(|| {
                        worker(map, board, round, t, &mut model)
                    }));
                    if let Err(payload) = result {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        board
                            .violations
                            .report(format!("thread {t} panicked: {message}"));
                    }
                    model
                });
                match spawned {
                    Ok(worker) => workers.push(worker),
                    Err(e) => {
                        // The workers already running stop with the round, at once.
                        spawn_error = Some(format!(
                            "cannot start worker thread {} of {threads}: {e}",
                            t + 1
                        ));
                        break;
                    }
                }
            }
            // The clock: stop the round on time, or at the next tick after a signal
            // (`interrupt.rs`); move the bar meanwhile.
            let round_end = Instant::now() + self.length;
            while spawn_error.is_none() && Instant::now() < round_end && !interrupt::requested() {
                thread::sleep(
                    Duration::from_millis(20)
                        .min(round_end.saturating_duration_since(Instant::now())),
                );
                let ticks = (self.map_started.elapsed().as_secs_f64() * 10.0) as u64;
                self.bar.set_position(self.ticks_before + ticks);
            }
            board.stop.store(true, Ordering::Relaxed);
            let models: Vec<Vec<Option<u64>>> = workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect();
            (models, spawn_error)
        });
        if let Some(e) = spawn_error {
            return Err(e);
        }
        audit(&map, &board, &models, keys);
        Ok(Some(RoundOutcome {
            ops: board.ops.load(Ordering::Relaxed),
            violations: board.violations.count.load(Ordering::Relaxed),
            described: board
                .violations
                .described
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
        }))
    }
}

/// One worker thread until the round stops. `model` holds the version of each owned key.
fn worker<M: SharedMap<u64, Stamp>>(
    map: &M,
    board: &Board,
    round: &Round<'_>,
    t: usize,
    model: &mut [Option<u64>],
) {
    let (threads, keys, mix) = (round.threads, round.keys, round.mix);
    let mut rng = Rng(round.seed ^ ((t as u64) << 20) ^ 0x0005_7E55);
    let mut last_seen = vec![0u64; keys];
    let mine: Vec<usize> = (t..keys).step_by(threads).collect();
    let mut next_version = 1u64;
    let mut ops = 0u64;
    let v = &board.violations;
    while !board.stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let roll = rng.below(100) as u32;
            let coin = rng.next() & 1 == 0;
            if roll < mix.read && coin {
                // A shared key: within [finished before, started after], never going back.
                let i = rng.below(keys);
                let key = shared_key(i);
                let lo = board.finished[i].load(Ordering::Acquire);
                let seen = map.load(&key);
                let hi = board.started[i].load(Ordering::Acquire);
                match seen {
                    None => v.report(format!("shared key {key:#x}: absent (versions {lo}..={hi} were stored)")),
                    Some(stamp) if !stamp.valid_for(key) => v.report(format!("shared key {key:#x}: torn or foreign value {stamp:?}")),
                    Some(stamp) if stamp.version < lo || stamp.version > hi => v.report(format!(
                        "shared key {key:#x}: version {} outside {lo}..={hi} (finished before the load, started after it)",
                        stamp.version
                    )),
                    Some(stamp) if stamp.version < last_seen[i] => v.report(format!(
                        "shared key {key:#x}: version {} after this thread saw {} (not monotonic)",
                        stamp.version, last_seen[i]
                    )),
                    Some(stamp) => last_seen[i] = stamp.version,
                }
            } else if roll < mix.read {
                let i = rng.below(keys);
                let key = owned_key(keys, t, i);
                check_owned(v, key, map.load(&key), model[i]);
            } else if roll < mix.read + mix.write && coin && !mine.is_empty() {
                // A shared key this thread writes: announce, store, publish.
                let i = mine[rng.below(mine.len())];
                let version = board.started[i].load(Ordering::Relaxed) + 1;
                board.started[i].store(version, Ordering::Release);
                map.store(shared_key(i), Stamp::new(shared_key(i), version, t as u64));
                board.finished[i].store(version, Ordering::Release);
            } else if roll < mix.read + mix.write {
                let i = rng.below(keys);
                let key = owned_key(keys, t, i);
                map.store(key, Stamp::new(key, next_version, t as u64));
                model[i] = Some(next_version);
                next_version += 1;
            } else {
                let i = rng.below(keys);
                map.delete(&owned_key(keys, t, i));
                model[i] = None;
            }
        }
        ops += 64;
        if ops % 4096 == 0 {
            board.ops.fetch_add(4096, Ordering::Relaxed);
        }
    }
    board.ops.fetch_add(ops % 4096, Ordering::Relaxed);
}

/// An owned key's load against the model.
fn check_owned(v: &Violations, key: u64, seen: Option<Stamp>, expected: Option<u64>) {
    match (seen, expected) {
        (None, None) => {}
        (Some(stamp), Some(version)) if stamp.valid_for(key) && stamp.version == version => {}
        (Some(stamp), _) if !stamp.valid_for(key) => v.report(format!(
            "owned key {key:#x}: torn or foreign value {stamp:?}"
        )),
        (seen, expected) => v.report(format!(
            "owned key {key:#x}: found version {:?}, its only writer stored {expected:?}",
            seen.map(|s| s.version)
        )),
    }
}

/// The end-of-round audit, on one thread: every key, `len()` and `range`.
fn audit<M: SharedMap<u64, Stamp>>(
    map: &M,
    board: &Board,
    models: &[Vec<Option<u64>>],
    keys: usize,
) {
    let v = &board.violations;
    for i in 0..keys {
        let key = shared_key(i);
        let last = board.finished[i].load(Ordering::Acquire);
        match map.load(&key) {
            Some(stamp) if stamp.valid_for(key) && stamp.version == last => {}
            seen => v.report(format!(
                "audit: shared key {key:#x} holds {seen:?}, its last version is {last}"
            )),
        }
    }
    let mut live = keys;
    for (t, model) in models.iter().enumerate() {
        for (i, expected) in model.iter().enumerate() {
            let key = owned_key(keys, t, i);
            live += usize::from(expected.is_some());
            let seen = map.load(&key);
            if seen.map(|s| s.version) != *expected || seen.is_some_and(|s| !s.valid_for(key)) {
                v.report(format!("audit: owned key {key:#x} of thread {t} holds {seen:?}, the model says {expected:?}"));
            }
        }
    }
    let len = map.len();
    if len != live {
        v.report(format!("audit: len() = {len}, the models say {live}"));
    }
    let (mut visited, mut invalid) = (0usize, 0usize);
    map.range(|key, stamp| {
        visited += 1;
        invalid += usize::from(!stamp.valid_for(*key));
        true
    });
    if visited != len || invalid > 0 {
        v.report(format!(
            "audit: range visited {visited} entries ({invalid} invalid), len() = {len}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_stamp_is_detected() {
        let stamp = Stamp::new(7, 3, 1);
        assert!(stamp.valid_for(7));
        assert!(!stamp.valid_for(8));
        let torn = Stamp {
            version: 4,
            ..stamp
        };
        assert!(!torn.valid_for(7));
    }
}
