//! [`AuditedMap`]: a decorator that counts and watches every operation on any [`SharedMap`].
//!
//! Go has no such type; it stands for the logging middleware a Go service wraps around its
//! shared map when it hunts a race or a hot key. The wrapper counts reads and writes per key and
//! per thread, remembers which thread touched each key last, and evaluates two alert rules on
//! the fly: "more than N writes to one key in one second" and "one thread alternating read and
//! write on one key" (a read-modify-write made of two calls, which loses updates when threads
//! race). Alerts go to a channel or a callback without ever blocking the calling thread;
//! [`AuditedMap::report`] returns the counters.
//!
//! All state is atomics inside [`crate::ConcurrentHashMap`] values (per key and per thread), so
//! the audit itself needs no lock and no `unsafe`. [`AuditedMap`]'s documentation states what is
//! counted, the clock, how keys are identified, and the cost per operation.
//!
//! Orderings: counters and rule state are statistics (Relaxed); the one Release/Acquire pair
//! publishes a thread's name to the report that finds the thread's token on a key (see
//! `KeyState::record` and `KeyState::report`): row W2 of the ordering table in
//! `design/concurrent-protocol.md`.
#![deny(unsafe_code)]

use core::cell::Cell;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SharedMap;
use crate::concurrent::Pinned;
use crate::sync::{thread_token, AtomicU64, Ordering};
use crate::{ConcurrentHashMap, DefaultHashBuilder};

/// Bits 30..0 of the alternation word: the streak of kind flips.
const STREAK_MASK: u64 = (1 << 31) - 1;
/// Bits 31..0 of the rate word: writes in the current window.
const COUNT_MASK: u64 = (1 << 32) - 1;

/// Numbers the maps, for `THREAD_ENTRY`.
static NEXT_MAP_ID: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// `(map id, token, entry)`: the calling thread's entry in the thread table of the audited
    /// map it used last, which saves the hot path a pin and a lookup while a thread keeps to one
    /// map. Taken out while in use, so that a re-entrant call (from the key's `Hash` or `Clone`)
    /// just misses it.
    static THREAD_ENTRY: Cell<Option<(u64, usize, Arc<ThreadState>)>> = const { Cell::new(None) };
}

