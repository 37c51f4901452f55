//! The concurrent map in the Go lockstep. [`ConcurrentHashMap`] keeps Go's shape (8-slot
//! buckets, tophash bytes, overflow chains, doubling and same-size growth) and changes what
//! concurrency forces (`design/go-correspondence.md`, C-D1…). Replayed on one thread beside the
//! sequential mirror, on the same trace of a real Go map, it must give every result Go gave and
//! Go's count after every operation, and it is measured against Go where it diverges on purpose
//! (C-D5):
//!
//! - **doublings**: the load-factor check runs after an insert that filled a bucket's last slot,
//!   opened an overflow bucket, or flushed its thread's count (every [`BATCH`] changes), so each
//!   doubling must be Go's, to the same B, starting 0 to `BATCH − 1` new keys after Go's;
//! - **placement**: with Go's hashes every key must sit in the chain Go's bucket index gives it
//!   (the X/Y split taken from split hints, C-D10, must agree with Go's rehashing `evacuate`):
//!   whenever neither map is growing and both have the same B, each chain must hold the entries
//!   of Go's bucket. Which slot an entry takes depends on when growths started and on the
//!   deletes since, so slots are compared only by count ("Go's slot for slot"), except in
//!   inserts-only workloads, where every chain must be Go's slot for slot;
//! - **same-size growths** start one new key before Go's (at the insert whose overflow bucket
//!   reaches the threshold, where Go waits for the next insert of a new key); in a churn the
//!   delete between the two leaves a hole in the new table and the overflowed chain is copied
//!   with its overflow bucket, so chains drift from Go's slots and the concurrent map makes a
//!   few more same-size growths than Go's: their number must be within 10% below and 50% (and
//!   2) above Go's.

use std::collections::HashMap as StdHashMap;

use hmap::{BucketImage, ConcurrentHashMap, HashMap, MapImage};

use super::{entry_sum, Digest, GoHashes, GoState, TraceKey};

/// Count changes a thread batches before the shared count hears of them
/// (`src/concurrent/counter.rs`): the bound on how late a growth may start (C-D5).
pub(super) const BATCH: usize = 32;

/// A growth as seen from outside: when it started and what it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Growth {
    /// The trace line of the operation that started it.
    pub(super) at: usize,
    /// New keys inserted before it started (counting that operation's), over the replay.
    pub(super) inserts: usize,
    /// A same-size growth, or a doubling.
    pub(super) same_size: bool,
    /// B of the new table.
    pub(super) log2: u8,
}

/// How many new keys late growths of one kind started, over the growths paired with Go's.
#[derive(Clone, Copy, Default)]
pub(super) struct Lags {
    /// The smallest and the largest lag; `None` before the first.
    range: Option<(isize, isize)>,
    /// Their sum and number, for the mean.
    sum: isize,
    count: usize,
}

impl Lags {
    fn add(&mut self, lag: isize) {
        self.merge(Lags {
            range: Some((lag, lag)),
            sum: lag,
            count: 1,
        });
    }

    fn merge(&mut self, other: Lags) {
        self.range = match (self.range, other.range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (r, o) => r.or(o),
        };
        self.sum += other.sum;
        self.count += other.count;
    }

    /// Whether every lag lies in `bound` (true when there is none).
    fn within(&self, bound: &std::ops::RangeInclusive<isize>) -> bool {
        self.range
            .is_none_or(|(lo, hi)| bound.contains(&lo) && bound.contains(&hi))
    }
}

impl std::fmt::Debug for Lags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.range {
            None => write!(f, "none"),
            Some((lo, hi)) => write!(
                f,
                "{lo}..={hi}, mean {:.1}",
                self.sum as f64 / self.count as f64
            ),
        }
    }
}

