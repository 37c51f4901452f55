use std::time::Instant;
fn rusage() -> (i64, i64, i64) {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) };
    (r.ru_minflt, r.ru_nvcsw + r.ru_nivcsw, r.ru_stime.tv_sec * 1_000_000 + r.ru_stime.tv_usec)
}
fn main() {
    let n: u64 = std::env::args().nth(1).map_or(8_000_000, |a| a.parse().unwrap());
    let m: hmap::ConcurrentHashMap<u64, u64> = hmap::ConcurrentHashMap::new();
    let mut last_growing = false;
    let mut last_log2 = 0;
    for i in 0..n {
        let k = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let before = rusage();
        let t = Instant::now();
        m.pin().insert(k, i);
        let dt = t.elapsed();
        if dt.as_micros() > 500 {
            let after = rusage();
            println!("{i}: {:?} growing={} log2={} minflt+{} csw+{} stime+{}us", dt, m.is_growing(), m.log2_buckets(), after.0-before.0, after.1-before.1, after.2-before.2);
        }
        let g = m.is_growing();
        let l = m.log2_buckets();
        if g != last_growing || l != last_log2 {
            println!("  {i}: growing {last_growing}->{g}, log2 {last_log2}->{l}");
            last_growing = g; last_log2 = l;
        }
    }
}
