use std::time::Instant;
fn main() {
    let mb: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(200);
    for round in 0..3 {
        let size = mb << 20;
        let p = unsafe { libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) } as *mut u8;
        let start = Instant::now();
        let mut slow = Vec::new();
        let mut max = 0u128;
        for off in (0..size).step_by(4096) {
            let t0 = Instant::now();
            unsafe { p.add(off).write_volatile(1) };
            let d = t0.elapsed().as_nanos();
            max = max.max(d);
            if d > 100_000 { slow.push((off >> 20, d / 1000)); }
        }
        println!("round {round}: {} MB touched in {:?}, max fault {} us, {} faults > 100 us: {:?}", mb, start.elapsed(), max / 1000, slow.len(), &slow[..slow.len().min(12)]);
        unsafe { libc::munmap(p.cast(), size) };
    }
}
