use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::OnceLock;

static MAP: OnceLock<ConcurrentHashMap<u64, V>> = OnceLock::new();
static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);
fn m() -> &'static ConcurrentHashMap<u64, V> { MAP.get_or_init(ConcurrentHashMap::new) }
struct V(u64, bool);
impl V { fn new(k: u64, active: bool) -> V { MADE.fetch_add(1, SeqCst); V(k, active) } }
impl Drop for V {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, SeqCst);
        if self.1 {
            let p = m().pin();
            // writes to the map from a destructor (allowed by the contract)
            p.insert(1_000_000 + self.0 % 64, V::new(self.0, false));
            p.remove(&(2_000_000 + self.0 % 64));
            p.update(&(self.0 % 64), |v| V::new(v.0, false));
            if self.0 % 5 == 0 { p.retain(|k, _| *k != 3_000_000); }
            if self.0 % 7 == 0 && m().log2_buckets() < 12 { m().force_growth(self.0 % 3 == 0); }
            let _ = p.get_or_insert_with(2_000_000 + self.0 % 64, || V::new(self.0, false));
        }
    }
}
fn rng(seed: &mut u64) -> u64 { *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17; *seed }

#[test]
fn destructors_write_to_map() {
    let waves: u64 = std::env::var("RE_WAVES").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    for wave in 0..waves {
        let hs: Vec<_> = (0..6u64).map(|t| std::thread::spawn(move || {
            let mut s = wave * 100 + t + 1;
            for i in 0..2000 {
                let p = m().pin();
                let k = rng(&mut s) % 256;
                match rng(&mut s) % 4 {
                    0 => { p.insert(k, V::new(k, true)); }
                    1 => { p.remove(&k); }
                    2 => { p.update(&k, |v| V::new(v.0, true)); }
                    _ => { let _ = p.get_or_insert_with(k, || V::new(k, true)); }
                }
                if i % 100 == 0 { p.flush(); }
                if i % 997 == 0 && m().log2_buckets() < 12 { m().force_growth(false); }
            }
        })).collect();
        for h in hs { h.join().unwrap(); }
    }
    for _ in 0..100 { m().pin().flush(); }
    m().check_invariants();
    let st = m().stats();
    let (made, dropped) = (MADE.load(SeqCst), DROPPED.load(SeqCst));
    eprintln!("{st:?} made={made} dropped={dropped}");
    assert_eq!(made - dropped, st.len + st.garbage_objects);
}
