//! The single-threaded maps the lab grows (hmap, hashbrown, std), all with the benches' hasher
//! (foldhash `FixedState`, one seed), and the child side of their `grow` runs.

use std::hint::black_box;

use crate::measure::{self, Mode, RunRecord};
use crate::{child as protocol, keys, LabError};

/// The hasher every map is built with: the same one, with the same seed, as in `benches/`.
pub(crate) type LabHasher = foldhash::fast::FixedState;

/// How reports name the hasher.
pub(crate) fn hasher_name() -> String {
    format!(
        "foldhash::fast::FixedState::with_seed({:#x})",
        keys::HASH_SEED
    )
}

pub(crate) fn hasher() -> LabHasher {
    foldhash::fast::FixedState::with_seed(keys::HASH_SEED)
}

/// An implementation the lab can grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapKind {
    /// `hmap::HashMap`, Go 1.22's map with incremental evacuation.
    Hmap,
    /// `hashbrown::HashMap`, which grows by one stop-the-world rehash.
    Hashbrown,
    /// `std::collections::HashMap` (hashbrown inside).
    Std,
}

impl MapKind {
    pub(crate) const ALL: [MapKind; 3] = [MapKind::Hmap, MapKind::Hashbrown, MapKind::Std];

    pub(crate) fn name(self) -> &'static str {
        match self {
            MapKind::Hmap => "hmap",
            MapKind::Hashbrown => "hashbrown",
            MapKind::Std => "std",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<MapKind> {
        MapKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Grows this map from empty to `keys` entries in this process, measuring as `mode` says;
    /// a timed run also returns its latency series reduced to `points` chunk maxima.
    fn measure(self, mode: Mode, keys: usize, points: usize) -> (RunRecord, Vec<u32>) {
        match self {
            MapKind::Hmap => measure::measure_growth_series(
                mode,
                keys,
                points,
                || hmap::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
            MapKind::Hashbrown => measure::measure_growth_series(
                mode,
                keys,
                points,
                || hashbrown::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
            MapKind::Std => measure::measure_growth_series(
                mode,
                keys,
                points,
                || std::collections::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
        }
    }
}

/// The hidden `__child <map> <timed|untimed|cputimed> <keys> [points]` command: one
/// measurement, one report line (and, for a timed run with points, one series line).
pub(crate) fn child(map: &str, mode: &str, keys: &str, points: usize) -> Result<(), LabError> {
    let kind = MapKind::parse(map).ok_or_else(|| {
        LabError::Usage(format!(
            "unknown map '{map}' (accepted: {})",
            MapKind::ALL.map(MapKind::name).join(", ")
        ))
    })?;
    let mode = Mode::parse(mode).ok_or_else(|| {
        LabError::Usage(format!(
            "unknown mode '{mode}' (accepted: timed, untimed, cputimed)"
        ))
    })?;
    let keys = keys::parse_count(keys).map_err(LabError::Usage)?;
    let (record, series) = kind.measure(mode, keys, points);
    println!("{}", record.to_line());
    if !series.is_empty() {
        println!("{}", protocol::series_line(&series));
    }
    Ok(())
}
