use bb_collide::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;

type M = ConcurrentHashMap<u64, Val, HB>;

fn clear_race(kind: Kind, nk: u64, ms: u64, threads: usize, seed: u64) {
    let tr = Tracker::new(30_000_000);
    let map: M = ConcurrentHashMap::with_hasher(HB(kind));
    let stop = AtomicBool::new(false);
    let clears = AtomicUsize::new(0);
    let ops = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (map, tr, stop, clears, ops) = (&map, &tr, &stop, &clears, &ops);
            s.spawn(move || {
                let mut rng = Rng(mix(seed ^ t as u64) | 1);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let p = map.pin();
                    for _ in 0..32 {
                        let k = rng.below(nk);
                        n += 1;
                        match rng.below(1000) {
                            0..=399 => {
                                if let Some(v) = p.insert(k, Val::new(tr, k, rng.next())) {
                                    v.check(k)
                                }
                            }
                            400..=599 => {
                                if let Some(v) = p.remove(&k) {
                                    v.check(k)
                                }
                            }
                            600..=699 => {
                                if let Some(v) = p.update(&k, |v| {
                                    v.check(k);
                                    Val::new(tr, k, v.gen + 1)
                                }) {
                                    v.check(k)
                                }
                            }
                            700..=799 => {
                                let g = rng.next();
                                p.get_or_insert_with(k, || Val::new(tr, k, g)).check(k);
                            }
                            800..=969 => {
                                if let Some(v) = p.get(&k) {
                                    v.check(k)
                                }
                                if let Some((kk, v)) = p.get_key_value(&k) {
                                    assert_eq!(*kk, k);
                                    v.check(k)
                                }
                            }
                            970..=979 => {
                                let mut c = 0;
                                for (k, v) in p.iter() {
                                    v.check(*k);
                                    c += 1;
                                    if c > 10 * nk as usize + 1000 {
                                        panic!("iter runaway");
                                    }
                                }
                            }
                            980..=984 => {
                                match rng.below(3) {
                                    0 => p.clear(),
                                    1 => map.clear(),
                                    _ => map.retain(|k, v| {
                                        v.check(*k);
                                        v.gen % 2 == 0
                                    }),
                                }
                                clears.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                let same = rng.below(2) == 0;
                                if same || map.log2_buckets() < 7 {
                                    map.force_growth(same);
                                }
                            }
                        }
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(ms));
        stop.store(true, Ordering::Relaxed);
    });
    let n = map.pin().iter().count();
    eprintln!(
        "clear_race {kind:?} nk={nk} t={threads}: ops={} clears={} len={} iter={n} log2={} growths={}",
        ops.load(Ordering::Relaxed),
        clears.load(Ordering::Relaxed),
        map.len(),
        map.log2_buckets(),
        map.stats().growths
    );
    assert_eq!(map.len(), n);
    if !matches!(kind, Kind::Inconsistent(_) | Kind::Random) {
        map.check_invariants();
    }
    map.clear();
    assert_eq!(map.len(), 0);
    assert_eq!(map.pin().iter().count(), 0);
    drop(map);
    tr.verify();
}

#[test]
fn clear_races() {
    let ms = env("MS", 1000);
    for (kind, nk) in [
        (Kind::Const(3), 200u64),
        (Kind::TopOnly, 400),
        (Kind::LowOnly, 2000),
        (Kind::Good, 2000),
        (Kind::Inconsistent(100), 500),
        (Kind::Random, 500),
    ] {
        clear_race(kind, nk, ms, 3, 1);
        clear_race(kind, nk, ms, 2, 2);
    }
}

// ---------- destructors that use the map ----------

struct DVal {
    key: u64,
    depth: u32,
    id: usize,
    tr: Arc<Tracker>,
}
type DM = ConcurrentHashMap<u64, DVal, HB>;
static DMAP: AtomicPtr<DM> = AtomicPtr::new(std::ptr::null_mut());

