use hmap::HashMap;
fn rss() -> String { std::fs::read_to_string("/proc/self/status").unwrap().lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmSize")).collect::<Vec<_>>().join(" ") }
#[test]
#[ignore]
fn try_reserve_alloc_error_changes_map() {
    let mut m: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    println!("before: B={} cap={} {}", m.log2_buckets(), m.capacity(), rss());
    let t = std::time::Instant::now();
    let r = m.try_reserve(1usize << 40);
    println!("try_reserve(1<<40) = {r:?} in {:?}", t.elapsed());
    println!("after:  B={} cap={} growing={} len={} {}", m.log2_buckets(), m.capacity(), m.is_growing(), m.len(), rss());
    m.check_invariants();
    for i in 0..100 { assert_eq!(m[&i], i); }
    assert!(r.is_err());
    assert_eq!(m.log2_buckets(), 4, "documented: on failure the map is unchanged");
}
