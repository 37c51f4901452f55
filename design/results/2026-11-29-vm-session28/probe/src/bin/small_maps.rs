//! Resident bytes per map for 10,000 maps, empty and with 10 `u64` entries each.
use hmap::ConcurrentHashMap;

fn rss_kb() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn measure<M>(name: &str, n: usize, entries: u64, make: impl Fn() -> M, fill: impl Fn(&M, u64)) -> Vec<M> {
    let before = rss_kb();
    let mut maps = Vec::new();
    for _ in 0..n {
        let m = make();
        for i in 0..entries {
            fill(&m, i);
        }
        maps.push(m);
    }
    let after = rss_kb();
    println!("{name:10} {entries:3} entries: {:6} bytes per map", (after - before) * 1024 / n);
    maps
}

fn main() {
    let n = 10_000;
    for e in [0u64, 10] {
        let a = measure("hmap", n, e, ConcurrentHashMap::<u64, u64>::new, |m, i| {
            m.pin().insert(i, i);
        });
        let b = measure("papaya", n, e, papaya::HashMap::<u64, u64>::new, |m, i| {
            m.pin().insert(i, i);
        });
        let c = measure("scc", n, e, scc::HashMap::<u64, u64>::new, |m, i| {
            let _ = m.insert_sync(i, i);
        });
        let d = measure("dashmap", n, e, dashmap::DashMap::<u64, u64>::new, |m, i| {
            m.insert(i, i);
        });
        drop((a, b, c, d));
    }
}
