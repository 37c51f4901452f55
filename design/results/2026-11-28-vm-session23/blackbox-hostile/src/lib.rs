//! Shared helpers for the hostile-type black-box tests of `hmap`.
#![allow(clippy::all)]

use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

/// Prefix of every panic message our hostile types raise; the panic hook keeps these quiet.
pub const HOSTILE: &str = "hostile:";

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that silences panics whose message starts with `HOSTILE`.
pub fn quiet_hostile_panics() {
    HOOK.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let msg = panic_message_of(info.payload());
            if msg.starts_with(HOSTILE) {
                return;
            }
            prev(info);
        }));
    });
}

/// The message of a panic payload.
pub fn panic_message_of(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Runs `f`, returning Ok(result) or Err(panic message).
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message_of(&*p))
}

/// Runs `f` on its own thread; fails the test if it does not finish in `secs` seconds.
/// A panic inside `f` is re-raised here.
pub fn watchdog<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    quiet_hostile_panics();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::Builder::new()
        .name("watchdog-body".into())
        .spawn(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(());
            r
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => match h.join().unwrap() {
            Ok(r) => r,
            Err(p) => panic::resume_unwind(p),
        },
        Err(_) => panic!("HANG: test body did not finish within {secs} s"),
    }
}

// ---------------------------------------------------------------------------------------------
// Drop tracking

/// Tracks every value created and dropped, by unique id, to find double drops and leaks.
#[derive(Debug)]
pub struct Tracker {
    next: AtomicU64,
    created: AtomicUsize,
    dropped: AtomicUsize,
    double_drops: AtomicUsize,
    /// 0 = alive, 1 = dropped. Grown under the mutex.
    states: Mutex<Vec<Arc<[AtomicU8]>>>,
    /// Panic in drop for ids with `id % panic_every == panic_rem` while `panic_on` is set.
    pub panic_every: AtomicU64,
    pub panic_on: AtomicBool,
    pub drop_panics: AtomicUsize,
}

const PAGE: usize = 1 << 16;

impl Tracker {
    pub fn new() -> Arc<Self> {
        Arc::new(Tracker {
            next: AtomicU64::new(0),
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            double_drops: AtomicUsize::new(0),
            states: Mutex::new(Vec::new()),
            panic_every: AtomicU64::new(0),
            panic_on: AtomicBool::new(false),
            drop_panics: AtomicUsize::new(0),
        })
    }
    fn page(&self, id: u64) -> Arc<[AtomicU8]> {
        let p = (id as usize) / PAGE;
        let mut v = self.states.lock().unwrap();
        while v.len() <= p {
            v.push((0..PAGE).map(|_| AtomicU8::new(0)).collect());
        }
        v[p].clone()
    }
    fn register(&self) -> u64 {
        let id = self.next.fetch_add(1, SeqCst);
        self.page(id); // make sure it exists
        self.created.fetch_add(1, SeqCst);
        id
    }
    fn on_drop(&self, id: u64) -> bool {
        let page = self.page(id);
        let prev = page[(id as usize) % PAGE].swap(1, SeqCst);
        if prev != 0 {
            self.double_drops.fetch_add(1, SeqCst);
        }
        self.dropped.fetch_add(1, SeqCst);
        let every = self.panic_every.load(SeqCst);
        every != 0 && self.panic_on.load(SeqCst) && id % every == 0
    }
    pub fn created(&self) -> usize {
        self.created.load(SeqCst)
    }
    pub fn dropped(&self) -> usize {
        self.dropped.load(SeqCst)
    }
    pub fn double_drops(&self) -> usize {
        self.double_drops.load(SeqCst)
    }
    pub fn alive(&self) -> usize {
        self.created() - self.dropped()
    }
    /// Ids that were created but never dropped (first few).
    pub fn leaked_ids(&self, max: usize) -> Vec<u64> {
        let n = self.next.load(SeqCst);
        let mut out = Vec::new();
        for id in 0..n {
            let page = self.page(id);
            if page[(id as usize) % PAGE].load(SeqCst) == 0 {
                out.push(id);
                if out.len() >= max {
                    break;
                }
            }
        }
        out
    }
    /// Asserts every created value was dropped exactly once.
    pub fn assert_exact(&self, what: &str) {
        assert_eq!(self.double_drops(), 0, "{what}: double drops");
        assert_eq!(
            self.created(),
            self.dropped(),
            "{what}: created {} dropped {} (leaked ids e.g. {:?})",
            self.created(),
            self.dropped(),
            self.leaked_ids(8)
        );
    }
}