/// A map that counts and watches every operation on the [`SharedMap`] it wraps.
///
/// ```
/// use hmap::wrappers::{AlertRule, AlertSink, AuditRules, AuditedMap, SharedMap};
/// use hmap::ConcurrentHashMap;
///
/// let (sender, alerts) = std::sync::mpsc::channel();
/// let rules = AuditRules { max_writes_per_second: Some(100), alternation_flips: Some(3) };
/// let inner = ConcurrentHashMap::<u64, u64>::new();
/// let map = AuditedMap::with_rules(inner, rules, AlertSink::Channel(sender));
///
/// // A read-modify-write done as a load and a store: the alternation rule notices.
/// for _ in 0..2 {
///     let count = map.load(&7).unwrap_or(0);
///     map.store(7, count + 1);
/// }
/// let alert = alerts.try_recv().expect("R, W, R, W by one thread is three flips");
/// assert_eq!(alert.rule, AlertRule::Alternation { flips: 3 });
/// assert_eq!(alert.key, "7");
///
/// let report = map.report();
/// let key = report.key("7").expect("key 7 was seen");
/// assert_eq!((key.reads, key.writes), (2, 2));
/// assert_eq!(map.load(&7), Some(2));
/// ```
///
/// # What is counted
/// Every call through [`SharedMap`] is counted when it starts, before the inner map runs it:
/// - [`load`](SharedMap::load): one read of the key;
/// - [`store`](SharedMap::store) and [`delete`](SharedMap::delete): one write of the key
///   (a delete of an absent key is still a write attempt, and counts);
/// - [`range`](SharedMap::range): one read of each key it hands to the callback, counted just
///   before the callback sees it (so keys never visited, after an early exit, are not counted);
/// - [`len`](SharedMap::len) and [`is_empty`](SharedMap::is_empty): nothing.
///
/// Each counted access adds 1 to the key's and the calling thread's read or write counter,
/// records the thread and the kind as the key's last access, and, when rules are on, steps the
/// two rules. (An access whose key's `Hash` or `Clone` panics inside the audit is counted for
/// the thread only, so the threads' totals can then exceed the keys'.) The audit never forgets:
/// a key's counters outlive its deletion from the inner map.
///
/// # Alert rules
/// See [`AuditRules`]. With [`AlertSink::None`] (and with [`AuditedMap::new`]) the rules are
/// switched off entirely: nothing could receive their alerts, so their work is skipped.
///
/// # Clock
/// Times are [`Instant`]s measured from the map's creation: [`Alert::at`] is the time since
/// creation, and the write-rate rule counts in fixed one-second windows `[k, k + 1)` seconds
/// after creation (not a sliding window: `N` writes late in one window plus `N` early in the
/// next fire nothing). The clock is read only by writes while the rate rule is on, and when an
/// alert fires.
///
/// # Keys are identified by a 64-bit hash
/// The struct cannot name `K`, so the per-key table is keyed by the hash of the key under the
/// audit's own randomly seeded [`DefaultHashBuilder`], and a type-erased clone of the key is kept,
/// from its first access, for reports and alerts (formatted only when a report or a
/// [`KeyLabel`] is printed, never on the hot path). Two distinct keys with equal 64-bit hashes
/// would share one set of counters under the first key's label; among `n` keys chosen without
/// knowledge of the seed, the probability of any such pair is about `n² / 2^65` (3·10^-8 for a
/// million keys).
///
/// # Cost per operation
/// On top of the inner map's own work, once a key and a thread have been seen: a thread-local
/// lookup of the thread's entry (a pin and a table lookup instead when the thread last used
/// another audited map), one hash of the key and a lock-free lookup of its entry under a
/// [`ConcurrentHashMap::pin`], a plain load and store of the thread's own counter, one
/// `fetch_add` and one store on the key's state, and with rules on, one compare-and-swap loop
/// per rule (only when the state changes: a thread repeating the same kind of access on a key
/// skips the alternation CAS) plus a clock read for writes. The per-key state (64 bytes) is
/// shared by every thread touching that key: a key hammered by many threads bounces its cache
/// line between cores, which is the price of exact per-key counts. The first access to a key (or by a thread)
/// clones the key and inserts an entry; that insertion briefly holds one chain of the audit's
/// table, as [`ConcurrentHashMap`] writers do.
///
/// # The hot path never blocks
/// Counting takes no lock. An alert is handed over without waiting: [`AlertSink::Channel`] sends
/// on an unbounded std channel (which never blocks; if the receiver does not keep up, the
/// channel's memory grows), and [`AlertSink::Callback`] `try_send`s into a bounded queue drained
/// by a dispatcher thread that runs the callback; when that queue is full the alert is dropped
/// and counted in [`AuditReport::alerts_dropped`].
///
/// # Memory
/// One entry per distinct key ever seen (about 100 bytes plus the key's clone) and per thread
/// that ever used the map, kept until the map is dropped. Each thread also keeps a reference to
/// its own entry (about 50 bytes) in the last audited map it used, until it uses another or
/// exits.
pub struct AuditedMap<M> {
    inner: M,
    /// The rules in force: all off when no sink can receive alerts.
    rules: AuditRules,
    /// Hashes keys into `keys`' index; see "Keys are identified by a 64-bit hash".
    hasher: DefaultHashBuilder,
    /// Per key hash: counters, last access, rule state.
    keys: ConcurrentHashMap<u64, KeyState>,
    /// Per thread token: name and counters (also cached per thread, see `THREAD_ENTRY`).
    threads: ConcurrentHashMap<usize, Arc<ThreadState>>,
    /// Unique in the process: tells `THREAD_ENTRY` which map its entry belongs to.
    id: u64,
    /// Orders keys in reports by first access.
    next_key: AtomicU64,
    /// Where alerts go.
    delivery: Delivery,
    alerts_sent: AtomicU64,
    alerts_dropped: AtomicU64,
    /// The origin of the clock (see "Clock").
    created: Instant,
}

