//! Helpers shared by the integration tests (style.md §10).
//!
//! * Hashers that force the interesting shapes: [`ConstantHasher`] (every key collides, so every
//!   entry sits in one overflow chain), [`LowEntropyHasher`] (the hash is the key's low bits, so
//!   there are only 64 distinct hashes) and [`FixedHasher`] (a good hash with a fixed key).
//!   The map mixes its own random seed (Go's `hash0`) into every hash, so bucket positions still
//!   vary from map to map; which keys collide does not.
//! * [`Ledger`] and [`DropCounter`]: values that record every drop, to prove "no double drop".
//! * [`PanicOnHash`], [`PanicOnEq`], [`PanicOnDrop`], [`PanicOnClone`]: types whose user code
//!   panics at a chosen call count (per-thread counters, so parallel tests do not interfere).
//! * [`Rng`]: a small deterministic PRNG (SplitMix64), so no `rand` dependency is needed.
//! * [`with_maps`]: the configuration matrix (capacity × hasher) that behaviour tests run under.
//! * [`finishes_in_time`]: a watchdog for code that would hang, not fail, when a lock is left
//!   held or taken twice.

// Every test crate includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::borrow::Borrow;
use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;
use std::thread::LocalKey;

use hmap::{DefaultHashBuilder, HashMap};

// ---------------------------------------------------------------------------------------------
// Hashers
// ---------------------------------------------------------------------------------------------

/// The hash every key gets under [`ConstantHasher`]. Its low bits are not all zero, so doubling
/// growths send the chain to the Y half at some sizes and to the X half at others.
pub(crate) const CONSTANT_HASH: u64 = 0xDEAD_BEEF_1234_5679;

/// A `BuildHasher` whose hash is always [`CONSTANT_HASH`]: every key lands in the same bucket
/// chain with the same tophash, so every lookup compares keys and long overflow chains form.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConstantHasher;

/// The `Hasher` of [`ConstantHasher`]: ignores its input.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConstantHasherState;

impl Hasher for ConstantHasherState {
    fn finish(&self) -> u64 {
        CONSTANT_HASH
    }

    fn write(&mut self, _bytes: &[u8]) {}
}

impl BuildHasher for ConstantHasher {
    type Hasher = ConstantHasherState;

    fn build_hasher(&self) -> ConstantHasherState {
        ConstantHasherState
    }
}

/// How many low bits of the key [`LowEntropyHasher`] keeps.
pub(crate) const LOW_ENTROPY_BITS: u32 = 6;

/// A `BuildHasher` whose hash is the key's low [`LOW_ENTROPY_BITS`] bits (integers are taken as
/// they are; other input is folded first). There are only 64 distinct hashes: keys that are
/// congruent modulo 64 collide completely (same bucket, same tophash), whatever seed the map
/// mixes in, and at most 64 buckets are ever used, whatever B is.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LowEntropyHasher;

/// The `Hasher` of [`LowEntropyHasher`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LowEntropyHasherState {
    state: u64,
}

impl Hasher for LowEntropyHasherState {
    fn finish(&self) -> u64 {
        self.state & ((1 << LOW_ENTROPY_BITS) - 1)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state = self.state.wrapping_mul(31).wrapping_add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.state ^= u64::from(i);
    }

    fn write_u16(&mut self, i: u16) {
        self.state ^= u64::from(i);
    }

    fn write_u32(&mut self, i: u32) {
        self.state ^= u64::from(i);
    }

    fn write_u64(&mut self, i: u64) {
        self.state ^= i;
    }

    fn write_usize(&mut self, i: usize) {
        self.state ^= i as u64;
    }
}

impl BuildHasher for LowEntropyHasher {
    type Hasher = LowEntropyHasherState;

    fn build_hasher(&self) -> LowEntropyHasherState {
        LowEntropyHasherState::default()
    }
}

/// SipHash-1-3 with a zero key: a well-distributed hash that is the same on every run (the map
/// still mixes in its own per-map seed).
pub(crate) type FixedHasher = BuildHasherDefault<DefaultHasher>;

