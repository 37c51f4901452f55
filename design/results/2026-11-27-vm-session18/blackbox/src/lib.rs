//! Black-box tests of `hmap::ConcurrentHashMap`: everything is in `tests/`.
