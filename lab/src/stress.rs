//! The stress runner: mixed loads, stores and deletes on N threads for a duration, against any
//! `SharedMap` (every wrapper and `ConcurrentHashMap`), with every result checked. The
//! long-running companion of the fuzz kit: it finds what a short test misses, and says so with
//! a non-zero exit status.
//!
//! The run is cut into rounds (`--round`), each on a fresh, empty map, so the map grows from
//! empty under concurrent traffic again and again. In a round, with `K` = `--keys`:
//! - **Values are checksummed.** A value is a 32-byte `Stamp` (key, version, writer, checksum
//!   of the three); a load that returns a stamp whose checksum or key is wrong is a torn or
//!   misdirected read.
//! - **Owned keys, exact audit.** Thread `t` owns `K` keys no other thread touches; it keeps a
//!   model (the version it last stored, or absent), so every load of an owned key must equal
//!   the model exactly, and at the end of the round every owned key is audited against it.
//! - **Shared keys, monotonic versions.** `K` keys are read by every thread; each has one writer
//!   (thread `i mod T`) that stores versions 1, 2, 3, ... and publishes, per key, the version it
//!   started storing and the version it finished storing. A reader loads the finished version
//!   `lo` before its load and the started version `hi` after it: the version it sees must lie in
//!   `lo..=hi` (a completed store is visible, nothing comes from the future) and must never be
//!   older than one the same reader saw before (monotonic reads).
//! - At the end of the round: every shared key holds its last version, `len()` equals the
//!   shared keys plus the owned keys alive in the models, and `range` visits exactly `len()`
//!   entries, all with valid stamps.
//!
//! A panic in a worker (e.g. `failfast` shared by several threads, which is its purpose) is a
//! violation too. The round itself is `stress_round.rs`.
//!
//! SIGINT, SIGTERM or SIGHUP (`interrupt.rs`) ends the running round at the next tick of its
//! clock (20 ms), or, while the round fills its map, within the next 64 keys stored (that
//! round is then not counted); a round whose workers ran is audited as usual, the maps not yet run are left out, and the
//! results so far are saved with `interrupted: true`, a line on stderr says so, and the exit
//! status is 130 (1 if a violation was found).

use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::report::{Csv, Meta, Output};
use crate::shared::{parse_shared_maps, SharedKind, SharedMaps};
use crate::stress_round::{Round, RoundOutcome, DESCRIBED};
use crate::{args, interrupt, LabError};

/// `--mix`: percentages of loads, stores and deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpMix {
    pub(crate) read: u32,
    pub(crate) write: u32,
    pub(crate) delete: u32,
}

fn parse_mix(text: &str) -> Result<OpMix, String> {
    let bad = || {
        format!("not an operation mix: '{text}' (read/write/delete percentages adding up to 100, e.g. 80/15/5)")
    };
    let parts: Vec<u32> = text
        .split('/')
        .map(|p| p.trim().parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    // Checked: parts near u32::MAX must not wrap around to a sum of 100.
    let total = |parts: &[u32]| {
        parts
            .iter()
            .try_fold(0u32, |sum, part| sum.checked_add(*part))
    };
    match parts[..] {
        [read, write, delete] if total(&parts) == Some(100) => Ok(OpMix {
            read,
            write,
            delete,
        }),
        _ => Err(bad()),
    }
}

/// The most `--keys`, and the most keys of a round in all (`--keys` shared ones and `--keys`
/// per thread): about 75 bytes each with the threads' models, so 2.5 GB at most, where larger
/// sizes would abort the process when the allocation fails.
const MAX_KEYS: usize = 1 << 24;
const MAX_ROUND_KEYS: usize = 1 << 25;

fn parse_keys(text: &str) -> Result<usize, String> {
    args::at_most(args::count(text)?, MAX_KEYS, "keys")
}

#[derive(Debug, Args)]
pub(crate) struct StressArgs {
    /// Maps, comma-separated: failfast, safe/rwlock, safe/mutex, safe/actor, sharded/16, sync,
    /// cow, concurrent, audited; or all. Each runs for the whole duration.
    #[arg(long, alias = "maps", value_name = "LIST", default_value = "concurrent", value_parser = parse_shared_maps)]
    pub(crate) map: SharedMaps,
    /// Worker threads sharing the map.
    #[arg(long, value_name = "N", default_value = "4", value_parser = args::threads)]
    pub(crate) threads: usize,
    /// How long each map runs (500ms, 10s, 2m): rounds start until this much time has passed,
    /// counting each round's fill of the map and its audit, so the workers run for less of it
    /// when the map is large, and the last round's audit may end after it. ops/s is over the
    /// whole time.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = args::duration)]
    pub(crate) duration: Duration,
    /// Length of a round: each round starts from a fresh, empty map.
    #[arg(long, value_name = "D", default_value = "1s", value_parser = args::duration)]
    pub(crate) round: Duration,
    /// Key range: the shared keys, and the keys each thread owns (K/M suffixes).
    #[arg(long, value_name = "K", default_value = "4096", value_parser = parse_keys)]
    pub(crate) keys: usize,
    /// Operation mix, read/write/delete percentages (deletes hit owned keys only).
    #[arg(long, value_name = "R/W/D", default_value = "80/15/5", value_parser = parse_mix)]
    pub(crate) mix: OpMix,
    /// Seed of the threads' operation streams (thread interleavings are still the scheduler's).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub(crate) seed: u64,
}

/// What one stress run runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct StressPlan {
    pub(crate) maps: Vec<String>,
    pub(crate) threads: usize,
    pub(crate) duration_s: f64,
    pub(crate) round_s: f64,
    pub(crate) keys: usize,
    pub(crate) mix: OpMix,
    pub(crate) seed: u64,
}