/// The hashers of the configuration matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HasherKind {
    /// The crate's default, randomly seeded per map.
    Default,
    /// [`FixedHasher`].
    Fixed,
    /// [`ConstantHasher`].
    Constant,
    /// [`LowEntropyHasher`].
    LowEntropy,
}

impl HasherKind {
    /// Every hasher of the matrix.
    pub(crate) const ALL: [HasherKind; 4] = [
        HasherKind::Default,
        HasherKind::Fixed,
        HasherKind::Constant,
        HasherKind::LowEntropy,
    ];

    /// A fresh `BuildHasher` of this kind.
    pub(crate) fn build(self) -> MatrixHasher {
        match self {
            HasherKind::Default => MatrixHasher::Default(DefaultHashBuilder::default()),
            HasherKind::Fixed => MatrixHasher::Fixed(FixedHasher::default()),
            HasherKind::Constant => MatrixHasher::Constant(ConstantHasher),
            HasherKind::LowEntropy => MatrixHasher::LowEntropy(LowEntropyHasher),
        }
    }
}

/// One `BuildHasher` type that can be any hasher of the matrix, so that a test body written once
/// (a closure cannot be generic) runs under all of them.
#[derive(Clone, Debug)]
pub(crate) enum MatrixHasher {
    /// The crate's default hasher.
    Default(DefaultHashBuilder),
    /// [`FixedHasher`].
    Fixed(FixedHasher),
    /// [`ConstantHasher`].
    Constant(ConstantHasher),
    /// [`LowEntropyHasher`].
    LowEntropy(LowEntropyHasher),
}

/// The `Hasher` of [`MatrixHasher`].
pub(crate) enum MatrixHasherState {
    /// The crate's default hasher.
    Default(<DefaultHashBuilder as BuildHasher>::Hasher),
    /// [`FixedHasher`].
    Fixed(DefaultHasher),
    /// [`ConstantHasher`].
    Constant(ConstantHasherState),
    /// [`LowEntropyHasher`].
    LowEntropy(LowEntropyHasherState),
}

