//! 5. An `Eq` that panics on every Nth call (shared counter), under contention: the same exact
//! per-thread model as `panicking_hash.rs` (get/insert/remove/update/get_or_insert_with/compute),
//! with hashes folded to 64 values (`k % 64`) so chains are long and `Eq` runs often.
use bbhostile::*;
use std::sync::atomic::Ordering::SeqCst;

fn cfg(every: u64, mode: u8) -> &'static Hostility {
    let c = Hostility::leak();
    c.eq_panic_every.store(every, SeqCst);
    c.hash_mode.store(mode, SeqCst);
    c
}

#[test]
fn conc_panicking_eq_long_chains_every_13() {
    watchdog(60, || assert!(conc_model_run(cfg(13, 3), 3, 1500, 15_000, 1) > 0));
}

#[test]
fn conc_panicking_eq_long_chains_every_3() {
    watchdog(60, || assert!(conc_model_run(cfg(3, 3), 2, 1000, 10_000, 2) > 0));
}

#[test]
fn conc_panicking_eq_good_hash_every_2() {
    // a good hash: Eq runs about once per hit only
    watchdog(60, || assert!(conc_model_run(cfg(2, 0), 3, 3000, 20_000, 3) > 0));
}

#[test]
fn conc_panicking_eq_and_hash_together() {
    watchdog(60, || {
        let c = cfg(17, 3);
        c.hash_panic_every.store(23, SeqCst);
        assert!(conc_model_run(c, 3, 1500, 15_000, 4) > 0)
    });
}

#[test]
fn seq_panicking_eq_long_chains() {
    watchdog(60, || {
        assert!(seq_model_run(cfg(13, 3), 1) > 0);
        assert!(seq_model_run(cfg(2, 0), 2) > 0);
        let c = cfg(5, 3);
        c.hash_panic_every.store(7, SeqCst);
        assert!(seq_model_run(c, 3) > 0);
    });
}
