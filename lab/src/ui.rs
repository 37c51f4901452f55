//! What the lab shows while it runs: progress bars on stderr (indicatif), tables on stdout, and
//! the paths it wrote. `--quiet` keeps only the paths (one per line) and errors, for scripts.
//! Bars also stay hidden when stderr is not a terminal, so piped output has no control codes.

use std::io::{self, Write as _};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How loud this invocation is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ui {
    quiet: bool,
}

impl Ui {
    pub(crate) fn new(quiet: bool) -> Ui {
        Ui { quiet }
    }

    /// A bar of `len` steps labelled `what` (hidden when quiet).
    pub(crate) fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if self.quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>10.bold} [{bar:32}] {pos}/{len} {wide_msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A table or a heading on stdout (nothing when quiet).
    pub(crate) fn out(&self, text: &str) {
        if !self.quiet {
            stdout_line(text);
        }
    }

    /// A progress note on stderr that does not tear `bar` (nothing when quiet).
    pub(crate) fn note(&self, bar: &ProgressBar, text: &str) {
        if !self.quiet {
            bar.suspend(|| eprintln!("{text}"));
        }
    }

    /// Reports a file the lab wrote: `wrote PATH`, or the bare path when quiet.
    pub(crate) fn wrote(&self, path: &Path) {
        if self.quiet {
            stdout_line(&path.display().to_string());
        } else {
            stdout_line(&format!("wrote {}", path.display()));
        }
    }
}

/// Writes one line to stdout. A closed stdout (`hmap-lab ... | head`) is not an error worth a
/// panic: the experiment goes on and its files are still written.
fn stdout_line(text: &str) {
    let _ = writeln!(io::stdout().lock(), "{text}");
}