/// Which alerts [`AuditedMap`] raises. `None` switches a rule off.
///
/// The default, `Some(1000)` writes per second and `Some(3)` flips, fires on a key written more
/// than a thousand times in one second and on `load`, `store`, `load`, `store` of one key by one
/// thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRules {
    /// "More than N writes to one key in one second": fires once per key per one-second window
    /// (see "Clock" on [`AuditedMap`]), on the write that first exceeds the limit. `Some(0)`
    /// fires on the first write of each window. Limits of `2^32 - 1` or more never fire (the
    /// window's counter saturates there).
    pub max_writes_per_second: Option<u64>,
    /// "The same thread alternating read and write on one key": a key carries a streak that
    /// grows by one each time the thread that accessed it last accesses it again with the other
    /// kind (read after write, or write after read), stays as it is when that thread repeats
    /// the same kind, and restarts at zero when another thread accesses the key. The rule fires
    /// when the streak reaches this many flips, and the streak restarts. `Some(3)` fires on
    /// read, write, read, write. Values are clamped to `1..=2^31 - 1`.
    pub alternation_flips: Option<u32>,
}

impl Default for AuditRules {
    fn default() -> Self {
        Self {
            max_writes_per_second: Some(1000),
            alternation_flips: Some(3),
        }
    }
}

impl AuditRules {
    /// Both rules off: counting only.
    pub const OFF: Self = Self {
        max_writes_per_second: None,
        alternation_flips: None,
    };
}

/// Where [`AuditedMap`] delivers its alerts.
pub enum AlertSink {
    /// Nowhere: the rules are switched off.
    None,
    /// Sent on this unbounded channel from the thread that raised the alert (never blocks).
    /// Alerts raised after the receiver is dropped count as dropped.
    Channel(Sender<Alert>),
    /// Run on a dispatcher thread (named `hmap-audit-alerts`), fed by a bounded queue
    /// ([`AlertSink::DEFAULT_QUEUE`] alerts unless
    /// [`AuditedMap::with_rules_and_queue`] says otherwise). An alert that finds the queue full
    /// is dropped and counted. Dropping the map lets the dispatcher finish the queue, then joins
    /// it, so a callback that never returns makes the drop hang. If the callback panics, the
    /// dispatcher stops: alerts still queued are lost, later ones count as dropped, and the
    /// panic is not propagated (the panic hook reports it).
    Callback(Box<dyn Fn(&Alert) + Send + Sync>),
}

impl AlertSink {
    /// The capacity of the callback's queue unless set otherwise.
    pub const DEFAULT_QUEUE: usize = 1024;

    /// [`AlertSink::Callback`] with `callback` boxed.
    pub fn callback(callback: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        Self::Callback(Box::new(callback))
    }
}

impl fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Channel(sender) => f.debug_tuple("Channel").field(sender).finish(),
            Self::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

/// One alert raised by [`AuditedMap`].
#[derive(Debug, Clone)]
pub struct Alert {
    /// The rule that fired, with its numbers.
    pub rule: AlertRule,
    /// The key, printable.
    pub key: KeyLabel,
    /// The thread whose access fired the rule.
    pub thread: ThreadTag,
    /// When, as time since the map's creation (see "Clock" on [`AuditedMap`]).
    pub at: Duration,
}

/// The rule behind an [`Alert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertRule {
    /// The key received more than `limit` writes in one one-second window; `writes` is the
    /// count on the write that fired (`limit + 1`).
    WriteRate {
        /// Writes counted in the window when the rule fired.
        writes: u64,
        /// [`AuditRules::max_writes_per_second`].
        limit: u64,
    },
    /// One thread flipped between reading and writing the key `flips` times in a row.
    Alternation {
        /// The threshold reached ([`AuditRules::alternation_flips`], clamped).
        flips: u32,
    },
}

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// `load`, or a key visited by `range`.
    Read,
    /// `store` or `delete`.
    Write,
}

impl AccessKind {
    fn bit(self) -> u64 {
        match self {
            Self::Read => 0,
            Self::Write => 1,
        }
    }

    fn from_bit(bit: u64) -> Self {
        if bit & 1 == 0 {
            Self::Read
        } else {
            Self::Write
        }
    }
}

/// A key as the audit keeps it: a type-erased clone, printed with the key's `Debug`.
///
/// Cloning is one reference-count increment; the key is formatted only when the label is
/// printed or compared with a string.
#[derive(Clone)]
pub struct KeyLabel(Arc<dyn fmt::Debug + Send + Sync>);

