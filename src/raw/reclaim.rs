//! The reclaimer: a background thread that gives unmapped bucket arrays back to the kernel.
//!
//! Unmapping a large array costs time proportional to its resident pages, and on virtual
//! machines that report freed pages to the host it is slow: measured on our Firecracker VMs,
//! `munmap` of a 320 MB array took 55 ms and `madvise(MADV_DONTNEED)` of 64 KiB up to 11 ms.
//! Done inline, that would be the insert's pause at the end of every growth. Go's runtime has the
//! same problem and the same answer: its background scavenger returns memory to the OS off the
//! mutator's path. GO: Go frees old arrays through its garbage collector and scavenger (D17).
//!
//! The thread is started on first use, serves every map in the process, and only ever calls
//! `munmap` on mappings that no map references any more, or runs a job that frees memory no map
//! references any more (the concurrent map's retired tables, [`run_later`]). If it cannot be
//! started, the work is done inline.
//!
//! The thread must not take a CPU away from the map's users for long either: on a machine with
//! no idle core, a thread it preempts waits for the next scheduler tick (4 ms at `HZ=250`). So a
//! long job gives the CPU back between its steps ([`between_steps`]).

use core::ptr::NonNull;
use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;
use std::time::Duration;

use super::bucket_array;

/// A mapping to give back: its start and length.
struct Mapping {
    start: NonNull<u8>,
    size: usize,
}

// SAFETY: a Mapping is a handle to memory nobody references any more (see `unmap_later`); moving
// it to the reclaimer thread moves that sole ownership.
unsafe impl Send for Mapping {}

/// Work for the reclaimer thread.
#[cfg_attr(
    any(loom, miri, not(unix)),
    allow(dead_code, reason = "there the concurrent map frees its tables inline")
)]
enum Job {
    Unmap(Mapping),
    Run(Box<dyn FnOnce() + Send>),
}

impl Job {
    fn run(self) {
        match self {
            Job::Unmap(mapping) => {
                // SAFETY: `unmap_later`'s contract: a whole mapping made by
                // `bucket_array::allocate`, referenced by no one.
                unsafe { bucket_array::unmap(mapping.start, mapping.size) };
            }
            Job::Run(job) => job(),
        }
    }
}

/// The channel to the reclaimer thread, or `None` if the thread could not be started or belongs
/// to another process (a `fork`ed child inherits the channel but not the thread, so its sends
/// would queue forever; it unmaps inline instead).
fn reclaimer() -> Option<&'static Sender<Job>> {
    static RECLAIMER: OnceLock<Option<(u32, Sender<Job>)>> = OnceLock::new();
    RECLAIMER
        .get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("hmap-reclaimer".into())
                .spawn(move || {
                    ON_RECLAIMER.set(true);
                    for job in receiver {
                        job.run();
                    }
                })
                .ok()
                .map(|_| (std::process::id(), sender))
        })
        .as_ref()
        .filter(|(owner, _)| *owner == std::process::id())
        .map(|(_, sender)| sender)
}