impl Hasher for MatrixHasherState {
    fn finish(&self) -> u64 {
        match self {
            MatrixHasherState::Default(h) => h.finish(),
            MatrixHasherState::Fixed(h) => h.finish(),
            MatrixHasherState::Constant(h) => h.finish(),
            MatrixHasherState::LowEntropy(h) => h.finish(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        match self {
            MatrixHasherState::Default(h) => h.write(bytes),
            MatrixHasherState::Fixed(h) => h.write(bytes),
            MatrixHasherState::Constant(h) => h.write(bytes),
            MatrixHasherState::LowEntropy(h) => h.write(bytes),
        }
    }

    fn write_u8(&mut self, i: u8) {
        match self {
            MatrixHasherState::Default(h) => h.write_u8(i),
            MatrixHasherState::Fixed(h) => h.write_u8(i),
            MatrixHasherState::Constant(h) => h.write_u8(i),
            MatrixHasherState::LowEntropy(h) => h.write_u8(i),
        }
    }

    fn write_u16(&mut self, i: u16) {
        match self {
            MatrixHasherState::Default(h) => h.write_u16(i),
            MatrixHasherState::Fixed(h) => h.write_u16(i),
            MatrixHasherState::Constant(h) => h.write_u16(i),
            MatrixHasherState::LowEntropy(h) => h.write_u16(i),
        }
    }

    fn write_u32(&mut self, i: u32) {
        match self {
            MatrixHasherState::Default(h) => h.write_u32(i),
            MatrixHasherState::Fixed(h) => h.write_u32(i),
            MatrixHasherState::Constant(h) => h.write_u32(i),
            MatrixHasherState::LowEntropy(h) => h.write_u32(i),
        }
    }

    fn write_u64(&mut self, i: u64) {
        match self {
            MatrixHasherState::Default(h) => h.write_u64(i),
            MatrixHasherState::Fixed(h) => h.write_u64(i),
            MatrixHasherState::Constant(h) => h.write_u64(i),
            MatrixHasherState::LowEntropy(h) => h.write_u64(i),
        }
    }

    fn write_usize(&mut self, i: usize) {
        match self {
            MatrixHasherState::Default(h) => h.write_usize(i),
            MatrixHasherState::Fixed(h) => h.write_usize(i),
            MatrixHasherState::Constant(h) => h.write_usize(i),
            MatrixHasherState::LowEntropy(h) => h.write_usize(i),
        }
    }
}

impl BuildHasher for MatrixHasher {
    type Hasher = MatrixHasherState;

    fn build_hasher(&self) -> MatrixHasherState {
        match self {
            MatrixHasher::Default(b) => MatrixHasherState::Default(b.build_hasher()),
            MatrixHasher::Fixed(b) => MatrixHasherState::Fixed(b.build_hasher()),
            MatrixHasher::Constant(b) => MatrixHasherState::Constant(b.build_hasher()),
            MatrixHasher::LowEntropy(b) => MatrixHasherState::LowEntropy(b.build_hasher()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration matrix
// ---------------------------------------------------------------------------------------------

/// One cell of the configuration matrix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// The capacity the map was created with.
    pub(crate) capacity: usize,
    /// The hasher the map uses.
    pub(crate) hasher: HasherKind,
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capacity {} / {:?} hasher", self.capacity, self.hasher)
    }
}

/// A map of the configuration matrix.
pub(crate) type MatrixMap<K, V> = HashMap<K, V, MatrixHasher>;

/// Runs `test` once per configuration: capacity 0, tiny (3) and `presized`, times every hasher
/// of [`HasherKind::ALL`]. The closure gets the configuration (print it in assertion messages)
/// and a fresh empty map built with it.
pub(crate) fn with_maps<K, V>(presized: usize, mut test: impl FnMut(Config, MatrixMap<K, V>)) {
    for capacity in [0, 3, presized] {
        for hasher in HasherKind::ALL {
            let config = Config { capacity, hasher };
            let map = HashMap::with_capacity_and_hasher(capacity, hasher.build());
            test(config, map);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and good enough to drive operation sequences.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant for tests.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// True with probability `numerator / denominator`.
    pub(crate) fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

// ---------------------------------------------------------------------------------------------
// Drop accounting
// ---------------------------------------------------------------------------------------------

/// A shared record of drops: how many times each id was dropped, and the total.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger {
    drops: Rc<RefCell<BTreeMap<u64, usize>>>,
    total: Rc<Cell<usize>>,
}

impl Ledger {
    /// An empty ledger.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A value that records its drop here under `id`.
    pub(crate) fn counter(&self, id: u64) -> DropCounter {
        DropCounter {
            id,
            ledger: self.clone(),
        }
    }

    fn record(&self, id: u64) {
        *self.drops.borrow_mut().entry(id).or_insert(0) += 1;
        self.total.set(self.total.get() + 1);
    }

    /// How many times `id` has been dropped.
    pub(crate) fn drops_of(&self, id: u64) -> usize {
        RefCell::borrow(&self.drops).get(&id).copied().unwrap_or(0)
    }

    /// How many drops were recorded in all.
    pub(crate) fn total(&self) -> usize {
        self.total.get()
    }

    /// Panics if any id was dropped more than once.
    #[track_caller]
    pub(crate) fn assert_no_double_drop(&self) {
        let doubles: Vec<(u64, usize)> = RefCell::borrow(&self.drops)
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(&id, &n)| (id, n))
            .collect();
        assert!(
            doubles.is_empty(),
            "dropped more than once (id, drops): {doubles:?}"
        );
    }
}

/// A value that records its drop in a [`Ledger`]. Hash and equality use the id only, so it can
/// be a key too.
pub(crate) struct DropCounter {
    id: u64,
    ledger: Ledger,
}

impl DropCounter {
    /// The id this value records its drop under.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl fmt::Debug for DropCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DropCounter({})", self.id)
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.ledger.record(self.id);
    }
}

impl PartialEq for DropCounter {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for DropCounter {}

impl Hash for DropCounter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// Lookups by id: hashing and equality agree with `u64`'s.
impl Borrow<u64> for DropCounter {
    fn borrow(&self) -> &u64 {
        &self.id
    }
}

// ---------------------------------------------------------------------------------------------
// Panic triggers
// ---------------------------------------------------------------------------------------------

/// A per-thread countdown: counts calls of one kind of user code and panics on a chosen one.
pub(crate) struct Trigger {
    calls: Cell<u64>,
    panic_at: Cell<Option<u64>>,
}

impl Trigger {
    const fn new() -> Self {
        Trigger {
            calls: Cell::new(0),
            panic_at: Cell::new(None),
        }
    }
}

thread_local! {
    static HASH_TRIGGER: Trigger = const { Trigger::new() };
    static EQ_TRIGGER: Trigger = const { Trigger::new() };
    static DROP_TRIGGER: Trigger = const { Trigger::new() };
    static CLONE_TRIGGER: Trigger = const { Trigger::new() };
}

/// Which user-code call a trigger watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    /// `Hash::hash` of [`PanicOnHash`].
    Hash,
    /// `PartialEq::eq` of [`PanicOnEq`].
    Eq,
    /// `Drop::drop` of [`PanicOnDrop`].
    Drop,
    /// `Clone::clone` of [`PanicOnClone`].
    Clone,
}

impl Hook {
    fn key(self) -> &'static LocalKey<Trigger> {
        match self {
            Hook::Hash => &HASH_TRIGGER,
            Hook::Eq => &EQ_TRIGGER,
            Hook::Drop => &DROP_TRIGGER,
            Hook::Clone => &CLONE_TRIGGER,
        }
    }

    /// Resets the call count and makes the `nth` call from now (1-based) panic, once.
    pub(crate) fn arm(self, nth: u64) {
        assert!(nth >= 1, "calls are counted from 1");
        self.key().with(|t| {
            t.calls.set(0);
            t.panic_at.set(Some(nth));
        });
    }

    /// Resets the call count and panics on no call.
    pub(crate) fn disarm(self) {
        self.key().with(|t| {
            t.calls.set(0);
            t.panic_at.set(None);
        });
    }

    /// Whether the armed panic has not fired yet.
    pub(crate) fn is_armed(self) -> bool {
        self.key().with(|t| t.panic_at.get().is_some())
    }

    /// Calls counted since the last `arm`/`disarm`.
    pub(crate) fn calls(self) -> u64 {
        self.key().with(|t| t.calls.get())
    }

    /// Counts one call and panics if it is the armed one.
    pub(crate) fn tick(self) {
        let fire = self.key().with(|t| {
            let n = t.calls.get() + 1;
            t.calls.set(n);
            if t.panic_at.get() == Some(n) {
                t.panic_at.set(None);
                true
            } else {
                false
            }
        });
        if fire {
            panic!("{self:?} {ARMED_PANIC_MESSAGE}");
        }
    }
}

/// A key whose `Hash` panics when [`Hook::Hash`] fires. Hashes like its `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PanicOnHash(pub(crate) u64);

impl Hash for PanicOnHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Hook::Hash.tick();
        self.0.hash(state);
    }
}

/// A key whose `PartialEq` panics when [`Hook::Eq`] fires.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PanicOnEq(pub(crate) u64);

impl PartialEq for PanicOnEq {
    fn eq(&self, other: &Self) -> bool {
        Hook::Eq.tick();
        self.0 == other.0
    }
}

impl Eq for PanicOnEq {}

impl Hash for PanicOnEq {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// A key or value whose `Drop` records itself in a [`Ledger`] and then panics when [`Hook::Drop`]
/// fires. Hash and equality use the id only.
pub(crate) struct PanicOnDrop {
    counter: DropCounter,
}

impl PanicOnDrop {
    /// A value recorded in `ledger` under `id`.
    pub(crate) fn new(ledger: &Ledger, id: u64) -> Self {
        PanicOnDrop {
            counter: ledger.counter(id),
        }
    }

