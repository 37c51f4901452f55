//! [`Backend`]: how [`SafeMap`](super::SafeMap) synchronises access to its one map, with three
//! implementations: [`MutexBackend`], [`RwLockBackend`] and [`ActorBackend`].
//!
//! The map code of `SafeMap` is written once, as plain functions over `&HashMap` or
//! `&mut HashMap` (`fn` pointers, not closures, so that they can travel to another thread); a
//! backend decides where and under which lock they run. Arguments travel with them: a borrowed
//! key is lent to the lock backends and cloned for the actor, which needs owned messages.
#![deny(unsafe_code)]

use core::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, JoinHandle};

use crate::HashMap;

/// A synchronisation strategy for one [`HashMap`]: where map operations run and what they
/// exclude. [`SafeMap`](super::SafeMap)'s code is the same for every backend.
///
/// `Cell<K, V, S>` is the map together with its synchronisation. Operations are `fn` pointers
/// plus an argument, so that a backend may run them on another thread ([`ActorBackend`]). A
/// panic inside an operation (a panicking `Hash`, `Eq` or `Clone`) reaches the caller as a
/// panic; the map stays consistent and usable (locks are not left poisoned for later callers).
pub trait Backend: 'static {
    /// The name reports and benches use (`"mutex"`, `"rwlock"`, `"actor"`).
    const NAME: &'static str;
    /// Whether readers run at the same time as each other.
    const SHARED_READS: bool;

    /// A map behind this backend's synchronisation.
    type Cell<K, V, S>;

    /// Takes ownership of `map`.
    fn new_cell<K, V, S>(map: HashMap<K, V, S>) -> Self::Cell<K, V, S>
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static;

    /// Runs `op(&map)` as a reader.
    fn read<K, V, S, R>(cell: &Self::Cell<K, V, S>, op: fn(&HashMap<K, V, S>) -> R) -> R
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static;

    /// Runs `op(&map, key)` as a reader.
    fn read_key<K, V, S, R>(
        cell: &Self::Cell<K, V, S>,
        key: &K,
        op: fn(&HashMap<K, V, S>, &K) -> R,
    ) -> R
    where
        K: Clone + Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static;

    /// Runs `op(&mut map, arg)` as the only accessor.
    fn write<K, V, S, A, R>(
        cell: &Self::Cell<K, V, S>,
        arg: A,
        op: fn(&mut HashMap<K, V, S>, A) -> R,
    ) -> R
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        A: Send + 'static,
        R: Send + 'static;

    /// Runs `op(&mut map, key)` as the only accessor.
    fn write_key<K, V, S, R>(
        cell: &Self::Cell<K, V, S>,
        key: &K,
        op: fn(&mut HashMap<K, V, S>, &K) -> R,
    ) -> R
    where
        K: Clone + Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static;

    /// Calls `f` on the entries, in the map's (random) iteration order, until it returns
    /// `false`, excluding writers for the whole call (Go: `RLock` held across the loop).
    fn range<K, V, S>(cell: &Self::Cell<K, V, S>, f: &mut dyn FnMut(&K, &V) -> bool)
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
        S: Send + 'static;
}

/// One `std::sync::Mutex` around the map: readers exclude each other too. Go: a struct with a
/// `sync.Mutex`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MutexBackend;

/// One `std::sync::RwLock` around the map: readers share it, writers take it alone. Go: a
/// struct with a `sync.RWMutex`, the article's `SafeMap`. std's lock on Linux is futex-based and
/// prefers writers once one waits (as Go's `RWMutex` blocks new readers behind a waiting writer).
#[derive(Debug, Clone, Copy, Default)]
pub struct RwLockBackend;

/// One thread owns the map; every operation travels to it over a channel and its answer comes
/// back on a one-off reply channel. Go: a goroutine owning a map, serving requests from a
/// `chan`. Operations are serialised like [`MutexBackend`]'s, plus two channel hand-offs and two
/// small allocations (the message and the reply channel) per operation.
///
/// The owner thread is named `hmap-actor`; dropping the map stops and joins it (the map's
/// entries are dropped there).
#[derive(Debug, Clone, Copy, Default)]
pub struct ActorBackend;

/// Recovers a lock poisoned by a panicking `Hash`/`Eq`/`Clone`: the map is panic-safe (its own
/// guarantee), so the data behind the lock is consistent.
fn unpoison<G>(result: Result<G, PoisonError<G>>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

/// Takes a `Mutex` (for reading and writing alike).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    unpoison(mutex.lock())
}

/// Takes an `RwLock` shared.
fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    unpoison(lock.read())
}

/// Takes an `RwLock` exclusively.
fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    unpoison(lock.write())
}

