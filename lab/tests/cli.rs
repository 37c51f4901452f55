//! The lab's command line, end to end: every subcommand's `--help`, the error paths (one line
//! on stderr, exit status 2, never a panic), a short `stress` run that must find no violation,
//! the reduced tour (its files exist and parse), `report` on the tour's results, a small run of
//! every other experiment, the build-time commit in the metadata, and SIGINT/SIGTERM to `stress`,
//! `grow`, `throughput`, `wrappers` and the tour. Runs the debug binary, so sizes are small.

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
        "built_from",
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
    usage_error(&["throughput", "--log2", "99"], &["--log2", "7..=30"]);
    // 2^6 operations cannot give even one thread a 100-operation sequence (session 31: `--help`
    // said 4..=30, and 4 to 6 were always refused later, with advice to use fewer threads).
    usage_error(&["throughput", "--log2", "6"], &["--log2", "7..=30"]);
    usage_error(
        &["wrappers", "--write-pct", "101"],
        &["percentage", "0..=100"],
    );
    usage_error(&["layout", "--from-b", "50"], &["--from-b", "0..=10"]);
    // Parts that overflow u32 must not wrap around to 100.
    for mix in ["4294967295/1/100", "4294967200/196/0"] {
        usage_error(&["stress", "--mix", mix], &["read/write/delete", "80/15/5"]);
    }
    // Sizes that would exhaust threads or memory (a panic, an abort or a hang before).
    usage_error(
        &["stress", "--keys", "18446744073709551615"],
        &["--keys", "at most 16777216 keys"],
    );
    usage_error(
        &["stress", "--keys", "1000M"],
        &["--keys", "at most 16777216 keys"],
    );
    usage_error(
        &["stress", "--keys", "16M", "--threads", "4"],
        &["--keys 16000000 with --threads 4", "at most 33554432"],
    );
    usage_error(
        &["stress", "--threads", "5000"],
        &["--threads", "at most 4096 threads"],
    );
    usage_error(
        &["crash", "--writers", "20000", "--readers", "1"],
        &["--writers", "at most 4096 threads"],
    );
    usage_error(
        &["crash", "--readers", "4097"],
        &["--readers", "at most 4096 threads"],
    );
    usage_error(
        &["crash", "--iterations", "100000M"],
        &["--iterations", "at most 16777216 iterations"],
    );
    usage_error(
        &["crash", "--iterations", "16M"],
        &[
            "--writers 10 with --iterations 16000000",
            "at most 67108864",
        ],
    );
    // Found by session 30's review: 0 Mop/s and exit 0; a hang.
    usage_error(
        &["throughput", "--log2", "10", "--threads", "32"],
        &[
            "--threads 32 --log2 10",
            "fewer than one 100-operation sequence",
            "use fewer threads or a larger table",
        ],
    );
    usage_error(
        &["grow", "--readers", "5000"],
        &["--readers", "at most 4096 threads"],
    );
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

