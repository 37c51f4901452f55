use hmap::wrappers::ShardedMap;
use std::sync::{mpsc, Arc};
use std::{thread, time::Duration};

#[test]
fn sharded_debug_in_range_deadlocks() {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let map = Arc::new(ShardedMap::<u64, u64>::with_shards(1));
        map.store(1, 1);
        map.range(|_, _| {
            let writer = Arc::clone(&map);
            thread::spawn(move || writer.store(2, 2)); // queues on the shard's write lock
            thread::sleep(Duration::from_millis(200));
            let _ = format!("{map:?}"); // unchecked: takes the shard's read lock again
            true
        });
        done_tx.send(()).unwrap();
    });
    assert!(done_rx.recv_timeout(Duration::from_secs(5)).is_ok(), "deadlocked");
}