std::thread_local! {
    /// Whether this thread is the reclaimer (set once, when it starts).
    static ON_RECLAIMER: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// A step shorter than this did not touch enough pages to be worth a pause: a 1 MiB
/// `MADV_DONTNEED` of pages never touched takes about 1 µs on our 2-core VM, one with a quarter of
/// them resident about 30 µs, a fully resident one about 105 µs.
const WORTH_A_PAUSE: Duration = Duration::from_micros(10);

/// The longest pause, whatever the step took (a step that was itself preempted can look long).
const LONGEST_PAUSE: Duration = Duration::from_millis(1);

/// Called between two steps of a long job, with how long the step just done took
/// (`bucket_array::unmap` calls it after each 1 MiB step). On the reclaimer thread it sleeps as
/// long as the step took, up to [`LONGEST_PAUSE`], so that the thread uses at most about half a
/// CPU while it gives memory back; a step under [`WORTH_A_PAUSE`] (pages never touched) gets no
/// pause, so releasing a large array that was hardly used stays quick. Elsewhere (work done
/// inline, by the caller) it returns at once.
///
/// Why: with two busy threads on two CPUs, the reclaimer's wake-up preempts one of them, and the
/// preempted thread used to wait until the scheduler's next tick, 4 ms later on our VMs, while
/// the reclaimer discarded pages. A probe that reads every thread's run and wait time around each
/// operation over 0.5 ms (`design/results/2026-11-27-vm-session17/`) found the reclaimer running
/// during 48 of the 160 slow gets and inserts of a growth to 8M keys with one reader, and during
/// 9 of 108 with a fixed 100 µs pause after each step (which a resident step's ~105 µs matches);
/// the rest are ticks lost to other tasks of the VM, which papaya's reader loses as well.
/// Sleeping hands the CPU straight back, so a preempted thread waits for one step (about 0.1 ms)
/// instead of a tick. Memory goes back a little later: a resident 84 MB array in 25–26 ms instead
/// of 8–10 (the sleep itself takes about 0.2 ms with the kernel's timer slack).
pub(crate) fn between_steps(step: Duration) {
    if ON_RECLAIMER.get() {
        if let Some(pause) = pause_after(step) {
            std::thread::sleep(pause);
        }
    }
}

/// The reclaimer's pause after a step that took `step` (see [`between_steps`]).
fn pause_after(step: Duration) -> Option<Duration> {
    (step >= WORTH_A_PAUSE).then(|| step.min(LONGEST_PAUSE))
}

/// Unmaps `start..start + size` soon, on the reclaimer thread.
///
/// # Safety
/// `start..start + size` is a whole mapping made by `bucket_array::allocate` that no map,
/// iterator or pointer references any more.
pub(crate) unsafe fn unmap_later(start: NonNull<u8>, size: usize) {
    // The job is safe to run anywhere, any time: that is the caller's contract.
    submit(Job::Unmap(Mapping { start, size }));
}

/// Runs `job` soon, on the reclaimer thread (inline if the thread is unavailable). For work that
/// only frees memory nobody references, so that its cost is nobody's pause.
#[cfg_attr(
    any(loom, miri, not(unix)),
    allow(dead_code, reason = "there the concurrent map frees its tables inline")
)]
pub(crate) fn run_later(job: Box<dyn FnOnce() + Send>) {
    submit(Job::Run(job));
}

fn submit(job: Job) {
    let job = match reclaimer() {
        Some(sender) => match sender.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    // The thread is unavailable, so the caller pays.
    job.run();
}

#[cfg(all(test, unix, not(miri), not(loom)))]
mod tests {
    use super::{pause_after, run_later, Duration, LONGEST_PAUSE, ON_RECLAIMER, WORTH_A_PAUSE};

    /// A step that discarded nothing gets no pause, a step that did gets a pause as long as
    /// itself, and no pause exceeds the cap.
    #[test]
    fn the_pause_follows_the_step() {
        assert_eq!(pause_after(Duration::from_nanos(700)), None);
        assert_eq!(pause_after(WORTH_A_PAUSE - Duration::from_nanos(1)), None);
        assert_eq!(pause_after(WORTH_A_PAUSE), Some(WORTH_A_PAUSE));
        let resident = Duration::from_micros(105);
        assert_eq!(pause_after(resident), Some(resident));
        assert_eq!(pause_after(Duration::from_millis(40)), Some(LONGEST_PAUSE));
    }

    /// The pause of `between_steps` applies on the reclaimer thread and nowhere else: work that
    /// falls back to running inline must not sleep on the caller's path.
    #[test]
    fn only_the_reclaimer_thread_pauses_between_steps() {
        assert!(
            !ON_RECLAIMER.get(),
            "a test thread must not count as the reclaimer"
        );
        let (sender, receiver) = std::sync::mpsc::channel();
        run_later(Box::new(move || {
            let _ = sender.send((
                ON_RECLAIMER.get(),
                std::thread::current().name().map(str::to_owned),
            ));
        }));
        let (on_reclaimer, name) = receiver.recv().expect("the job ran");
        assert_eq!(name.as_deref(), Some("hmap-reclaimer"));
        assert!(on_reclaimer, "the reclaimer thread marks itself");
    }
}
