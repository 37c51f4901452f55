//! The concurrent maps the lab compares, by the names its command line takes:
//! `hmap::ConcurrentHashMap` (named `concurrent`), papaya, scc, dashmap and `RwLock<hashbrown>`,
//! and a visitor that runs code generic over [`ConcMap`] on any of them. The maps and the trait
//! are `benches/common/conc_maps.rs`, shared with `benches/concurrent.rs` (included by path as
//! `conc_maps`); every map uses the benches' hasher.

use crate::conc_maps::{ConcMap, DashMap, HmapConcurrent, LockedHashbrown, PapayaMap, SccMap};

/// A concurrent implementation the lab can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConcKind {
    Concurrent,
    Papaya,
    Scc,
    Dashmap,
    RwlockHashbrown,
}

impl ConcKind {
    pub(crate) const ALL: [ConcKind; 5] = [
        ConcKind::Concurrent,
        ConcKind::Papaya,
        ConcKind::Scc,
        ConcKind::Dashmap,
        ConcKind::RwlockHashbrown,
    ];

    /// The established concurrent maps: ratios are taken to the best of these.
    pub(crate) const PEERS: [ConcKind; 3] = [ConcKind::Papaya, ConcKind::Scc, ConcKind::Dashmap];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ConcKind::Concurrent => "concurrent",
            ConcKind::Papaya => "papaya",
            ConcKind::Scc => "scc",
            ConcKind::Dashmap => "dashmap",
            ConcKind::RwlockHashbrown => "rwlock_hashbrown",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<ConcKind> {
        ConcKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// `(name, kind)` pairs for `args::name_list`.
    pub(crate) fn accepted() -> Vec<(&'static str, ConcKind)> {
        ConcKind::ALL.iter().map(|k| (k.name(), *k)).collect()
    }

    /// Calls `visit` with this map type.
    pub(crate) fn dispatch<V: ConcVisit>(self, visit: V) -> V::Output {
        match self {
            ConcKind::Concurrent => visit.visit::<HmapConcurrent>(),
            ConcKind::Papaya => visit.visit::<PapayaMap>(),
            ConcKind::Scc => visit.visit::<SccMap>(),
            ConcKind::Dashmap => visit.visit::<DashMap>(),
            ConcKind::RwlockHashbrown => visit.visit::<LockedHashbrown>(),
        }
    }
}

/// Code generic over the map type, run by [`ConcKind::dispatch`].
pub(crate) trait ConcVisit {
    type Output;
    fn visit<M: ConcMap>(self) -> Self::Output;
}
