use bb_collide::*;
use hmap::ConcurrentHashMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

static PANIC_ON: AtomicBool = AtomicBool::new(false);
static CTR: AtomicU64 = AtomicU64::new(1);

fn maybe_panic(what: &str, one_in: u64) {
    if PANIC_ON.load(Ordering::Relaxed) {
        let c = CTR.fetch_add(1, Ordering::Relaxed);
        if mix(c) % one_in == 0 {
            panic!("planned panic in {what}");
        }
    }
}

#[derive(Debug)]
struct PK(u64);
impl Hash for PK {
    fn hash<H: Hasher>(&self, h: &mut H) {
        maybe_panic("hash", 500);
        self.0.hash(h)
    }
}
impl PartialEq for PK {
    fn eq(&self, o: &Self) -> bool {
        maybe_panic("eq", 300);
        self.0 == o.0
    }
}
impl Eq for PK {}
impl Clone for PK {
    fn clone(&self) -> Self {
        maybe_panic("clone", 20);
        PK(self.0)
    }
}

struct PV(Val, bool);
impl Drop for PV {
    fn drop(&mut self) {
        if self.1 && !std::thread::panicking() {
            panic!("planned panic in drop");
        }
    }
}

#[test]
fn panics_everywhere() {
    std::panic::set_hook(Box::new(|_| {}));
    let ms = env("MS", 1500);
    for kind in [Kind::Const(5), Kind::TopOnly, Kind::LowOnly, Kind::Good] {
        let tr = Tracker::new(30_000_000);
        let map: ConcurrentHashMap<PK, PV, HB> = ConcurrentHashMap::with_hasher(HB(kind));
        let stop = AtomicBool::new(false);
        PANIC_ON.store(true, Ordering::SeqCst);
        let caught = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let (map, tr, stop, caught) = (&map, &tr, &stop, &caught);
                s.spawn(move || {
                    let mut rng = Rng(mix(t + 1) | 1);
                    while !stop.load(Ordering::Relaxed) {
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            let p = map.pin();
                            for _ in 0..16 {
                                let k = rng.below(300);
                                let pd = rng.below(50) == 0;
                                match rng.below(100) {
                                    0..=29 => {
                                        if let Some(v) = p.insert(PK(k), PV(Val::new(tr, k, 0), pd)) {
                                            v.0.check(k);
                                        }
                                    }
                                    30..=49 => {
                                        if let Some(v) = p.remove(&PK(k)) {
                                            v.0.check(k);
                                        }
                                    }
                                    50..=64 => {
                                        p.update(&PK(k), |v| {
                                            v.0.check(k);
                                            maybe_panic("update f", 10);
                                            PV(Val::new(tr, k, v.0.gen + 1), pd)
                                        });
                                    }
                                    65..=74 => {
                                        p.get_or_insert_with(PK(k), || {
                                            maybe_panic("make", 10);
                                            PV(Val::new(tr, k, 0), pd)
                                        })
                                        .0
                                        .check(k);
                                    }
                                    75..=89 => {
                                        if let Some(v) = p.get(&PK(k)) {
                                            v.0.check(k);
                                        }
                                    }
                                    90..=93 => {
                                        for (k, v) in p.iter() {
                                            v.0.check(k.0);
                                        }
                                    }
                                    94..=95 => {
                                        if rng.below(10) == 0 {
                                            p.retain(|k, v| {
                                                v.0.check(k.0);
                                                maybe_panic("retain", 200);
                                                k.0 % 5 != 0
                                            });
                                        }
                                    }
                                    _ => {
                                        let same = rng.below(2) == 0;
                                        if same || map.log2_buckets() < 7 {
                                            map.force_growth(same);
                                        }
                                    }
                                }
                            }
                        }));
                        if r.is_err() {
                            caught.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(ms));
            stop.store(true, Ordering::Relaxed);
        });
        PANIC_ON.store(false, Ordering::SeqCst);
        let n = map.pin().iter().count();
        let st = map.stats();
        eprintln!(
            "{kind:?}: caught={} len={} iter={n} drop_panics={} growths={}",
            caught.load(Ordering::Relaxed),
            map.len(),
            st.drop_panics,
            st.growths
        );
        assert_eq!(map.len(), n);
        map.check_invariants();
        // make live values not panic on drop
        let keys: Vec<u64> = map.pin().iter().map(|(k, _)| k.0).collect();
        for k in keys {
            map.pin().update(&PK(k), |v| PV(Val::new(&tr, k, v.0.gen), false));
        }
        let r = catch_unwind(AssertUnwindSafe(|| drop(map)));
        assert!(r.is_ok(), "map drop panicked");
        tr.verify();
    }
    let _ = std::panic::take_hook();
    let _ = Arc::new(0);
}