/// A value whose drop is counted (and may panic, if the tracker says so).
pub struct Tracked {
    pub id: u64,
    pub payload: u64,
    tracker: Arc<Tracker>,
}

impl Tracked {
    pub fn new(t: &Arc<Tracker>, payload: u64) -> Self {
        Tracked { id: t.register(), payload, tracker: t.clone() }
    }
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // not the tracker: its Debug would print every id's state
        write!(f, "Tracked({}, {})", self.id, self.payload)
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(&self.tracker, self.payload)
    }
}

impl PartialEq for Tracked {
    fn eq(&self, o: &Self) -> bool {
        self.payload == o.payload
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.tracker.on_drop(self.id) && !std::thread::panicking() {
            self.tracker.drop_panics.fetch_add(1, SeqCst);
            panic!("{HOSTILE} drop of value id {} panics", self.id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile keys

/// Per-test configuration of a hostile key type (leaked so keys can hold `&'static`).
#[derive(Debug, Default)]
pub struct Hostility {
    pub hash_calls: AtomicU64,
    pub eq_calls: AtomicU64,
    /// If non-zero and armed: Hash panics on every call number divisible by this.
    pub hash_panic_every: AtomicU64,
    /// If non-zero and armed: Eq panics on every call number divisible by this.
    pub eq_panic_every: AtomicU64,
    pub armed: AtomicBool,
    pub hash_panics: AtomicU64,
    pub eq_panics: AtomicU64,
    /// Hash mode (applies whether armed or not): 0 = by value, 1 = random per call, 2 = constant,
    /// 3 = `k % 64`.
    pub hash_mode: AtomicU8,
    /// Eq mode (applies whether armed or not): 0 = by value, 1 = always true, 2 = always false.
    pub eq_mode: AtomicU8,
    pub rng: AtomicU64,
}

impl Hostility {
    pub fn leak() -> &'static Hostility {
        Box::leak(Box::new(Hostility { rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15), ..Default::default() }))
    }
    pub fn arm(&self, on: bool) {
        self.armed.store(on, SeqCst);
    }
    fn rand(&self) -> u64 {
        // splitmix64 over an atomic counter
        let mut z = self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A key with a configurable hostile `Hash` and `Eq`.
#[derive(Clone, Copy)]
pub struct HKey {
    pub k: u64,
    pub cfg: &'static Hostility,
}

impl std::fmt::Debug for HKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HKey({})", self.k)
    }
}

impl HKey {
    pub fn new(k: u64, cfg: &'static Hostility) -> Self {
        HKey { k, cfg }
    }
}

impl Hash for HKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let c = self.cfg;
        let n = c.hash_calls.fetch_add(1, SeqCst) + 1;
        if c.armed.load(SeqCst) {
            let every = c.hash_panic_every.load(SeqCst);
            if every != 0 && n % every == 0 {
                c.hash_panics.fetch_add(1, SeqCst);
                panic!("{HOSTILE} Hash of key {} panics (call {n})", self.k);
            }
        }
        match c.hash_mode.load(SeqCst) {
            1 => c.rand().hash(h),
            2 => 7u64.hash(h),
            3 => (self.k % 64).hash(h),
            _ => self.k.hash(h),
        }
    }
}