impl DVal {
    fn new(tr: &Arc<Tracker>, key: u64, depth: u32) -> DVal {
        let id = tr.created.fetch_add(1, Ordering::SeqCst);
        DVal { key, depth, id, tr: tr.clone() }
    }
}
impl Drop for DVal {
    fn drop(&mut self) {
        if self.tr.dropped[self.id].fetch_add(1, Ordering::SeqCst) != 0 {
            self.tr.errors.fetch_add(1, Ordering::SeqCst);
        }
        self.tr.dropped_total.fetch_add(1, Ordering::SeqCst);
        let m = DMAP.load(Ordering::SeqCst);
        if m.is_null() || self.depth >= 2 {
            return;
        }
        // SAFETY: the test keeps the map alive while DMAP is non-null (set to null before drop)
        let map = unsafe { &*m };
        let p = map.pin();
        let k = mix(self.key ^ self.id as u64) % 300;
        match self.id % 5 {
            0 => {
                p.insert(k, DVal::new(&self.tr, k, self.depth + 1));
            }
            1 => {
                p.remove(&k);
            }
            2 => {
                p.get(&k);
                let _ = p.iter().take(20).count();
            }
            3 => {
                p.update(&k, |v| DVal::new(&v.tr, v.key, self.depth + 1));
            }
            _ => {
                if self.id % 50 == 4 {
                    map.force_growth(self.id % 100 == 4 || map.log2_buckets() > 6);
                }
                p.get_or_insert_with(k, || DVal::new(&self.tr, k, self.depth + 1));
            }
        }
    }
}

#[test]
fn reentrant_drop() {
    let ms = env("MS", 1000);
    for kind in [Kind::Const(9), Kind::LowOnly, Kind::Good] {
        let tr = Tracker::new(30_000_000);
        let map: Box<DM> = Box::new(ConcurrentHashMap::with_hasher(HB(kind)));
        let mp = Box::into_raw(map);
        DMAP.store(mp, Ordering::SeqCst);
        let map: &DM = unsafe { &*mp };
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..3 {
                let (tr, stop) = (&tr, &stop);
                s.spawn(move || {
                    let mut rng = Rng(mix(t + 5) | 1);
                    while !stop.load(Ordering::Relaxed) {
                        let p = map.pin();
                        for _ in 0..16 {
                            let k = rng.below(300);
                            match rng.below(10) {
                                0..=3 => {
                                    p.insert(k, DVal::new(tr, k, 0));
                                }
                                4..=6 => {
                                    p.remove(&k);
                                }
                                7 => {
                                    p.update(&k, |v| DVal::new(tr, v.key, 0));
                                }
                                8 => {
                                    if rng.below(20) == 0 {
                                        p.retain(|k, _| k % 3 != 0);
                                    }
                                }
                                _ => {
                                    if let Some(v) = p.get(&k) {
                                        assert_eq!(v.key, k);
                                    }
                                }
                            }
                        }
                        drop(p);
                        if rng.below(50) == 0 {
                            map.pin().flush();
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(ms));
            stop.store(true, Ordering::Relaxed);
        });
        let n = map.pin().iter().count();
        eprintln!("reentrant {kind:?}: len={} iter={} stats={:?}", map.len(), n, map.stats());
        assert_eq!(map.len(), n);
        map.check_invariants();
        DMAP.store(std::ptr::null_mut(), Ordering::SeqCst);
        drop(unsafe { Box::from_raw(mp) });
        tr.verify();
    }
}

#[test]
fn nested_pins() {
    let tr = Tracker::new(10_000_000);
    let a: M = ConcurrentHashMap::with_hasher(HB(Kind::Const(1)));
    let b: M = ConcurrentHashMap::with_hasher(HB(Kind::LowOnly));
    let mut rng = Rng(99);
    for round in 0..2000u64 {
        let p1 = a.pin();
        let q1 = b.pin();
        let mut keep = Vec::new();
        for i in 0..40 {
            let k = rng.below(100);
            p1.insert(k, Val::new(&tr, k, round));
            if let Some(v) = p1.get(&k) {
                keep.push((k, v));
            }
            q1.insert(k, Val::new(&tr, k, i));
        }
        let p2 = a.pin();
        for i in 0..200 {
            let k = rng.below(100);
            if i % 3 == 0 {
                p2.remove(&k);
            } else {
                p2.insert(k, Val::new(&tr, k, round));
            }
            if i % 50 == 0 {
                a.force_growth(i % 100 == 0 || a.log2_buckets() > 6);
                p2.flush();
            }
        }
        for (k, v) in &keep {
            v.check(*k);
        }
        drop(keep);
        drop(p1); // out of order
        let p3 = a.pin();
        for (k, v) in p3.iter() {
            v.check(*k);
        }
        drop(p2);
        // references from q1 still valid
        for (k, v) in q1.iter() {
            v.check(*k);
        }
        drop(q1);
        drop(p3);
    }
    a.check_invariants();
    b.check_invariants();
    drop(a);
    drop(b);
    tr.verify();
}