    /// The id of this value.
    pub(crate) fn id(&self) -> u64 {
        self.counter.id
    }
}

impl fmt::Debug for PanicOnDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PanicOnDrop({})", self.counter.id)
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        // The field `counter` records the drop after this body runs, even when it panics.
        Hook::Drop.tick();
    }
}

impl PartialEq for PanicOnDrop {
    fn eq(&self, other: &Self) -> bool {
        self.counter.id == other.counter.id
    }
}

impl Eq for PanicOnDrop {}

impl Hash for PanicOnDrop {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.counter.id.hash(state);
    }
}

/// Lookups by id, without making (and dropping) a probe value: hashing and equality agree with
/// `u64`'s.
impl Borrow<u64> for PanicOnDrop {
    fn borrow(&self) -> &u64 {
        &self.counter.id
    }
}

/// A value whose `Clone` panics when [`Hook::Clone`] fires; drops are recorded in a [`Ledger`].
/// A clone gets the id `original + CLONE_ID_OFFSET`.
pub(crate) struct PanicOnClone {
    counter: DropCounter,
}

/// Added to the id of a [`PanicOnClone`] by `clone`, so that clones have their own ledger rows.
pub(crate) const CLONE_ID_OFFSET: u64 = 1 << 32;

impl PanicOnClone {
    /// A value recorded in `ledger` under `id`.
    pub(crate) fn new(ledger: &Ledger, id: u64) -> Self {
        PanicOnClone {
            counter: ledger.counter(id),
        }
    }