impl PartialEq for HKey {
    fn eq(&self, o: &Self) -> bool {
        let c = self.cfg;
        let n = c.eq_calls.fetch_add(1, SeqCst) + 1;
        if c.armed.load(SeqCst) {
            let every = c.eq_panic_every.load(SeqCst);
            if every != 0 && n % every == 0 {
                c.eq_panics.fetch_add(1, SeqCst);
                panic!("{HOSTILE} Eq of keys {} and {} panics (call {n})", self.k, o.k);
            }
        }
        match c.eq_mode.load(SeqCst) {
            1 => true,
            2 => false,
            _ => self.k == o.k,
        }
    }
}
impl Eq for HKey {}

/// A deterministic xorshift RNG for tests.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------------------------
// Model runs shared by the panicking Hash / Eq tests

use hmap::concurrent::{Computed, Operation};
use hmap::{ConcurrentHashMap, HashMap};
use std::collections::HashMap as StdMap;

/// Concurrent model run: see the module docs of `tests/panicking_hash.rs`. Returns the number
/// of user panics seen.
pub fn conc_model_run(cfg: &'static Hostility, threads: u64, keys: u64, ops: usize, seed: u64) -> u64 {
    quiet_hostile_panics();
    let tr = Tracker::new();
    let panics_seen: u64;
    {
        let m: ConcurrentHashMap<HKey, Tracked> = ConcurrentHashMap::new();
        cfg.arm(true);
        let models: Vec<(StdMap<u64, u64>, u64)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        let mut model: StdMap<u64, u64> = StdMap::new();
                        let mut r = Rng(seed * 31 + t + 1);
                        let mut panics = 0u64;
                        for i in 0..ops {
                            let k = t * 1_000_000 + r.below(keys);
                            let key = HKey::new(k, cfg);
                            let payload = i as u64;
                            let op = r.below(10);
                            let p = m.pin();
                            let res = catch(|| -> Option<u64> {
                                match op {
                                    0..=3 => p.insert(key, Tracked::new(tr, payload)).map(|v| v.payload),
                                    4 => p.remove(&key).map(|v| v.payload),
                                    5 => p.update(&key, |v| Tracked::new(tr, v.payload + 1)).map(|v| v.payload),
                                    6 => Some(p.get_or_insert_with(key, || Tracked::new(tr, payload)).payload),
                                    7 => {
                                        let c = p.compute(key, |v| match v {
                                            Some(v) if v.payload % 2 == 0 => Operation::Remove,
                                            Some(_) => Operation::Keep,
                                            None => Operation::Set(Tracked::new(tr, payload)),
                                        });
                                        match c {
                                            Computed::Inserted(v) => Some(v.payload),
                                            Computed::Removed(v) => Some(v.payload),
                                            Computed::Unchanged(v) => v.map(|v| v.payload),
                                            Computed::Updated { new, .. } => Some(new.payload),
                                        }
                                    }
                                    8 => m.insert(key, Tracked::new(tr, payload)).map(|v| v.payload),
                                    _ => p.get(&key).map(|v| v.payload),
                                }
                            });
                            drop(p);
                            match res {
                                Err(msg) => {
                                    assert!(msg.starts_with(HOSTILE), "unexpected panic: {msg}");
                                    panics += 1;
                                }
                                Ok(got) => {
                                    let before = model.get(&k).copied();
                                    match op {
                                        0..=3 | 8 => {
                                            assert_eq!(got, before, "insert {k} returned wrong previous value");
                                            model.insert(k, payload);
                                        }
                                        4 => {
                                            assert_eq!(got, before, "remove {k}");
                                            model.remove(&k);
                                        }
                                        5 => {
                                            assert_eq!(got, before.map(|v| v + 1), "update {k}");
                                            if let Some(v) = before {
                                                model.insert(k, v + 1);
                                            }
                                        }
                                        6 => {
                                            assert_eq!(got, Some(before.unwrap_or(payload)), "get_or_insert_with {k}");
                                            model.entry(k).or_insert(payload);
                                        }
                                        7 => match before {
                                            Some(v) if v % 2 == 0 => {
                                                assert_eq!(got, Some(v), "compute remove {k}");
                                                model.remove(&k);
                                            }
                                            Some(v) => assert_eq!(got, Some(v), "compute keep {k}"),
                                            None => {
                                                assert_eq!(got, Some(payload), "compute insert {k}");
                                                model.insert(k, payload);
                                            }
                                        },
                                        _ => assert_eq!(got, before, "get {k}"),
                                    }
                                }
                            }
                        }
                        (model, panics)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        cfg.arm(false);
        panics_seen = models.iter().map(|(_, p)| *p).sum();
        m.check_invariants();
        let p = m.pin();
        let total: usize = models.iter().map(|(mm, _)| mm.len()).sum();
        let iterated = p.iter().count();
        assert_eq!(m.len(), iterated, "len vs iterated");
        assert_eq!(m.len(), total, "len vs model");
        for (model, _) in &models {
            for (k, v) in model {
                let got = p.get(&HKey::new(*k, cfg)).map(|v| v.payload);
                assert_eq!(got, Some(*v), "key {k} after the panics");
            }
        }
        drop(p);
        assert!(m.stats().growths >= 3, "{:?}", m.stats());
    }
    tr.assert_exact("hostile key, concurrent");
    panics_seen
}