/// A cell whose later repetition failed shows `FAIL` and enters no ratio, even though its
/// earlier repetitions measured something; a failed peer leaves its thread count without a
/// ratio instead of dropping out of "the best peer". Until session 30 (a review) the table
/// showed the earlier repetitions' best and computed the ratio from what was left.
#[test]
fn a_failed_repetition_shows_fail_and_no_ratio() {
    let dir = scratch("tp-fail");
    succeeds(&[
        "throughput",
        "--log2",
        "10",
        "--threads",
        "1,2",
        "--mixes",
        "read_heavy",
        "--maps",
        "concurrent,papaya,scc",
        "--repeat",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let path = dir.join("throughput.json");
    let mut json = read_json(&path);
    // As if papaya's second repetition at 2 threads had failed after its first succeeded.
    json["failures"] = serde_json::json!(["read_heavy papaya 2 threads: planted by the test"]);
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    let stdout = succeeds(&["report", dir.to_str().unwrap()]);
    let row = |threads: &str| {
        stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(threads))
            .unwrap_or_else(|| panic!("no row for {threads} threads: {stdout}"))
            .to_owned()
    };
    let two = row("2");
    assert!(
        two.contains("FAIL") && two.trim_end().ends_with("| -"),
        "{two}"
    );
    let one = row("1");
    assert!(
        !one.contains("FAIL") && !one.trim_end().ends_with("| -"),
        "{one}"
    );

    // A signal that stopped the run before papaya's 2-thread cell: no ratio there either (until
    // session 31, a review: the ratio was taken against the peers that had run).
    json["failures"] = serde_json::json!([]);
    json["interrupted"] = serde_json::json!(true);
    let cells = json["cells"].as_array_mut().unwrap();
    cells.retain(|c| !(c["map"] == "papaya" && c["threads"] == 2));
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    let stdout = succeeds(&["report", dir.to_str().unwrap()]);
    let two = stdout
        .lines()
        .find(|line| line.split_whitespace().next() == Some("2"))
        .unwrap_or_else(|| panic!("no row for 2 threads: {stdout}"));
    assert!(
        !two.contains("FAIL") && two.trim_end().ends_with("| -"),
        "{two}"
    );
}

#[test]
fn the_quick_tour_writes_files_that_parse_and_report_redraws_them() {
    let dir = scratch("tour");
    // An earlier run's files in the same directory are not this tour's (session 31: they were
    // listed in `files`, and `tour.json` twice).
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("throughput.svg"), "<svg></svg>").unwrap();
    std::fs::write(dir.join("tour.json"), "{}").unwrap();
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
                header.ends_with("rustc,built_from,run_time_head,hasher,command"),
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
    assert!(!files.contains(&"throughput.svg"), "{files:?}");
    assert_eq!(
        files.iter().filter(|&&f| f == "tour.json").count(),
        1,
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
    // Redrawn elsewhere: the summary names the tour's directory for its files and for the next
    // `report` (until session 30 it named the --out directory, which holds only plots).
    let elsewhere = scratch("tour-redrawn");
    let stdout = succeeds(&[
        "report",
        dir.to_str().unwrap(),
        "--out",
        elsewhere.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains(&format!(
            "== files of {} (its plots redrawn into {})",
            dir.display(),
            elsewhere.display()
        )) && stdout.contains(&format!("`hmap-lab report {}`", dir.display())),
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

#[test]
fn layout_follows_the_doubling_that_finishes_within_one_insert() {
    // At B = 0 and 1 the insert that starts the doubling also finishes it.
    for b in ["0", "1", "2"] {
        let dir = scratch(&format!("layout-b{b}"));
        succeeds(&["layout", "--from-b", b, "--out", dir.to_str().unwrap()]);
        assert_eq!(
            read_json(&dir.join("layout.json"))["finished"],
            true,
            "B = {b}"
        );
    }
}

#[test]
fn runs_in_the_same_second_get_their_own_default_directories() {
    let dir = scratch("default-dirs");
    std::fs::create_dir_all(&dir).unwrap();
    // Three runs take well under three seconds, so two at least share a timestamp.
    for _ in 0..3 {
        let out = Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
            .args(["--quiet", "layout", "--from-b", "0"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let runs = std::fs::read_dir(dir.join("lab-results")).unwrap().count();
    assert_eq!(runs, 3);
}

#[test]
fn a_run_that_writes_nothing_leaves_no_empty_default_directory() {
    let dir = scratch("no-empty-dirs");
    std::fs::create_dir_all(&dir).unwrap();
    // Input that only the experiment itself rejects, after the default directory was made.
    for args in [
        &["stress", "--keys", "16M", "--threads", "4"][..],
        &["crash", "--iterations", "16M"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.join("lab-results"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "empty result directories left behind: {left:?}"
    );
    // A directory given with --out stays, written to or not.
    let given = dir.join("given");
    let out = lab(&[
        "stress",
        "--keys",
        "16M",
        "--threads",
        "4",
        "--out",
        given.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(given.is_dir());
}

#[cfg(unix)]
#[test]
fn a_path_that_is_not_utf8_is_still_a_path() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let dir = scratch("not-utf8").join(OsStr::from_bytes(b"bad\xffname"));
    let out = Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
        .arg("layout")
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("layout.json").exists());
}

#[test]
fn a_crash_run_with_no_overlap_says_so_rather_than_blame_the_detector() {
    let dir = scratch("crash-idle");
    let out = lab(&[
        "crash",
        "--writers",
        "1",
        "--readers",
        "1",
        "--iterations",
        "1",
        "--rounds",
        "3",
        "--maps",
        "failfast",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    if out.status.success() {
        // An overlap of two one-operation threads is rare, but it can happen.
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no overlap occurred on failfast in 3 round(s)")
            && !stderr.contains("wrong behaviour from"),
        "{stderr}"
    );
}

/// With address space for a dozen thread stacks only, thread spawns fail part way: the run
/// must end with an error naming it, not wait forever for the threads that never started.
/// Large stacks make the spawn that fails fail at its stack, not later at the small signal
/// stack std gives each new thread (which aborts the process instead).
#[cfg(target_os = "linux")]
#[test]
fn a_thread_that_cannot_start_ends_the_run_with_an_error() {
    use std::time::{Duration, Instant};

    for (command, args) in [
        (
            "crash",
            "--writers 4096 --readers 4096 --iterations 1 --maps concurrent",
        ),
        (
            "stress",
            "--threads 4096 --keys 1 --duration 1s --map concurrent",
        ),
    ] {
        let dir = scratch(&format!("spawn-fails-{command}"));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 1000000 && exec \"$0\" {command} {args} --out \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_hmap-lab"))
            .arg(&dir)
            .env("RUST_MIN_STACK", "67108864")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{command}: still running after 60 s (deadlocked?)");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        // Where the limit leaves room for every thread, the run simply succeeds.
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
            assert!(stderr.contains("cannot start"), "{command}: {stderr}");
        }
    }
}

#[test]
fn wrappers_and_throughput_limit_threads_like_the_other_experiments() {
    usage_error(
        &["wrappers", "--threads", "5000"],
        &["--threads", "at most 4096 threads"],
    );
    usage_error(
        &["throughput", "--threads", "1,4097"],
        &["--threads", "at most 4096 threads"],
    );
}

#[test]
fn a_value_given_twice_in_a_list_is_rejected() {
    for (args, needles) in [
        (
            &["throughput", "--threads", "1,2,2"][..],
            &["--threads", "'2' is given twice"][..],
        ),
        (
            &["throughput", "--maps", "concurrent,papaya,concurrent"],
            &["--maps", "'concurrent' is given twice"],
        ),
        (
            &["throughput", "--mixes", "exchange,exchange"],
            &["--mixes", "'exchange' is given twice"],
        ),
        (
            &["grow", "--maps", "hmap,hmap"],
            &["--maps", "'hmap' is given twice"],
        ),
        (
            &["grow", "--keys", "10K,10000"],
            &["--keys", "'10K' and '10000' are both 10000"],
        ),
        (
            &["stress", "--map", "cow,cow"],
            &["--map", "'cow' is given twice"],
        ),
        (
            &["crash", "--maps", "all,sync"],
            &["--maps", "'all' already includes 'sync'"],
        ),
        (
            &["wrappers", "--maps", "sync,cow,sync"],
            &["--maps", "'sync' is given twice"],
        ),
    ] {
        usage_error(args, needles);
    }
}

/// Writes an executable shell script `name` into `dir`.
#[cfg(unix)]
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether `text` is a commit as `build.rs` records it: 40 hex digits, maybe `-dirty`.
fn is_commit(text: &str) -> bool {
    let hash = text.strip_suffix("-dirty").unwrap_or(text);
    hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The metadata names the commit and the compiler the binary was built from and with, not
/// whatever `git` and `$RUSTC` say when it runs: here a `git` that claims another HEAD and a
/// `RUSTC` that claims another version. The other HEAD is recorded beside it, with a warning.
#[cfg(unix)]
#[test]
fn the_metadata_names_the_commit_and_compiler_the_binary_was_built_from() {
    let dir = scratch("built-from");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let other_head = "1111111111111111111111111111111111111111";
    // `git -C REPO rev-parse --show-toplevel HEAD`: REPO is its own top, at `other_head`.
    script(
        &bin,
        "git",
        &format!("case \"$*\" in *rev-parse*) echo \"$2\"; echo {other_head};; esac"),
    );
    let fake_rustc = script(&bin, "rustc", "echo rustc 0.0.0-fake");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
        .args(["layout", "--from-b", "0", "--out"])
        .arg(dir.join("fake"))
        .env("PATH", &path)
        .env("RUSTC", &fake_rustc)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let meta = read_json(&dir.join("fake/layout.json"))["meta"].clone();
    let rustc = meta["rustc"].as_str().unwrap();
    assert!(
        rustc.starts_with("rustc ") && !rustc.contains("fake"),
        "{meta}"
    );
    let built_from = meta["built_from"].as_str().unwrap();
    assert!(
        built_from == "unknown" || (is_commit(built_from) && !built_from.starts_with("1111")),
        "{meta}"
    );
    assert_eq!(meta["run_time_head"], other_head, "{meta}");
    assert!(
        stderr.contains("warning: this binary was built from") && stderr.contains("1111111"),
        "{stderr}"
    );

    // With the real git: the recorded commit is the checkout's HEAD, or the HEAD it moved to
    // since the build is recorded beside it.
    let out = lab(&[
        "layout",
        "--from-b",
        "0",
        "--out",
        dir.join("real").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = read_json(&dir.join("real/layout.json"))["meta"].clone();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let head = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        let head = text(&head.stdout).trim().to_owned();
        let built_from = meta["built_from"].as_str().unwrap();
        assert!(
            built_from.starts_with(&head) || meta["run_time_head"] == head.as_str(),
            "HEAD {head}: {meta}"
        );
    }
}

/// The threads of process `pid`, by name (`/proc/PID/task/*/comm`).
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The processes whose parent is `pid` (`/proc/*/stat`, field 4).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // The command name, in parentheses, may hold spaces: count after its end.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// The children of `parent` whose command line contains `marker` (`__child`, `__cell`): the
/// measuring processes, not the `git` that a run asks about its checkout.
fn children_running(parent: u32, marker: &str) -> Vec<u32> {
    children_of(parent)
        .into_iter()
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains(marker))
        })
        .collect()
}

/// Kills and reaps `child`, then fails the test with `why`.
fn give_up(mut child: std::process::Child, why: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{why}");
}

/// Polls `done` every 10 ms until it holds or `limit` passes; whether it held.
fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    done()
}

/// Sends `signal` (`INT`, `TERM`, `KILL`) to `pid` with the `kill` command; whether it was
/// delivered.
fn send(signal: &str, pid: u32) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("the kill command runs")
        .success()
}

/// Starts the lab with `args`, output captured, and waits until its signal handler's thread
/// (`ctrl-c`) runs, so that a signal is handled rather than fatal.
fn start_with_handler(args: &[&str]) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmap-lab"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    if !wait_until(std::time::Duration::from_secs(20), || {
        thread_names(pid).iter().any(|name| name == "ctrl-c")
    }) {
        let _ = child.kill();
        panic!("{args:?}: no signal handler thread after 20 s");
    }
    child
}

/// Waits at most `limit` for `child` to exit; `None`, after killing it, if it does not.
fn exits_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::Output> {
    if wait_until(limit, || child.try_wait().unwrap().is_some()) {
        Some(child.wait_with_output().unwrap())
    } else {
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_stops_stress_which_saves_what_it_measured_marked_interrupted() {
    use std::time::Duration;

    for signal in ["INT", "TERM"] {
        let dir = scratch(&format!("stress-sig{signal}"));
        let child = start_with_handler(&[
            "stress",
            "--map",
            "concurrent,cow",
            "--threads",
            "2",
            "--keys",
            "64",
            "--duration",
            "1m",
            "--round",
            "200ms",
            "--out",
            dir.to_str().unwrap(),
        ]);
        // Into the first rounds.
        std::thread::sleep(Duration::from_millis(300));
        assert!(send(signal, child.id()));
        let out = exits_within(child, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("stress: still running 5 s after SIG{signal}"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("stress: interrupted") && stderr.contains("no violation"),
            "SIG{signal}: {stderr}"
        );
        let json = read_json(&dir.join("stress.json"));
        assert_eq!(json["interrupted"], true, "SIG{signal}");
        assert_meta(&json, "stress");
        // The first map ran for a moment, not the minute asked for; the second never started.
        let outcomes = json["outcomes"].as_array().unwrap();
        assert!(outcomes.len() <= 1, "SIG{signal}: {json}");
        for o in outcomes {
            assert_eq!(o["violations"], 0, "{o}");
            assert!(o["elapsed_s"].as_f64().unwrap() < 10.0, "{o}");
        }
        assert!(dir.join("stress.csv").exists());
        // The CSV says so too, with the time the map ran (session 30: only the JSON did, and
        // the CSV's only time was the planned minute).
        let csv = std::fs::read_to_string(dir.join("stress.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
        for row in csv.lines().skip(1) {
            let cells: Vec<&str> = row.split(',').collect();
            assert_eq!(cells[column("interrupted")], "true", "{csv}");
            assert!(
                cells[column("elapsed_s")].parse::<f64>().unwrap() < 10.0,
                "{csv}"
            );
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_to_grow_kills_and_reaps_its_child_process() {
    use std::time::Duration;

    let dir = scratch("grow-sigterm");
    // A debug build takes many seconds to grow a map to 8M keys: the child is still running
    // when the signal comes.
    let child = start_with_handler(&[
        "grow",
        "--keys",
        "8M",
        "--maps",
        "hmap",
        "--readers",
        "0",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let parent = child.id();
    let mut measuring = None;
    let started = wait_until(Duration::from_secs(20), || {
        measuring = children_running(parent, "__child").first().copied();
        measuring.is_some()
    });
    let Some(measuring) = measuring.filter(|_| started) else {
        give_up(child, "grow started no measuring child process");
    };
    assert!(send("TERM", parent));
    let out = exits_within(child, Duration::from_secs(5));
    let gone = wait_until(Duration::from_secs(2), || {
        !Path::new(&format!("/proc/{measuring}")).exists()
    });
    if !gone {
        // Left behind: do not let it run on after the test.
        send("KILL", measuring);
    }
    let out = out.expect("grow: still running 5 s after SIGTERM");
    let stderr = text(&out.stderr);
    assert!(gone, "the child {measuring} outlived grow: {stderr}");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("grow: interrupted"), "{stderr}");
    // Its only run was the one killed: nothing was measured, and the file says so (as
    // `throughput` does when its first cell is interrupted).
    assert!(stderr.contains("0 of 1 growth run(s) measured"), "{stderr}");
    let json = read_json(&dir.join("grow.json"));
    assert_eq!(json["interrupted"], true, "{json}");
    assert_eq!(json["sizes"], serde_json::json!([]), "{json}");
    assert!(!dir.join("grow.svg").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_stops_grow_which_saves_the_runs_measured_before() {
    use std::time::Duration;

    let dir = scratch("grow-sigint");
    // Two sizes of two maps, one repetition each: 50K keys take a fraction of a second in a
    // debug build, a concurrent map grown to 1M keys most of a second, so the signal comes while
    // the last run's child works, after three runs were measured.
    let child = start_with_handler(&[
        "grow",
        "--keys",
        "50K,1M",
        "--maps",
        "hmap,concurrent",
        "--readers",
        "0",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let parent = child.id();
    // `/proc/PID/cmdline` separates the arguments with NULs: the child of concurrent at 1M keys.
    let last = "__cgrow\u{0}concurrent\u{0}1000000\u{0}";
    let mut seen = Vec::new();
    let reached = wait_until(Duration::from_secs(60), || {
        for pid in children_running(parent, "__") {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        !children_running(parent, last).is_empty()
    });
    if !reached {
        give_up(child, "grow started no child for concurrent at 1M keys");
    }
    let (out, stderr) = interrupt_and_expect_saved(child, &seen, "grow");
    assert!(stderr.contains("3 of 4 growth run(s) measured"), "{stderr}");
    let json = read_json(&dir.join("grow.json"));
    assert_eq!(json["interrupted"], true, "{json}");
    assert_meta(&json, "grow");
    // The first size complete, the second with the run measured before the signal.
    let runs = |size: usize| -> Vec<(String, u64)> {
        json["sizes"][size]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["map"].as_str().unwrap().to_owned(),
                    r["keys"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(json["sizes"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(
        runs(0),
        [
            ("hmap".to_owned(), 50_000),
            ("concurrent".to_owned(), 50_000)
        ]
    );
    assert_eq!(runs(1), [("hmap".to_owned(), 1_000_000)]);
    assert_eq!(json["sizes"][1]["series"].as_array().unwrap().len(), 1);
    let csv = std::fs::read_to_string(dir.join("grow.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    let series = std::fs::read_to_string(dir.join("grow_series.csv")).unwrap();
    assert!(
        series
            .lines()
            .any(|l| l.starts_with("hmap,sequential,1,1000000,")),
        "{series}"
    );
    assert!(dir.join("grow_50000.svg").exists() && dir.join("grow_1000000.svg").exists());
    // The run not measured shows `-` in its size's table.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("INTERRUPTED by a signal"), "{stdout}");
    let tables: Vec<&str> = stdout.split("keys:").collect();
    let concurrent_at_1m = tables
        .last()
        .and_then(|t| t.lines().find(|line| line.starts_with("concurrent ")))
        .unwrap_or_else(|| panic!("no line for concurrent at 1M keys: {stdout}"));
    let cells: Vec<&str> = concurrent_at_1m.split_whitespace().collect();
    assert!(
        cells.len() == 13 && cells[1..].iter().all(|&cell| cell == "-"),
        "{concurrent_at_1m}"
    );
    // `report` reads the interrupted file back.
    std::fs::remove_file(dir.join("grow_1000000.svg")).unwrap();
    let stdout = succeeds(&["report", dir.to_str().unwrap()]);
    assert!(stdout.contains("INTERRUPTED by a signal"), "{stdout}");
    assert!(dir.join("grow_1000000.svg").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_stops_throughput_which_saves_the_cells_measured_before() {
    use std::time::Duration;

    let dir = scratch("throughput-sigint");
    let child = start_with_handler(&[
        "throughput",
        "--mixes",
        "read_heavy",
        "--threads",
        "1",
        "--log2",
        "18",
        "--maps",
        "all",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let parent = child.id();
    let cells = || children_running(parent, "__cell");
    // Signal while a later cell runs, so that at least one is measured and saved.
    let mut first = None;
    let second = wait_until(Duration::from_secs(20), || {
        first = first.or_else(|| cells().first().copied());
        first.is_some_and(|first| cells().iter().any(|&pid| pid != first))
    });
    if !second {
        give_up(child, "throughput started no second cell");
    }
    assert!(send("INT", parent));
    let out = exits_within(child, Duration::from_secs(5))
        .expect("throughput: still running 5 s after SIGINT");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("throughput: interrupted"), "{stderr}");
    let json = read_json(&dir.join("throughput.json"));
    assert_eq!(json["interrupted"], true);
    assert_meta(&json, "throughput");
    let measured = json["cells"].as_array().unwrap().len();
    assert!((1..5).contains(&measured), "{measured} cells: {json}");
    assert!(dir.join("throughput.csv").exists());
    assert!(
        text(&out.stdout).contains("INTERRUPTED by a signal"),
        "{}",
        text(&out.stdout)
    );
}

/// A signal while a round fills its map stops the fill (found by a black-box test in session 23:
/// `cow` with 20K keys filled for seconds after the signal, up to 17 s for other slow cases).
#[cfg(target_os = "linux")]
#[test]
fn a_signal_during_the_fill_of_a_stress_round_stops_it_promptly() {
    use std::time::Duration;

    let dir = scratch("stress-sigint-fill");
    // Each store into a copy-on-write map copies it: 20K keys take many seconds in a debug
    // build.
    let child = start_with_handler(&[
        "stress",
        "--map",
        "cow",
        "--keys",
        "20K",
        "--threads",
        "1",
        "--duration",
        "30s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(send("INT", child.id()));
    let out = exits_within(child, Duration::from_secs(3))
        .expect("stress: still filling 3 s after SIGINT");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let json = read_json(&dir.join("stress.json"));
    assert_eq!(json["interrupted"], true);
    // The signal came during the first round's fill: no round of `cow` ran.
    assert_eq!(json["outcomes"].as_array().unwrap().len(), 0, "{json}");
}

/// The processes in `pids` that are still there (a zombie counts: nobody reaped it).
#[cfg(target_os = "linux")]
fn still_there(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .collect()
}

/// Waits at most 2 s for every process in `pids` to be gone; kills those left behind (so they
/// do not run on after the test) and returns them.
#[cfg(target_os = "linux")]
fn left_running(pids: &[u32]) -> Vec<u32> {
    wait_until(std::time::Duration::from_secs(2), || {
        still_there(pids).is_empty()
    });
    let left = still_there(pids);
    for &pid in &left {
        send("KILL", pid);
    }
    left
}

/// Sends SIGINT to `child` (an `experiment` run) and checks how it ends: within 5 s, with status
/// 130, none of the `children` it was seen running left behind, and a message saying it was
/// interrupted and where its results are (`see <experiment>.json`). Returns its output and
/// stderr.
#[cfg(target_os = "linux")]
fn interrupt_and_expect_saved(
    child: std::process::Child,
    children: &[u32],
    experiment: &str,
) -> (Output, String) {
    let parent = child.id();
    assert!(send("INT", parent));
    let out = exits_within(child, std::time::Duration::from_secs(5));
    let left = left_running(children);
    let out = out.unwrap_or_else(|| panic!("{experiment}: still running 5 s after SIGINT"));
    let stderr = text(&out.stderr);
    assert!(
        left.is_empty(),
        "children {left:?} outlived {experiment}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("{experiment}: interrupted"))
            && stderr.contains(&format!("see {experiment}.json")),
        "{stderr}"
    );
    (out, stderr)
}

#[cfg(target_os = "linux")]
#[test]
fn a_signal_stops_wrappers_which_saves_the_maps_measured_before() {
    use std::time::Duration;

    let dir = scratch("wrappers-sigint");
    // About 100 ms per map in a debug build: the signal comes while a later map runs.
    let child = start_with_handler(&[
        "wrappers",
        "--maps",
        "safe/rwlock,sharded/16,concurrent,sync",
        "--threads",
        "4",
        "--ops",
        "50K",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let parent = child.id();
    let cells = || children_running(parent, "__wcell");
    let mut first = None;
    let mut running = Vec::new();
    let second = wait_until(Duration::from_secs(20), || {
        running = cells();
        first = first.or_else(|| running.first().copied());
        first.is_some_and(|first| running.iter().any(|&pid| pid != first))
    });
    if !second {
        give_up(child, "wrappers started no second map's child process");
    }
    let (out, _) = interrupt_and_expect_saved(child, &running, "wrappers");
    let json = read_json(&dir.join("wrappers.json"));
    assert_eq!(json["interrupted"], true, "{json}");
    assert_meta(&json, "wrappers");
    // The first map was measured; the last one never started.
    let rows = json["rows"].as_array().unwrap();
    assert!((1..4).contains(&rows.len()), "{} rows: {json}", rows.len());
    assert_eq!(rows[0]["map"], "safe/rwlock", "{json}");
    let csv = std::fs::read_to_string(dir.join("wrappers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + rows.len(), "{csv}");
    // Every map of the plan has its line; those not run show `-`.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("INTERRUPTED by a signal"), "{stdout}");
    let sync = stdout
        .lines()
        .find(|line| line.starts_with("sync "))
        .unwrap_or_else(|| panic!("no line for sync: {stdout}"));
    // Map and type, then eight measured columns.
    let cells: Vec<&str> = sync.split_whitespace().collect();
    assert!(
        cells.len() == 10 && cells[2..].iter().all(|&cell| cell == "-"),
        "{sync}"
    );
}

/// The tour stopped by a signal twice: during the growth experiment and during the wrappers
/// (each saves the runs or maps measured before, marked interrupted; after the first the
/// wrappers never start). Each time `tour.json` is written for what ran, marked interrupted.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_stops_the_tour_which_indexes_the_parts_that_ran() {
    use std::time::Duration;

    let part_names = |tour: &serde_json::Value| -> Vec<String> {
        tour["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|part| part[0].as_str().unwrap().to_owned())
            .collect()
    };
    let files = |tour: &serde_json::Value| -> Vec<String> {
        tour["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect()
    };
    // Starts the quick tour into `dir`, sends SIGINT once `ready` holds for the measuring
    // children with `marker` in their command line, and returns its output once every child
    // seen is gone.
    let interrupt = |dir: &Path, marker: &str, ready: &dyn Fn(&[u32], Option<u32>) -> bool| {
        let child = start_with_handler(&["tour", "--quick", "--out", dir.to_str().unwrap()]);
        let parent = child.id();
        let mut first = None;
        let mut running = Vec::new();
        let reached = wait_until(Duration::from_secs(30), || {
            running = children_running(parent, marker);
            first = first.or_else(|| running.first().copied());
            ready(&running, first)
        });
        if !reached {
            give_up(
                child,
                &format!("the tour started no {marker} child to interrupt"),
            );
        }
        let (out, _) = interrupt_and_expect_saved(child, &running, "tour");
        assert!(
            text(&out.stdout).contains("INTERRUPTED by a signal"),
            "{}",
            text(&out.stdout)
        );
        out
    };

    // During the growth experiment, once a map after the first one runs: the first map's run
    // (hmap, three child processes) was measured, so there is something to save. A signal
    // during the first run would leave nothing measured.
    let dir = scratch("tour-sigint-grow");
    // An earlier run's file in the reused directory, which this tour will not rewrite: not a
    // result `report` could read, so rendering it would fail the `report` below.
    std::fs::create_dir_all(&dir).unwrap();
    let stale = "{\"meta\": {\"experiment\": \"wrappers\"}, \"from\": \"an earlier run\"}\n";
    std::fs::write(dir.join("wrappers.json"), stale).unwrap();
    let out = interrupt(&dir, "__", &|running, _| {
        running.iter().any(|&pid| {
            let args = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            // `/proc/PID/cmdline` separates the arguments with NULs.
            (args.contains("__child\u{0}") || args.contains("__cgrow\u{0}"))
                && !args.contains("\u{0}hmap\u{0}")
        })
    });
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("stopped in grow (grow: interrupted") && stderr.contains("see grow.json"),
        "{stderr}"
    );
    let tour = read_json(&dir.join("tour.json"));
    assert_meta(&tour, "tour");
    assert_eq!(tour["interrupted"], true, "{tour}");
    assert_eq!(tour["interrupted_part"], "grow", "{tour}");
    assert_eq!(tour["not_run"], serde_json::json!(["wrappers"]), "{tour}");
    assert_eq!(part_names(&tour), ["crash", "grow"], "{tour}");
    assert_meta(&read_json(&dir.join("crash.json")), "crash");
    // The growth experiment's runs measured before the signal, hmap's first; the map it stopped
    // and those after it are not there.
    let grow = read_json(&dir.join("grow.json"));
    assert_meta(&grow, "grow");
    assert_eq!(grow["interrupted"], true, "{grow}");
    let runs = grow["sizes"][0]["runs"].as_array().unwrap();
    assert!((1..6).contains(&runs.len()), "{grow}");
    assert_eq!(runs[0]["map"], "hmap", "{grow}");
    assert_eq!(
        std::fs::read_to_string(dir.join("wrappers.json")).unwrap(),
        stale,
        "the earlier run's file is left as it was"
    );
    let listed = files(&tour);
    assert!(
        listed.contains(&"crash.json".to_owned())
            && listed.contains(&"tour.json".to_owned())
            && listed.contains(&"grow.json".to_owned())
            && listed.contains(&"grow.svg".to_owned())
            && !listed.contains(&"wrappers.json".to_owned()),
        "{listed:?}"
    );
    // `report` reads the interrupted growth file back, and skips the earlier run's file (since
    // session 34; before, it rendered every JSON file in the directory as this tour's).
    let report = lab(&["report", dir.to_str().unwrap()]);
    let (stdout, stderr) = (text(&report.stdout), text(&report.stderr));
    assert!(report.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("maps and sizes shown as - did not run"),
        "{stdout}"
    );
    assert!(
        stderr.contains("wrappers.json: a part the interrupted tour did not run"),
        "{stderr}"
    );
    assert!(!stdout.contains("wrappers.json"), "{stdout}");

    // As soon as the wrappers start: the crash program and the growth experiment are complete.
    let dir = scratch("tour-sigint-wrappers");
    interrupt(&dir, "__wcell", &|running, _| !running.is_empty());
    let tour = read_json(&dir.join("tour.json"));
    assert_eq!(tour["interrupted"], true, "{tour}");
    assert_eq!(tour["interrupted_part"], "wrappers", "{tour}");
    assert_eq!(tour["not_run"], serde_json::json!([]), "{tour}");
    assert_eq!(part_names(&tour), ["crash", "grow", "wrappers"], "{tour}");
    let grow = read_json(&dir.join("grow.json"));
    assert_eq!(
        grow["sizes"][0]["runs"].as_array().unwrap().len(),
        6,
        "{grow}"
    );
    let wrappers = read_json(&dir.join("wrappers.json"));
    assert_eq!(wrappers["interrupted"], true, "{wrappers}");
    assert!(wrappers["rows"].as_array().unwrap().len() < 9, "{wrappers}");
    assert!(files(&tour).contains(&"wrappers.json".to_owned()));
    // `report` reads the interrupted files back.
    let stdout = succeeds(&["report", dir.to_str().unwrap()]);
    assert!(stdout.contains("INTERRUPTED by a signal"), "{stdout}");
}

/// A reader that made no get before a tiny growth ended has no latencies: they show as `-` and
/// empty CSV cells, not as 0 ns (session 31, a review: "worst get 0 ns vs 0 ns").
#[test]
fn a_reader_without_gets_reports_no_latencies() {
    let dir = scratch("grow-no-gets");
    let stdout = succeeds(&[
        "grow",
        "--keys",
        "10",
        "--maps",
        "concurrent,papaya",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(dir.join("grow.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for row in lines {
        let cells: Vec<&str> = row.split(',').collect();
        if cells[column("reader_gets")] == "0" {
            assert_eq!(cells[column("reader_max_ns")], "", "{row}");
            assert_eq!(cells[column("reader_p99_ns")], "", "{row}");
        }
    }
    assert!(!stdout.contains("worst get 0 ns"), "{stdout}");
}