/// What the concurrent map's replay saw. Index 0 of the arrays is doublings, index 1 same-size
/// growths.
#[derive(Default)]
pub(super) struct ShadowCoverage {
    /// Replays summed here, and their operations.
    pub(super) replays: usize,
    pub(super) operations: usize,
    /// Growths started by Go's map and by the concurrent map in this replay (not summed).
    pub(super) go_growths: Vec<Growth>,
    pub(super) growths: Vec<Growth>,
    /// Growths of each kind, (Go's, ours), one pair per replay.
    pub(super) counts: [Vec<(usize, usize)>; 2],
    /// Checkpoints at which both maps were quiet with the same B, and their chains compared.
    pub(super) placements: usize,
    /// Checkpoints skipped because a growth was running in one map or B differed.
    pub(super) placements_skipped: usize,
    /// Chains compared as sets, and those also equal to Go's slot for slot.
    pub(super) chains: usize,
    pub(super) chains_same_layout: usize,
    /// Replays whose growths of each kind could not be paired with Go's (their counts or B
    /// differ).
    pub(super) growths_off: [Vec<String>; 2],
    /// How late, in new keys, the paired growths of each kind started.
    pub(super) lags: [Lags; 2],
}

impl ShadowCoverage {
    /// At the end of a replay: pairs its growths of each kind with Go's, in order, and records
    /// how many new keys later than Go's each started, or why they cannot be paired (the
    /// same-size growths' count may differ from Go's, see the module's doc).
    pub(super) fn finish(&mut self, origin: &str) {
        self.replays += 1;
        for (kind, name) in ["doublings", "same-size growths"].into_iter().enumerate() {
            let of_kind = |g: &[Growth]| -> Vec<Growth> {
                g.iter()
                    .filter(|g| usize::from(g.same_size) == kind)
                    .copied()
                    .collect()
            };
            let (go, ours) = (of_kind(&self.go_growths), of_kind(&self.growths));
            self.counts[kind].push((go.len(), ours.len()));
            let off = if go.len() != ours.len() {
                Some(format!("{} {name}, Go {}", ours.len(), go.len()))
            } else {
                go.iter()
                    .zip(&ours)
                    .find(|(go, ours)| go.log2 != ours.log2)
                    .map(|(go, ours)| format!("{name}: Go {go:?}, ours {ours:?}"))
            };
            if let Some(why) = off {
                self.growths_off[kind].push(format!("{origin}: {why}"));
                continue;
            }
            for (go, ours) in go.iter().zip(&ours) {
                self.lags[kind].add(ours.inserts as isize - go.inserts as isize);
            }
        }
    }

    /// Adds another replay's counts to these (the growths themselves stay with their replay).
    pub(super) fn add(&mut self, other: &ShadowCoverage) {
        self.replays += other.replays;
        self.operations += other.operations;
        self.placements += other.placements;
        self.placements_skipped += other.placements_skipped;
        self.chains += other.chains;
        self.chains_same_layout += other.chains_same_layout;
        for kind in 0..2 {
            self.counts[kind].extend_from_slice(&other.counts[kind]);
            self.growths_off[kind].extend(other.growths_off[kind].iter().cloned());
            self.lags[kind].merge(other.lags[kind]);
        }
    }

    /// Whether every replay's doublings were Go's: as many, to the same B, each starting
    /// within `lags` new keys of Go's (an inclusive range).
    pub(super) fn doublings_within(&self, lags: std::ops::RangeInclusive<isize>) -> bool {
        self.growths_off[0].is_empty() && self.lags[0].within(&lags)
    }

    /// Whether every replay made about as many same-size growths as Go's: at least 90% and at
    /// most 150% (and 2) of Go's. Once the chains drift from Go's slots (see the module's doc),
    /// so do the overflow buckets that trigger them; in 120 churn replays the concurrent map
    /// made as many in 109 and 0.4% to 32% more in 11, never fewer (session 26).
    pub(super) fn same_size_growths_close(&self) -> bool {
        self.counts[1]
            .iter()
            .all(|&(go, ours)| ours + go / 10 >= go && ours <= go + go / 2 + 2)
    }

    /// The checks every workload's replay must pass: doublings paired with Go's, each
    /// starting 0 to `BATCH − 1` new keys after Go's (C-D5); same-size growths about as many;
    /// chains compared at checkpoints (each one held Go's bucket's entries, or the replay
    /// failed there).
    pub(super) fn go_like(&self) -> bool {
        self.doublings_within(0..=BATCH as isize - 1)
            && self.same_size_growths_close()
            && self.placements > 0
    }
}