impl fmt::Debug for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The key's `Debug` form, so that `to_string()` gives what reports show.
impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl KeyLabel {
    /// Whether the key's `Debug` form is exactly `text`, compared piece by piece as it is
    /// formatted (no allocation).
    pub fn prints_as(&self, text: &str) -> bool {
        /// Consumes `rest` as long as the formatted pieces match it.
        struct Matcher<'t> {
            rest: &'t str,
        }
        impl fmt::Write for Matcher<'_> {
            fn write_str(&mut self, piece: &str) -> fmt::Result {
                self.rest = self.rest.strip_prefix(piece).ok_or(fmt::Error)?;
                Ok(())
            }
        }
        let mut matcher = Matcher { rest: text };
        fmt::write(&mut matcher, format_args!("{:?}", self.0)).is_ok() && matcher.rest.is_empty()
    }
}

/// Compares the key's `Debug` form with a string ([`KeyLabel::prints_as`]).
impl PartialEq<str> for KeyLabel {
    fn eq(&self, other: &str) -> bool {
        self.prints_as(other)
    }
}

/// Compares the key's `Debug` form with a string ([`KeyLabel::prints_as`]).
impl PartialEq<&str> for KeyLabel {
    fn eq(&self, other: &&str) -> bool {
        self.prints_as(other)
    }
}

/// Compares the key's `Debug` form with a string ([`KeyLabel::prints_as`]).
impl PartialEq<String> for KeyLabel {
    fn eq(&self, other: &String) -> bool {
        self.prints_as(other)
    }
}

/// A thread as the audit knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadTag {
    /// A number unique to the thread within the process, never reused (not the OS thread id).
    pub token: usize,
    /// The thread's name ([`std::thread::Thread::name`]) when it first used the map.
    pub name: Option<Arc<str>>,
}

/// The counters of an [`AuditedMap`], from [`AuditedMap::report`].
///
/// Each number was exact at some instant during the call; while other threads keep working the
/// numbers are not one atomic snapshot. They are exact once those threads are joined.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// Every key seen, in order of first access.
    pub keys: Vec<KeyReport>,
    /// Every thread that used the map, in order of token (roughly, of thread creation).
    pub threads: Vec<ThreadReport>,
    /// Alerts handed to the sink (for [`AlertSink::Callback`]: queued for the dispatcher).
    pub alerts_sent: u64,
    /// Alerts lost: the callback's queue was full, the dispatcher had stopped, or the
    /// channel's receiver was gone.
    pub alerts_dropped: u64,
}

impl AuditReport {
    /// The report of the key whose label prints as `label` (for example `"7"` or `"\"a\""`); a
    /// linear scan.
    pub fn key(&self, label: &str) -> Option<&KeyReport> {
        self.keys.iter().find(|key| key.key == label)
    }

    /// The report of the first thread named `name`.
    pub fn thread(&self, name: &str) -> Option<&ThreadReport> {
        self.threads
            .iter()
            .find(|thread| thread.name.as_deref() == Some(name))
    }

    /// Reads of all keys together.
    pub fn total_reads(&self) -> u64 {
        self.keys.iter().map(|key| key.reads).sum()
    }

    /// Writes of all keys together.
    pub fn total_writes(&self) -> u64 {
        self.keys.iter().map(|key| key.writes).sum()
    }
}

/// The counters of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    /// The key's `Debug` form.
    pub key: String,
    /// Reads counted (see "What is counted" on [`AuditedMap`]).
    pub reads: u64,
    /// Writes counted.
    pub writes: u64,
    /// The thread of the key's most recent access (`None` only in the instant between a key's
    /// first sighting and the end of its first access).
    pub last_thread: Option<ThreadTag>,
    /// The kind of the key's most recent access.
    pub last_access: Option<AccessKind>,
}

/// The counters of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReport {
    /// See [`ThreadTag::token`].
    pub token: usize,
    /// See [`ThreadTag::name`].
    pub name: Option<Arc<str>>,
    /// Reads by this thread, all keys together.
    pub reads: u64,
    /// Writes by this thread, all keys together.
    pub writes: u64,
}

