//! The lab's command line, end to end: every subcommand's `--help`, the error paths (one line
//! on stderr, exit status 2, never a panic), a short `stress` run that must find no violation,
//! the reduced tour (its files exist and parse), `report` on the tour's results, and a small
//! run of every other experiment. Runs the debug binary, so sizes are small.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
        .args(args)
        .output()
        .expect("the lab binary runs")
}

/// A fresh directory under cargo's temporary directory for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lab-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command must fail with status 2 and one line on stderr containing every `needles`.
fn usage_error(args: &[&str], needles: &[&str]) {
    let out = lab(args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: status, stderr: {stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: one line, got: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} missing from: {stderr}"
        );
    }
}

fn succeeds(args: &[&str]) -> String {
    let out = lab(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn read_json(path: &Path) -> serde_json::Value {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every result file records where and how it was made.
fn assert_meta(json: &serde_json::Value, experiment: &str) {
    let meta = &json["meta"];
    assert_eq!(meta["experiment"], experiment);
    for field in [
        "command",
        "rustc",
        "git_commit",
        "hasher",
        "timestamp_utc",
        "build_profile",
    ] {
        assert!(
            meta.get(field).is_some(),
            "{experiment}: meta.{field} missing"
        );
    }
    assert!(meta["command_line"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(meta["machine"]["logical_cpus"]
        .as_u64()
        .is_some_and(|n| n > 0));
    assert!(meta["machine"].get("cpu_model").is_some());
    assert!(meta["machine"].get("memory_total_kb").is_some());
}

#[test]
fn every_subcommand_has_help() {
    for command in [
        "tour",
        "grow",
        "throughput",
        "stress",
        "crash",
        "wrappers",
        "layout",
        "report",
    ] {
        let stdout = succeeds(&[command, "--help"]);
        assert!(stdout.contains("Usage:"), "{command} --help: {stdout}");
    }
    let stdout = succeeds(&["--help"]);
    for command in [
        "tour",
        "grow",
        "throughput",
        "stress",
        "crash",
        "wrappers",
        "layout",
        "report",
    ] {
        assert!(stdout.contains(command), "top-level help lists {command}");
    }
    assert!(
        !stdout.contains("__child"),
        "hidden child commands stay hidden"
    );
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    usage_error(
        &["nonsense"],
        &[
            "unrecognized subcommand",
            "accepted: tour, grow, throughput",
        ],
    );
    usage_error(
        &["grow", "--maps", "hmap,treemap"],
        &["unknown name 'treemap'", "accepted: hmap, hashbrown, std"],
    );
    usage_error(
        &["stress", "--map", "nope"],
        &["unknown name 'nope'", "safe/rwlock"],
    );
    usage_error(
        &["throughput", "--maps", "chashmap"],
        &["unknown name 'chashmap'", "papaya"],
    );
    usage_error(
        &["throughput", "--mixes", "write_heavy"],
        &["unknown name 'write_heavy'", "read_heavy"],
    );
    usage_error(&["stress", "--threads", "0"], &["--threads", "at least 1"]);
    usage_error(&["crash", "--writers", "0"], &["--writers", "at least 1"]);
    usage_error(
        &["throughput", "--threads", "1,0"],
        &["--threads", "at least 1"],
    );
    usage_error(
        &["stress", "--duration", "ten"],
        &["not a duration", "500ms"],
    );
    usage_error(&["stress", "--duration", "0s"], &["too short"]);
    usage_error(
        &["stress", "--mix", "50/50/50"],
        &["read/write/delete", "80/15/5"],
    );
    usage_error(&["grow", "--keys", "4Q"], &["not a count", "8M"]);
    usage_error(&["grow", "--repeat", "0"], &["--repeat", "at least 1"]);
    usage_error(&["throughput", "--log2", "99"], &["--log2", "4..=30"]);
    usage_error(
        &["wrappers", "--write-pct", "101"],
        &["percentage", "0..=100"],
    );
    usage_error(&["layout", "--from-b", "50"], &["--from-b", "0..=10"]);
    usage_error(&["grow", "--bogus"], &["--bogus", "--help"]);
    usage_error(&["report", "/definitely/not/here"], &["not a directory"]);
    // An output path that cannot be a directory: a file stands in the way.
    let blocker = scratch("blocker");
    std::fs::create_dir_all(&blocker).unwrap();
    let file = blocker.join("file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("out");
    usage_error(
        &["crash", "--out", under_file.to_str().unwrap()],
        &["not a writable directory", "--out"],
    );
}

#[test]
fn a_short_stress_run_finds_no_violation_on_any_safe_map() {
    let dir = scratch("stress");
    let maps = "safe/rwlock,safe/mutex,safe/actor,sharded/16,sync,cow,concurrent,audited";
    let stdout = succeeds(&[
        "stress",
        "--map",
        maps,
        "--threads",
        "3",
        "--duration",
        "400ms",
        "--round",
        "200ms",
        "--keys",
        "256",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("violations"), "{stdout}");
    let json = read_json(&dir.join("stress.json"));
    assert_meta(&json, "stress");
    let outcomes = json["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 8);
    for o in outcomes {
        assert_eq!(o["violations"], 0, "{o}");
        assert!(o["ops"].as_u64().unwrap() > 0, "{o}");
    }
    assert!(std::fs::read_to_string(dir.join("stress.csv"))
        .unwrap()
        .starts_with("map,type,threads"));
}

#[test]
fn stress_exits_non_zero_when_it_finds_violations() {
    // FailFastMap shared by several threads panics with Go's message: the runner must say so.
    let dir = scratch("stress-failfast");
    let out = lab(&[
        "stress",
        "--map",
        "failfast",
        "--threads",
        "4",
        "--duration",
        "300ms",
        "--keys",
        "64",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json = read_json(&dir.join("stress.json"));
    assert!(json["outcomes"][0]["violations"].as_u64().unwrap() > 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("concurrent map"), "{stdout}");
}

#[test]
fn the_quick_tour_writes_files_that_parse_and_report_redraws_them() {
    let dir = scratch("tour");
    let stdout = succeeds(&["tour", "--quick", "--out", dir.to_str().unwrap()]);
    assert!(
        stdout.contains("concurrent map writes")
            || stdout.contains("concurrent map read and map write")
    );
    assert!(stdout.contains("written to"), "{stdout}");
    for (file, experiment) in [
        ("crash.json", "crash"),
        ("grow.json", "grow"),
        ("wrappers.json", "wrappers"),
        ("tour.json", "tour"),
    ] {
        assert_meta(&read_json(&dir.join(file)), experiment);
    }
    let grow = read_json(&dir.join("grow.json"));
    let runs = grow["sizes"][0]["runs"].as_array().unwrap();
    let maps: Vec<&str> = runs.iter().map(|r| r["map"].as_str().unwrap()).collect();
    assert_eq!(
        maps,
        ["hmap", "hashbrown", "std", "concurrent", "papaya", "scc"]
    );
    assert!(grow["sizes"][0]["series"][0]["max_ns"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    let crash = read_json(&dir.join("crash.json"));
    assert!(
        crash["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["ok"] == true),
        "{crash}"
    );
    for csv in ["crash.csv", "grow.csv", "grow_series.csv", "wrappers.csv"] {
        let body = std::fs::read_to_string(dir.join(csv)).unwrap();
        let mut lines = body.lines();
        let header = lines.next().unwrap();
        assert!(lines.next().is_some(), "{csv} has rows");
        if csv != "grow_series.csv" {
            assert!(
                header.ends_with("git_commit,git_dirty,hasher,command"),
                "{csv}: {header}"
            );
        }
    }
    for svg in ["grow.svg", "wrappers.svg"] {
        let body = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            body.starts_with("<svg") && body.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        assert!(body.contains("<text"), "{svg} has labels");
    }
    // The tour's index lists what it wrote.
    let tour = read_json(&dir.join("tour.json"));
    let files: Vec<&str> = tour["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"grow.svg") && files.contains(&"crash.csv"),
        "{files:?}"
    );

    // `report` re-renders without running anything: tables again, plots redrawn.
    std::fs::remove_file(dir.join("grow.svg")).unwrap();
    let stdout = succeeds(&["report", dir.to_str().unwrap()]);
    assert!(
        stdout.contains("p99.99") && stdout.contains("QPS"),
        "{stdout}"
    );
    assert!(dir.join("grow.svg").exists());
    // Quiet: only paths.
    let stdout = succeeds(&["--quiet", "report", dir.to_str().unwrap()]);
    assert!(
        stdout.lines().all(|line| Path::new(line).exists()),
        "{stdout}"
    );
}

#[test]
fn every_experiment_runs_small() {
    let dir = scratch("small");
    let out = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let stdout = succeeds(&[
        "grow",
        "--keys",
        "20K,30K",
        "--maps",
        "hmap,concurrent",
        "--readers",
        "2",
        "--out",
        &out("grow"),
    ]);
    assert!(stdout.contains("concurrent +2r"), "{stdout}");
    assert!(dir.join("grow/grow_20000.svg").exists() && dir.join("grow/grow_30000.svg").exists());
    succeeds(&[
        "grow",
        "--keys",
        "10K",
        "--maps",
        "scc",
        "--readers",
        "0",
        "--out",
        &out("grow0"),
    ]);

    let stdout = succeeds(&[
        "throughput",
        "--log2",
        "12",
        "--threads",
        "1,2",
        "--maps",
        "concurrent,papaya",
        "--out",
        &out("tp"),
    ]);
    for mix in ["read_heavy", "exchange", "rapid_grow", "rapid_grow_empty"] {
        assert!(stdout.contains(mix), "{stdout}");
    }
    assert_meta(&read_json(&dir.join("tp/throughput.json")), "throughput");
    assert!(dir.join("tp/throughput.svg").exists());

    let stdout = succeeds(&[
        "crash",
        "--iterations",
        "50",
        "--maps",
        "failfast,sync",
        "--out",
        &out("crash"),
    ]);
    assert!(
        stdout.contains("caught") && stdout.contains("correct"),
        "{stdout}"
    );

    let stdout = succeeds(&[
        "wrappers",
        "--threads",
        "4",
        "--ops",
        "300",
        "--maps",
        "safe/rwlock,sharded/16,failfast",
        "--out",
        &out("w"),
    ]);
    assert!(stdout.contains("÷ rwlock"), "{stdout}");

    let stdout = succeeds(&["layout", "--out", &out("layout")]);
    assert!(
        stdout.contains("count") && stdout.contains("nevacuate") && stdout.contains("/16"),
        "{stdout}"
    );
    let layout = read_json(&dir.join("layout/layout.json"));
    assert_meta(&layout, "layout");
    assert_eq!(layout["finished"], true);
}
