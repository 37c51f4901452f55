// Session 34's growth probe (not part of the crate's build). One writer inserts 8M u64 keys into
// an empty ConcurrentHashMap while one reader gets inserted keys (like `benches/concurrent.rs`'s
// grow, without its clock and schedstat machinery); every insert over 200 us is printed with its
// CLOCK_MONOTONIC start, CPU, minor faults and involuntary switches (getrusage, RUSAGE_THREAD)
// and the map's growth state. Build it as a crate with grow-probe.Cargo.toml (hmap by path), run
// it under `perf record -a -F 4999 -k CLOCK_MONOTONIC`, and give its output and
// `perf script -F comm,tid,cpu,time` to perf-gaps.py.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
fn faults() -> (i64, i64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    (u.ru_minflt, u.ru_nivcsw)
}
fn main() {
    let n: usize = 8_000_000;
    let map = hmap::ConcurrentHashMap::<u64, u64>::new();
    let done = AtomicBool::new(false);
    let wm = AtomicUsize::new(0);
    let reader_on = std::env::args().nth(1).as_deref() != Some("alone");
    std::thread::scope(|s| {
        if reader_on {
            s.spawn(|| {
                let mut x = 1u64;
                while !done.load(Ordering::Relaxed) {
                    let w = wm.load(Ordering::Acquire) as u64;
                    if w == 0 { continue; }
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let k = (x >> 11) % w;
                    assert!(map.pin().get(&k).is_some());
                }
            });
        }
        let mut slow = Vec::new();
        for k in 0..n as u64 {
            let (f0, c0) = faults();
            let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            let t = Instant::now();
            map.pin().insert(k, k);
            let d = t.elapsed().as_nanos() as u64;
            wm.store(k as usize + 1, Ordering::Release);
            if d > 200_000 {
                let (f1, c1) = faults();
                let st = map.stats();
                slow.push((d, ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64, unsafe { libc::sched_getcpu() }, k, f1 - f0, c1 - c0, st.log2_buckets, st.growing, st.old_evacuated, st.old_buckets, st.growths));
            }
        }
        done.store(true, Ordering::Relaxed);
        slow.sort_by(|a, b| b.0.cmp(&a.0));
        for s in slow.iter().take(25) {
            println!("{:>8.3} ms at {:.6} cpu {} key {:>8} minflt {:>4} invcsw {} B {} growing {} evac {}/{} growths {} tid {}", s.0 as f64 / 1e6, s.1 as f64 / 1e9, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9, s.10, unsafe { libc::gettid() });
        }
        println!("{} inserts over 200 us", slow.len());
    });
}
