//! The child-process protocol: every measurement that needs a clean process (its own allocator
//! state, its own resident-memory counters, no garbage left by an earlier run) runs as the
//! calling executable re-invoked with a hidden command, and reports on stdout as
//! `PREFIX name=value ...` lines. This file starts such a child with a timeout ([`run`]), makes
//! a child's panics fatal ([`exit_on_panic`]), and reads and writes its lines ([`Fields`],
//! [`optional`], the latency series line); the child commands themselves live with their
//! measurements.
//!
//! Used by `benches/concurrent.rs` and `benches/wrappers.rs` (as `common::child`) and by the
//! `hmap-lab` crate, which includes this file with `#[path]` as its `child` module. Std only.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Prefix of a child's per-insert latency series line: `HMAP-SERIES values=12,15,...` (the
/// largest latency of each chunk of consecutive inserts, in ns; `measure::chunk_maxima`).
pub(crate) const SERIES_PREFIX: &str = "HMAP-SERIES";

/// The series line for `values`.
pub(crate) fn series_line(values: &[u32]) -> String {
    let joined: Vec<String> = values.iter().map(u32::to_string).collect();
    format!("{SERIES_PREFIX} values={}", joined.join(","))
}

/// The series from a child's stdout (empty when it printed none).
pub(crate) fn parse_series(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .find_map(|line| Fields::parse(line, SERIES_PREFIX))
        .and_then(|fields| fields.get("values"))
        .map(|values| values.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default()
}

/// Runs this executable with `args`, lets its stderr through, and returns its stdout; kills it
/// after `timeout`. A child that exits non-zero is an error naming the command. `timeout_var`
/// names the environment variable that sets `timeout`, if one does: the kill message cites it.
pub(crate) fn run(
    args: &[String],
    timeout: Duration,
    timeout_var: Option<&str>,
) -> Result<String, String> {
    run_watched(args, timeout, timeout_var, None)
}

/// What a caller that handles signals (the lab's `interrupt` module; the benches handle none)
/// asks of [`run_watched`] besides the timeout.
#[derive(Clone, Copy)]
pub(crate) struct Watch<'a> {
    /// Asked before the child starts and every 2 ms while it runs: `true` kills it (or starts
    /// none), and the run ends with an error that says so.
    pub(crate) stop: &'a dyn Fn() -> bool,
    /// Holds the child while it runs, so that a signal handler can kill it before the process
    /// exits; emptied when the run ends.
    pub(crate) slot: &'a Mutex<Option<Child>>,
}

/// [`run`], also killing the child as soon as `watch` asks (see [`Watch`]).
pub(crate) fn run_watched(
    args: &[String],
    timeout: Duration,
    timeout_var: Option<&str>,
    watch: Option<Watch<'_>>,
) -> Result<String, String> {
    let command = args.join(" ");
    let stop_requested = || watch.is_some_and(|watch| (watch.stop)());
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    // The child lives in the caller's slot while it runs, where a signal handler can kill it,
    // or here. The slot is held from before the stop check until the child is in it, so a
    // handler that kills "the running child" either finds it there or runs before the check,
    // and no child starts unseen (a black-box test in session 23 found a child that outlived
    // the lab: started between the handler's look at the slot and its exit).
    let local = Mutex::new(None);
    let slot = watch.map_or(&local, |watch| watch.slot);
    let lock = || slot.lock().unwrap_or_else(PoisonError::into_inner);
    let reader = {
        let mut held = lock();
        if stop_requested() {
            return Err(format!("child `{command}` not started: interrupted"));
        }
        let mut child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let Some(mut stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("child has no stdout".to_owned());
        };
        *held = Some(child);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        })
    };
    let deadline = Instant::now() + timeout;
    let outcome = loop {
        {
            let mut held = lock();
            let Some(child) = held.as_mut() else {
                break Err(format!("child `{command}` vanished"));
            };
            let kill = |child: &mut Child, why: String| {
                let _ = child.kill();
                let _ = child.wait();
                Err(why)
            };
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if stop_requested() => {
                    break kill(child, format!("child `{command}` killed: interrupted"));
                }
                Ok(None) if Instant::now() >= deadline => {
                    let var = timeout_var.map_or_else(String::new, |var| format!(" ({var})"));
                    let why = format!(
                        "child `{command}` killed after {} s{var}",
                        timeout.as_secs()
                    );
                    break kill(child, why);
                }
                Ok(None) => {}
                Err(e) => break kill(child, format!("waiting for child `{command}`: {e}")),
            }
        }
        thread::sleep(Duration::from_millis(2));
    };
    *lock() = None;
    let status = outcome?;
    let text = reader.join().unwrap_or_default();
    if status.success() {
        Ok(text)
    } else {
        Err(format!("child `{command}` failed: {status}"))
    }
}

/// In a child: a panic on any thread ends the process at once (other threads may wait on a
/// barrier the panicking thread will never reach), after the default hook has printed it.
pub(crate) fn exit_on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(101);
    }));
}

/// `name=value` pairs of one result line.
#[derive(Debug)]
pub(crate) struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    /// The pairs after `prefix`; `None` unless the line starts with `prefix` as a whole word.
    pub(crate) fn parse(line: &'a str, prefix: &str) -> Option<Fields<'a>> {
        let rest = line.trim().strip_prefix(prefix)?;
        if !rest.is_empty() && !rest.starts_with(' ') {
            return None;
        }
        Some(Fields(
            rest.split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .collect(),
        ))
    }

    /// The value of `name`, as written.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// The value of `name`, parsed; `None` when missing or malformed.
    pub(crate) fn int<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name)?.parse().ok()
    }

    /// `Some(None)` for `-`, `Some(Some(n))` for a number, `None` when missing or malformed.
    pub(crate) fn optional_int<T: std::str::FromStr>(&self, name: &str) -> Option<Option<T>> {
        match self.get(name)? {
            "-" => Some(None),
            text => text.parse().ok().map(Some),
        }
    }
}

/// A value for a result line, a CSV cell or a table cell: the number, or `-` when absent.
pub(crate) fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The trimmed stdout of a command that succeeded; `None` if it is missing or failed.
pub(crate) fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