/// One map's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct StressOutcome {
    pub(crate) map: String,
    pub(crate) type_name: String,
    pub(crate) rounds: usize,
    pub(crate) ops: u64,
    pub(crate) ops_per_s: f64,
    pub(crate) violations: u64,
    /// The first violations, described.
    pub(crate) first_violations: Vec<String>,
    pub(crate) elapsed_s: f64,
}

/// The saved result (`stress.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct StressResult {
    pub(crate) meta: Meta,
    pub(crate) plan: StressPlan,
    pub(crate) outcomes: Vec<StressOutcome>,
    /// A signal stopped the run: the last outcome's map ran for less than the duration, and
    /// the maps after it did not run (absent, false, in files from before it existed).
    #[serde(default)]
    pub(crate) interrupted: bool,
}

/// `stress`: run, save, render; any violation fails the command.
pub(crate) fn run(args: &StressArgs, out: &Output) -> Result<(), LabError> {
    // Both at most 2^24, so neither the product nor the sum can overflow.
    let round_keys = args.keys * (args.threads + 1);
    if round_keys > MAX_ROUND_KEYS {
        return Err(LabError::Usage(format!(
            "--keys {} with --threads {}: {round_keys} keys in a round (the shared ones and each thread's own), at most {MAX_ROUND_KEYS}; give fewer keys or threads",
            args.keys, args.threads
        )));
    }
    let plan = StressPlan {
        maps: args.map.0.iter().map(|m| m.name().to_owned()).collect(),
        threads: args.threads,
        duration_s: args.duration.as_secs_f64(),
        round_s: args.round.as_secs_f64(),
        keys: args.keys,
        mix: args.mix,
        seed: args.seed,
    };
    let result = measure_plan(&plan, out)?;
    render(&result, out);
    out.write_json("stress.json", &result)?;
    let mut csv = Csv::new(
        &[
            "map",
            "type",
            "threads",
            "duration_s",
            "elapsed_s",
            "round_s",
            "keys",
            "mix",
            "seed",
            "rounds",
            "ops",
            "ops_per_s",
            "violations",
            "first_violation",
        ],
        &result.meta,
    );
    for o in &result.outcomes {
        csv.row(vec![
            o.map.clone(),
            o.type_name.clone(),
            plan.threads.to_string(),
            format!("{:.3}", plan.duration_s),
            format!("{:.3}", o.elapsed_s),
            format!("{:.3}", plan.round_s),
            plan.keys.to_string(),
            format!("{}/{}/{}", plan.mix.read, plan.mix.write, plan.mix.delete),
            plan.seed.to_string(),
            o.rounds.to_string(),
            o.ops.to_string(),
            format!("{:.0}", o.ops_per_s),
            o.violations.to_string(),
            o.first_violations.first().cloned().unwrap_or_default(),
        ]);
    }
    out.write_text("stress.csv", &csv.into_text())?;
    let violations: u64 = result.outcomes.iter().map(|o| o.violations).sum();
    interrupt::conclude(
        "stress",
        result.interrupted.then(|| {
            let measured = format!("{} of {} map(s)", result.outcomes.len(), plan.maps.len());
            (result.meta.elapsed_s, measured)
        }),
        (violations > 0)
            .then(|| format!("{violations} violation(s); see the table above and stress.json")),
        "no violation; see stress.json",
    )
}