    /// The id of this value.
    pub(crate) fn id(&self) -> u64 {
        self.counter.id
    }
}

impl Clone for PanicOnClone {
    fn clone(&self) -> Self {
        Hook::Clone.tick();
        PanicOnClone {
            counter: self
                .counter
                .ledger
                .counter(self.counter.id + CLONE_ID_OFFSET),
        }
    }
}

impl fmt::Debug for PanicOnClone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PanicOnClone({})", self.counter.id)
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// Checks that iterating `map` yields exactly the pairs of `expected` (a multiset comparison
/// that also catches an entry produced twice), and that `len()` and the iterator's `len()`
/// agree with it.
#[track_caller]
pub(crate) fn assert_same_entries<K, V, S>(map: &HashMap<K, V, S>, expected: &BTreeMap<K, V>)
where
    K: Hash + Eq + Ord + Clone + fmt::Debug,
    V: PartialEq + Clone + fmt::Debug,
    S: BuildHasher,
{
    assert_eq!(map.len(), expected.len(), "len()");
    let iter = map.iter();
    assert_eq!(iter.len(), expected.len(), "iter().len()");
    let mut seen = BTreeMap::new();
    for (k, v) in iter {
        let previous = seen.insert(k.clone(), v.clone());
        assert!(
            previous.is_none(),
            "key {k:?} produced twice by one iteration"
        );
        match expected.get(k) {
            Some(want) => assert_eq!(v, want, "value of key {k:?}"),
            None => panic!("iteration produced key {k:?}, which is not in the map"),
        }
    }
    assert_eq!(seen.len(), expected.len(), "iteration missed entries");
}

/// The text every armed hook panics with.
pub(crate) const ARMED_PANIC_MESSAGE: &str = "hook panicked as armed";

/// Installs (once per test binary) a panic hook that stays silent for the panics the hooks
/// raise on purpose and reports every other panic as the default hook does.
pub(crate) fn quiet_armed_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_message(info.payload()).contains(ARMED_PANIC_MESSAGE) {
                previous(info);
            }
        }));
    });
}

/// Brings `m` (B = 4, as made by `with_capacity_and_hasher(90, LowEntropyHasher)`) into a
/// same-size growth, the way Go's churn does: fill one collision class (keys congruent modulo
/// 64) with 90 keys, which builds a chain with 11 overflow buckets, delete them (deletes never
/// free overflow buckets), and repeat with the next class. Once the classes that landed in
/// different buckets have left 16 overflow buckets behind (`tooManyOverflowBuckets` at B = 4),
/// the next new key starts a same-size growth. Returns right after that insert, with the live
/// contents (value `key ^ 0xFF`). Checks invariants after every write and that B stays 4.
pub(crate) fn start_same_size_growth(
    m: &mut HashMap<u64, u64, LowEntropyHasher>,
) -> BTreeMap<u64, u64> {
    start_same_size_growth_with(m, |key| key ^ 0xFF)
        .into_iter()
        .map(|key| (key, key ^ 0xFF))
        .collect()
}