/// The sequential map under a panicking `Hash`, against an exact model; evacuation of a growth
/// rehashes keys, so panics land in the middle of `growWork` too.
pub fn seq_model_run(cfg: &'static Hostility, seed: u64) -> u64 {
    quiet_hostile_panics();
    let tr = Tracker::new();
    let mut panics = 0;
    {
        let mut m: HashMap<HKey, Tracked> = HashMap::new();
        let mut model: StdMap<u64, u64> = StdMap::new();
        let mut r = Rng(seed);
        cfg.arm(true);
        for i in 0..30_000u64 {
            let k = r.below(5000);
            let key = HKey::new(k, cfg);
            let op = r.below(8);
            let res = catch(|| -> Option<u64> {
                match op {
                    0..=3 => m.insert(key, Tracked::new(&tr, i)).map(|v| v.payload),
                    4 => m.remove(&key).map(|v| v.payload),
                    5 => Some(m.entry(key).or_insert_with(|| Tracked::new(&tr, i)).payload),
                    6 => m.get_mut(&key).map(|v| {
                        v.payload += 1;
                        v.payload
                    }),
                    _ => m.get(&key).map(|v| v.payload),
                }
            });
            let before = model.get(&k).copied();
            match res {
                Err(msg) => {
                    assert!(msg.starts_with(HOSTILE), "{msg}");
                    panics += 1;
                }
                Ok(got) => match op {
                    0..=3 => {
                        assert_eq!(got, before, "insert {k}");
                        model.insert(k, i);
                    }
                    4 => {
                        assert_eq!(got, before, "remove {k}");
                        model.remove(&k);
                    }
                    5 => {
                        assert_eq!(got, Some(before.unwrap_or(i)), "entry {k}");
                        model.entry(k).or_insert(i);
                    }
                    6 => {
                        assert_eq!(got, before.map(|v| v + 1), "get_mut {k}");
                        if let Some(v) = before {
                            model.insert(k, v + 1);
                        }
                    }
                    _ => assert_eq!(got, before, "get {k}"),
                },
            }
            if i % 1000 == 0 {
                cfg.arm(false);
                m.check_invariants();
                assert_eq!(m.len(), model.len(), "len at step {i}");
                cfg.arm(true);
            }
        }
        cfg.arm(false);
        m.check_invariants();
        assert_eq!(m.len(), model.len());
        assert_eq!(m.iter().count(), model.len());
        for (k, v) in &model {
            assert_eq!(m.get(&HKey::new(*k, cfg)).map(|v| v.payload), Some(*v), "key {k}");
        }
        // retain with panicking hash should not matter (retain does not hash), but clear renews
        // the seed: keep going after it
        cfg.arm(true);
        let _ = catch(|| m.retain(|k, _| k.k % 3 != 0));
        cfg.arm(false);
        m.check_invariants();
    }
    tr.assert_exact("hostile key, sequential");
    panics
}

