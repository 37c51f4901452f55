//! The `report` command: re-render the tables and plots of saved results. Reads every lab JSON
//! file in a results directory (default: the newest under `lab-results/`), prints its tables
//! and redraws its SVG plots, without running anything.

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
    let mut rendered = 0;
    for path in &files {
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

fn parse<T: DeserializeOwned>(path: &Path, value: serde_json::Value) -> Result<T, LabError> {
    serde_json::from_value(value).map_err(|e| {
        LabError::Failed(format!(
            "{}: not a result this lab can read ({e})",
            path.display()
        ))
    })
}
