//! Deadlock probes for re-entrant use (each scenario runs on a helper thread with a watchdog).
mod common;
use common::*;
use hmap::wrappers::*;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Runs `f` on a thread; Ok(true) if it finished, Ok(false) if it panicked, Err if it hung.
fn within(secs: u64, f: impl FnOnce() + Send + 'static) -> Result<bool, ()> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r.is_ok());
    });
    rx.recv_timeout(Duration::from_secs(secs)).map_err(|_| ())
}

/// ShardedMap promises: `f` calling any method of the same map panics instead of deadlocking.
/// `Debug` (`{:?}`) is not checked and takes the shard read locks recursively: with a writer
/// queued on the shard being ranged, it deadlocks.
#[test]
fn sharded_debug_inside_range_with_waiting_writer() {
    quiet_panics();
    let r = within(5, || {
        let m = Arc::new(ShardedMap::<u64, u64>::with_shards(1));
        m.store(1, 1);
        let m2 = m.clone();
        m.range(|_, _| {
            let m3 = m2.clone();
            thread::spawn(move || m3.store(2, 2)); // queues on the write lock
            thread::sleep(Duration::from_millis(200));
            let s = format!("{:?}", m2); // recursive read lock
            assert!(!s.is_empty());
            true
        });
    });
    assert!(r.is_ok(), "deadlock: ShardedMap Debug inside range with a queued writer");
}

/// Same scenario without a waiting writer: no deadlock (recursive read allowed).
#[test]
fn sharded_debug_inside_range_alone() {
    let r = within(5, || {
        let m = ShardedMap::<u64, u64>::with_shards(1);
        m.store(1, 1);
        m.range(|_, _| {
            let _ = format!("{:?}", m);
            true
        });
    });
    assert!(r.is_ok(), "deadlock without writer");
}

/// CowMap: a value whose Drop writes to the same map, dropped when a write replaces the last
/// reference to the old version (under the writer mutex).
#[test]
fn cow_value_drop_writes_same_map() {
    let r = within(5, || {
        struct D(std::sync::Weak<CowMap<u64, Arc<D>>>, u64);
        impl Drop for D {
            fn drop(&mut self) {
                if let Some(m) = self.0.upgrade() {
                    if self.1 == 1 {
                        m.store(99, Arc::new(D(std::sync::Weak::new(), 0)));
                    }
                }
            }
        }
        let m: Arc<CowMap<u64, Arc<D>>> = Arc::new(CowMap::new());
        m.store(1, Arc::new(D(Arc::downgrade(&m), 1)));
        m.store(1, Arc::new(D(std::sync::Weak::new(), 0))); // old version (holding D#1) dropped
    });
    assert_eq!(r, Ok(true), "CowMap: value Drop that writes the same map");
}

/// SyncMap documents that user Drop never runs under its mutex: a Drop that writes the same
/// map must not deadlock, in any write path.
#[test]
fn syncmap_value_drop_writes_same_map() {
    let r = within(10, || {
        type M = SyncMap<u64, Arc<D>>;
        struct D(std::sync::Weak<M>, u64);
        impl Drop for D {
            fn drop(&mut self) {
                if let Some(m) = self.0.upgrade() {
                    m.store(1_000_000 + self.1, Arc::new(D(std::sync::Weak::new(), 0)));
                    m.load(&5);
                }
            }
        }
        let m: Arc<M> = Arc::new(SyncMap::new());
        let mk = |i| Arc::new(D(Arc::downgrade(&m), i));
        for round in 0..50u64 {
            for i in 0..20 {
                m.store(i, mk(round * 100 + i));
            }
            m.load_and_delete(&3);
            m.delete(&4);
            m.swap(5, mk(7));
            m.load(&12345);
            m.load(&12346);
            if round % 5 == 0 {
                m.clear();
            }
        }
    });
    assert!(r.is_ok(), "SyncMap: a Drop that writes the map deadlocked (or panicked: {r:?})");
}

/// CowMap::modify calling the same map from the closure (not documented either way).
#[test]
fn cow_modify_reentrant_read() {
    let r = within(5, || {
        let m = CowMap::<u64, u64>::new();
        m.store(1, 1);
        m.modify(|map| {
            let v = m.load(&1).unwrap(); // read: should be fine
            map.insert(2, v);
        });
        assert_eq!(m.load(&2), Some(1));
    });
    assert_eq!(r, Ok(true));
}
