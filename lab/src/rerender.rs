//! The `report` command: re-render the tables and plots of saved results. Reads every lab JSON
//! file in a results directory (default: the newest under `lab-results/`), prints its tables
//! and redraws its SVG plots, without running anything. In a directory an interrupted tour wrote
//! into, the file of a part that tour did not run, if older than its `tour.json`, is an earlier
//! run's and is skipped, with a line on stderr.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::de::DeserializeOwned;

use crate::report::Output;
use crate::{crash, grow_output, layout, stress, throughput, tour, wrappers, LabError};

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A results directory written by the lab [default: the newest under lab-results/]. The
    /// plots are redrawn into --out if given, else into this directory.
    #[arg(value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// The directory to read, checked before anything is written.
pub(crate) fn input_dir(args: &ReportArgs) -> Result<PathBuf, LabError> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => crate::report::latest_results_dir().ok_or_else(|| {
            LabError::Usage("no results directory given and none under lab-results/ (run an experiment first, or name a DIR)".to_owned())
        })?,
    };
    if !dir.is_dir() {
        return Err(LabError::Usage(format!(
            "{}: not a directory (give a directory written by hmap-lab)",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Renders every result file in `dir`.
pub(crate) fn run(dir: &Path, out: &Output) -> Result<(), LabError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| LabError::Usage(format!("{}: cannot read ({e})", dir.display())))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let not_run = parts_the_tour_did_not_run(dir, &files);
    let mut rendered = 0;
    for path in &files {
        if not_run.contains(path) {
            eprintln!(
                "hmap-lab: skipping {}: a part the interrupted tour did not run, older than \
                 tour.json (an earlier run's result in the same directory)",
                path.display()
            );
            continue;
        }
        let text = fs::read_to_string(path)
            .map_err(|e| LabError::Failed(format!("{}: {e}", path.display())))?;
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(e) => {
                eprintln!("hmap-lab: skipping {}: not JSON ({e})", path.display());
                continue;
            }
        };
        let experiment = value
            .pointer("/meta/experiment")
            .and_then(|e| e.as_str())
            .unwrap_or("")
            .to_owned();
        out.ui
            .out(&format!("== {} ({}) ==", path.display(), experiment));
        match experiment.as_str() {
            "grow" => grow_output::render(&parse(path, value)?, out)?,
            "throughput" => throughput::render(&parse(path, value)?, out)?,
            "wrappers" => wrappers::render(&parse(path, value)?, out)?,
            "crash" => crash::render(&parse(path, value)?, out),
            "stress" => stress::render(&parse(path, value)?, out),
            "layout" => layout::render(&parse(path, value)?, out),
            "tour" => tour::render_summary(&parse(path, value)?, out, dir),
            _ => {
                eprintln!("hmap-lab: skipping {}: not a lab result", path.display());
                continue;
            }
        }
        out.ui.out("");
        rendered += 1;
    }
    if rendered == 0 {
        return Err(LabError::Usage(format!(
            "{}: no lab results (*.json written by hmap-lab) found",
            dir.display()
        )));
    }
    Ok(())
}

/// The files among `files` that an earlier run left in a directory an interrupted tour then
/// wrote into: a tour that a signal stopped lists the parts it did not start in `tour.json`
/// (`not_run`) and writes no file for them, so a reused `--out` directory can still hold an
/// earlier run's `<part>.json` (say `wrappers.json`), which would otherwise be rendered beside
/// this tour's files as if it were one of them. Such a file is skipped when it is older than
/// `tour.json` (a file as old or newer, say from `wrappers --out` run into the directory after
/// the tour, is rendered). Nothing else is skipped: the rule cannot tell an earlier run's files
/// apart when the tour died without writing `tour.json`, or when a copy reordered the files'
/// modification times. Empty without a readable tour index.
fn parts_the_tour_did_not_run(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let tour = dir.join("tour.json");
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    let index = fs::read_to_string(&tour)
        .ok()
        .and_then(|text| serde_json::from_str::<tour::TourResult>(&text).ok())
        .filter(|index| index.meta.experiment == "tour");
    let (Some(tour_written), Some(index)) = (modified(&tour), index) else {
        return Vec::new();
    };
    files
        .iter()
        .filter(|path| {
            let stem = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".json"));
            stem.is_some_and(|stem| index.not_run.iter().any(|part| part == stem))
                && modified(path).is_some_and(|written| written < tour_written)
        })
        .cloned()
        .collect()
}

