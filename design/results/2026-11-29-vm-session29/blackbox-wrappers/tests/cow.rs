use hmap::wrappers::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::Duration;

fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || { let r = catch_unwind(AssertUnwindSafe(f)); let _ = tx.send(r); });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => std::panic::resume_unwind(e),
        Err(_) => panic!("DEADLOCK/HANG: {what} did not finish in {secs}s"),
    }
}

#[test]
fn cow_panic_in_modify_then_usable() {
    within(10, "cow after panic in modify", || {
        let m: CowMap<u64, u64> = CowMap::new();
        m.store(1, 1);
        let r = catch_unwind(AssertUnwindSafe(|| m.modify(|mm| { mm.insert(2, 2); panic!("boom") })));
        assert!(r.is_err());
        assert_eq!(m.load(&2), None, "panic published");
        assert_eq!(m.len(), 1);
        // later writes must work (no poisoned-forever mutex)
        let r = catch_unwind(AssertUnwindSafe(|| m.store(3, 3)));
        assert!(r.is_ok(), "store after a panicking modify panics: {:?}", r.err().map(|e| e.downcast_ref::<String>().cloned().or(e.downcast_ref::<&str>().map(|s| s.to_string()))));
        assert_eq!(m.load(&3), Some(3));
        m.modify(|mm| mm.insert(4, 4));
        m.delete(&1);
        m.clear();
        assert!(m.is_empty());
    });
}

#[test]
fn cow_range_callback_writes_and_snapshot_stable() {
    let m: CowMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    let snap = m.snapshot();
    let mut n = 0;
    m.range(|k, _| { m.store(k + 1000, 0); m.delete(k); n += 1; true });
    assert_eq!(n, 100);
    assert_eq!(m.len(), 100);
    assert!((0..100).all(|k| m.load(&(k + 1000)) == Some(0)));
    assert_eq!(snap.len(), 100);
    assert_eq!(snap.get(&5), Some(&5));
    // delete absent publishes nothing
    let s1 = m.snapshot();
    m.delete(&999_999);
    assert!(std::sync::Arc::ptr_eq(&s1, &m.snapshot()), "delete of absent key published a new version");
    assert_eq!(m.remove(&999_999), None);
    assert!(std::sync::Arc::ptr_eq(&s1, &m.snapshot()));
}

#[test]
fn cow_concurrent_modify_no_lost_counter() {
    let m: CowMap<u64, u64> = CowMap::new();
    m.store(0, 0);
    std::thread::scope(|s| { for _ in 0..4 { let m = &m; s.spawn(move || {
        for _ in 0..2000 { m.modify(|mm| { *mm.get_mut(&0).unwrap() += 1; }); }
    }); } });
    assert_eq!(m.load(&0), Some(8000));
}

#[test]
fn cow_modify_reentrant_write() {
    // Not documented either way; report behavior (deadlock would be a hang).
    let r = std::panic::catch_unwind(|| within(5, "cow store from inside modify", || {
        let m: CowMap<u64, u64> = CowMap::new();
        let m = std::sync::Arc::new(m);
        let m2 = m.clone();
        let r = catch_unwind(AssertUnwindSafe(|| m.modify(|mm| { mm.insert(1, 1); m2.store(2, 2); })));
        (r.is_err(), m.len())
    }));
    println!("cow re-entrant store from modify: {:?}", r.as_ref().map_err(|e| e.downcast_ref::<String>().cloned()));
}

#[test]
fn debug_format_inside_range() {
    fn go<M: SharedMap<u64, u64> + std::fmt::Debug + Sync + Send + 'static>(m: M, name: &'static str) {
        let r = within(10, name, move || {
            for i in 0..50 { m.store(i, i); }
            let r = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| { let _ = format!("{m:?}"); false })));
            let after = m.load(&3);
            (r.is_err(), after)
        });
        println!("{name}: Debug inside range panicked={}, map usable after: {:?}", r.0, r.1);
        assert_eq!(r.1, Some(3));
    }
    go(SafeMap::<u64, u64, RwLockBackend>::new(), "rw");
    go(SafeMap::<u64, u64, MutexBackend>::new(), "mutex");
    go(SafeMap::<u64, u64, ActorBackend>::new(), "actor");
    go(ShardedMap::<u64, u64>::new(), "sharded");
    go(CowMap::<u64, u64>::new(), "cow");
    go(SyncMap::<u64, u64>::new(), "sync");
    go(FailFastMap::<u64, u64>::new(), "failfast");
}

