//! SIGINT, SIGTERM and SIGHUP during an experiment (the `ctrlc` crate with its `termination`
//! feature: the lab denies unsafe code, so it installs no signal handler of its own,
//! `design/decisions/0006-lab-dependencies.md`).
//!
//! The first signal only sets a flag ([`requested`]): `stress` ends its round at the next tick
//! of the round's clock, audits it, and saves what it measured, marked `interrupted`; `grow`,
//! `throughput`, `wrappers` and the tour kill and reap the child process they are waiting for
//! ([`run_child`]) and start no other; `grow`, `throughput` and `wrappers` then save what they
//! measured before (growth runs, cells, map repetitions), marked `interrupted` (each is a
//! complete measurement in processes of its own; the one the signal stopped is not counted),
//! and the tour ends the part it was in as that experiment ends and writes its index for the
//! parts that ran, marked `interrupted`.
//! They then exit with status [`EXIT_STATUS`] ([`conclude`]). A second signal ends the process
//! at once, after killing the running child, in case the cleanup that the first one started
//! hangs (a slow audit, a deadlocked map).
//!
//! Only the commands that check the flag install the handler ([`install`]); `crash`, `layout`
//! and `report` keep the default action, which ends them at once.

use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The exit status of an interrupted run: 128 + SIGINT, the shell's convention, whichever of
/// the three signals it was (`ctrlc` does not say which).
pub(crate) const EXIT_STATUS: u8 = 130;

/// Signals received since [`install`].
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// The child process [`run_child`] is waiting for, if any: the handler kills it on the second
/// signal, before the process exits.
static CHILD: Mutex<Option<Child>> = Mutex::new(None);

/// Installs the handler; if that fails, a warning, and the signals keep their default action.
pub(crate) fn install() {
    if let Err(e) = ctrlc::set_handler(on_signal) {
        eprintln!(
            "hmap-lab: warning: cannot handle SIGINT/SIGTERM ({e}); an interrupted run saves nothing"
        );
    }
}

/// Whether a signal asked the run to stop.
pub(crate) fn requested() -> bool {
    // ORDERING: SeqCst, though a flag alone: nothing is published through it (the child slot
    // has its own Mutex). Pairs with the handler's `fetch_add`. Not a library protocol row.
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// The handler, on `ctrlc`'s own thread.
fn on_signal() {
    // ORDERING: SeqCst; see `requested`, its reader.
    if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
        eprintln!("hmap-lab: interrupted: stopping (a second signal exits at once)");
        return;
    }
    if let Some(child) = child_slot().as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    eprintln!("hmap-lab: interrupted twice: exiting now");
    std::process::exit(i32::from(EXIT_STATUS));
}

/// How an experiment that saves what it measured also when a signal stops it (`stress`,
/// `grow`, `throughput`, `wrappers`, the tour) ends, once its results are written: a `failure`
/// (violations, failed runs or cells) is status 1; else an interruption, `measured` saying how
/// much ran (`"3 of 8 map(s)"`) after `elapsed_s`, is status [`EXIT_STATUS`] with `saved`
/// closing the message; else success.
pub(crate) fn conclude(
    experiment: &str,
    interrupted: Option<(f64, String)>,
    failure: Option<String>,
    saved: &str,
) -> Result<(), crate::LabError> {
    let note = interrupted.as_ref().map_or(String::new(), |(elapsed_s, measured)| {
        format!(
            "interrupted after {elapsed_s:.1} s: {measured} measured, the results so far saved (marked interrupted); "
        )
    });
    match (failure, interrupted) {
        (Some(failure), _) => Err(crate::LabError::Failed(format!(
            "{experiment}: {note}{failure}"
        ))),
        (None, Some(_)) => Err(crate::LabError::Interrupted(format!(
            "{experiment}: {note}{saved}"
        ))),
        (None, None) => Ok(()),
    }
}

/// The slot of the running child, even if a thread panicked while holding it.
fn child_slot() -> MutexGuard<'static, Option<Child>> {
    CHILD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `child::run` for the lab: also kills the child as soon as a signal asks the run to stop
/// (and starts none after one), and keeps it where the handler can kill it on the second
/// signal ([`CHILD`]).
pub(crate) fn run_child(args: &[String], timeout: Duration) -> Result<String, String> {
    let watch = crate::child::Watch {
        stop: &requested,
        slot: &CHILD,
    };
    crate::child::run_watched(args, timeout, None, Some(watch))
}
