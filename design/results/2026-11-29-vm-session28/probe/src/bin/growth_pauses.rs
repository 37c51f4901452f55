//! One writer inserts 8M keys into hmap (or papaya, with argument `papaya`) while one reader gets
//! random inserted keys. For every insert over 50 µs and every get over 20 µs: its time with the
//! run-queue wait taken out (schedstat read every 256 operations and after each slow one), when it
//! happened since the start, and the minor faults its thread took during it. Prints the slowest.
use std::sync::atomic::{AtomicU64, AtomicBool, Ordering};
use std::time::Instant;
fn minflt() -> (i64, i64, i64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    (u.ru_minflt, u.ru_nvcsw, u.ru_nivcsw)
}
fn rq() -> u64 { let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap(); s.split_whitespace().nth(1).unwrap().parse().unwrap() }
fn key(i: u64) -> u64 { i.wrapping_mul(0x9E3779B97F4A7C15) }
fn main() {
    let which = std::env::args().nth(1).unwrap_or("hmap".into());
    let n: u64 = 8_388_608;
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let h = hmap::ConcurrentHashMap::<u64, u64>::new();
    let p = papaya::HashMap::<u64, u64>::new();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut slow = Vec::new();
            let mut last_rq = rq();
            for i in 0..n {
                let (f0, _, _) = minflt();
                let a = Instant::now();
                if which == "hmap" { h.pin().insert(key(i), i); } else { p.pin().insert(key(i), i); }
                let e = a.elapsed().as_nanos() as u64;
                if e > 50_000 {
                    let (f1, _, _) = minflt();
                    let now_rq = rq();
                    slow.push((e.saturating_sub(now_rq - last_rq), a.duration_since(t0).as_micros() as u64, f1 - f0, e, i));
                    last_rq = now_rq;
                } else if i % 256 == 0 {
                    last_rq = rq();
                }
                done.store(i + 1, Ordering::Release);
            }
            slow.sort();
            for s in slow.iter().rev().take(12) { println!("insert own {:>7} ns at {:>8} us, minflt {}, wall {} key index {}", s.0, s.1, s.2, s.3, s.4); }
            stop.store(true, Ordering::Release);
        });
        s.spawn(|| {
            let mut slow = Vec::new();
            let mut x = 1u64;
            let mut last_rq = rq();
            let mut count = 0u64;
            while !stop.load(Ordering::Acquire) {
                let d = done.load(Ordering::Acquire);
                if d == 0 { continue; }
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                let i = x % d;
                let (f0, _, _) = minflt();
                let a = Instant::now();
                let v = if which == "hmap" { h.pin().get(&key(i)).copied() } else { p.pin().get(&key(i)).copied() };
                let e = a.elapsed().as_nanos() as u64;
                assert_eq!(v, Some(i));
                count += 1;
                if e > 20_000 {
                    let (f1, v1, iv1) = minflt();
                    let now_rq = rq();
                    let own = e.saturating_sub(now_rq - last_rq);
                    last_rq = now_rq;
                    slow.push((own, a.duration_since(t0).as_micros() as u64, f1 - f0, v1, iv1, e, d));
                } else if count % 256 == 0 {
                    last_rq = rq();
                }
            }
            slow.sort();
            for s in slow.iter().rev().take(20) { println!("own {:>7} ns at {:>8} us, minflt {}, vcsw {} ivcsw {}, wall {} keys {}", s.0, s.1, s.2, s.3, s.4, s.5, s.6); }
            println!("slow gets (>20us): {}", slow.len());
            let faulted = slow.iter().filter(|s| s.2 > 0).count();
            println!("of which with a minor fault: {}", faulted);
        });
    });
}