#[test]
fn sharded_ctor_and_distribution() {
    for bad in [0usize, 3, 6, 12] {
        assert!(catch_unwind(|| ShardedMap::<u64, u64>::with_shards(bad)).is_err(), "with_shards({bad}) should panic");
    }
    let m = ShardedMap::<u64, u64>::with_shards(1);
    for i in 0..100 { m.store(i, i); }
    assert_eq!(m.shard_lens(), vec![100]);
    let m = ShardedMap::<u64, u64>::with_shards(64);
    for i in 0..6400 { m.store(i, i); }
    let l = m.shard_lens();
    assert_eq!(l.len(), 64);
    assert_eq!(l.iter().sum::<usize>(), 6400);
    for i in 0..6400 { assert!(m.shard_of(&i) < 64); }
    assert!(l.iter().all(|&x| x > 50 && x < 150), "{l:?}");
    m.clear();
    assert_eq!(m.len(), 0);
}

#[test]
fn safemap_actor_value_clone_panic() {
    #[derive(Debug)]
    struct PV(u64);
    static ARM: AtomicBool = AtomicBool::new(false);
    impl Clone for PV { fn clone(&self) -> Self { if ARM.load(SeqCst) { panic!("vclone") } PV(self.0) } }
    within(15, "actor clone panic", || {
        let m: SafeMap<u64, PV, ActorBackend> = SafeMap::new();
        for i in 0..100 { m.store(i, PV(i)); }
        ARM.store(true, SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| m.load(&5)));
        assert!(r.is_err());
        let r = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| true)));
        ARM.store(false, SeqCst);
        println!("actor range with panicking V::clone: panicked={}", r.is_err());
        assert_eq!(m.load(&5).map(|v| v.0), Some(5));
        m.store(200, PV(200));
        assert_eq!(m.len(), 101);
        let mut n = 0; m.range(|_, _| { n += 1; true }); assert_eq!(n, 101);
    });
}

#[test]
fn audited_counts_exact_under_threads() {
    let inner = SafeMap::<u64, u64>::new();
    let m = AuditedMap::new(inner);
    std::thread::scope(|s| { for t in 0..4u64 { let m = &m; s.spawn(move || {
        for i in 0..5000u64 { let k = (i + t) % 10; if i % 3 == 0 { m.store(k, i); } else { m.load(&k); } if i % 50 == 0 { m.delete(&k); } }
    }); } });
    let rep = m.report();
    let writes: u64 = 4 * ((0..5000u64).filter(|i| i % 3 == 0).count() as u64 + (0..5000u64).filter(|i| i % 50 == 0).count() as u64);
    let reads: u64 = 4 * (0..5000u64).filter(|i| i % 3 != 0).count() as u64;
    assert_eq!(rep.total_writes(), writes);
    assert_eq!(rep.total_reads(), reads);
    let before = m.report().total_reads();
    let n = m.len();
    let mut c = 0; m.range(|_, _| { c += 1; true });
    assert_eq!(m.report().total_reads(), before + c as u64);
    assert_eq!(c, n);
}

#[test]
fn audited_panicking_callback_sink_keeps_map_working() {
    let m = AuditedMap::with_rules(SyncMap::<u64, u64>::new(), AuditRules { max_writes_per_second: Some(0), alternation_flips: Some(1) }, AlertSink::callback(|_| panic!("cb")));
    for i in 0..2000u64 { m.store(i % 5, i); m.load(&(i % 5)); }
    let rep = m.report();
    assert_eq!(rep.total_writes(), 2000);
    assert_eq!(rep.total_reads(), 2000);
    assert_eq!(m.len(), 5);
    let _ = AtomicU64::new(0);
}
