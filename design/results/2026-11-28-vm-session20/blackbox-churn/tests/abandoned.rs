use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier};
struct D(Arc<AtomicUsize>);
impl Drop for D { fn drop(&mut self) { self.0.fetch_add(1, SeqCst); } }

#[test]
fn garbage_of_exited_threads() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
    let n = 200;
    let barrier = Arc::new(Barrier::new(n));
    let hs: Vec<_> = (0..n as u64).map(|t| {
        let (map, drops, barrier) = (map.clone(), drops.clone(), barrier.clone());
        std::thread::spawn(move || {
            barrier.wait();
            for i in 0..40 { map.pin().insert(t * 1000 + i, D(drops.clone())); }
            for i in 0..40 { map.pin().remove(&(t * 1000 + i)); }
            barrier.wait();
        })
    }).collect();
    for h in hs { h.join().unwrap(); }
    for _ in 0..1000 { map.pin().flush(); }
    // later a few threads keep working
    for w in 0..100u64 {
        let (m, d) = (map.clone(), drops.clone());
        std::thread::spawn(move || { for i in 0..200 { let p = m.pin(); p.insert(i, D(d.clone())); p.remove(&i); p.flush(); } let _ = w; }).join().unwrap();
    }
    for _ in 0..1000 { map.pin().flush(); }
    let st = map.stats();
    eprintln!("after idle+flush: garbage={} slots={} dropped={} of {}", st.garbage_objects, st.handle_slots, drops.load(SeqCst), n * 40 + 100 * 200);
}
