use bbwrap::Rng;
use hmap::wrappers::*;
use std::collections::HashMap as StdMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::*};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn msg(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// Runs f on a thread, fails if it doesn't finish within secs (deadlock detector).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || { let r = catch_unwind(AssertUnwindSafe(f)); let _ = tx.send(r); });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => std::panic::resume_unwind(e),
        Err(_) => panic!("DEADLOCK/HANG: {what} did not finish in {secs}s"),
    }
}

// ---------- a generic "insert returns previous" linearizability check ----------
trait Swapper: Sync {
    fn swap_in(&self, k: u64, v: u64) -> Option<u64>;
    fn take(&self, k: u64) -> Option<u64>;
    fn dump(&self) -> Vec<(u64, u64)>;
}
impl<B: Backend> Swapper for SafeMap<u64, u64, B> where SafeMap<u64, u64, B>: Sync {
    fn swap_in(&self, k: u64, v: u64) -> Option<u64> { self.insert(k, v) }
    fn take(&self, k: u64) -> Option<u64> { self.remove(&k) }
    fn dump(&self) -> Vec<(u64, u64)> { let mut v = vec![]; self.range(|k, x| { v.push((*k, *x)); true }); v }
}
impl Swapper for ShardedMap<u64, u64> {
    fn swap_in(&self, k: u64, v: u64) -> Option<u64> { self.insert(k, v) }
    fn take(&self, k: u64) -> Option<u64> { self.remove(&k) }
    fn dump(&self) -> Vec<(u64, u64)> { let mut v = vec![]; self.range(|k, x| { v.push((*k, *x)); true }); v }
}
impl Swapper for CowMap<u64, u64> {
    fn swap_in(&self, k: u64, v: u64) -> Option<u64> { self.insert(k, v) }
    fn take(&self, k: u64) -> Option<u64> { self.remove(&k) }
    fn dump(&self) -> Vec<(u64, u64)> { let mut v = vec![]; self.range(|k, x| { v.push((*k, *x)); true }); v }
}
impl Swapper for SyncMap<u64, u64> {
    fn swap_in(&self, k: u64, v: u64) -> Option<u64> { self.swap(k, v) }
    fn take(&self, k: u64) -> Option<u64> { self.load_and_delete(&k) }
    fn dump(&self) -> Vec<(u64, u64)> { let mut v = vec![]; self.range(|k, x| { v.push((*k, *x)); true }); v }
}

/// Every value written is observed exactly once: as a previous value returned by swap_in/take,
/// or in the final state. Values are unique (thread, seq). Lost or duplicated updates fail.
fn conservation<M: Swapper>(m: &M, threads: u64, ops: u64, keys: u64, name: &str) {
    let bar = Barrier::new(threads as usize);
    let seen: Vec<Vec<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|t| { let bar = &bar; s.spawn(move || {
            let mut r = Rng(t * 1000 + 17);
            let mut got = vec![];
            bar.wait();
            for i in 0..ops {
                let k = r.below(keys);
                let v = (t << 32) | i;
                if r.below(5) == 0 { if let Some(x) = m.take(k) { got.push(x); } }
                else { if let Some(x) = m.swap_in(k, v) { got.push(x); } }
                if r.below(5) != 0 { got.push(u64::MAX - v); } // mark written
            }
            got
        }) }).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // reconstruct: written values
    let _ = seen;
    // simpler exact bookkeeping below
    let _ = name;
}

fn conservation_exact<M: Swapper>(m: &M, threads: u64, ops: u64, keys: u64, name: &str) {
    let bar = Barrier::new(threads as usize);
    let res: Vec<(Vec<u64>, Vec<u64>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|t| { let bar = &bar; s.spawn(move || {
            let mut r = Rng(t * 1000 + 17);
            let (mut written, mut observed) = (vec![], vec![]);
            bar.wait();
            for i in 0..ops {
                let k = r.below(keys);
                let v = (t << 32) | i;
                if r.below(5) == 0 { if let Some(x) = m.take(k) { observed.push(x); } }
                else { written.push(v); if let Some(x) = m.swap_in(k, v) { observed.push(x); } }
            }
            (written, observed)
        }) }).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut written: Vec<u64> = res.iter().flat_map(|r| r.0.iter().copied()).collect();
    let mut observed: Vec<u64> = res.iter().flat_map(|r| r.1.iter().copied()).collect();
    let fin = m.dump();
    observed.extend(fin.iter().map(|x| x.1));
    written.sort();
    observed.sort();
    let mut dup = 0; for w in observed.windows(2) { if w[0] == w[1] { dup += 1; } }
    assert_eq!(dup, 0, "{name}: {dup} values observed twice");
    assert_eq!(written.len(), observed.len(), "{name}: written {} observed {} (lost updates)", written.len(), observed.len());
    assert_eq!(written, observed, "{name}");
    let mut ks: Vec<u64> = fin.iter().map(|x| x.0).collect(); ks.sort(); ks.dedup();
    assert_eq!(ks.len(), fin.len(), "{name}: range saw a key twice");
}

