//! The `layout` command: hmap's header beside Go 1.22's `hmap` (amd64 offsets from
//! `src/runtime/map.go`), the Rust counterpart of reading `hmap` through `unsafe.Offsetof`; then
//! a live map's header fields (count, flags, B, noverflow, buckets, oldbuckets, nevacuate, and
//! the old buckets evacuated so far) after each insert while it doubles from `2^B` to
//! `2^(B+1)` buckets. In Go 1.22 the doubling from B starts at insert `6.5 * 2^B + 1` (9 for
//! B = 0) and is finished by the writes that follow, two old buckets at most per write.
//! Written to `layout.json` and `layout.csv` too.

use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use hmap::{header_layout, HEADER_SIZE};

use crate::report::{Csv, Meta, Output};
use crate::{maps, LabError};

#[derive(Debug, Args)]
pub(crate) struct LayoutArgs {
    /// Follow the doubling from 2^B buckets (0..=10; 4 doubles 16 buckets to 32 at insert 105).
    #[arg(long = "from-b", value_name = "B", default_value_t = 4, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub(crate) from_b: u8,
}

/// Go 1.22 `hmap` field names and byte offsets on a 64-bit target.
const GO_HEADER: [(&str, usize); 9] = [
    ("count", 0),
    ("flags", 8),
    ("B", 9),
    ("noverflow", 10),
    ("hash0", 12),
    ("buckets", 16),
    ("oldbuckets", 24),
    ("nevacuate", 32),
    ("extra", 40),
];

/// `unsafe.Sizeof(hmap{})` on a 64-bit target.
const GO_HEADER_SIZE: usize = 48;

/// One header field, Go's offset beside ours.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct FieldRow {
    pub(crate) go_name: Option<String>,
    pub(crate) go_offset: Option<usize>,
    pub(crate) name: Option<String>,
    pub(crate) offset: Option<usize>,
    pub(crate) size: Option<usize>,
}

/// A live map's header after one insert.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct HeaderRow {
    pub(crate) insert: u64,
    pub(crate) count: usize,
    pub(crate) flags: u8,
    pub(crate) log2_buckets: u8,
    pub(crate) noverflow: u16,
    pub(crate) buckets: usize,
    pub(crate) old_buckets: usize,
    pub(crate) nevacuate: usize,
    pub(crate) old_buckets_evacuated: usize,
    pub(crate) old_buckets_total: usize,
    pub(crate) growing: bool,
}

/// The saved result (`layout.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct LayoutResult {
    pub(crate) meta: Meta,
    pub(crate) from_b: u8,
    pub(crate) go_size: usize,
    pub(crate) size: usize,
    pub(crate) fields: Vec<FieldRow>,
    pub(crate) growth: Vec<HeaderRow>,
    /// Whether the doubling started and finished within the inserts followed.
    pub(crate) finished: bool,
}

/// `layout`: collect, save, print.
pub(crate) fn run(args: &LayoutArgs, out: &Output) -> Result<(), LabError> {
    let started = Instant::now();
    let (growth, finished) = live_growth(args.from_b);
    let result = LayoutResult {
        meta: out.meta("layout", 0.0),
        from_b: args.from_b,
        go_size: GO_HEADER_SIZE,
        size: HEADER_SIZE,
        fields: fields(),
        growth,
        finished,
    };
    let result = LayoutResult {
        meta: Meta {
            elapsed_s: started.elapsed().as_secs_f64(),
            ..result.meta
        },
        ..result
    };
    render(&result, out);
    out.write_json("layout.json", &result)?;
    let mut csv = Csv::new(
        &[
            "insert",
            "count",
            "flags",
            "B",
            "noverflow",
            "buckets",
            "oldbuckets",
            "nevacuate",
            "old_buckets_evacuated",
            "old_buckets_total",
            "growing",
        ],
        &result.meta,
    );
    for r in &result.growth {
        csv.row(vec![
            r.insert.to_string(),
            r.count.to_string(),
            r.flags.to_string(),
            r.log2_buckets.to_string(),
            r.noverflow.to_string(),
            format!("{:#x}", r.buckets),
            format!("{:#x}", r.old_buckets),
            r.nevacuate.to_string(),
            r.old_buckets_evacuated.to_string(),
            r.old_buckets_total.to_string(),
            r.growing.to_string(),
        ]);
    }
    out.write_text("layout.csv", &csv.into_text())?;
    if result.finished {
        Ok(())
    } else {
        Err(LabError::Failed(format!(
            "the doubling from B = {} did not start and finish as Go's would",
            args.from_b
        )))
    }
}

/// Go's fields with our offsets, then our fields Go does not have.
fn fields() -> Vec<FieldRow> {
    let layout = header_layout();
    let mut rows: Vec<FieldRow> = GO_HEADER
        .iter()
        .map(|(go_name, go_offset)| {
            let ours = layout.iter().find(|f| f.go_name == *go_name);
            FieldRow {
                go_name: Some((*go_name).to_owned()),
                go_offset: Some(*go_offset),
                name: ours.map(|f| f.name.to_owned()),
                offset: ours.map(|f| f.offset),
                size: ours.map(|f| f.size),
            }
        })
        .collect();
    rows.extend(
        layout
            .iter()
            .filter(|f| GO_HEADER.iter().all(|(go, _)| *go != f.go_name))
            .map(|f| FieldRow {
                go_name: None,
                go_offset: None,
                name: Some(f.name.to_owned()),
                offset: Some(f.offset),
                size: Some(f.size),
            }),
    );
    rows
}