/// The audit of one key (by hash): its counters and rule state are atomics, which any thread
/// updates in place.
#[derive(Debug)]
struct KeyState {
    label: KeyLabel,
    /// Sequence number of first access, for report order.
    first_seen: u64,
    reads: AtomicU64,
    writes: AtomicU64,
    /// `token << 1 | kind bit` of the last access; 0 before the first (tokens are nonzero).
    last_access: AtomicU64,
    /// Write-rate rule: `window << 32 | writes in that window`.
    rate: AtomicU64,
    /// Alternation rule: `thread tag << 32 | kind bit << 31 | streak` (tag: the token folded to
    /// 32 bits, its low half XOR its high half, 0 mapped to 1; 0 as a whole means no access
    /// yet). Two threads whose tokens fold alike count as one here: plain threads' tokens stay
    /// below 2^32 until 2^32 threads were created, and `crate::sched`'s logical threads
    /// (2^62 + session · 2^20 + n) can fold alike only across sessions at least 4,096 apart.
    /// (Until session 31 the tag was the low half alone: the scheduler's host thread, whose
    /// low half is 0, shared tag 1 with the process's first thread.)
    alternation: AtomicU64,
}

impl KeyState {
    fn new(label: KeyLabel, first_seen: u64) -> Self {
        Self {
            label,
            first_seen,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            last_access: AtomicU64::new(0),
            rate: AtomicU64::new(0),
            alternation: AtomicU64::new(0),
        }
    }

    /// Counts the access and makes it the key's last.
    fn record(&self, token: usize, access: AccessKind) {
        let counter = match access {
            AccessKind::Read => &self.reads,
            AccessKind::Write => &self.writes,
        };
        // ORDERING: Relaxed. Statistic only; nothing is published through it, and the RMW
        // alone makes concurrent increments exact.
        counter.fetch_add(1, Ordering::Relaxed);
        // `usize` → `u64` is lossless here, and tokens (counted up from 1) stay below 2^63.
        let last = (token as u64) << 1 | access.bit();
        // ORDERING: Release. Publishes this thread's entry in the thread table (inserted before,
        // by `AuditedMap::thread_entry`), so a report that reads this token can resolve its name.
        // Pairs with [W2]: the Acquire load in `KeyState::report`.
        self.last_access.store(last, Ordering::Release);
    }

    /// Steps the write-rate rule for one write in `window`; returns the window's count if this
    /// write is the one that first exceeds `limit`.
    fn step_rate(&self, window: u64, limit: u64) -> Option<u64> {
        // ORDERING: Relaxed. Rule state only; the CAS below re-validates it.
        let mut current = self.rate.load(Ordering::Relaxed);
        loop {
            let (current_window, count) = (current >> 32, current & COUNT_MASK);
            // A clock read that lost a race to a later one counts in the newer window.
            let (new_window, new_count) = if window > current_window {
                (window, 1)
            } else {
                (current_window, (count + 1).min(COUNT_MASK))
            };
            let new = new_window << 32 | new_count;
            if new == current {
                return None; // saturated: counting further changes nothing
            }
            // ORDERING: Relaxed on success and failure. The word is all the rule reads, and
            // RMWs on one location are totally ordered, so exactly one write per window moves
            // the count from `limit` to `limit + 1`; a failure just retries with the fresh value.
            match self
                .rate
                .compare_exchange(current, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (limit.checked_add(1) == Some(new_count)).then_some(new_count),
                Err(actual) => current = actual,
            }
        }
    }

    /// Steps the alternation rule; returns whether this access completes `threshold` flips.
    fn step_alternation(&self, token: usize, access: AccessKind, threshold: u64) -> bool {
        // Folding the token to 32 bits is deliberate (see the field's doc).
        let token = token as u64;
        let tag = ((token ^ (token >> 32)) & COUNT_MASK).max(1);
        // ORDERING: Relaxed. Rule state only; the CAS below re-validates it.
        let mut current = self.alternation.load(Ordering::Relaxed);
        loop {
            let (last_tag, last_kind) = (current >> 32, AccessKind::from_bit(current >> 31));
            let streak = current & STREAK_MASK;
            let (streak, fired) = if last_tag != tag {
                (0, false)
            } else if last_kind == access {
                return false; // same thread, same kind: the state stays as it is
            } else if streak + 1 >= threshold {
                (0, true)
            } else {
                (streak + 1, false)
            };
            let new = tag << 32 | access.bit() << 31 | streak;
            // ORDERING: Relaxed on success and failure. As in `step_rate`: the word is the
            // rule's whole state, and a failure retries with the fresh value.
            match self.alternation.compare_exchange(
                current,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return fired,
                Err(actual) => current = actual,
            }
        }
    }

