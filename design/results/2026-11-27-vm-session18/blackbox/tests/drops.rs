//! 4. Drops: every key and value instance dropped exactly once, none read after drop.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::Ordering::SeqCst;

type M = ConcurrentHashMap<TKey, TVal>;

fn finish(reg: &'static Registry, map: M, ctx: &str) {
    reg.assert_clean(ctx);
    drop(map);
    reg.assert_clean(ctx);
    assert_eq!(reg.live.load(SeqCst), 0, "{ctx}: live instances after dropping the map (made {})", reg.made());
}

#[test]
fn drops_concurrent_mix_with_retain_and_clear() {
    for round in 0..3u64 {
        let reg = Registry::leak();
        let map: M = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            for t in 0..5u64 {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(round * 31 + t);
                    for i in 0..40_000u64 {
                        let view = map.pin();
                        let k = rng.below(if t < 3 { 2000 } else { 30_000 });
                        match rng.below(12) {
                            0..=3 => {
                                if let Some(old) = view.insert(TKey::new(reg, k), TVal::new(reg, k, i)) {
                                    old.verify(k);
                                }
                            }
                            4..=5 => {
                                if let Some(old) = view.remove(&k) {
                                    old.verify(k);
                                }
                            }
                            6..=7 => {
                                if let Some(new) = view.update(&k, |v| {
                                    v.verify(k);
                                    TVal::new(reg, k, v.ver + 1)
                                }) {
                                    new.verify(k);
                                }
                            }
                            8 => view.get_or_insert_with(TKey::new(reg, k), || TVal::new(reg, k, i)).verify(k),
                            9 => {
                                if let Some((kk, v)) = view.get_key_value(&k) {
                                    kk.verify();
                                    v.verify(k);
                                }
                            }
                            10 => {
                                if i % 500 == 0 {
                                    for (kk, v) in view.iter() {
                                        kk.verify();
                                        v.verify(kk.k);
                                    }
                                }
                            }
                            _ => {
                                if t == 4 && i % 5000 == 0 {
                                    map.retain(|kk, v| {
                                        kk.verify();
                                        v.verify(kk.k);
                                        kk.k % 3 != 0
                                    });
                                }
                                if t == 3 && i % 13_000 == 0 {
                                    map.clear();
                                }
                            }
                        }
                    }
                });
            }
        });
        let v = map.pin();
        for (k, val) in v.iter() {
            k.verify();
            val.verify(k.k);
        }
        drop(v);
        // Live instances = 2 per entry + retired garbage not yet freed.
        let live = reg.live.load(SeqCst) as usize;
        assert!(live >= 2 * map.len(), "fewer live instances ({live}) than entries*2 ({})", 2 * map.len());
        eprintln!("round {round}: len {} live {live} made {} stats {:?}", map.len(), reg.made(), map.stats());
        finish(reg, map, "concurrent mix");
    }
}

#[test]
fn drops_single_thread_api() {
    let reg = Registry::leak();
    let map: M = ConcurrentHashMap::new();
    {
        let v = map.pin();
        for k in 0..5000 {
            assert!(v.insert(TKey::new(reg, k), TVal::new(reg, k, 0)).is_none());
        }
        for k in 0..5000 {
            v.insert(TKey::new(reg, k), TVal::new(reg, k, 1)).unwrap().verify(k);
        }
        for k in 0..1000 {
            v.remove(&k).unwrap().verify(k);
        }
        for k in 1000..2000 {
            v.update(&k, |o| TVal::new(reg, k, o.ver + 1)).unwrap().verify(k);
        }
        assert!(v.update(&1, |_| unreachable!()).is_none());
        for k in 0..6000 {
            v.get_or_insert_with(TKey::new(reg, k), || TVal::new(reg, k, 9)).verify(k);
        }
        assert_eq!(v.len(), 6000);
    }
    map.retain(|k, _| k.k % 2 == 0);
    assert_eq!(map.len(), 3000);
    map.clear();
    assert_eq!(map.len(), 0);
    assert!(map.is_empty());
    for k in 0..100 {
        map.pin().insert(TKey::new(reg, k), TVal::new(reg, k, 0));
    }
    finish(reg, map, "single thread");
}

#[test]
fn drops_map_dropped_mid_growth() {
    for target in [9usize, 100, 1000, 20_000] {
        let reg = Registry::leak();
        let map: M = ConcurrentHashMap::new();
        let mut k = 0u64;
        // Insert until a growth is in progress and we are past `target`.
        loop {
            map.pin().insert(TKey::new(reg, k), TVal::new(reg, k, 0));
            if k % 3 == 0 {
                map.pin().insert(TKey::new(reg, k), TVal::new(reg, k, 1));
            }
            k += 1;
            if k as usize >= target && map.is_growing() {
                break;
            }
            assert!(k < 10_000_000);
        }
        finish(reg, map, "dropped mid growth");
    }
}