/// Entries at which a Go 1.22 map with 2^b buckets is full (one more starts a doubling).
fn go_full(b: u8) -> u64 {
    if b == 0 {
        8
    } else {
        13 << (b - 1)
    }
}

/// The header after each insert from a few before the doubling from `b` until it has finished.
fn live_growth(b: u8) -> (Vec<HeaderRow>, bool) {
    let first_row = go_full(b).saturating_sub(4).max(1);
    let last_row = go_full(b) + 20;
    let give_up = 4 * go_full(b) + 400;
    let mut map: hmap::HashMap<u64, u64, maps::LabHasher> =
        hmap::HashMap::with_hasher(maps::hasher());
    let mut rows = Vec::new();
    let mut saw_growth = false;
    for insert in 1..=give_up {
        let before = map.log2_buckets();
        map.insert(insert, insert);
        let growing = map.is_growing();
        // From B = 2 the doubling spans several inserts and must be seen in progress. At B = 0
        // and 1 there are one or two old buckets and a write evacuates up to two, so the
        // insert that starts the doubling also finishes it: B going from b to b + 1 is all
        // there is to see.
        let doubled_at_once = b < 2 && before == b && !growing;
        saw_growth |= map.log2_buckets() == b + 1 && (growing || doubled_at_once);
        if insert < first_row {
            continue;
        }
        let header = map.header();
        let stats = map.stats();
        rows.push(HeaderRow {
            insert,
            count: header.count,
            flags: header.flags,
            log2_buckets: header.log2_buckets,
            noverflow: header.overflow_count,
            buckets: header.buckets,
            old_buckets: header.old_buckets,
            nevacuate: header.evacuation_mark,
            old_buckets_evacuated: stats.old_buckets_evacuated,
            old_buckets_total: stats.old_buckets_total,
            growing,
        });
        if insert >= last_row && saw_growth && !growing {
            return (rows, true);
        }
    }
    (rows, false)
}

pub(crate) fn render(result: &LayoutResult, out: &Output) {
    print_layout(result, out);
    out.ui.out("");
    print_live_growth(result, out);
}

fn print_layout(result: &LayoutResult, out: &Output) {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let num = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut text = String::from("header layout: Go 1.22 hmap (amd64) vs hmap::header_layout()\n");
    text += &format!(
        "{:<11} {:>9}   {:<18} {:>11} {:>9}  offset\n",
        "Go field", "Go offset", "hmap field", "hmap offset", "hmap size"
    );
    for f in &result.fields {
        let verdict = match (f.go_offset, f.offset) {
            (Some(go), Some(ours)) if go == ours => "same",
            (Some(_), Some(_)) => "differs",
            (Some(_), None) => "missing",
            _ => "not in Go",
        };
        text += &format!(
            "{:<11} {:>9}   {:<18} {:>11} {:>9}  {verdict}\n",
            dash(f.go_name.clone()),
            num(f.go_offset),
            dash(f.name.clone()),
            num(f.offset),
            num(f.size)
        );
    }
    text += &format!(
        "size: Go {} bytes, hmap {} bytes ({})",
        result.go_size,
        result.size,
        if result.go_size == result.size {
            "same"
        } else {
            "differs"
        }
    );
    out.ui.out(&text);
}

fn print_live_growth(result: &LayoutResult, out: &Output) {
    let b = result.from_b;
    let mut text = format!(
        "live map (u64 keys, {}): header after each insert, from #{} until the doubling B={b} -> B={} has finished\n",
        result.meta.hasher,
        result.growth.first().map_or(0, |r| r.insert),
        b + 1
    );
    text += &format!(
        "{:>5} {:>6} {:>5} {:>3} {:>9} {:>16} {:>16} {:>9} {:>9} {:>8}\n",
        "#",
        "count",
        "flags",
        "B",
        "noverflow",
        "buckets",
        "oldbuckets",
        "nevacuate",
        "evacuated",
        "growing"
    );
    for r in &result.growth {
        let evacuated = if r.old_buckets_total > 0 {
            format!("{}/{}", r.old_buckets_evacuated, r.old_buckets_total)
        } else {
            "-".to_owned()
        };
        text += &format!(
            "{:>5} {:>6} {:>5} {:>3} {:>9} {:>16} {:>16} {:>9} {:>9} {:>8}\n",
            r.insert,
            r.count,
            format!("{:#04x}", r.flags),
            r.log2_buckets,
            r.noverflow,
            address(r.buckets),
            address(r.old_buckets),
            r.nevacuate,
            evacuated,
            if r.growing { "yes" } else { "no" }
        );
    }
    if !result.finished {
        text += "(stopped: the map never finished growing, or never grew)\n";
    }
    text += "flags: Go's bits (4 = hashWriting, 8 = sameSizeGrow); buckets/oldbuckets: array addresses (nil: none); \
             nevacuate: Go's evacuation mark; evacuated: old buckets moved / old buckets.";
    out.ui.out(&text);
}

fn address(address: usize) -> String {
    if address == 0 {
        "nil".to_owned()
    } else {
        format!("{address:#x}")
    }
}
