//! White-box unit tests of the raw layer; every mutation is followed by `check_invariants()`.

use super::*;
use crate::test_util::ConstantState;
use crate::DefaultHashBuilder;

type Map = RawMap<u64, u64, DefaultHashBuilder>;

/// Scales a loop bound down under Miri, which runs about 1000× slower.
fn scaled(n: u64) -> u64 {
    if cfg!(miri) {
        (n / 20).max(40)
    } else {
        n
    }
}

fn new_map(capacity: usize) -> Map {
    RawMap::try_with_capacity(
        capacity,
        DefaultHashBuilder::default(),
        LoadFactor::Go122,
        Fallibility::Infallible,
    )
    .expect("infallible")
}

#[test]
fn header_offsets_match_go() {
    use core::mem::offset_of;
    type H = Header<u64, u64>;
    if cfg!(target_pointer_width = "64") {
        assert_eq!(offset_of!(H, count), 0);
        assert_eq!(offset_of!(H, flags), 8);
        assert_eq!(offset_of!(H, log2_buckets), 9);
        assert_eq!(offset_of!(H, overflow_count), 10);
        assert_eq!(offset_of!(H, hash0), 12);
        assert_eq!(offset_of!(H, buckets), 16);
        assert_eq!(offset_of!(H, old_buckets), 24);
        assert_eq!(offset_of!(H, evacuation_mark), 32);
        assert_eq!(offset_of!(H, spare_overflow), 40);
        assert_eq!(size_of::<H>(), 48);
        // Go's bucketsize for map[int64]int64.
        assert_eq!(size_of::<Bucket<u64, u64>>(), 144);
        assert_eq!(size_of::<Bucket<u64, u8>>(), 88);
    }
}

#[test]
fn each_write_evacuates_at_most_two_old_buckets() {
    let mut map = new_map(0);
    let mut was_growing = false;
    let mut last_evacuated = 0;
    for key in 0..scaled(3_000) {
        map.insert(key, key);
        map.check_invariants();
        let stats = map.stats();
        if map.is_growing() {
            if was_growing {
                assert!(stats.old_buckets_evacuated <= last_evacuated + 2);
            } else {
                assert!(
                    stats.old_buckets_evacuated <= 2,
                    "a new growth evacuates at most two chains"
                );
            }
            last_evacuated = stats.old_buckets_evacuated;
        }
        was_growing = map.is_growing();
    }
}

#[test]
fn growth_finishes_within_old_bucket_count_writes() {
    let mut map = new_map(0);
    let mut started_at = None;
    for key in 0..scaled(50_000) {
        map.insert(key, key);
        match (started_at, map.is_growing()) {
            (None, true) => started_at = Some((key, map.old_bucket_count())),
            (Some((start, old_count)), growing) => {
                assert!(
                    key - start <= old_count as u64,
                    "growth outlived old-count writes"
                );
                if !growing {
                    started_at = None;
                }
            }
            (None, false) => {}
        }
    }
}

#[test]
fn remove_keeps_tombstone_rule_and_reseeds_when_empty() {
    let mut map = new_map(0);
    for key in 0..scaled(1000) {
        map.insert(key, key);
    }
    let seed = map.header.hash0;
    for key in (0..scaled(1000)).rev() {
        assert_eq!(map.remove(&key), Some((key, key)));
        map.check_invariants();
    }
    assert_eq!(map.len(), 0);
    assert_ne!(
        map.header.hash0, seed,
        "hash0 is renewed when the map becomes empty (odds 2^-32)"
    );
}

#[test]
fn clear_keeps_log2_buckets_and_mid_growth_state_is_reset() {
    let mut map = new_map(0);
    for key in 0..105u64 {
        map.insert(key, key);
    }
    assert!(map.is_growing());
    let log2 = map.header.log2_buckets;
    map.clear();
    map.check_invariants();
    assert!(!map.is_growing());
    assert_eq!(map.header.log2_buckets, log2);
    for key in 0..50u64 {
        map.insert(key, key + 1);
        map.check_invariants();
    }
    assert_eq!(map.len(), 50);
}

#[test]
fn iteration_mid_growth_yields_each_entry_once() {
    let mut map = new_map(0);
    for key in 0..scaled(1200) {
        map.insert(key, key);
        let mut seen: Vec<u64> = iter::RawRefIter::new(&map).map(|(k, _)| *k).collect();
        seen.sort_unstable();
        assert_eq!(seen.len(), map.len());
        assert!(seen.iter().enumerate().all(|(i, &k)| i as u64 == k));
    }
}

