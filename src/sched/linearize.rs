//! A linearizability checker for one key's history (Wing & Gong's search, memoized).
//!
//! Every operation of the race harness touches one key, and linearizability is local (Herlihy &
//! Wing): a history is linearizable if and only if each key's sub-history is. So each key is
//! checked on its own, against a sequential register of `Option<u64>`, with at most a few dozen
//! operations: the search is a depth-first walk over "which pending operation takes effect
//! next", pruned by real-time order and memoized on (operations done, register value).

use std::collections::HashSet;

/// What an operation does to the key's register, sequentially (`ConcurrentHashMap` semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// `insert(key, value)`: returns the previous value.
    Insert(u64),
    /// `remove(key)`: returns the removed value.
    Remove,
    /// `get(key)`, or one key's observation by an iteration: returns the value.
    Read,
    /// `update(key, |v| update_value(v, tag))`: returns the new value, or `None` if absent.
    Update(u64),
    /// `get_or_insert_with(key, || value)`: returns the value now present.
    GetOrInsert(u64),
    /// `compute(key, ...)` moving the key to `compute_next(state, tag)`: returns the previous
    /// value.
    Compute(u64),
    /// One call of a `retain` predicate on the key: it saw the value (the result) and the entry
    /// was removed if `drop` (the predicate said no), atomically, under the key's chain.
    Retained {
        /// Whether the predicate rejected the entry.
        drop: bool,
    },
    /// One pass of `clear` over the key's chain: removes it if present. Unobserved, so its
    /// result is not checked.
    Clear,
}

/// The function the harness's `update` applies: order-sensitive, so that a lost or reordered
/// update changes the result.
pub(crate) fn update_value(old: u64, tag: u64) -> u64 {
    old.wrapping_mul(3).wrapping_add(tag)
}

/// The state the harness's `compute` moves a key to: an absent key is inserted with `tag`, a
/// value divisible by 3 is removed, any other is replaced by `update_value(old, tag)`. All three
/// outcomes of `compute` occur, and a lost or reordered one changes later results.
pub(crate) fn compute_next(state: Option<u64>, tag: u64) -> Option<u64> {
    match state {
        None => Some(tag),
        Some(old) if old % 3 == 0 => None,
        Some(old) => Some(update_value(old, tag)),
    }
}

impl Action {
    /// Applies the action to `state`; returns the new state and the result.
    fn apply(self, state: Option<u64>) -> (Option<u64>, Option<u64>) {
        match self {
            Action::Insert(value) => (Some(value), state),
            Action::Remove => (None, state),
            Action::Read => (state, state),
            Action::Update(tag) => {
                let new = state.map(|old| update_value(old, tag));
                (new, new)
            }
            Action::GetOrInsert(value) => {
                let new = state.or(Some(value));
                (new, new)
            }
            Action::Compute(tag) => (compute_next(state, tag), state),
            Action::Retained { drop } => (if drop { None } else { state }, state),
            Action::Clear => (None, None),
        }
    }

    /// Whether the recorded result must match the register's (false for an unobserved action).
    fn checks_result(self) -> bool {
        !matches!(self, Action::Clear)
    }
}

/// One operation of a key's history: its interval in the scheduler's global order
/// (`invoked < returned`), what it did, and what it returned.
#[derive(Clone, Debug)]
pub(crate) struct KeyOp {
    pub(crate) invoked: usize,
    pub(crate) returned: usize,
    pub(crate) action: Action,
    pub(crate) result: Option<u64>,
    /// Whether the operation takes effect exactly once (`false`) or any number of times,
    /// none included (`true`): a `clear` over a key written meanwhile, which removes it once
    /// per pass over its chain, and passes restart when a growth starts.
    pub(crate) repeats: bool,
    /// Who ran it, for the failure report: (thread, operation index).
    pub(crate) by: (usize, usize),
}

/// Whether `ops` can be ordered, respecting real time, so that the sequential register starting
/// at `initial` gives every operation its recorded result and ends at `last`. A repeating
/// operation takes effect any number of times inside its interval, none included.
pub(crate) fn is_linearizable(initial: Option<u64>, ops: &[KeyOp], last: Option<u64>) -> bool {
    assert!(
        ops.len() <= 128,
        "a key's history is at most 128 operations, this one has {}",
        ops.len()
    );
    let all: u128 = if ops.len() == 128 {
        u128::MAX
    } else {
        (1u128 << ops.len()) - 1
    };
    let mut seen = HashSet::new();
    search(ops, all, 0, initial, last, &mut seen)
}