/// [`start_same_size_growth`] for any value type: `value(key)` makes each inserted value.
/// Returns the live keys.
pub(crate) fn start_same_size_growth_with<V>(
    m: &mut HashMap<u64, V, LowEntropyHasher>,
    mut value: impl FnMut(u64) -> V,
) -> Vec<u64> {
    assert_eq!(m.log2_buckets(), 4, "start from B = 4");
    assert!(m.is_empty());
    let modulus = 1u64 << LOW_ENTROPY_BITS;
    for class in 0..16 {
        for j in 0..90 {
            m.insert(j * modulus + class, value(j * modulus + class));
            m.check_invariants();
            assert_eq!(m.log2_buckets(), 4, "B changed at {} entries", m.len());
            if m.stats().growth == Some(hmap::GrowthKind::SameSize) {
                return (0..=j).map(|j| j * modulus + class).collect();
            }
        }
        for j in 0..90 {
            assert!(m.remove(&(j * modulus + class)).is_some());
            m.check_invariants();
        }
    }
    panic!(
        "no same-size growth after 16 collision classes: {:?}",
        m.stats()
    );
}

/// Extracts the message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    }
}

// ---------------------------------------------------------------------------------------------
// Drop accounting across threads (the concurrent map)
// ---------------------------------------------------------------------------------------------

// Only the concurrent map's tests use these; the other test crates include this module too.
#[allow(unused_imports)]
pub(crate) use sync_ledger::{SyncDropCounter, SyncLedger};

/// [`Ledger`] needs `Rc`, so its values cannot enter a `Sync` map. This is its thread-safe
/// sibling: counts of values created and dropped, optionally per value, and a canary in every
/// value that catches a second drop or a read of a dropped value.
// The sync facade (clippy.toml) is for the library, so that loom can swap its atomics; test
// helpers use std's atomics directly.
#[allow(clippy::disallowed_types)]
mod sync_ledger {
    use std::collections::HashMap;
    use std::fmt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// The canary of a live value.
    const ALIVE: u64 = 0xA11C_E5A1_1CE5_A11C;
    /// The canary of a dropped value.
    const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

    #[derive(Debug, Default)]
    struct Inner {
        created: AtomicUsize,
        dropped: AtomicUsize,
        /// Drops whose canary was not [`ALIVE`]: a second drop, or a drop of freed memory.
        bad_drops: AtomicUsize,
        /// Drops per id, when the ledger tracks ids.
        per_id: Option<Mutex<HashMap<u64, u32>>>,
    }