pub(crate) fn measure_plan(plan: &StressPlan, out: &Output) -> Result<StressResult, LabError> {
    let kinds = SharedKind::parse_all(&plan.maps)?;
    let ticks_per_map = (plan.duration_s * 10.0).ceil() as u64;
    let bar = out.ui.bar(ticks_per_map * kinds.len() as u64, "stress");
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for (index, kind) in kinds.iter().enumerate() {
        if interrupt::requested() {
            break;
        }
        bar.set_message(kind.name());
        let t0 = Instant::now();
        let mut totals = RoundOutcome::default();
        let mut rounds = 0;
        let duration = Duration::from_secs_f64(plan.duration_s);
        while t0.elapsed() < duration && !interrupt::requested() {
            let remaining = duration.saturating_sub(t0.elapsed());
            let length = remaining.min(Duration::from_secs_f64(plan.round_s));
            let round = Round {
                threads: plan.threads,
                keys: plan.keys,
                mix: plan.mix,
                seed: plan.seed ^ ((rounds as u64) << 40),
                length,
                bar: &bar,
                ticks_before: ticks_per_map * index as u64,
                map_started: t0,
            };
            let Some(outcome) = kind
                .dispatch(plan.keys * (plan.threads + 1), round)
                .map_err(|e| LabError::Failed(format!("stress on {}: {e}", kind.name())))?
            else {
                // A signal came while the round filled its map: no worker ran, nothing to
                // audit or count.
                break;
            };
            totals.ops += outcome.ops;
            totals.violations += outcome.violations;
            for v in outcome.described {
                if totals.described.len() < DESCRIBED {
                    totals.described.push(format!("round {}: {v}", rounds + 1));
                }
            }
            rounds += 1;
        }
        let elapsed_s = t0.elapsed().as_secs_f64();
        bar.set_position(ticks_per_map * (index as u64 + 1));
        if rounds == 0 && interrupt::requested() {
            // The signal came before its first round.
            break;
        }
        outcomes.push(StressOutcome {
            map: kind.name().to_owned(),
            type_name: kind.type_name().to_owned(),
            rounds,
            ops: totals.ops,
            ops_per_s: totals.ops as f64 / elapsed_s.max(1e-9),
            violations: totals.violations,
            first_violations: totals.described,
            elapsed_s,
        });
    }
    bar.finish_and_clear();
    Ok(StressResult {
        meta: out.meta("stress", started.elapsed().as_secs_f64()),
        plan: plan.clone(),
        outcomes,
        interrupted: interrupt::requested(),
    })
}

/// Prints the stress table and the first violations.
pub(crate) fn render(result: &StressResult, out: &Output) {
    let p = &result.plan;
    let mut text = format!(
        "stress: {} threads, {:.1} s per map in rounds of {:.1} s (each from an empty map); {} shared keys + {} owned per thread; \
         mix {}/{}/{} read/write/delete; seed {}\n",
        p.threads, p.duration_s, p.round_s, p.keys, p.keys, p.mix.read, p.mix.write, p.mix.delete, p.seed
    );
    if result.interrupted {
        text += "INTERRUPTED by a signal: the last map ran for less than the duration, the maps after it did not run\n";
    }
    text += &format!(
        "{:<12} {:<28} {:>6} {:>12} {:>10} {:>10}\n",
        "map", "type", "rounds", "ops", "ops/s", "violations"
    );
    for o in &result.outcomes {
        text += &format!(
            "{:<12} {:<28} {:>6} {:>12} {:>10} {:>10}\n",
            o.map,
            o.type_name,
            o.rounds,
            o.ops,
            format!("{:.2}M", o.ops_per_s / 1e6),
            o.violations
        );
        for v in &o.first_violations {
            text += &format!("    {}: {v}\n", o.map);
        }
    }
    text += "checks: checksummed 32-byte values (torn reads), owned keys against each thread's exact model, \
             shared keys within [finished, started] versions and monotonic per reader, final audit of every key, len() and range.";
    out.ui.out(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_must_add_up_to_100() {
        assert_eq!(
            parse_mix("80/15/5"),
            Ok(OpMix {
                read: 80,
                write: 15,
                delete: 5
            })
        );
        assert!(parse_mix("80/15/6").is_err());
        assert!(parse_mix("80/20").is_err());
        assert!(parse_mix("a/b/c").is_err());
        // Sums that overflow u32 and would wrap to 100.
        assert!(parse_mix("4294967295/1/100").is_err());
        assert!(parse_mix("4294967200/196/0").is_err());
    }
}
