//! References handed out by a view (get, insert's previous value, remove's value, update's new
//! value, get_or_insert_with, get_key_value's key, iter items) stay valid and unchanged while the
//! view lives, although other threads remove/replace the keys and grow the map many times.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};

static DROPPED: AtomicUsize = AtomicUsize::new(0);
static CREATED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Val { id: u64, buf: Box<[u64]>, sum: u64, alive: u64 }
impl Val {
    fn new(id: u64) -> Self {
        CREATED.fetch_add(1, Relaxed);
        let buf: Box<[u64]> = (0..(id % 13 + 1)).map(|i| mix(id ^ i)).collect();
        let sum = buf.iter().fold(id, |a, b| a.wrapping_add(*b));
        Val { id, buf, sum, alive: 0xA11CE }
    }
    fn check(&self) -> u64 {
        assert_eq!(self.alive, 0xA11CE, "value {} used after drop", self.id);
        assert_eq!(self.buf.iter().fold(self.id, |a, b| a.wrapping_add(*b)), self.sum, "value {} corrupted", self.id);
        self.id
    }
}
impl Drop for Val {
    fn drop(&mut self) {
        assert_eq!(self.alive, 0xA11CE, "double drop of {}", self.id);
        self.alive = 0xDEAD; for b in self.buf.iter_mut() { *b = 0x5555_5555; }
        DROPPED.fetch_add(1, Relaxed);
    }
}
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key(String);

#[test]
fn refs_survive_removal_replacement_and_growth() {
    let m: ConcurrentHashMap<Key, Val> = ConcurrentHashMap::new();
    let ids = AtomicUsize::new(1);
    let next = || ids.fetch_add(1, Relaxed) as u64;
    for round in 0..30u64 {
        let nk = 200 + round * 50;
        for i in 0..nk { m.pin().insert(Key(format!("k{i}")), Val::new(next())); }
        let p = m.pin();
        let mut held: Vec<(&Val, u64)> = vec![];
        let mut held_keys: Vec<(&Key, String)> = vec![];
        for i in 0..nk {
            let k = Key(format!("k{i}"));
            match i % 6 {
                0 => { let v = p.get(&k).unwrap(); held.push((v, v.check())); }
                1 => { let id = next(); let old = p.insert(k.clone(), Val::new(id)).unwrap(); held.push((old, old.check())); let nv = p.get(&k).unwrap(); assert_eq!(nv.check(), id); held.push((nv, id)); }
                2 => { let v = p.remove(&k).unwrap(); held.push((v, v.check())); }
                3 => { let id = next(); let v = p.update(&k, |_| Val::new(id)).unwrap(); assert_eq!(v.check(), id); held.push((v, id)); }
                4 => { let (kk, v) = p.get_key_value(&k).unwrap(); held_keys.push((kk, k.0.clone())); held.push((v, v.check())); }
                _ => { let id = next(); let v = p.get_or_insert_with(Key(format!("new{round}-{i}")), || Val::new(id)); assert_eq!(v.check(), id); held.push((v, id)); }
            }
        }
        for (k, v) in p.iter().take(100) { held_keys.push((k, k.0.clone())); held.push((v, v.check())); }
        // other threads: remove/replace every key, grow the map 3+ times, flush a lot
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let (m, ids) = (&m, &ids);
                s.spawn(move || {
                    for rep in 0..3 {
                        for i in 0..nk { let q = m.pin(); let k = Key(format!("k{i}")); if (i + t + rep) % 2 == 0 { q.remove(&k); } else { q.insert(k, Val::new(ids.fetch_add(1, Relaxed) as u64)); } }
                    }
                    for i in 0..nk * 10 { m.pin().insert(Key(format!("g{t}-{round}-{i}")), Val::new(ids.fetch_add(1, Relaxed) as u64)); }
                    m.force_growth(true);
                    for i in 0..nk * 10 { let q = m.pin(); q.remove(&Key(format!("g{t}-{round}-{i}"))); q.flush(); }
                    m.pin().retain(|k, _| !k.0.starts_with("new"));
                    for _ in 0..200 { m.pin().flush(); }
                });
            }
        });
        for (v, id) in &held { assert_eq!(v.check(), *id); }
        for (k, s) in &held_keys { assert_eq!(&k.0, s, "key ref changed"); }
        drop(held); drop(held_keys); drop(p);
        m.check_invariants();
    }
    eprintln!("{:?}", m.stats());
    drop(m);
    assert_eq!(CREATED.load(SeqCst), DROPPED.load(SeqCst), "created vs dropped");
}