fn parse<T: DeserializeOwned>(path: &Path, value: serde_json::Value) -> Result<T, LabError> {
    serde_json::from_value(value).map_err(|e| {
        LabError::Failed(format!(
            "{}: not a result this lab can read ({e})",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_older_files_of_parts_the_tour_did_not_run_are_skipped() {
        use std::time::{Duration, SystemTime};

        let dir = crate::report::tests::scratch("rerender-stale");
        fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        // Writes `name` with a modification time `age` seconds ago.
        let write = |name: &str, text: &str, age: u64| {
            fs::write(dir.join(name), text).unwrap();
            fs::File::options()
                .write(true)
                .open(dir.join(name))
                .unwrap()
                .set_modified(now - Duration::from_secs(age))
                .unwrap();
        };
        // A tour index as an `experiment` run writes it, with `not_run`, or as files from
        // before that field existed (`None`).
        let index = |experiment: &str, not_run: Option<&[&str]>| {
            let meta = Output::new(crate::ui::Ui::new(true), Some(dir.clone()), vec![])
                .unwrap()
                .meta(experiment, 1.0);
            let mut value = serde_json::to_value(tour::TourResult {
                meta,
                quick: true,
                parts: vec![("crash".to_owned(), 0.1)],
                files: vec!["crash.json".to_owned(), "tour.json".to_owned()],
                failures: Vec::new(),
                interrupted: not_run.is_some(),
                interrupted_part: None,
                not_run: not_run
                    .unwrap_or_default()
                    .iter()
                    .map(|&part| part.to_owned())
                    .collect(),
            })
            .unwrap();
            if not_run.is_none() {
                value.as_object_mut().unwrap().remove("not_run");
            }
            value.to_string()
        };
        let all = |names: &[&str]| names.iter().map(|n| dir.join(n)).collect::<Vec<_>>();
        let files = all(&[
            "crash.json",
            "grow.json",
            "throughput.json",
            "tour.json",
            "wrappers.json",
        ]);
        write("wrappers.json", "{}", 100);
        write("throughput.json", "{}", 100);
        write("crash.json", "{}", 100);
        // No tour index: nothing is skipped.
        assert!(parts_the_tour_did_not_run(&dir, &files).is_empty());
        write("tour.json", &index("tour", Some(&["grow", "wrappers"])), 50);
        write("grow.json", "{}", 10);
        // `wrappers.json` is older than the index and its part did not run; `grow.json` is of a
        // part that did not run too, but came after the tour; `throughput.json` and `crash.json`
        // are older, but of no part the tour left out.
        assert_eq!(
            parts_the_tour_did_not_run(&dir, &files),
            all(&["wrappers.json"])
        );
        // As old as the index: rendered.
        write("wrappers.json", "{}", 50);
        assert!(parts_the_tour_did_not_run(&dir, &files).is_empty());
        write("wrappers.json", "{}", 100);
        // An index that is not a tour's, or lists no part left out, skips nothing.
        write("tour.json", &index("grow", Some(&["wrappers"])), 50);
        assert!(parts_the_tour_did_not_run(&dir, &files).is_empty());
        write("tour.json", &index("tour", Some(&[])), 50);
        assert!(parts_the_tour_did_not_run(&dir, &files).is_empty());
        write("tour.json", &index("tour", None), 50);
        assert!(parts_the_tour_did_not_run(&dir, &files).is_empty());
    }
}