/// The two lock backends run every operation on the caller's thread, under the lock; they
/// differ only in the lock type and in how a reader and a writer take it.
macro_rules! lock_backend {
    ($backend:ty, $lock:ident, $name:literal, shared_reads: $shared:literal,
     read: $read:ident, write: $write:ident) => {
        impl Backend for $backend {
            const NAME: &'static str = $name;
            const SHARED_READS: bool = $shared;

            type Cell<K, V, S> = $lock<HashMap<K, V, S>>;

            fn new_cell<K, V, S>(map: HashMap<K, V, S>) -> Self::Cell<K, V, S> {
                $lock::new(map)
            }

            fn read<K, V, S, R>(cell: &Self::Cell<K, V, S>, op: fn(&HashMap<K, V, S>) -> R) -> R {
                op(&$read(cell))
            }

            fn read_key<K, V, S, R>(
                cell: &Self::Cell<K, V, S>,
                key: &K,
                op: fn(&HashMap<K, V, S>, &K) -> R,
            ) -> R {
                op(&$read(cell), key)
            }

            fn write<K, V, S, A, R>(
                cell: &Self::Cell<K, V, S>,
                arg: A,
                op: fn(&mut HashMap<K, V, S>, A) -> R,
            ) -> R {
                op(&mut $write(cell), arg)
            }

            fn write_key<K, V, S, R>(
                cell: &Self::Cell<K, V, S>,
                key: &K,
                op: fn(&mut HashMap<K, V, S>, &K) -> R,
            ) -> R {
                op(&mut $write(cell), key)
            }

            fn range<K, V, S>(cell: &Self::Cell<K, V, S>, f: &mut dyn FnMut(&K, &V) -> bool) {
                let map = $read(cell);
                for (key, value) in map.iter() {
                    if !f(key, value) {
                        break;
                    }
                }
            }
        }
    };
}

lock_backend!(MutexBackend, Mutex, "mutex", shared_reads: false, read: lock, write: lock);
lock_backend!(RwLockBackend, RwLock, "rwlock", shared_reads: true, read: read_lock, write: write_lock);

/// A job for the owner thread: runs against the map and answers on its own reply channel.
type Job<T> = Box<dyn FnOnce(&mut T) + Send>;

/// What an operation sends back: its result, or the payload of the panic it raised.
type Answer<R> = thread::Result<R>;

/// Entries per message when [`ActorBackend`] streams a `range` to the caller.
const RANGE_CHUNK: usize = 64;

/// The state behind [`ActorBackend`]: the sending end of the owner thread's mailbox and the
/// thread's handle.
///
/// # Invariants
/// - A1: `mailbox` and `owner` are `Some` from construction until `drop`.
/// - A2: the owner thread is the only code that touches the map; it runs one job at a time, in
///   the order the jobs arrived, and ends (dropping the map) when `mailbox` is dropped.
pub struct ActorCell<T> {
    /// A1. `Sender` is `Sync`: any number of threads send through `&self`.
    mailbox: Option<Sender<Job<T>>>,
    /// A1, A2: joined on drop.
    owner: Option<JoinHandle<()>>,
}

impl<T> fmt::Debug for ActorCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorCell")
            .field("owner", &self.owner.as_ref().map(|h| h.thread().id()))
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> ActorCell<T> {
    fn spawn(mut value: T) -> Self {
        let (mailbox, jobs) = mpsc::channel::<Job<T>>();
        let owner = thread::Builder::new()
            .name("hmap-actor".into())
            .spawn(move || {
                // A2: one job at a time, until every sender is gone.
                for job in jobs {
                    job(&mut value);
                }
            })
            .expect("hmap: could not spawn the ActorBackend owner thread");
        Self {
            mailbox: Some(mailbox),
            owner: Some(owner),
        }
    }

    fn post(&self, job: Job<T>) {
        self.mailbox
            .as_ref()
            .expect("A1: the mailbox lives until drop")
            .send(job)
            .expect("hmap: the ActorBackend owner thread has stopped");
    }

    /// Runs `op` on the owner thread and waits for its answer; re-raises its panic here.
    fn call<R: Send + 'static>(&self, op: impl FnOnce(&mut T) -> R + Send + 'static) -> R {
        let (reply, answer) = mpsc::sync_channel::<Answer<R>>(1);
        self.post(Box::new(move |value: &mut T| {
            // The map is panic-safe, so a panicking operation leaves it consistent: asserting
            // unwind safety is sound, and the owner thread lives on to serve the next job.
            let result = panic::catch_unwind(AssertUnwindSafe(|| op(value)));
            // The caller waits on `answer` until this arrives; a send error cannot happen.
            let _ = reply.send(result);
        }));
        match answer.recv() {
            Ok(Ok(result)) => result,
            Ok(Err(payload)) => panic::resume_unwind(payload),
            Err(_) => panic!("hmap: the ActorBackend owner thread stopped before answering"),
        }
    }
}

impl<T> Drop for ActorCell<T> {
    fn drop(&mut self) {
        drop(self.mailbox.take());
        if let Some(owner) = self.owner.take() {
            // A job never panics out of the loop (each catches its own), so the thread ends
            // normally once the mailbox is closed.
            let _ = owner.join();
        }
    }
}

