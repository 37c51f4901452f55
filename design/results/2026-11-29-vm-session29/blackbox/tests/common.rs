#![allow(dead_code)]
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

/// Hasher that returns a constant: every key collides.
#[derive(Clone, Default, Debug)]
pub struct ConstState;
pub struct ConstHasher;
impl Hasher for ConstHasher {
    fn finish(&self) -> u64 { 0x1234_5678_9abc_def0 }
    fn write(&mut self, _: &[u8]) {}
}
impl BuildHasher for ConstState {
    type Hasher = ConstHasher;
    fn build_hasher(&self) -> ConstHasher { ConstHasher }
}

/// Identity-ish hasher (low-entropy, predictable)
#[derive(Clone, Default, Debug)]
pub struct IdState;
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 { self.0 }
    fn write(&mut self, b: &[u8]) { for &x in b { self.0 = self.0.wrapping_shl(8) | x as u64; } }
    fn write_u64(&mut self, x: u64) { self.0 = x; }
}
impl BuildHasher for IdState {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher { IdHasher(0) }
}

pub struct Ledger {
    pub created: AtomicUsize,
    pub dropped: AtomicUsize,
    pub per_id: Vec<AtomicU8>,
    pub next_id: AtomicUsize,
}
impl Ledger {
    pub fn new(cap: usize) -> Arc<Ledger> {
        Arc::new(Ledger {
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            per_id: (0..cap).map(|_| AtomicU8::new(0)).collect(),
            next_id: AtomicUsize::new(0),
        })
    }
    pub fn live(&self) -> isize { self.created.load(SeqCst) as isize - self.dropped.load(SeqCst) as isize }
    pub fn check_no_double(&self) {
        let n = self.next_id.load(SeqCst).min(self.per_id.len());
        for i in 0..n {
            let c = self.per_id[i].load(SeqCst);
            assert!(c <= 1, "id {i} dropped {c} times");
        }
    }
    pub fn check_all_dropped_once(&self) {
        let n = self.next_id.load(SeqCst);
        assert!(n <= self.per_id.len());
        for i in 0..n {
            let c = self.per_id[i].load(SeqCst);
            assert_eq!(c, 1, "id {i} dropped {c} times (expected 1)");
        }
        assert_eq!(self.created.load(SeqCst), self.dropped.load(SeqCst));
    }
}

/// A value that records its drop; every instance (incl. clones) gets a unique id.
pub struct Tracked {
    pub val: u64,
    pub id: usize,
    pub ledger: Arc<Ledger>,
}
impl Tracked {
    pub fn new(val: u64, ledger: &Arc<Ledger>) -> Self {
        let id = ledger.next_id.fetch_add(1, SeqCst);
        ledger.created.fetch_add(1, SeqCst);
        Tracked { val, id, ledger: ledger.clone() }
    }
}
impl Clone for Tracked {
    fn clone(&self) -> Self { Tracked::new(self.val, &self.ledger) }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, SeqCst);
        if self.id < self.ledger.per_id.len() {
            self.ledger.per_id[self.id].fetch_add(1, SeqCst);
        }
    }
}
impl PartialEq for Tracked { fn eq(&self, o: &Self) -> bool { self.val == o.val } }
impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "T({})", self.val) }
}

pub fn with_timeout<F: FnOnce() + Send + 'static>(secs: u64, name: &str, f: F) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || { f(); let _ = tx.send(()); });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(()) => { h.join().unwrap(); }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // panicked
            if let Err(e) = h.join() { std::panic::resume_unwind(e); }
        }
        Err(_) => panic!("{name}: timed out after {secs}s (deadlock/hang?)"),
    }
}