    /// A shared, thread-safe record of how many [`SyncDropCounter`]s were created and dropped.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct SyncLedger {
        inner: Arc<Inner>,
    }

    impl SyncLedger {
        /// A ledger that counts totals only (cheap enough for stress loops).
        pub(crate) fn counting() -> Self {
            Self::default()
        }

        /// A ledger that also records the drops of every id, to name a value dropped twice or
        /// dropped while still in the map.
        pub(crate) fn tracking() -> Self {
            SyncLedger {
                inner: Arc::new(Inner {
                    per_id: Some(Mutex::new(HashMap::new())),
                    ..Inner::default()
                }),
            }
        }

        /// A new value carrying `payload`; its id is unique within this ledger.
        pub(crate) fn value(&self, payload: u64) -> SyncDropCounter {
            // Relaxed: a counter; the join of the test threads orders it with the final check.
            let id = self.inner.created.fetch_add(1, Ordering::Relaxed) as u64;
            SyncDropCounter {
                id,
                payload,
                canary: ALIVE,
                ledger: self.clone(),
            }
        }

        /// How many values were created.
        pub(crate) fn created(&self) -> usize {
            self.inner.created.load(Ordering::SeqCst)
        }

        /// How many drops were recorded (a double drop counts twice).
        pub(crate) fn dropped(&self) -> usize {
            self.inner.dropped.load(Ordering::SeqCst)
        }

        /// Values created and not yet dropped.
        pub(crate) fn live(&self) -> usize {
            self.created().saturating_sub(self.dropped())
        }

        /// How many times the value with `id` was dropped (tracking ledgers only).
        pub(crate) fn drops_of(&self, id: u64) -> u32 {
            let per_id = self.inner.per_id.as_ref().expect("a tracking ledger");
            per_id
                .lock()
                .expect("ledger lock")
                .get(&id)
                .copied()
                .unwrap_or(0)
        }

        /// Panics if some value was dropped twice or its canary was wrong when dropped.
        #[track_caller]
        pub(crate) fn assert_no_double_drop(&self) {
            assert_eq!(
                self.inner.bad_drops.load(Ordering::SeqCst),
                0,
                "a value was dropped twice (or freed memory was dropped)"
            );
            if let Some(per_id) = &self.inner.per_id {
                let per_id = per_id.lock().expect("ledger lock");
                let mut doubles: Vec<(u64, u32)> = per_id
                    .iter()
                    .filter(|&(_, &n)| n > 1)
                    .map(|(&id, &n)| (id, n))
                    .collect();
                doubles.sort_unstable();
                assert!(
                    doubles.is_empty(),
                    "dropped more than once (id, drops): {doubles:?}"
                );
            }
        }

        /// Panics unless every value created was dropped exactly once.
        #[track_caller]
        pub(crate) fn assert_all_dropped_once(&self) {
            self.assert_no_double_drop();
            assert_eq!(
                self.dropped(),
                self.created(),
                "values dropped != values created (a leak if fewer)"
            );
        }

        fn record_drop(&self, id: u64, canary_ok: bool) {
            if !canary_ok {
                self.inner.bad_drops.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(per_id) = &self.inner.per_id {
                // A poisoned lock still counts: the drop must not panic inside the map.
                let mut per_id = per_id.lock().unwrap_or_else(|e| e.into_inner());
                *per_id.entry(id).or_insert(0) += 1;
            }
            self.inner.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A `Send + Sync` value that records its drop in a [`SyncLedger`].
    pub(crate) struct SyncDropCounter {
        id: u64,
        payload: u64,
        canary: u64,
        ledger: SyncLedger,
    }

    impl SyncDropCounter {
        /// The unique id of this value within its ledger.
        pub(crate) fn id(&self) -> u64 {
            self.id
        }

        /// The payload it was created with.
        pub(crate) fn payload(&self) -> u64 {
            self.payload
        }

        /// Panics if this value was already dropped (its memory shows the dropped canary) or
        /// is not a value at all.
        #[track_caller]
        pub(crate) fn assert_alive(&self) {
            assert_eq!(
                self.canary, ALIVE,
                "value {} (payload {}) read after it was dropped",
                self.id, self.payload
            );
        }
    }

    impl fmt::Debug for SyncDropCounter {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SyncDropCounter({}: {})", self.id, self.payload)
        }
    }

    impl Drop for SyncDropCounter {
        fn drop(&mut self) {
            let canary_ok = self.canary == ALIVE;
            self.canary = DEAD;
            self.ledger.record_drop(self.id, canary_ok);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------------------------

/// Runs `f` on another thread and fails if it does not finish within 20 s: a lock left held by
/// an unwinding operation, a lock taken again by the thread that holds it (a destructor run
/// under it, say), or a cycle of locks makes the code wait forever instead of failing. A panic
/// of `f` goes on to the caller.
pub(crate) fn finishes_in_time<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let (sender, receiver) = std::sync::mpsc::channel();
        let worker = s.spawn(move || {
            let _ = sender.send(f());
        });
        match receiver.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(value) => value,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the worker sends before it returns"),
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // The stuck thread cannot be joined, so a panic here would hang the scope:
                // report past the test harness's output capture, then abort.
                let message =
                    format!("{what} did not finish in 20 s: a lock left held, or a deadlock\n");
                let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
                std::process::abort();
            }
        }
    })
}
