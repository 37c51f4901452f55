//! 6. Removed keys never come back; untouched keys never disappear; read-your-writes, during growth.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

const VICTIM: u64 = 1 << 40;
const KEEP: u64 = 1 << 41;

fn removed_stay_removed<S: BuildHasher + Sync>(map: ConcurrentHashMap<u64, u64, S>, victims: u64, keep: u64, fresh: u64) {
    for i in 0..victims {
        map.pin().insert(VICTIM + i, i);
    }
    for i in 0..keep {
        map.pin().insert(KEEP + i, i);
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut ws = vec![];
        // Inserters force growth.
        for t in 0..2u64 {
            let map = &map;
            ws.push(s.spawn(move || {
                for i in 0..fresh {
                    map.pin().insert(t * fresh + i, i);
                }
            }));
        }
        // Removers: each owns victims i % 2 == t; after removing, the key is immediately absent
        // and stays absent for every later read by this thread.
        for t in 0..2u64 {
            let map = &map;
            ws.push(s.spawn(move || {
                let mut removed = vec![];
                let mut rng = Rng::new(t);
                for i in (t..victims).step_by(2) {
                    let k = VICTIM + i;
                    let v = map.pin();
                    assert_eq!(v.remove(&k), Some(&i), "victim {k} missing before its removal");
                    assert_eq!(v.get(&k), None, "removed key {k} still visible to remover (same view)");
                    drop(v);
                    assert_eq!(map.pin().get(&k), None, "removed key {k} visible again (new view)");
                    assert_eq!(map.pin().remove(&k), None, "removed key {k} removed twice");
                    assert!(map.pin().update(&k, |x| x + 1).is_none(), "update resurrected/found {k}");
                    removed.push(k);
                    // Re-check a random earlier removal.
                    let r = removed[rng.below(removed.len() as u64) as usize];
                    assert!(!map.pin().contains_key(&r), "removed key {r} came back");
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            }));
        }
        // Reader: keys in KEEP are never touched, must always be visible.
        {
            let map = &map;
            let stop = &stop;
            s.spawn(move || {
                let mut rng = Rng::new(1234);
                while !stop.load(SeqCst) {
                    let v = map.pin();
                    for _ in 0..64 {
                        let i = rng.below(keep);
                        assert_eq!(v.get(&(KEEP + i)), Some(&i), "untouched key {} invisible; stats {:?}", KEEP + i, map.stats());
                    }
                }
            });
        }
        for w in ws {
            w.join().unwrap();
        }
        stop.store(true, SeqCst);
    });
    let v = map.pin();
    for i in 0..victims {
        assert_eq!(v.get(&(VICTIM + i)), None, "victim {} is back", VICTIM + i);
    }
    let mut seen = HashSet::new();
    for (k, _) in v.iter() {
        assert!(!(VICTIM..VICTIM + victims).contains(k), "iter yielded removed key {k}");
        assert!(seen.insert(*k));
    }
    assert_eq!(seen.len() as u64, keep + 2 * fresh);
    assert_eq!(map.len() as u64, keep + 2 * fresh);
    // Keep driving growth with nothing reinserting the victims: they stay gone.
    for i in 0..fresh {
        v.insert((1 << 42) + i, 0);
    }
    for i in 0..victims {
        assert!(!v.contains_key(&(VICTIM + i)));
    }
    assert!(v.iter().all(|(k, _)| !(VICTIM..VICTIM + victims).contains(k)));
    eprintln!("stats {:?}", map.stats());
}

#[test]
fn removed_keys_stay_removed_default() {
    for _ in 0..3 {
        removed_stay_removed(ConcurrentHashMap::new(), 20_000, 2_000, 60_000);
    }
}

#[test]
fn removed_keys_stay_removed_colliding() {
    removed_stay_removed(ConcurrentHashMap::with_hasher(Build(Mode::Few(16))), 1000, 200, 1000);
}

#[test]
fn removed_keys_stay_removed_marker_tophash() {
    removed_stay_removed(ConcurrentHashMap::with_hasher(Build(Mode::TopByte(2))), 10_000, 1_000, 30_000);
    removed_stay_removed(ConcurrentHashMap::with_hasher(Build(Mode::TopByte(3))), 10_000, 1_000, 30_000);
}

#[test]
fn remove_all_then_regrow() {
    // Remove everything while growing, then the map must be empty and reusable.
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for round in 0..5u64 {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let map = &map;
                s.spawn(move || {
                    for i in 0..20_000 {
                        map.pin().insert(round * 1_000_000 + t * 20_000 + i, i);
                    }
                    for i in 0..20_000 {
                        assert_eq!(map.pin().remove(&(round * 1_000_000 + t * 20_000 + i)), Some(&i));
                    }
                });
            }
        });
        assert_eq!(map.len(), 0);
        assert!(map.is_empty());
        assert_eq!(map.pin().iter().count(), 0);
    }
}
