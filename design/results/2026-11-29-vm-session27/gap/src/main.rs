use std::time::Instant;
fn wait_ns() -> u64 { std::fs::read_to_string("/proc/thread-self/schedstat").unwrap().split_whitespace().nth(1).unwrap().parse().unwrap() }
fn main() {
    let secs: f64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(4.0);
    let threads: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(2);
    let hs: Vec<_> = (0..threads).map(|t| std::thread::spawn(move || {
        let start = Instant::now();
        let mut last = start;
        let mut gaps = Vec::new();
        let mut w0 = wait_ns();
        loop {
            let now = Instant::now();
            let d = now.duration_since(last).as_nanos() as u64;
            if d > 100_000 {
                let w = wait_ns();
                gaps.push((last.duration_since(start).as_secs_f64(), d, w - w0));
                w0 = w;
            }
            last = Instant::now();
            if last.duration_since(start).as_secs_f64() > secs { break; }
        }
        let own: Vec<u64> = gaps.iter().map(|g| g.1.saturating_sub(g.2)).collect();
        let big = own.iter().filter(|&&o| o > 100_000).count();
        let max = own.iter().max().copied().unwrap_or(0);
        println!("thread {t}: {} gaps > 100us; {} of them with no run-queue wait to explain them (> 100us left); max unexplained {} us", gaps.len(), big, max/1000);
        let mut hist = [0usize; 6];
        for &o in &own { let b = match o { 0..=100_000 => 0, 100_001..=200_000 => 1, 200_001..=500_000 => 2, 500_001..=1_000_000 => 3, 1_000_001..=5_000_000 => 4, _ => 5 }; hist[b]+=1; }
        println!("thread {t}: unexplained gap histogram <=0.1ms {} 0.1-0.2 {} 0.2-0.5 {} 0.5-1 {} 1-5 {} >5ms {}", hist[0],hist[1],hist[2],hist[3],hist[4],hist[5]);
    })).collect();
    for h in hs { h.join().unwrap(); }
}