impl std::fmt::Debug for ShadowCoverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sums = |kind: usize| {
            self.counts[kind]
                .iter()
                .fold((0, 0), |(g, o), &(go, ours)| (g + go, o + ours))
        };
        let ((go_doublings, doublings), (go_same_size, same_size)) = (sums(0), sums(1));
        write!(
            f,
            "{} replay(s), {} operations; doublings Go {go_doublings} / ours {doublings} (lag \
             {:?} new keys); same-size growths Go {go_same_size} / ours {same_size} (lag {:?}); \
             not paired {:?}; {} checkpoints compared ({} skipped: a growth running or B \
             differing), {} chains, {} of them Go's slot for slot; same-size growths (Go, ours) \
             by replay {:?}",
            self.replays,
            self.operations,
            self.lags[0],
            self.lags[1],
            self.growths_off,
            self.placements,
            self.placements_skipped,
            self.chains,
            self.chains_same_layout,
            self.counts[1]
        )
    }
}

/// The concurrent map replaying a trace beside the sequential mirror.
pub(super) struct Shadow<K> {
    map: ConcurrentHashMap<K, u64, GoHashes>,
    /// Go's header before the operation being replayed.
    go_before: GoState,
    /// New keys inserted so far (by Go's count).
    inserts: usize,
    /// `stats().growths` after the previous operation, and B then.
    growths_seen: usize,
    log2: u8,
    pub(super) coverage: ShadowCoverage,
}

impl<K: TraceKey + Clone> Shadow<K> {
    /// A map made as Go's was (`make(map, hint)`); Go's B after `make` is `b0`.
    pub(super) fn new(hint: usize, b0: usize, go: GoState) -> Result<Self, String> {
        let map = ConcurrentHashMap::with_capacity_and_hasher(hint, GoHashes);
        if usize::from(map.log2_buckets()) != b0 {
            return Err(format!(
                "B after make: Go {b0}, concurrent map {}",
                map.log2_buckets()
            ));
        }
        Ok(Self {
            log2: map.log2_buckets(),
            map,
            go_before: go,
            inserts: 0,
            growths_seen: 0,
            coverage: ShadowCoverage::default(),
        })
    }

    /// Replays one operation (`fields` is its line, split), which the mirror (`mirror`, not yet
    /// changed by it) replays next; checks its result.
    pub(super) fn step(
        &mut self,
        op: &str,
        key: &K,
        result: &str,
        fields: &[&str],
        mirror: &HashMap<K, u64, GoHashes>,
    ) -> Result<(), String> {
        let view = self.map.pin();
        match op {
            "i" => {
                let value = result.parse::<u64>().map_err(|_| "malformed value")?;
                view.insert(key.clone(), value);
            }
            "d" => {
                let removed = view.remove(key).is_some();
                if removed != (result == "1") {
                    return Err(format!(
                        "concurrent map: delete found the key: Go {result}, ours {removed}"
                    ));
                }
            }
            "g" => {
                let got = view
                    .get(key)
                    .map_or_else(|| "-".to_string(), u64::to_string);
                if got != result {
                    return Err(format!("concurrent map: get: Go {result}, ours {got}"));
                }
            }
            "r" => {
                // The concurrent map iterates from chain 0 (C-D6): its entries must be Go's,
                // each once. The mirror, checked entry by entry against Go's iteration at this
                // line, gives the set.
                let ours = entry_sum(view.iter());
                let go = entry_sum(mirror.iter());
                if ours != go {
                    return Err(format!(
                        "concurrent map: iteration: Go {} entries (sum {:x}), ours {} (sum {:x})",
                        go.0, go.1, ours.0, ours.1
                    ));
                }
            }
            // Go's range loop that deletes runs outside growths only (D18); the tracer does
            // nothing during one.
            "k" if result == "growing" => {}
            "k" => {
                let modulus = fields[1].parse::<u64>().map_err(|_| "malformed retain")?;
                let rem = fields[2].parse::<u64>().map_err(|_| "malformed retain")?;
                let deleted = result.parse::<usize>().map_err(|_| "malformed retain")?;
                let len = view.len();
                view.retain(|_, v| *v % modulus != rem);
                if len - view.len() != deleted {
                    return Err(format!(
                        "concurrent map: retain: Go deleted {deleted}, ours {}",
                        len - view.len()
                    ));
                }
            }
            "c" => view.clear(),
            _ => return Err(format!("concurrent map: unknown operation {op}")),
        }
        Ok(())
    }

