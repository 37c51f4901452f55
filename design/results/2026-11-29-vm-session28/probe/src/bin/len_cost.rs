use hmap::ConcurrentHashMap;
use std::time::Instant;
fn main() {
    let m: ConcurrentHashMap<u64, u64> = (0..1000u64).map(|i| (i, i)).collect();
    let p: papaya::HashMap<u64, u64> = (0..1000u64).map(|i| (i, i)).collect();
    let d: dashmap::DashMap<u64, u64> = (0..1000u64).map(|i| (i, i)).collect();
    for _ in 0..3 {
        let t = Instant::now(); let mut s = 0; for _ in 0..1_000_000 { s += std::hint::black_box(&m).len(); } println!("hmap len {:.1} ns ({s})", t.elapsed().as_nanos() as f64 / 1e6);
        let t = Instant::now(); let mut s = 0; for _ in 0..1_000_000 { s += std::hint::black_box(&p).len(); } println!("papaya len {:.1} ns ({s})", t.elapsed().as_nanos() as f64 / 1e6);
        let t = Instant::now(); let mut s = 0; for _ in 0..1_000_000 { s += std::hint::black_box(&d).len(); } println!("dashmap len {:.1} ns ({s})", t.elapsed().as_nanos() as f64 / 1e6);
    }
}