#[test]
fn churn_at_fixed_size_triggers_same_size_growth() {
    // Go's measured scenario (spec §6.4): hold ~90 entries at B = 4, delete the oldest key and
    // insert a new one; deletes never free overflow buckets, so they pile up until a same-size
    // growth compacts the chains.
    let mut map = new_map(0);
    for key in 0..90u64 {
        map.insert(key, key);
    }
    assert_eq!(map.header.log2_buckets, 4);
    let mut saw_same_size = false;
    for step in 0..scaled(20_000) {
        map.remove(&step);
        map.insert(step + 90, step);
        if step % 64 == 0 {
            map.check_invariants();
        }
        if map.is_growing() && map.is_same_size_grow() {
            saw_same_size = true;
            assert_eq!(map.header.log2_buckets, 4, "a same-size growth keeps B");
        }
    }
    map.check_invariants();
    assert!(
        saw_same_size || cfg!(miri),
        "no same-size growth in 20000 churn steps"
    );
    assert_eq!(map.header.log2_buckets, 4);
}

#[test]
fn constant_hash_keeps_every_key_reachable() {
    let mut map: RawMap<u32, u32, ConstantState> = RawMap::try_with_capacity(
        0,
        ConstantState(7),
        LoadFactor::Go122,
        Fallibility::Infallible,
    )
    .expect("infallible");
    for key in 0..scaled(300) as u32 {
        map.insert(key, key);
        map.check_invariants();
    }
    for key in 0..scaled(300) as u32 {
        assert_eq!(map.get_key_value(&key), Some((&key, &key)));
    }
    for key in 0..scaled(300) as u32 {
        assert!(map.remove(&key).is_some());
        map.check_invariants();
    }
}

#[test]
fn large_mapped_arrays_grow_and_are_retired() {
    // 2^14 buckets of 144 bytes = 2.3 MiB: arrays are mapped, and old ones go to the reclaimer.
    let mut map = new_map(0);
    let count = if cfg!(miri) { 200 } else { 200_000u64 };
    for key in 0..count {
        map.insert(key, !key);
    }
    map.check_invariants();
    for key in 0..count {
        assert_eq!(map.get_key_value(&key), Some((&key, &!key)));
    }
}

#[test]
fn clone_is_structural_mid_growth() {
    let mut map = new_map(0);
    for key in 0..105u64 {
        map.insert(key, key);
    }
    assert!(map.is_growing());
    let copy = map.clone();
    copy.check_invariants();
    assert_eq!(copy.header.log2_buckets, map.header.log2_buckets);
    assert_eq!(copy.header.evacuation_mark, map.header.evacuation_mark);
    assert!(copy.is_growing());
    for key in 0..105u64 {
        assert_eq!(copy.get_key_value(&key), Some((&key, &key)));
    }
}

#[test]
fn reserve_grows_in_one_go() {
    let mut map = new_map(0);
    for key in 0..100u64 {
        map.insert(key, key);
    }
    let extra = scaled(10_000);
    map.reserve(extra as usize, Fallibility::Infallible)
        .expect("fits");
    map.check_invariants();
    let log2 = map.header.log2_buckets;
    assert!(!map.is_growing());
    for key in 100..100 + extra {
        map.insert(key, key);
    }
    assert_eq!(
        map.header.log2_buckets, log2,
        "no growth within the reserved room"
    );
    assert_eq!(
        map.reserve(usize::MAX, Fallibility::Fallible),
        Err(TryReserveError::CapacityOverflow)
    );
}

/// The lockstep test's view of the buckets (`HashMap::image`): every live entry exactly once,
/// in the current array's chains or in an unevacuated old chain, full tophash bytes exactly
/// where an entry is shown, in every growth state (also under the constant hasher, whose single
/// chain takes overflow buckets).
#[test]
fn image_shows_every_entry_once_in_every_growth_state() {
    fn entries(image: &crate::MapImage<'_, u64, u64>) -> Vec<(u64, u64)> {
        let old = image.old_buckets.iter().flatten().flatten();
        let mut seen = Vec::new();
        for chain in image.buckets.iter().flatten().chain(old) {
            for bucket in chain {
                for (top, slot) in bucket.tophash.iter().zip(&bucket.slots) {
                    assert_eq!(TopHash(*top).is_full(), slot.is_some());
                    if let Some((k, v)) = slot {
                        seen.push((**k, **v));
                    }
                }
            }
        }
        seen.sort_unstable();
        seen
    }
    let mut map = crate::HashMap::<u64, u64>::new();
    assert!(map.image().buckets.is_none());
    let mut constant = crate::HashMap::with_hasher(ConstantState(7));
    let mut grew = false;
    for key in 0..scaled(600) {
        map.insert(key, key * 3);
        constant.insert(key % 97, key);
        if key % 5 == 0 {
            map.remove(&(key / 2));
        }
        grew |= map.is_growing();
        for (image, expected) in [
            (
                map.image(),
                map.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            ),
            (
                constant.image(),
                constant.iter().map(|(k, v)| (*k, *v)).collect(),
            ),
        ] {
            let mut expected = expected;
            expected.sort_unstable();
            assert_eq!(entries(&image), expected);
        }
    }
    assert!(grew);
}