fn search(
    ops: &[KeyOp],
    all: u128,
    done: u128,
    state: Option<u64>,
    last: Option<u64>,
    seen: &mut HashSet<(u128, Option<u64>)>,
) -> bool {
    if done == all {
        return state == last;
    }
    if !seen.insert((done, state)) {
        return false;
    }
    // An operation can take effect next only if no pending operation returned before it was
    // invoked (that one must come first).
    let earliest_return = (0..ops.len())
        .filter(|&i| done & (1 << i) == 0)
        .map(|i| ops[i].returned)
        .min()
        .expect("an operation is pending");
    for i in 0..ops.len() {
        let bit = 1u128 << i;
        if done & bit != 0 {
            continue;
        }
        // A repeating operation is retired (it takes no further effect; not an event in time,
        // so always allowed), or takes effect once more and stays pending. Taking effect when
        // it changes nothing is the same as not, so that branch is skipped.
        if ops[i].repeats && search(ops, all, done | bit, state, last, seen) {
            return true;
        }
        if ops[i].invoked > earliest_return {
            continue;
        }
        let (next, result) = ops[i].action.apply(state);
        if ops[i].action.checks_result() && result != ops[i].result {
            continue;
        }
        let found = if ops[i].repeats {
            next != state && search(ops, all, done, next, last, seen)
        } else {
            search(ops, all, done | bit, next, last, seen)
        };
        if found {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(invoked: usize, returned: usize, action: Action, result: Option<u64>) -> KeyOp {
        KeyOp {
            invoked,
            returned,
            action,
            result,
            repeats: false,
            by: (0, 0),
        }
    }

    fn repeating(invoked: usize, returned: usize, action: Action) -> KeyOp {
        KeyOp {
            repeats: true,
            ..op(invoked, returned, action, None)
        }
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // insert(1) ‖ get → Some(1): the get went second.
        let ops = [
            op(0, 3, Action::Insert(1), None),
            op(1, 2, Action::Read, Some(1)),
        ];
        assert!(is_linearizable(None, &ops, Some(1)));
        // ... or None: first.
        let ops = [
            op(0, 3, Action::Insert(1), None),
            op(1, 2, Action::Read, None),
        ];
        assert!(is_linearizable(None, &ops, Some(1)));
    }

    #[test]
    fn real_time_order_is_respected() {
        // The get started after the insert returned: it must see the value.
        let ops = [
            op(0, 1, Action::Insert(1), None),
            op(2, 3, Action::Read, None),
        ];
        assert!(!is_linearizable(None, &ops, Some(1)));
    }

    #[test]
    fn a_lost_update_is_not_linearizable() {
        // Two overlapping updates of 1 both "return" update_value(1, tag): one was lost.
        let ops = [
            op(0, 3, Action::Update(10), Some(update_value(1, 10))),
            op(1, 2, Action::Update(20), Some(update_value(1, 20))),
        ];
        assert!(!is_linearizable(Some(1), &ops, Some(update_value(1, 20))));
    }

    #[test]
    fn computes_chain_their_three_outcomes_and_a_lost_one_is_caught() {
        // Absent -> inserted 4 -> replaced by update_value(4, 5) = 17 (4 % 3 != 0).
        assert_eq!(compute_next(None, 4), Some(4));
        assert_eq!(compute_next(Some(4), 5), Some(17));
        assert_eq!(compute_next(Some(6), 5), None);
        let ops = [
            op(0, 3, Action::Compute(4), None),
            op(1, 2, Action::Compute(5), Some(4)),
        ];
        assert!(is_linearizable(None, &ops, Some(17)));
        // Both saw the key absent: one insert was lost.
        let ops = [
            op(0, 3, Action::Compute(4), None),
            op(1, 2, Action::Compute(5), None),
        ];
        assert!(!is_linearizable(None, &ops, Some(5)));
        // A removal by compute (6 is divisible by 3), then a read that still sees 6.
        let ops = [
            op(0, 1, Action::Compute(5), Some(6)),
            op(2, 3, Action::Read, Some(6)),
        ];
        assert!(!is_linearizable(Some(6), &ops, None));
    }

    #[test]
    fn the_final_value_must_match() {
        let ops = [op(0, 1, Action::Remove, Some(5))];
        assert!(is_linearizable(Some(5), &ops, None));
        // Resurrection: removed, yet still there at the end.
        assert!(!is_linearizable(Some(5), &ops, Some(5)));
    }

    #[test]
    fn get_or_insert_agrees_with_a_racing_insert() {
        let ops = [
            op(0, 3, Action::GetOrInsert(7), Some(9)),
            op(1, 2, Action::Insert(9), None),
        ];
        assert!(is_linearizable(None, &ops, Some(9)));
        let ops = [
            op(0, 3, Action::GetOrInsert(7), Some(7)),
            op(1, 2, Action::Insert(9), None),
        ];
        // The insert saw no value, so it went first, and then get_or_insert must return 9.
        assert!(!is_linearizable(None, &ops, Some(9)));
        assert!(!is_linearizable(None, &ops, Some(7)));
    }

    #[test]
    fn a_retain_call_sees_the_value_and_removes_it_only_if_rejected() {
        // retain's predicate saw 5 and rejected it: the key is gone.
        let ops = [op(0, 3, Action::Retained { drop: true }, Some(5))];
        assert!(is_linearizable(Some(5), &ops, None));
        assert!(!is_linearizable(Some(5), &ops, Some(5)));
        // Accepted: it stays.
        let ops = [op(0, 3, Action::Retained { drop: false }, Some(5))];
        assert!(is_linearizable(Some(5), &ops, Some(5)));
        assert!(!is_linearizable(Some(5), &ops, None));
        // A value the key never had cannot have been seen.
        let ops = [op(0, 3, Action::Retained { drop: false }, Some(6))];
        assert!(!is_linearizable(Some(5), &ops, Some(5)));
        // A racing insert of 6 went before or after the call that saw 5 and removed it.
        let ops = [
            op(0, 5, Action::Retained { drop: true }, Some(5)),
            op(1, 2, Action::Insert(6), Some(5)),
        ];
        assert!(!is_linearizable(Some(5), &ops, Some(6)));
        let ops = [
            op(0, 5, Action::Retained { drop: true }, Some(5)),
            op(1, 2, Action::Insert(6), None),
        ];
        assert!(is_linearizable(Some(5), &ops, Some(6)));
    }

    #[test]
    fn a_repeating_clear_may_take_effect_never_or_often_a_single_one_once() {
        let once = [op(0, 3, Action::Clear, None)];
        assert!(is_linearizable(Some(5), &once, None));
        assert!(!is_linearizable(Some(5), &once, Some(5)));
        let any = [repeating(0, 3, Action::Clear)];
        assert!(is_linearizable(Some(5), &any, None));
        assert!(is_linearizable(Some(5), &any, Some(5)));
        // Retired, a repeating operation does not hold back the ones after it in real time.
        let ops = [
            repeating(0, 1, Action::Clear),
            op(2, 3, Action::Read, Some(5)),
        ];
        assert!(is_linearizable(Some(5), &ops, Some(5)));
        // But it cannot take effect after them: a clear that returned before the read was
        // invoked cannot explain the key's absence at the end.
        assert!(!is_linearizable(Some(5), &ops, None));
        // Twice around an insert inside its interval: the insert's value is gone too.
        let ops = [
            repeating(0, 9, Action::Clear),
            op(1, 2, Action::Read, None),
            op(3, 4, Action::Insert(6), None),
            op(5, 6, Action::Read, Some(6)),
        ];
        assert!(is_linearizable(Some(5), &ops, None));
        // A single clear cannot both remove 5 before the first read and 6 after the insert.
        let ops = [
            op(0, 9, Action::Clear, None),
            op(1, 2, Action::Read, None),
            op(3, 4, Action::Insert(6), None),
            op(5, 6, Action::Read, Some(6)),
        ];
        assert!(!is_linearizable(Some(5), &ops, None));
    }
}