#[test]
fn conservation_all() {
    let _ = conservation::<ShardedMap<u64, u64>>;
    conservation_exact(&SafeMap::<u64, u64, RwLockBackend>::new(), 4, 30_000, 64, "safe/rwlock");
    conservation_exact(&SafeMap::<u64, u64, MutexBackend>::new(), 4, 30_000, 64, "safe/mutex");
    conservation_exact(&SafeMap::<u64, u64, ActorBackend>::new(), 3, 3_000, 64, "safe/actor");
    conservation_exact(&ShardedMap::<u64, u64>::new(), 4, 30_000, 64, "sharded");
    conservation_exact(&ShardedMap::<u64, u64>::with_shards(1), 4, 20_000, 64, "sharded/1");
    conservation_exact(&CowMap::<u64, u64>::new(), 4, 5_000, 64, "cow");
    for keys in [1, 4, 64, 5000] {
        conservation_exact(&SyncMap::<u64, u64>::new(), 4, 40_000, keys, "sync");
    }
}

// ---------- re-entrance ----------
#[test]
fn reentrance_panics_not_deadlocks_and_map_recovers() {
    macro_rules! check {
        ($mk:expr, $name:expr) => {{
            within(20, $name, move || {
                let m = $mk;
                for i in 0..200u64 { m.store(i, i); }
                for which in 0..5 {
                    let r = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| {
                        match which { 0 => { m.load(&1); } 1 => { m.store(999, 1); } 2 => { m.delete(&1); } 3 => { m.len(); } _ => { m.range(|_, _| true); } }
                        true
                    })));
                    let e = r.expect_err(concat!($name, ": re-entrant call did not panic"));
                    let _ = msg(&e);
                    // after the panic: the map works on this thread and others
                    assert_eq!(m.load(&5), Some(5), "{} which {which}", $name);
                    m.store(5, 5);
                    std::thread::scope(|s| { s.spawn(|| m.store(6, 6)); });
                }
                assert_eq!(m.len(), 200);
                // a panicking callback releases the lock / re-entry record
                let r = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| panic!("user"))));
                assert_eq!(msg(&r.unwrap_err()), "user");
                m.store(7, 70);
                assert_eq!(m.load(&7), Some(70));
                std::thread::scope(|s| { s.spawn(|| m.store(8, 80)); });
                assert_eq!(m.load(&8), Some(80));
                // nested range over a *different* map is fine
                let other = $mk;
                other.store(1, 1);
                let mut n = 0;
                m.range(|_, _| { other.range(|_, _| { n += 1; true }); other.store(2, 2); true });
                assert_eq!(n, 200 + 199);
            })
        }};
    }
    check!(SafeMap::<u64, u64, RwLockBackend>::new(), "safe/rwlock");
    check!(SafeMap::<u64, u64, MutexBackend>::new(), "safe/mutex");
    check!(SafeMap::<u64, u64, ActorBackend>::new(), "safe/actor");
    check!(ShardedMap::<u64, u64>::new(), "sharded");
}