    /// After the operation on line `at`: Go's count, growths, and at a checkpoint (where the
    /// mirror's `image` has just matched Go's digest) the chains.
    pub(super) fn after(
        &mut self,
        at: usize,
        go: &GoState,
        image: Option<&MapImage<'_, K, u64>>,
    ) -> Result<(), String> {
        self.coverage.operations += 1;
        let stats = self.map.stats();
        if stats.len != go.count {
            return Err(format!(
                "concurrent map: count: Go {}, ours {}",
                go.count, stats.len
            ));
        }
        self.inserts += go.count.saturating_sub(self.go_before.count);
        let before = self.go_before;
        if let Some(same_size) = go.growth_from(&before) {
            self.coverage.go_growths.push(Growth {
                at,
                inserts: self.inserts,
                same_size,
                log2: go.log2_buckets,
            });
        }
        if stats.growths > self.growths_seen {
            if stats.growths > self.growths_seen + 1 {
                return Err(format!(
                    "concurrent map: {} growths in one operation",
                    stats.growths - self.growths_seen
                ));
            }
            self.coverage.growths.push(Growth {
                at,
                inserts: self.inserts,
                same_size: stats.log2_buckets == self.log2,
                log2: stats.log2_buckets,
            });
            self.growths_seen = stats.growths;
            self.log2 = stats.log2_buckets;
        }
        self.go_before = *go;
        let Some(image) = image else {
            return Ok(());
        };
        if go.growing || stats.growing || go.log2_buckets != stats.log2_buckets {
            self.coverage.placements_skipped += 1;
            return Ok(());
        }
        let Some(go_chains) = image.buckets.as_ref() else {
            // B = 0 before Go's first insert: no array; ours has one empty bucket.
            return Ok(());
        };
        let compared = self.map.with_image(|chains| {
            if chains.len() != go_chains.len() {
                return Err(format!(
                    "concurrent map: {} chains, Go {}",
                    chains.len(),
                    go_chains.len()
                ));
            }
            let mut same_layout = 0;
            for (index, (ours, go)) in chains.iter().zip(go_chains).enumerate() {
                if same_slots(ours, go) {
                    same_layout += 1;
                    continue;
                }
                let (ours_set, go_set) = (entry_set(ours), entry_set(go));
                if ours_set != go_set {
                    return Err(format!(
                        "concurrent map: chain {index} holds other entries than Go's bucket \
                         ({} against Go's {})",
                        ours_set.values().sum::<usize>(),
                        go_set.values().sum::<usize>()
                    ));
                }
            }
            Ok((chains.len(), same_layout))
        });
        match compared {
            None => Err("concurrent map: `with_image` saw a growth that `stats` did not".into()),
            Some(Err(why)) => Err(why),
            Some(Ok((chains, same_layout))) => {
                self.coverage.placements += 1;
                self.coverage.chains += chains;
                self.coverage.chains_same_layout += same_layout;
                Ok(())
            }
        }
    }

    /// Checks the concurrent map's own invariants (at the end of a replay).
    pub(super) fn check_invariants(&self) {
        self.map.check_invariants();
    }
}

/// Whether two chains are the same slot for slot: as many buckets, the same tophash bytes, the
/// same entry in each slot.
fn same_slots<K: Eq>(a: &[BucketImage<'_, K, u64>], b: &[BucketImage<'_, K, u64>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(a, b)| a.tophash == b.tophash && a.slots == b.slots)
}

/// A chain's entries as a multiset of per-entry digests (key and value).
fn entry_set<K: TraceKey>(chain: &[BucketImage<'_, K, u64>]) -> StdHashMap<u64, usize> {
    let mut set = StdHashMap::new();
    for (key, value) in chain.iter().flat_map(|b| b.slots.iter().flatten()) {
        let mut d = Digest::new();
        d.entry(*key, **value);
        *set.entry(d.0).or_insert(0) += 1;
    }
    set
}
