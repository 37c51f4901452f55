//! Build script: records what this `hmap-lab` binary was built from, for the metadata of every
//! result file (`src/report.rs`, `Meta`). Read when the binary is built, not when it runs, so a
//! binary built from one commit and run after a checkout still names the commit it was built
//! from.
//!
//! - `HMAP_LAB_BUILT_FROM`: `git rev-parse HEAD` of the checkout, with `-dirty` appended when a
//!   tracked file differs from that commit (`git status --porcelain --untracked-files=no`);
//!   `unknown` when git is missing or the sources are not a git checkout (a tarball).
//! - `HMAP_LAB_RUSTC`: `-V` of the compiler cargo builds with (the `RUSTC` it gives build
//!   scripts); `unknown` if it cannot be run.
//!
//! The script reruns when HEAD moves (git's `HEAD`, the ref it points to, `packed-refs`, the
//! HEAD reflog, the index) or when the sources of the binary change (the library's `src/`,
//! `benches/common/` which the lab includes, the lab's `src/`, both manifests, `Cargo.lock`), so
//! the commit and the `-dirty` marker follow the tree the binary is compiled from. An edit
//! elsewhere in the tree (a document) does not rerun it, so `-dirty` may lag behind such an
//! edit until the next source change or commit. Only paths that exist are listed: cargo reruns
//! a build script on every build while a listed path is missing, and although this script is
//! cheap (a few `git` calls and one `rustc -V`, tens of milliseconds), a lab that rebuilt on every `cargo
//! test` would be a needless cost; a git ref that appears later (a new branch's first commit)
//! also rewrites the reflog and the index, which are listed.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Prints the two variables and the paths to watch (module docs).
fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let repo = manifest_dir.join("..");
    println!(
        "cargo::rustc-env=HMAP_LAB_BUILT_FROM={}",
        built_from(&repo).unwrap_or_else(|| "unknown".to_owned())
    );
    println!(
        "cargo::rustc-env=HMAP_LAB_RUSTC={}",
        rustc_version().unwrap_or_else(|| "unknown".to_owned())
    );
    let sources = [
        "build.rs",
        "src",
        "Cargo.toml",
        "../src",
        "../benches/common",
        "../Cargo.toml",
        "../Cargo.lock",
    ];
    let mut watched: Vec<PathBuf> = sources.iter().map(|s| manifest_dir.join(s)).collect();
    watched.extend(git_paths(&repo));
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

/// Whether `repo` is the top of a git checkout (and not, say, a tarball unpacked inside some
/// other checkout, whose commit would say nothing about these sources).
fn is_checkout(repo: &Path) -> bool {
    let top = git(repo, &["rev-parse", "--show-toplevel"]);
    match (
        top.map(|top| Path::new(&top).canonicalize()),
        repo.canonicalize(),
    ) {
        (Some(Ok(top)), Ok(repo)) => top == repo,
        _ => false,
    }
}

/// The commit of the checkout at `repo`, `-dirty` appended when a tracked file differs from it.
fn built_from(repo: &Path) -> Option<String> {
    if !is_checkout(repo) {
        return None;
    }
    let commit = git(repo, &["rev-parse", "--verify", "HEAD"])?;
    // `--no-optional-locks`: no index refresh, so asking does not itself change the index this
    // script watches.
    let changes = git(
        repo,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )?;
    Some(if changes.is_empty() {
        commit
    } else {
        format!("{commit}-dirty")
    })
}

/// `$RUSTC -V`: the compiler cargo builds this crate with.
fn rustc_version() -> Option<String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-V").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// The files git changes when HEAD moves or the index changes: `HEAD`, the ref it points to
/// (when on a branch), `packed-refs`, the HEAD reflog and the index, as git locates them (a
/// worktree or a submodule has its `.git` elsewhere). Empty without git or a checkout.
fn git_paths(repo: &Path) -> Vec<PathBuf> {
    if !is_checkout(repo) {
        return Vec::new();
    }
    let mut names = vec![
        "HEAD".to_owned(),
        "index".to_owned(),
        "packed-refs".to_owned(),
        "logs/HEAD".to_owned(),
    ];
    if let Some(reference) = git(repo, &["symbolic-ref", "-q", "HEAD"]) {
        names.push(reference);
    }
    names
        .iter()
        .filter_map(|name| git(repo, &["rev-parse", "--git-path", name]))
        .map(|path| {
            let path = PathBuf::from(path);
            // `--git-path` answers relative to `repo` unless the git directory is elsewhere.
            if path.is_absolute() {
                path
            } else {
                repo.join(path)
            }
        })
        .collect()
}

/// The trimmed stdout of `git -C repo args`, if git ran and succeeded.
fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout)
        .ok()
        .map(|text| text.trim().to_owned())
}
