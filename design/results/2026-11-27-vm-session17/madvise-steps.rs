use std::time::Instant;
fn main() {
    let size = 84usize << 20;
    for (step, pause) in [(1usize << 18, 0u64), (1 << 20, 0), (1 << 20, 100)] {
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
        for i in (0..size).step_by(4096) {
            unsafe { *p.add(i) = 1 };
        }
        let mut worst = 0u128;
        let t0 = Instant::now();
        let mut off = 0;
        while off < size {
            let t = Instant::now();
            unsafe { libc::madvise(p.add(off).cast(), step, libc::MADV_DONTNEED) };
            worst = worst.max(t.elapsed().as_nanos());
            off += step;
            if pause > 0 && off < size {
                std::thread::sleep(std::time::Duration::from_micros(pause));
            }
        }
        println!(
            "step {} KiB pause {pause} us: total {:?}, per step {:?}, worst {} us",
            step >> 10,
            t0.elapsed(),
            t0.elapsed() / (size / step) as u32,
            worst / 1000
        );
        unsafe { libc::munmap(p.cast(), size) };
    }
}
