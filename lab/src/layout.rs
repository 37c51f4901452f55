//! The `layout` command: hmap's header beside Go 1.22's `hmap` (amd64 offsets from
//! `src/runtime/map.go`), then a live map's header after each insert while it doubles from
//! B = 4 (16 buckets) to B = 5, which in Go 1.22 starts at the 105th insert and is finished by
//! the writes that follow, two old buckets at most per write.

use hmap::{header_layout, HEADER_SIZE};

use crate::maps;

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

/// First insert whose header is printed; the table runs at least to `LAST_ROW`.
const FIRST_ROW: u64 = 100;
const LAST_ROW: u64 = 125;
/// Stop even if the growth has not finished by then (it would be a bug worth seeing).
const GIVE_UP: u64 = 400;

pub(crate) fn run() {
    print_layout();
    println!();
    print_live_growth();
}

fn print_layout() {
    let layout = header_layout();
    println!("header layout: Go 1.22 hmap (amd64) vs hmap::header_layout()");
    println!(
        "{:<11} {:>9}   {:<18} {:>11} {:>9}  offset",
        "Go field", "Go offset", "hmap field", "hmap offset", "hmap size"
    );
    for (go_name, go_offset) in GO_HEADER {
        match layout.iter().find(|field| field.go_name == go_name) {
            Some(field) => println!(
                "{:<11} {:>9}   {:<18} {:>11} {:>9}  {}",
                go_name,
                go_offset,
                field.name,
                field.offset,
                field.size,
                if field.offset == go_offset {
                    "same"
                } else {
                    "differs"
                }
            ),
            None => println!(
                "{go_name:<11} {go_offset:>9}   {:<18} {:>11} {:>9}  missing",
                "-", "-", "-"
            ),
        }
    }
    for field in layout
        .iter()
        .filter(|f| GO_HEADER.iter().all(|(go, _)| *go != f.go_name))
    {
        println!(
            "{:<11} {:>9}   {:<18} {:>11} {:>9}  not in Go",
            "-", "-", field.name, field.offset, field.size
        );
    }
    println!(
        "size: Go {GO_HEADER_SIZE} bytes, hmap {HEADER_SIZE} bytes ({})",
        if GO_HEADER_SIZE == HEADER_SIZE {
            "same"
        } else {
            "differs"
        }
    );
}

fn print_live_growth() {
    println!(
        "live map (u64 keys, {}): header after each insert, from #{FIRST_ROW} until the doubling B=4 -> B=5 has finished",
        maps::hasher_name()
    );
    println!(
        "{:>4} {:>6} {:>3} {:>9} {:>16} {:>16} {:>9} {:>9} {:>8}",
        "#",
        "count",
        "B",
        "noverflow",
        "buckets",
        "old_buckets",
        "nevacuate",
        "evacuated",
        "growing"
    );
    let mut map: hmap::HashMap<u64, u64, maps::LabHasher> =
        hmap::HashMap::with_hasher(maps::hasher());
    let mut saw_growth = false;
    for insert in 1..=GIVE_UP {
        map.insert(insert, insert);
        let growing = map.is_growing();
        saw_growth |= growing;
        if insert < FIRST_ROW {
            continue;
        }
        let header = map.header();
        let stats = map.stats();
        let evacuated = if stats.old_buckets_total > 0 {
            format!(
                "{}/{}",
                stats.old_buckets_evacuated, stats.old_buckets_total
            )
        } else {
            "-".to_owned()
        };
        println!(
            "{:>4} {:>6} {:>3} {:>9} {:>16} {:>16} {:>9} {:>9} {:>8}",
            insert,
            header.count,
            header.log2_buckets,
            header.overflow_count,
            address(header.buckets),
            address(header.old_buckets),
            header.evacuation_mark,
            evacuated,
            if growing { "yes" } else { "no" }
        );
        if insert >= LAST_ROW && saw_growth && !growing {
            return;
        }
    }
    println!("(stopped at insert {GIVE_UP}: the map never finished growing, or never grew)");
}

fn address(address: usize) -> String {
    if address == 0 {
        "nil".to_owned()
    } else {
        format!("{address:#x}")
    }
}
