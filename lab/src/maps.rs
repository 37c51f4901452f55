//! The maps the lab compares, all with the benches' hasher (foldhash `FixedState`, one seed),
//! and the child side of the `grow` experiment.

use std::hint::black_box;

use crate::keys;
use crate::measure::{self, Mode, RunRecord};
use crate::LabError;

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

    /// Grows this map from empty to `keys` entries in this process, measuring as `mode` says.
    fn measure(self, mode: Mode, keys: usize) -> RunRecord {
        match self {
            MapKind::Hmap => measure::measure_growth(
                mode,
                keys,
                || hmap::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
            MapKind::Hashbrown => measure::measure_growth(
                mode,
                keys,
                || hashbrown::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
            MapKind::Std => measure::measure_growth(
                mode,
                keys,
                || std::collections::HashMap::with_hasher(hasher()),
                |m, k| {
                    black_box(m.insert(k, k));
                },
            ),
        }
    }
}

/// The accepted map names, for error messages.
pub(crate) fn accepted_names() -> String {
    MapKind::ALL.map(MapKind::name).join(", ")
}

/// A non-empty list of distinct maps, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MapList(pub(crate) Vec<MapKind>);

/// clap value parser for `--maps hmap,hashbrown,std`.
pub(crate) fn parse_map_list(text: &str) -> Result<MapList, String> {
    let mut kinds = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let kind = MapKind::parse(name)
            .ok_or_else(|| format!("unknown map '{name}' (accepted: {})", accepted_names()))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(format!("no map given (accepted: {})", accepted_names()));
    }
    Ok(MapList(kinds))
}

/// The hidden `__child <map> <timed|untimed> <keys>` command: one measurement, one report line.
pub(crate) fn child(map: &str, mode: &str, keys: &str) -> Result<(), LabError> {
    let kind = MapKind::parse(map).ok_or_else(|| {
        LabError::Usage(format!(
            "unknown map '{map}' (accepted: {})",
            accepted_names()
        ))
    })?;
    let mode = Mode::parse(mode).ok_or_else(|| {
        LabError::Usage(format!("unknown mode '{mode}' (accepted: timed, untimed)"))
    })?;
    let keys = keys::parse_count(keys).map_err(LabError::Usage)?;
    println!("{}", kind.measure(mode, keys).to_line());
    Ok(())
}
