use hmap::HashMap;
#[test]
fn try_reserve_alloc_error_leaves_map_changed() {
    let mut m: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    let before = (m.log2_buckets(), m.capacity());
    let t = std::time::Instant::now();
    let r = m.try_reserve(1 << 30);
    println!("try_reserve(1<<30) -> {r:?} in {:?}; B/capacity before {before:?}, after {:?}", t.elapsed(), (m.log2_buckets(), m.capacity()));
    m.check_invariants();
    assert!(r.is_err());
    assert_eq!((m.log2_buckets(), m.capacity()), before, "try_reserve failed but changed the map");
}
#[test]
fn reserve_lands_on_minimal_b() {
    let mut m: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    m.try_reserve(1_000_000).unwrap();
    println!("after reserve(1e6) from len 100: B={} cap={}", m.log2_buckets(), m.capacity());
}