    fn report(&self, threads: &Pinned<'_, usize, Arc<ThreadState>>) -> KeyReport {
        // ORDERING: Acquire. Pairs with [W2]: the Release store in `KeyState::record`: the thread
        // entry of the token read here is visible to the lookup below.
        let last = self.last_access.load(Ordering::Acquire);
        let last_thread = (last != 0).then(|| {
            // Only tokens, which are `usize`s, are stored here.
            let token = (last >> 1) as usize;
            ThreadTag {
                token,
                name: threads.get(&token).and_then(|thread| thread.name.clone()),
            }
        });
        KeyReport {
            key: self.label.to_string(),
            // ORDERING: Relaxed (both). Statistics read for a report.
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            last_thread,
            last_access: (last != 0).then(|| AccessKind::from_bit(last)),
        }
    }
}

/// The audit of one thread.
///
/// # Invariants
/// - T1: only the thread whose token keys this entry writes its counters (tokens are unique
///   per thread), so they are bumped with a plain load and store rather than an RMW.
#[derive(Debug)]
struct ThreadState {
    name: Option<Arc<str>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl ThreadState {
    fn current() -> Self {
        Self {
            name: std::thread::current().name().map(Arc::from),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// Counts an access by the owning thread (T1).
    fn record(&self, access: AccessKind) {
        let counter = match access {
            AccessKind::Read => &self.reads,
            AccessKind::Write => &self.writes,
        };
        // ORDERING: Relaxed (load and store). Statistic only, and the single writer (T1) makes
        // the load-then-store exact without an RMW.
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    fn report(&self, token: usize) -> ThreadReport {
        ThreadReport {
            token,
            name: self.name.clone(),
            // ORDERING: Relaxed (both). Statistics read for a report.
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }
}

/// Where alerts go, once the sink is set up.
#[derive(Debug)]
enum Delivery {
    Discard,
    Channel(Sender<Alert>),
    Queue(Dispatcher),
}

/// The callback's queue and the thread that drains it.
#[derive(Debug)]
struct Dispatcher {
    /// `Some` until drop; dropping it ends the dispatcher's loop.
    queue: Option<SyncSender<Alert>>,
    worker: Option<JoinHandle<()>>,
}

impl Dispatcher {
    fn spawn(callback: Box<dyn Fn(&Alert) + Send + Sync>, capacity: usize) -> Self {
        let (queue, alerts) = mpsc::sync_channel::<Alert>(capacity);
        let worker = std::thread::Builder::new()
            .name("hmap-audit-alerts".into())
            .spawn(move || {
                for alert in alerts {
                    callback(&alert);
                }
            })
            .expect("the OS refused to start the alert dispatcher thread");
        Self {
            queue: Some(queue),
            worker: Some(worker),
        }
    }

    /// Queues `alert` without waiting; false if it was dropped.
    fn offer(&self, alert: Alert) -> bool {
        // Full or disconnected (the callback panicked): either way the alert is dropped.
        self.queue
            .as_ref()
            .is_some_and(|queue| queue.try_send(alert).is_ok())
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(worker) = self.worker.take() {
            // A callback that owns the map's last handle drops it on the dispatcher itself,
            // which must not join itself: it finishes on its own once this returns.
            if worker.thread().id() != std::thread::current().id() {
                // An `Err` means the callback panicked; the panic hook has reported it, and
                // re-raising it from a destructor could abort the process.
                let _ = worker.join();
            }
        }
    }
}

impl<M> AuditedMap<M> {
    /// Audits `inner` with counters only: no rules, no alerts.
    pub fn new(inner: M) -> Self {
        Self::build(inner, AuditRules::OFF, Delivery::Discard)
    }

    /// Audits `inner`, raising the alerts `rules` ask for into `sink` (with
    /// [`AlertSink::DEFAULT_QUEUE`] for a callback).
    ///
    /// # Panics
    /// If `sink` is a callback and the OS refuses to start its dispatcher thread.
    pub fn with_rules(inner: M, rules: AuditRules, sink: AlertSink) -> Self {
        Self::with_rules_and_queue(inner, rules, sink, AlertSink::DEFAULT_QUEUE)
    }

    /// As [`with_rules`](Self::with_rules), with room for `queue_capacity` alerts waiting for
    /// a callback (0 hands an alert over only while the dispatcher is idle). Ignored for the
    /// other sinks.
    ///
    /// # Panics
    /// If `sink` is a callback and the OS refuses to start its dispatcher thread.
    pub fn with_rules_and_queue(
        inner: M,
        rules: AuditRules,
        sink: AlertSink,
        queue_capacity: usize,
    ) -> Self {
        match sink {
            AlertSink::None => Self::build(inner, AuditRules::OFF, Delivery::Discard),
            AlertSink::Channel(sender) => Self::build(inner, rules, Delivery::Channel(sender)),
            AlertSink::Callback(callback) => Self::build(
                inner,
                rules,
                Delivery::Queue(Dispatcher::spawn(callback, queue_capacity)),
            ),
        }
    }

    fn build(inner: M, rules: AuditRules, delivery: Delivery) -> Self {
        Self {
            inner,
            rules,
            hasher: DefaultHashBuilder::default(),
            keys: ConcurrentHashMap::new(),
            threads: ConcurrentHashMap::new(),
            // ORDERING: Relaxed. Only uniqueness matters; nothing is published through it.
            id: NEXT_MAP_ID.fetch_add(1, Ordering::Relaxed),
            next_key: AtomicU64::new(0),
            delivery,
            alerts_sent: AtomicU64::new(0),
            alerts_dropped: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// The rules in force ([`AuditRules::OFF`] when the sink is [`AlertSink::None`]).
    pub fn rules(&self) -> AuditRules {
        self.rules
    }

    /// The wrapped map. Operations made on it directly are not counted.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Unwraps the map, dropping the audit (a callback's dispatcher finishes its queue first).
    pub fn into_inner(self) -> M {
        self.inner
    }

    /// Every key's and every thread's counters, and the alert totals.
    ///
    /// Costs a walk over both audit tables and one `Debug` formatting per key.
    pub fn report(&self) -> AuditReport {
        let threads = self.threads.pin();
        let mut keys: Vec<(u64, KeyReport)> = self
            .keys
            .pin()
            .iter()
            .map(|(_, key)| (key.first_seen, key.report(&threads)))
            .collect();
        keys.sort_unstable_by_key(|(first_seen, _)| *first_seen);
        let mut threads: Vec<ThreadReport> = threads
            .iter()
            .map(|(token, thread)| thread.report(*token))
            .collect();
        threads.sort_unstable_by_key(|thread| thread.token);
        AuditReport {
            keys: keys.into_iter().map(|(_, key)| key).collect(),
            threads,
            // ORDERING: Relaxed (both). Statistics read for a report.
            alerts_sent: self.alerts_sent.load(Ordering::Relaxed),
            alerts_dropped: self.alerts_dropped.load(Ordering::Relaxed),
        }
    }

    /// The counters of `key`, or `None` if it was never accessed through this map. `Q` must
    /// hash as the map's key type does (as with `Borrow`: `&str` for `String` keys).
    pub fn key_report<Q: Hash + ?Sized>(&self, key: &Q) -> Option<KeyReport> {
        let hash = self.hasher.hash_one(key);
        let threads = self.threads.pin();
        self.keys
            .pin()
            .get(&hash)
            .map(|state| state.report(&threads))
    }

    /// Counts one access to `key` by the calling thread and steps the rules.
    fn record<K>(&self, key: &K, access: AccessKind)
    where
        K: Hash + Clone + fmt::Debug + Send + Sync + 'static,
    {
        // `try_with` fails only while the thread is being torn down: then take the slow path.
        let cached = THREAD_ENTRY.try_with(Cell::take).ok().flatten();
        let (token, thread) = match cached {
            // The token is compared too: under `crate::sched` one OS thread runs many logical
            // threads, one after another, each with its own token (found by a review in session
            // 31: every later logical thread of a pooled thread was counted as the first).
            Some((map, token, thread)) if map == self.id && token == thread_token() => {
                (token, thread)
            }
            _ => self.thread_entry(),
        };
        thread.record(access);

        // UNWIND: if the key's `Hash` or `Clone` panics, this access stays counted for the
        // thread and not for the key, and the thread's cached entry is dropped (the next call
        // looks it up again). Nothing else has changed.
        let hash = self.hasher.hash_one(key);
        let keys = self.keys.pin();
        let state = match keys.get(&hash) {
            Some(state) => state,
            None => {
                // Cloned before the insertion, so that no user code runs while it holds a chain
                // of the audit table (a racing first access may clone in vain).
                let label = KeyLabel(Arc::new(key.clone()));
                keys.get_or_insert_with(hash, || {
                    // ORDERING: Relaxed. Only uniqueness and rough order matter; nothing is
                    // published through it.
                    let first_seen = self.next_key.fetch_add(1, Ordering::Relaxed);
                    KeyState::new(label, first_seen)
                })
            }
        };
        // The thread's entry was inserted by `thread_entry` on its first access, before this
        // Release store (see `KeyState::record`).
        state.record(token, access);

        if access == AccessKind::Write {
            if let Some(limit) = self.rules.max_writes_per_second {
                let now = self.created.elapsed();
                let window = now.as_secs().min(COUNT_MASK);
                if let Some(writes) = state.step_rate(window, limit) {
                    let rule = AlertRule::WriteRate { writes, limit };
                    self.raise(rule, state, &thread, token, now);
                }
            }
        }
        if let Some(flips) = self.rules.alternation_flips {
            let flips = flips.clamp(1, STREAK_MASK as u32);
            if state.step_alternation(token, access, u64::from(flips)) {
                let rule = AlertRule::Alternation { flips };
                self.raise(rule, state, &thread, token, self.created.elapsed());
            }
        }
        // Put back (replacing what a re-entrant call cached meanwhile); fails only in teardown.
        let _ = THREAD_ENTRY.try_with(|slot| slot.set(Some((self.id, token, thread))));
    }

    /// The calling thread's token and entry, registering the thread on its first access.
    fn thread_entry(&self) -> (usize, Arc<ThreadState>) {
        let token = thread_token();
        let threads = self.threads.pin();
        // The lock-free lookup first: `get_or_insert_with` holds the chain even when present.
        let thread = match threads.get(&token) {
            Some(thread) => thread,
            None => threads.get_or_insert_with(token, || Arc::new(ThreadState::current())),
        };
        (token, Arc::clone(thread))
    }

    /// Hands an alert to the sink without waiting, and counts the outcome.
    fn raise(
        &self,
        rule: AlertRule,
        key: &KeyState,
        thread: &ThreadState,
        token: usize,
        at: Duration,
    ) {
        let alert = Alert {
            rule,
            key: key.label.clone(),
            thread: ThreadTag {
                token,
                name: thread.name.clone(),
            },
            at,
        };
        let delivered = match &self.delivery {
            Delivery::Discard => false,
            Delivery::Channel(sender) => sender.send(alert).is_ok(),
            Delivery::Queue(dispatcher) => dispatcher.offer(alert),
        };
        let counter = if delivered {
            &self.alerts_sent
        } else {
            &self.alerts_dropped
        };
        // ORDERING: Relaxed. Statistic only; the alert itself travels through the channel,
        // which synchronises on its own.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl<M: Default> Default for AuditedMap<M> {
    fn default() -> Self {
        Self::new(M::default())
    }
}

impl<M: fmt::Debug> fmt::Debug for AuditedMap<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditedMap")
            .field("inner", &self.inner)
            .field("rules", &self.rules)
            .field("keys_seen", &self.keys.len())
            .field("threads_seen", &self.threads.len())
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

/// Counts, then forwards to the inner map (see "What is counted" on [`AuditedMap`]).
impl<K, V, M> SharedMap<K, V> for AuditedMap<M>
where
    M: SharedMap<K, V>,
    K: Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    fn load(&self, key: &K) -> Option<V> {
        self.record(key, AccessKind::Read);
        self.inner.load(key)
    }

    fn store(&self, key: K, value: V) {
        self.record(&key, AccessKind::Write);
        self.inner.store(key, value);
    }

    fn delete(&self, key: &K) {
        self.record(key, AccessKind::Write);
        self.inner.delete(key);
    }

    /// The inner map's `range`, counting a read of each key as it is handed to `f`. The
    /// counting runs inside the inner `range`, so it lengthens whatever the inner map holds
    /// meanwhile (a lock, a snapshot).
    fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        self.inner.range(|key, value| {
            self.record(key, AccessKind::Read);
            f(key, value)
        });
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}
