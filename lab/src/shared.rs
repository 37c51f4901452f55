//! The maps shared between threads through `hmap::wrappers::SharedMap` (Go's toolkit, rebuilt),
//! by the names `benches/wrappers.rs` uses, and a visitor that runs generic code on any of them:
//! the `crash`, `stress` and `wrappers` experiments are written once, for every map.

use hmap::wrappers::{
    ActorBackend, AuditedMap, CowMap, FailFastMap, MutexBackend, RwLockBackend, SafeMap,
    ShardedMap, SharedMap, SyncMap,
};

use crate::maps::{hasher, LabHasher};
use crate::{args, LabError};

/// A `--maps` value of `crash`, `stress` and `wrappers`: the maps to run, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedMaps(pub(crate) Vec<SharedKind>);

/// Parses a `--maps` value: names as [`SharedKind::name`] spells them, comma-separated, or `all`.
pub(crate) fn parse_shared_maps(text: &str) -> Result<SharedMaps, String> {
    args::name_list(text, &SharedKind::accepted()).map(SharedMaps)
}

/// A map that implements `SharedMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SharedKind {
    /// `FailFastMap`: Go's `hashWriting` detector, made sound; panics on overlapping use.
    FailFast,
    /// `SafeMap<RwLockBackend>`: Go's map behind a `sync.RWMutex`.
    SafeRwLock,
    /// `SafeMap<MutexBackend>`: behind a `sync.Mutex`.
    SafeMutex,
    /// `SafeMap<ActorBackend>`: owned by one thread that runs every operation sent to it.
    SafeActor,
    /// `ShardedMap` with 16 shards.
    Sharded,
    /// `SyncMap`: Go's `sync.Map`.
    Sync,
    /// `CowMap`: copy-on-write behind an atomically swapped `Arc` (Go's `atomic.Value`).
    Cow,
    /// `hmap::ConcurrentHashMap`.
    Concurrent,
    /// `AuditedMap` over `SafeMap<RwLockBackend>`: counters on every access.
    Audited,
}

impl SharedKind {
    pub(crate) const ALL: [SharedKind; 9] = [
        SharedKind::FailFast,
        SharedKind::SafeRwLock,
        SharedKind::SafeMutex,
        SharedKind::SafeActor,
        SharedKind::Sharded,
        SharedKind::Sync,
        SharedKind::Cow,
        SharedKind::Concurrent,
        SharedKind::Audited,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            SharedKind::FailFast => "failfast",
            SharedKind::SafeRwLock => "safe/rwlock",
            SharedKind::SafeMutex => "safe/mutex",
            SharedKind::SafeActor => "safe/actor",
            SharedKind::Sharded => "sharded/16",
            SharedKind::Sync => "sync",
            SharedKind::Cow => "cow",
            SharedKind::Concurrent => "concurrent",
            SharedKind::Audited => "audited",
        }
    }

    /// The Rust type, for tables.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            SharedKind::FailFast => "FailFastMap",
            SharedKind::SafeRwLock => "SafeMap<RwLockBackend>",
            SharedKind::SafeMutex => "SafeMap<MutexBackend>",
            SharedKind::SafeActor => "SafeMap<ActorBackend>",
            SharedKind::Sharded => "ShardedMap (16 shards)",
            SharedKind::Sync => "SyncMap",
            SharedKind::Cow => "CowMap",
            SharedKind::Concurrent => "ConcurrentHashMap",
            SharedKind::Audited => "AuditedMap<SafeMap<RwLock>>",
        }
    }

    /// Panics on any overlapping use: run it on one thread, or expect the panic.
    pub(crate) fn one_thread_only(self) -> bool {
        self == SharedKind::FailFast
    }

    pub(crate) fn parse(name: &str) -> Option<SharedKind> {
        SharedKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// `(name, kind)` pairs for `args::name_list`.
    pub(crate) fn accepted() -> Vec<(&'static str, SharedKind)> {
        SharedKind::ALL.iter().map(|k| (k.name(), *k)).collect()
    }

    /// The kinds a plan names (its `maps`); a name no kind has is a usage error.
    pub(crate) fn parse_all(names: &[String]) -> Result<Vec<SharedKind>, LabError> {
        names
            .iter()
            .map(|name| {
                SharedKind::parse(name)
                    .ok_or_else(|| LabError::Usage(format!("unknown map '{name}'")))
            })
            .collect()
    }

    /// Builds this map (empty, the lab's hasher, room for `capacity` entries where the type
    /// takes a capacity) and hands it to `visit`.
    pub(crate) fn dispatch<Vis: Visit>(self, capacity: usize, visit: Vis) -> Vis::Output {
        type Value<Vis> = <Vis as Visit>::Value;
        match self {
            SharedKind::FailFast => visit.visit(
                FailFastMap::<u64, Value<Vis>, LabHasher>::with_hasher(hasher()),
            ),
            SharedKind::SafeRwLock => {
                visit.visit(
                    SafeMap::<u64, Value<Vis>, RwLockBackend, LabHasher>::with_capacity_and_hasher(
                        capacity,
                        hasher(),
                    ),
                )
            }
            SharedKind::SafeMutex => visit.visit(
                SafeMap::<u64, Value<Vis>, MutexBackend, LabHasher>::with_capacity_and_hasher(
                    capacity,
                    hasher(),
                ),
            ),
            SharedKind::SafeActor => visit.visit(
                SafeMap::<u64, Value<Vis>, ActorBackend, LabHasher>::with_capacity_and_hasher(
                    capacity,
                    hasher(),
                ),
            ),
            SharedKind::Sharded => visit.visit(
                ShardedMap::<u64, Value<Vis>, LabHasher>::with_shards_and_hasher(16, hasher()),
            ),
            SharedKind::Sync => {
                visit.visit(SyncMap::<u64, Value<Vis>, LabHasher>::with_hasher(hasher()))
            }
            SharedKind::Cow => {
                visit.visit(CowMap::<u64, Value<Vis>, LabHasher>::with_hasher(hasher()))
            }
            SharedKind::Concurrent => visit.visit(hmap::ConcurrentHashMap::<
                u64,
                Value<Vis>,
                LabHasher,
            >::with_capacity_and_hasher(
                capacity, hasher()
            )),
            SharedKind::Audited => visit.visit(AuditedMap::new(SafeMap::<
                u64,
                Value<Vis>,
                RwLockBackend,
                LabHasher,
            >::with_capacity_and_hasher(
                capacity, hasher()
            ))),
        }
    }
}

/// Code generic over the map, run by [`SharedKind::dispatch`].
pub(crate) trait Visit {
    /// The map's value type.
    type Value: Clone + Send + Sync + 'static;
    type Output;
    fn visit<M: SharedMap<u64, Self::Value> + Sync>(self, map: M) -> Self::Output;
}