#[test]
fn range_early_exit_and_panic_in_callback_actor_with_many_entries() {
    within(30, "actor range", || {
        let m: SafeMap<u64, u64, ActorBackend> = SafeMap::new();
        for i in 0..1000 { m.store(i, i); }
        for stop in [0usize, 1, 63, 64, 65, 130, 999] {
            let mut n = 0;
            m.range(|_, _| { n += 1; n <= stop });
            assert_eq!(n, stop + 1);
            // a store from another thread must go through after the early-exited range
            std::thread::scope(|s| { s.spawn(|| m.store(5000, 1)); });
            m.delete(&5000);
        }
        for at in [0usize, 10, 64, 100] {
            let mut n = 0;
            let r = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| { if n == at { panic!("cb") } n += 1; true })));
            assert!(r.is_err());
            std::thread::scope(|s| { s.spawn(|| m.store(5000, 1)); });
            assert_eq!(m.load(&5000), Some(1));
        }
        let mut n = 0;
        m.range(|_, _| { n += 1; true });
        assert_eq!(n, 1001);
    });
}

// ---------- panicking Hash/Clone leaves each wrapper usable ----------
#[derive(Debug)]
struct PK(u64);
static BOMBS: AtomicBool = AtomicBool::new(false);
impl Hash for PK { fn hash<H: Hasher>(&self, h: &mut H) { if self.0 % 10 == 7 && BOMBS.load(Relaxed) { panic!("hash bomb") } self.0.hash(h) } }
impl PartialEq for PK { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for PK {}
impl Clone for PK { fn clone(&self) -> Self { if self.0 % 10 == 3 && BOMBS.load(Relaxed) { panic!("clone bomb") } PK(self.0) } }

#[test]
fn panicking_key_code_all_wrappers() {
    fn go<M: SharedMap<PK, u64> + Sync>(m: &M, name: &str) {
        BOMBS.store(false, SeqCst);
        for i in 0..200 { m.store(PK(i), i); }
        BOMBS.store(true, SeqCst);
        let mut panics = 0;
        for i in 200..400 {
            if catch_unwind(AssertUnwindSafe(|| m.store(PK(i), i))).is_err() { panics += 1; }
            if catch_unwind(AssertUnwindSafe(|| m.load(&PK(i - 200)))).is_err() { panics += 1; }
            if catch_unwind(AssertUnwindSafe(|| m.delete(&PK(i - 100)))).is_err() { panics += 1; }
        }
        BOMBS.store(false, SeqCst);
        assert!(panics > 0);
        // usable, consistent: each key in range exactly once, len agrees
        let mut ks = vec![];
        m.range(|k, v| { assert_eq!(k.0, *v); ks.push(k.0); true });
        let n = ks.len(); ks.sort(); ks.dedup();
        assert_eq!(ks.len(), n, "{name}: dup key in range");
        assert_eq!(m.len(), n, "{name}: len vs range");
        for &k in &ks { assert_eq!(m.load(&PK(k)), Some(k), "{name}"); }
        m.store(PK(7), 7);
        assert_eq!(m.load(&PK(7)), Some(7));
    }
    go(&SafeMap::<PK, u64, RwLockBackend>::new(), "rw");
    go(&SafeMap::<PK, u64, MutexBackend>::new(), "mutex");
    go(&SafeMap::<PK, u64, ActorBackend>::new(), "actor");
    go(&ShardedMap::<PK, u64>::new(), "sharded");
    go(&CowMap::<PK, u64>::new(), "cow");
    let s = SyncMap::<PK, u64>::new();
    go(&s, "sync");
    s.check_invariants();
    let f = FailFastMap::<PK, u64>::new();
    go(&f, "failfast");
    assert_eq!(f.detections(), 0);
}

// ---------- drop accounting ----------
static LIVE: AtomicI64 = AtomicI64::new(0);
#[derive(Debug, PartialEq)]
struct DV(u64);
impl DV { fn new(x: u64) -> Self { LIVE.fetch_add(1, SeqCst); DV(x) } }
impl Clone for DV { fn clone(&self) -> Self { DV::new(self.0) } }
impl Drop for DV { fn drop(&mut self) { LIVE.fetch_sub(1, SeqCst); } }

#[test]
fn drop_accounting_all_wrappers() {
    fn churn<M: SharedMap<u64, DV> + Sync>(m: M, name: &str) {
        std::thread::scope(|s| {
            for t in 0..3u64 { let m = &m; s.spawn(move || {
                let mut r = Rng(t + 5);
                for _ in 0..3000 {
                    let k = r.below(100);
                    match r.below(4) { 0 | 1 => m.store(k, DV::new(k)), 2 => m.delete(&k), _ => { drop(m.load(&k)); } }
                }
            }); }
        });
        let n = m.len() as i64;
        let l = LIVE.load(SeqCst);
        drop(m);
        let after = LIVE.load(SeqCst);
        assert_eq!(after, 0, "{name}: {after} values alive after drop (len was {n}, live before drop {l})");
    }
    // these tests share LIVE; run sequentially in this one test
    churn(SafeMap::<u64, DV, RwLockBackend>::new(), "rw");
    churn(SafeMap::<u64, DV, MutexBackend>::new(), "mutex");
    churn(ShardedMap::<u64, DV>::new(), "sharded");
    churn(CowMap::<u64, DV>::new(), "cow");
    churn(SyncMap::<u64, DV>::new(), "sync");
    // Removed when kept in design/results (session 29): `churn` runs 3 threads, which
    // FailFastMap detects as misuse ("concurrent map writes") when their writes overlap, so the
    // line failed at random (a flaw of the test, not of the map).
    // churn(FailFastMap::<u64, DV>::new(), "failfast-single");
    // actor: drop waits for owner thread? check after a short grace
    {
        let m = SafeMap::<u64, DV, ActorBackend>::new();
        for i in 0..500 { m.store(i % 50, DV::new(i)); }
        drop(m);
        let mut after = LIVE.load(SeqCst);
        for _ in 0..100 { if after == 0 { break; } std::thread::sleep(Duration::from_millis(10)); after = LIVE.load(SeqCst); }
        assert_eq!(after, 0, "actor: values alive after drop");
    }
    // sync map: all operations
    {
        let m = SyncMap::<u64, DV>::new();
        let mut r = Rng(99);
        for _ in 0..20_000 {
            let k = r.below(40);
            match r.below(10) {
                0 => m.store(k, DV::new(k)),
                1 => { drop(m.swap(k, DV::new(k))); }
                2 => { drop(m.load_or_store(k, DV::new(k))); }
                3 => { drop(m.load_and_delete(&k)); }
                4 => m.delete(&k),
                5 => { m.compare_and_swap(&k, &DV(k), DV::new(k)); std::mem::forget(DV(0)); }
                6 => { m.compare_and_delete(&k, &DV(k)); std::mem::forget(DV(0)); }
                7 => { if r.below(50) == 0 { m.clear(); } }
                8 => { m.range(|_, _| true); }
                _ => { drop(m.load(&k)); }
            }
        }
        // note: DV(k) temporaries constructed without new() — compensate: they decremented LIVE on drop
        // (we forget a DV(0) to not skew; the temporary &DV(k) still drops). Track precisely instead:
        drop(m);
    }
}

#[test]
fn syncmap_drop_accounting_precise() {
    static L2: AtomicI64 = AtomicI64::new(0);
    #[derive(Debug)]
    struct V2(u64);
    impl V2 { fn new(x: u64) -> Self { L2.fetch_add(1, SeqCst); V2(x) } }
    impl Clone for V2 { fn clone(&self) -> Self { V2::new(self.0) } }
    impl Drop for V2 { fn drop(&mut self) { L2.fetch_sub(1, SeqCst); } }
    impl PartialEq for V2 { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
    {
        let m = SyncMap::<u64, V2>::new();
        std::thread::scope(|s| { for t in 0..3u64 { let m = &m; s.spawn(move || {
            let mut r = Rng(t * 7 + 1);
            for _ in 0..20_000 {
                let k = r.below(40);
                match r.below(10) {
                    0 => m.store(k, V2::new(k)),
                    1 => { drop(m.swap(k, V2::new(k))); }
                    2 => { drop(m.load_or_store(k, V2::new(k))); }
                    3 => { drop(m.load_and_delete(&k)); }
                    4 => m.delete(&k),
                    5 => { let old = V2::new(k); m.compare_and_swap(&k, &old, V2::new(k)); }
                    6 => { let old = V2::new(k); m.compare_and_delete(&k, &old); }
                    7 => { if r.below(50) == 0 { m.clear(); } }
                    8 => { m.range(|_, _| true); }
                    _ => { drop(m.load(&k)); }
                }
            }
        }); } });
        m.check_invariants();
        let n = m.len() as i64;
        let live = L2.load(SeqCst);
        assert!(live >= n, "live {live} < len {n}");
        drop(m);
    }
    assert_eq!(L2.load(SeqCst), 0, "SyncMap leaked or double-dropped values");
}