/// One message of a streamed `range`: a chunk of cloned entries, or a panic from cloning.
type RangeChunk<K, V> = thread::Result<Vec<(K, V)>>;

/// The owner thread's side of a streamed `range`: clones `RANGE_CHUNK` entries at a time and
/// waits for the caller's go-ahead between chunks, so writers stay excluded for the whole range
/// (the mailbox holds them) and an early exit stops the copying.
fn stream_entries<K: Clone, V: Clone, S>(
    map: &HashMap<K, V, S>,
    chunks: &SyncSender<RangeChunk<K, V>>,
    go_ahead: &Receiver<()>,
) {
    let mut entries = map.iter();
    loop {
        let chunk = panic::catch_unwind(AssertUnwindSafe(|| {
            entries
                .by_ref()
                .take(RANGE_CHUNK)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        }));
        let last = !matches!(&chunk, Ok(c) if c.len() == RANGE_CHUNK);
        if chunks.send(chunk).is_err() || last || go_ahead.recv().is_err() {
            return;
        }
    }
}

impl Backend for ActorBackend {
    const NAME: &'static str = "actor";
    const SHARED_READS: bool = false;

    type Cell<K, V, S> = ActorCell<HashMap<K, V, S>>;

    fn new_cell<K, V, S>(map: HashMap<K, V, S>) -> Self::Cell<K, V, S>
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
    {
        ActorCell::spawn(map)
    }

    fn read<K, V, S, R>(cell: &Self::Cell<K, V, S>, op: fn(&HashMap<K, V, S>) -> R) -> R
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static,
    {
        cell.call(move |map| op(map))
    }

    fn read_key<K, V, S, R>(
        cell: &Self::Cell<K, V, S>,
        key: &K,
        op: fn(&HashMap<K, V, S>, &K) -> R,
    ) -> R
    where
        K: Clone + Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static,
    {
        let key = key.clone();
        // The clone comes back with the answer and is dropped here, not on the owner thread,
        // where a `Drop` that used the map would wait on its own mailbox.
        let (result, _key) = cell.call(move |map| (op(map, &key), key));
        result
    }

    fn write<K, V, S, A, R>(
        cell: &Self::Cell<K, V, S>,
        arg: A,
        op: fn(&mut HashMap<K, V, S>, A) -> R,
    ) -> R
    where
        K: Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        A: Send + 'static,
        R: Send + 'static,
    {
        cell.call(move |map| op(map, arg))
    }

    fn write_key<K, V, S, R>(
        cell: &Self::Cell<K, V, S>,
        key: &K,
        op: fn(&mut HashMap<K, V, S>, &K) -> R,
    ) -> R
    where
        K: Clone + Send + 'static,
        V: Send + 'static,
        S: Send + 'static,
        R: Send + 'static,
    {
        let key = key.clone();
        // As in `read_key`.
        let (result, _key) = cell.call(move |map| (op(map, &key), key));
        result
    }

    /// GO: a goroutine that owns the map would run `f` itself; `f` borrows the caller's stack
    /// and cannot travel, so the owner streams clones of the entries back, `RANGE_CHUNK` at a
    /// time, and waits between chunks: writers stay excluded for the whole range, as under a
    /// read lock, and an early exit stops the stream.
    fn range<K, V, S>(cell: &Self::Cell<K, V, S>, f: &mut dyn FnMut(&K, &V) -> bool)
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
        S: Send + 'static,
    {
        // Copies are dropped only once the owner has left the range job: their `Drop` may use
        // the map, which would wait for the owner while the owner waits for us. Declared before
        // the channels, so that on unwind (a panicking `f`) it drops after them, when the owner
        // no longer waits. Without drop glue a chunk goes as soon as it is used, and the range
        // needs memory for one chunk rather than for a copy of the map.
        let mut used: Vec<Vec<(K, V)>> = Vec::new();
        let (chunk_tx, chunks) = mpsc::sync_channel::<RangeChunk<K, V>>(1);
        let (go_ahead, go_ahead_rx) = mpsc::sync_channel::<()>(1);
        cell.post(Box::new(move |map: &mut HashMap<K, V, S>| {
            stream_entries(map, &chunk_tx, &go_ahead_rx);
        }));
        // `chunks` ends (recv error) when the owner has sent the last chunk and dropped the
        // job; dropping `go_ahead` on an early exit stops the owner at its next wait.
        while let Ok(chunk) = chunks.recv() {
            used.push(chunk.unwrap_or_else(|payload| panic::resume_unwind(payload)));
            let chunk = used.last().expect("pushed just now");
            let stop = !chunk.iter().all(|(key, value)| f(key, value));
            if !core::mem::needs_drop::<(K, V)>() {
                used.clear();
            }
            if stop || go_ahead.send(()).is_err() {
                break;
            }
        }
        drop(go_ahead);
        // Wait for the job to end: its sender goes with it.
        while let Ok(chunk) = chunks.recv() {
            if let Ok(chunk) = chunk {
                used.push(chunk);
            }
        }
        drop(used);
    }
}
