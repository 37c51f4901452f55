use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
fn rusage() -> (i64, i64, i64, i64) {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
    (
        r.ru_nvcsw,
        r.ru_nivcsw,
        r.ru_minflt,
        r.ru_stime.tv_sec * 1_000_000 + r.ru_stime.tv_usec,
    )
}
fn main() {
    let n: usize = 8 << 20;
    let map = hmap::ConcurrentHashMap::<u64, u64, foldhash::fast::FixedState>::with_hasher(
        foldhash::fast::FixedState::with_seed(1),
    );
    let wm = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut x = 1u64;
            let mut worst = 0u128;
            while !done.load(Ordering::Relaxed) {
                let w = wm.load(Ordering::Acquire) as u64;
                if w == 0 {
                    continue;
                }
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                let k = (x >> 11) % w;
                let t = Instant::now();
                let v = map.pin().get(&k).copied();
                let e = t.elapsed().as_nanos();
                assert_eq!(v, Some(k));
                if e > 500_000 {
                    eprintln!("READER pause {} us at wm {}", e / 1000, w);
                }
                worst = worst.max(e);
            }
            eprintln!("reader worst {} us", worst / 1000);
        });
        let mut worst = 0u128;
        for i in 0..n as u64 {
            let (c0, r0) = (cpu_ns(), rusage());
            let t = Instant::now();
            map.pin().insert(i, i);
            let e = t.elapsed().as_nanos();
            if e > 500_000 {
                let (c1, r1) = (cpu_ns(), rusage());
                let st = map.stats();
                eprintln!("WRITER pause {} us (cpu {} us, vcsw {} ivcsw {} minflt {} sys {} us) at {} log2 {} growing {} evac {}/{}", e/1000, (c1-c0)/1000, r1.0-r0.0, r1.1-r0.1, r1.2-r0.2, r1.3-r0.3, i, st.log2_buckets, st.growing, st.old_evacuated, st.old_buckets);
            }
            worst = worst.max(e);
            wm.store(i as usize + 1, Ordering::Release);
        }
        done.store(true, Ordering::Relaxed);
        eprintln!("writer worst {} us", worst / 1000);
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let t = t.unwrap().path();
        let stat = std::fs::read_to_string(t.join("stat")).unwrap();
        let comm = stat[stat.find('(').unwrap() + 1..stat.rfind(')').unwrap()].to_string();
        let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        eprintln!("THREAD {comm}: utime {} stime {} ticks", f[11], f[12]);
    }
}
