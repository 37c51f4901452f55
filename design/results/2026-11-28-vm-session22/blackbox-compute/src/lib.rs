//! Black-box tests for hmap's ConcurrentHashMap::compute live in tests/.
