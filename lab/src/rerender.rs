//! The `report` command: re-render the tables and plots of saved results. Reads every lab JSON
//! file in a results directory (default: the newest under `lab-results/`), prints its tables
//! and redraws its SVG plots, without running anything. In a directory a tour wrote into, a file
//! older than its `tour.json` and not listed there is an earlier run's and is skipped, with a
//! line on stderr.

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
    let older_unlisted = older_than_the_tour_and_unlisted(dir, &files);
    let mut rendered = 0;
    for path in &files {
        if older_unlisted.contains(path) {
            eprintln!(
                "hmap-lab: skipping {}: older than tour.json and not one of the files that tour \
                 wrote (an earlier run's result in the same directory)",
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

/// The files among `files` that an earlier run left in a directory a tour then wrote into: a
/// tour indexes the files it wrote in `tour.json` (the last file it writes), and one that is
/// older than `tour.json` but not in its list is not that tour's. An interrupted tour does not
/// write its later parts' files, so a reused `--out` directory can still hold an earlier run's
/// `wrappers.json`, which would otherwise be rendered as this tour's. A file newer than
/// `tour.json` (an experiment run into the directory afterwards) is rendered. Empty without a
/// readable `tour.json`.
fn older_than_the_tour_and_unlisted(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let tour = dir.join("tour.json");
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(tour_written) = modified(&tour) else {
        return Vec::new();
    };
    let listed: Vec<String> = match fs::read_to_string(&tour)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    {
        Some(value)
            if value.pointer("/meta/experiment").and_then(|e| e.as_str()) == Some("tour") =>
        {
            match value.get("files").and_then(|f| f.as_array()) {
                Some(names) => names
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect(),
                None => return Vec::new(),
            }
        }
        _ => return Vec::new(),
    };
    files
        .iter()
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !listed.iter().any(|listed| listed == name)
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
    fn only_files_older_than_the_tour_index_and_missing_from_it_are_skipped() {
        let dir = crate::report::tests::scratch("rerender-stale");
        fs::create_dir_all(&dir).unwrap();
        let pause = || std::thread::sleep(std::time::Duration::from_millis(20));
        let write = |name: &str, text: &str| fs::write(dir.join(name), text).unwrap();
        write("wrappers.json", "{}");
        write("crash.json", "{}");
        let all = |names: &[&str]| names.iter().map(|n| dir.join(n)).collect::<Vec<_>>();
        let files = all(&["crash.json", "grow.json", "tour.json", "wrappers.json"]);
        // No tour index: nothing is skipped.
        assert!(older_than_the_tour_and_unlisted(&dir, &files).is_empty());
        pause();
        write(
            "tour.json",
            r#"{"meta": {"experiment": "tour"}, "files": ["crash.json", "tour.json"]}"#,
        );
        pause();
        write("grow.json", "{}");
        // `wrappers.json` predates the tour and is not in its list; `crash.json` predates it too
        // but is listed; `grow.json` came after the tour.
        assert_eq!(
            older_than_the_tour_and_unlisted(&dir, &files),
            all(&["wrappers.json"])
        );
        // An index that is not a tour's, or has no list, skips nothing.
        write(
            "tour.json",
            r#"{"meta": {"experiment": "grow"}, "files": []}"#,
        );
        assert!(older_than_the_tour_and_unlisted(&dir, &files).is_empty());
        write("tour.json", r#"{"meta": {"experiment": "tour"}}"#);
        assert!(older_than_the_tour_and_unlisted(&dir, &files).is_empty());
    }
}
