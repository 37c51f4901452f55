//! Build script: sets one cfg, `hmap_asan`, when the crate is compiled under AddressSanitizer
//! (`-Zsanitizer=address`, as CI's ASan step and `cargo fuzz` build it). The concurrent map's
//! entry pool then poisons its free blocks, so that a read of a reclaimed entry, whose block the
//! pool keeps instead of freeing, is still reported (`src/concurrent/blocks.rs`,
//! `design/decisions/0007-entry-pool.md`). rustc sets `cfg(sanitize = "address")` itself, but
//! reading it in code needs an unstable feature; cargo hands it to build scripts on stable.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hmap_asan)");
    println!("cargo::rerun-if-changed=build.rs");
    let asan = std::env::var("CARGO_CFG_SANITIZE")
        .is_ok_and(|sanitizers| sanitizers.split(',').any(|s| s == "address"));
    if asan {
        println!("cargo::rustc-cfg=hmap_asan");
    }
}