#[test]
fn drops_held_view_keeps_removed_values_alive() {
    let reg = Registry::leak();
    let map: M = ConcurrentHashMap::new();
    for k in 0..100 {
        map.pin().insert(TKey::new(reg, k), TVal::new(reg, k, 0));
    }
    std::thread::scope(|s| {
        let view = map.pin();
        let held: Vec<(&TKey, &TVal)> = (0..100).map(|k| view.get_key_value(&k).unwrap()).collect();
        let removed = view.remove(&5).unwrap();
        // Other threads replace/remove everything and force many growths and reclamation.
        for t in 0..3u64 {
            let map = &map;
            s.spawn(move || {
                for r in 0..20u64 {
                    for k in 0..100 {
                        let v = map.pin();
                        if (k + r) % 2 == 0 {
                            v.remove(&k);
                        } else {
                            v.insert(TKey::new(reg, k), TVal::new(reg, k, r + 1));
                        }
                    }
                    for k in 0..5_000 {
                        map.pin().insert(TKey::new(reg, 1_000_000 * (t + 1) + r * 10_000 + k), TVal::new(reg, 0, 0));
                    }
                    map.pin().flush();
                }
            });
        }
        // While others run, the references this view handed out must stay alive.
        for _ in 0..200 {
            for (k, v) in &held {
                k.verify();
                v.verify(k.k);
            }
            removed.verify(5);
            std::thread::yield_now();
        }
    });
    finish(reg, map, "held view");
}

#[test]
fn drops_many_short_lived_threads() {
    // Threads that pin and exit: their retired garbage must still be dropped exactly once.
    let reg = Registry::leak();
    let map: M = ConcurrentHashMap::new();
    for wave in 0..20u64 {
        std::thread::scope(|s| {
            for t in 0..6u64 {
                let map = &map;
                s.spawn(move || {
                    for i in 0..500u64 {
                        let k = (wave * 7 + t * 13 + i) % 3000;
                        let v = map.pin();
                        v.insert(TKey::new(reg, k), TVal::new(reg, k, i));
                        if i % 3 == 0 {
                            v.remove(&((k + 1) % 3000));
                        }
                    }
                });
            }
        });
    }
    // And the map is dropped by a thread that never used it.
    std::thread::spawn(move || finish(reg, map, "short-lived threads")).join().unwrap();
}

#[test]
fn drops_extend_and_from_iter_with_duplicates() {
    let reg = Registry::leak();
    let items: Vec<(TKey, TVal)> = (0..3000u64).map(|i| (TKey::new(reg, i % 1000), TVal::new(reg, i % 1000, i))).collect();
    let map: M = items.into_iter().collect();
    assert_eq!(map.len(), 1000);
    {
        let v = map.pin();
        for k in 0..1000 {
            let val = v.get(&k).unwrap();
            val.verify(k);
            assert_eq!(val.ver, k + 2000, "FromIterator: last duplicate must win");
        }
    }
    let mut map = map;
    map.extend((0..2000u64).map(|i| (TKey::new(reg, i), TVal::new(reg, i, 7))));
    (&map).extend((0..10u64).map(|i| (TKey::new(reg, i), TVal::new(reg, i, 8))));
    assert_eq!(map.len(), 2000);
    assert_eq!(map.pin().get(&3).unwrap().ver, 8);
    assert_eq!(map.pin().get(&1500).unwrap().ver, 7);
    finish(reg, map, "extend/from_iter");
}

/// A value whose drop panics once (when flagged).
struct Bomb(bool, &'static std::sync::atomic::AtomicUsize);
impl Drop for Bomb {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
        if self.0 && !std::thread::panicking() {
            panic!("bomb value dropped");
        }
    }
}

#[test]
fn drops_panicking_drop_of_retired_value_is_contained() {
    static DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let map: ConcurrentHashMap<u64, Bomb> = ConcurrentHashMap::new();
    map.pin().insert(1, Bomb(true, &DROPS));
    map.pin().insert(1, Bomb(false, &DROPS)); // retires the bomb
    for k in 2..3000 {
        map.pin().insert(k, Bomb(false, &DROPS));
    }
    let mut contained = false;
    for _ in 0..2000 {
        let v = map.pin();
        v.flush();
        drop(v);
        if map.stats().drop_panics > 0 {
            contained = true;
            break;
        }
    }
    eprintln!("bomb reclaimed before map drop: {contained}, stats {:?}", map.stats());
    if contained {
        assert_eq!(map.stats().drop_panics, 1);
    }
    assert_eq!(map.len(), 2999);
    assert!(map.pin().get(&1).is_some());
    drop(map);
    assert_eq!(DROPS.load(SeqCst), 3000, "each Bomb dropped exactly once");
}
