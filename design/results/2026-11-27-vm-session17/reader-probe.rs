//! Reader-side growth-pause probe: one writer inserts 8M u64 keys, one reader times every get;
//! for each get over 0.5 ms, prints the run/wait time deltas (from /proc/self/task/*/schedstat)
//! of the reader, the writer and the hmap-reclaimer thread over a window that contains the get.
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Instant;

type S = foldhash::fast::FixedState;

fn tid() -> i32 {
    unsafe { libc::gettid() }
}
/// (run ns, wait ns, timeslices) of a thread of this process.
fn schedstat(tid: i32) -> (u64, u64, u64) {
    if tid <= 0 {
        return (0, 0, 0);
    }
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).unwrap_or_default();
    let f: Vec<u64> = s
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    if f.len() < 3 {
        return (0, 0, 0);
    }
    (f[0], f[1], f[2])
}
fn find_thread(name: &str) -> i32 {
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let t = t.unwrap().path();
        let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return t.file_name().unwrap().to_str().unwrap().parse().unwrap();
        }
    }
    0
}
fn rusage() -> (i64, i64, i64) {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
    (r.ru_nvcsw, r.ru_nivcsw, r.ru_minflt)
}
#[derive(Clone, Copy)]
struct Snap {
    t: Instant,
    me: (u64, u64, u64),
    w: (u64, u64, u64),
    rc: (u64, u64, u64),
    ru: (i64, i64, i64),
}

trait Map: Sync {
    fn ins(&self, k: u64);
    fn get(&self, k: u64) -> Option<u64>;
}
impl Map for hmap::ConcurrentHashMap<u64, u64, S> {
    fn ins(&self, k: u64) {
        self.pin().insert(k, k);
    }
    fn get(&self, k: u64) -> Option<u64> {
        self.pin().get(&k).copied()
    }
}
impl Map for papaya::HashMap<u64, u64, S> {
    fn ins(&self, k: u64) {
        self.pin().insert(k, k);
    }
    fn get(&self, k: u64) -> Option<u64> {
        self.pin().get(&k).copied()
    }
}

fn run<M: Map>(map: &M, n: usize, name: &str) {
    let wm = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let writer_tid = AtomicI32::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let my = tid();
            let mut rc = 0;
            let mut x = 1u64;
            let mut worst = 0u128;
            let mut slow = 0;
            let snap = |rc: i32| Snap {
                t: Instant::now(),
                me: schedstat(my),
                w: schedstat(writer_tid.load(Ordering::Relaxed)),
                rc: schedstat(rc),
                ru: rusage(),
            };
            let mut last = snap(rc);
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                let w = wm.load(Ordering::Acquire) as u64;
                if w == 0 {
                    continue;
                }
                i += 1;
                if i % 256 == 0 {
                    if rc == 0 && i % (1 << 16) == 0 {
                        rc = find_thread("hmap-reclaimer");
                    }
                    last = snap(rc);
                }
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                let k = (x >> 11) % w;
                let t = Instant::now();
                let v = map.get(k);
                let e = t.elapsed().as_nanos();
                assert_eq!(v, Some(k));
                if e > 500_000 {
                    slow += 1;
                    let now = snap(rc);
                    let d = |a: (u64, u64, u64), b: (u64, u64, u64)| {
                        format!("run {:>5} us wait {:>5} us", (b.0 - a.0) / 1000, (b.1 - a.1) / 1000)
                    };
                    eprintln!(
                        "{name} READER get {:>5} us at {:>7.3} s wm {:>8} | window {:>5} us | reader {} vcsw {} ivcsw {} flt {} | writer {} | reclaimer {}",
                        e / 1000,
                        t.duration_since(start).as_secs_f64(),
                        w,
                        now.t.duration_since(last.t).as_micros(),
                        d(last.me, now.me),
                        now.ru.0 - last.ru.0,
                        now.ru.1 - last.ru.1,
                        now.ru.2 - last.ru.2,
                        d(last.w, now.w),
                        d(last.rc, now.rc),
                    );
                    last = now;
                }
                worst = worst.max(e);
            }
            eprintln!("{name} reader worst {} us, {} gets, {slow} over 0.5 ms", worst / 1000, i);
        });
        writer_tid.store(tid(), Ordering::Relaxed);
        let my = tid();
        let mut rc = 0;
        let snap = |rc: i32| Snap {
            t: Instant::now(),
            me: schedstat(my),
            w: (0, 0, 0),
            rc: schedstat(rc),
            ru: rusage(),
        };
        let mut last = snap(rc);
        let mut worst = 0u128;
        for i in 0..n as u64 {
            if i % 256 == 0 {
                if rc == 0 && i % (1 << 16) == 0 {
                    rc = find_thread("hmap-reclaimer");
                }
                last = snap(rc);
            }
            let t = Instant::now();
            map.ins(i);
            let e = t.elapsed().as_nanos();
            worst = worst.max(e);
            if e > 500_000 {
                let now = snap(rc);
                let d = |a: (u64, u64, u64), b: (u64, u64, u64)| {
                    format!(
                        "run {:>5} us wait {:>5} us",
                        (b.0 - a.0) / 1000,
                        (b.1 - a.1) / 1000
                    )
                };
                eprintln!(
                    "{name} WRITER ins {:>5} us at {:>7.3} s i {:>8} | window {:>5} us | writer {} vcsw {} ivcsw {} flt {} | reclaimer {}",
                    e / 1000,
                    t.duration_since(start).as_secs_f64(),
                    i,
                    now.t.duration_since(last.t).as_micros(),
                    d(last.me, now.me),
                    now.ru.0 - last.ru.0,
                    now.ru.1 - last.ru.1,
                    now.ru.2 - last.ru.2,
                    d(last.rc, now.rc),
                );
                last = now;
            }
            wm.store(i as usize + 1, Ordering::Release);
        }
        done.store(true, Ordering::Relaxed);
        eprintln!(
            "{name} writer worst {} us, total {:.2} s",
            worst / 1000,
            start.elapsed().as_secs_f64()
        );
    });
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or("hmap".into());
    let n = 8 << 20;
    if which == "hmap" {
        let map = hmap::ConcurrentHashMap::<u64, u64, S>::with_hasher(S::with_seed(1));
        run(&map, n, "hmap");
    } else {
        let map = papaya::HashMap::<u64, u64, S>::with_hasher(S::with_seed(1));
        run(&map, n, "papaya");
    }
}
