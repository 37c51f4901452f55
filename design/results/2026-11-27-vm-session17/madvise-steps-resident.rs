use std::time::Instant;
fn main() {
    let size = 256usize << 20;
    for touch in [false, true] {
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } as *mut u8;
        if touch {
            for i in (0..size).step_by(4096 * 4) {
                unsafe { *p.add(i) = 1 };
            }
        }
        let mut times = vec![];
        let mut off = 0;
        while off < size {
            let t = Instant::now();
            unsafe { libc::madvise(p.add(off).cast(), 1 << 20, libc::MADV_DONTNEED) };
            times.push(t.elapsed().as_nanos());
            off += 1 << 20;
        }
        times.sort();
        println!(
            "touched every 4th page {touch}: 1 MiB step median {} ns, max {} ns",
            times[times.len() / 2],
            times[times.len() - 1]
        );
        unsafe { libc::munmap(p.cast(), size) };
    }
}
