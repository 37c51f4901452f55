//! Value parsers shared by the subcommands. Each error names what was wrong and what is
//! accepted; clap puts it on one line after the option's name, and `main` exits with status 2.

use std::time::Duration;

use crate::keys;

/// A count: digits with optional `_`, and an optional `K` (×1,000) or `M` (×1,000,000) suffix.
/// Zero is rejected.
pub(crate) fn count(text: &str) -> Result<usize, String> {
    keys::parse_count(text)
}

/// The most threads any experiment starts (`stress`, `crash`, `wrappers`, each of `throughput`'s
/// counts): more is a typo rather than an experiment, and would run into the process's limits
/// on threads and memory.
pub(crate) const MAX_THREADS: usize = 4096;

/// A thread count: a count, at most [`MAX_THREADS`].
pub(crate) fn threads(text: &str) -> Result<usize, String> {
    at_most(count(text)?, MAX_THREADS, "threads")
}

/// A thread count that may be zero (`grow --readers`), at most [`MAX_THREADS`]. Until session
/// 30 (a review) `--readers` had no ceiling: 5,000 spinning readers starved the writer.
pub(crate) fn threads_or_none(text: &str) -> Result<usize, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    threads(text)
}

/// `value` if it is at most `max`, else an error naming the limit in `unit`s.
pub(crate) fn at_most(value: usize, max: usize, unit: &str) -> Result<usize, String> {
    if value > max {
        return Err(format!("at most {max} {unit}"));
    }
    Ok(value)
}

/// A comma-separated list of counts (`1,2,4`, `100K,1M`), none of them zero, none twice (a
/// repeat would only repeat a row or a column of the results).
pub(crate) fn count_list(text: &str) -> Result<Vec<usize>, String> {
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err("an empty list (examples: 1,2,4 or 100K,1M)".to_owned());
    }
    let mut values: Vec<(&str, usize)> = Vec::with_capacity(items.len());
    for item in items {
        let value = count(item)?;
        if let Some((first, _)) = values.iter().find(|(_, v)| *v == value) {
            return Err(if *first == item {
                format!("'{item}' is given twice (give each value once)")
            } else {
                format!("'{first}' and '{item}' are both {value} (give each value once)")
            });
        }
        values.push((item, value));
    }
    Ok(values.into_iter().map(|(_, value)| value).collect())
}

/// A comma-separated list of thread counts: a [`count_list`], each at most [`MAX_THREADS`].
pub(crate) fn thread_list(text: &str) -> Result<Vec<usize>, String> {
    count_list(text)?
        .into_iter()
        .map(|n| at_most(n, MAX_THREADS, "threads"))
        .collect()
}

/// The most keys an experiment takes (`grow --keys`, `wrappers --keys`): 2^30, as for
/// `throughput --log2`. Every map holds them at once in memory (about 50–100 bytes per key), so
/// more would only end in an out-of-memory abort minutes into the run; until session 32 (a
/// review) `--keys` had no ceiling.
pub(crate) const MAX_KEYS: usize = 1 << 30;

/// A key count: a count, at most [`MAX_KEYS`].
pub(crate) fn keys(text: &str) -> Result<usize, String> {
    at_most(count(text)?, MAX_KEYS, "keys")
}

/// A comma-separated list of key counts: a [`count_list`], each at most [`MAX_KEYS`].
pub(crate) fn key_list(text: &str) -> Result<Vec<usize>, String> {
    count_list(text)?
        .into_iter()
        .map(|n| at_most(n, MAX_KEYS, "keys"))
        .collect()
}

/// A duration: a number with a unit, `ms`, `s` or `m` (`500ms`, `10s`, `1.5s`, `2m`); a bare
/// number is seconds. Zero is rejected.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("not a duration: '{text}' (examples: 500ms, 10s, 1.5s, 2m)");
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    let seconds = value * scale;
    if seconds < 1e-3 {
        return Err(format!("duration '{text}' is too short (at least 1ms)"));
    }
    if seconds > 7.0 * 86_400.0 {
        return Err(format!("duration '{text}' is too long (at most a week)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A percentage, 0..=100.
pub(crate) fn percent(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| format!("not a percentage: '{text}' (an integer in 0..=100)"))
}

/// A comma-separated list of names, each one of `accepted` (or `all` for every one), in the
/// order given. A name given twice, or beside `all`, is an error: it would only repeat a row
/// or a column of the results.
pub(crate) fn name_list<T: Copy + PartialEq>(
    text: &str,
    accepted: &[(&'static str, T)],
) -> Result<Vec<T>, String> {
    let names: Vec<&str> = accepted.iter().map(|(n, _)| *n).collect();
    let given: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    // Every name resolved first (`None` for `all`), so that an unknown one is named as such
    // wherever it stands: `all,bogus` names `bogus` as unknown rather than as a name `all`
    // includes (found by a black-box test in session 23).
    let resolved = given
        .iter()
        .map(|&name| {
            if name == "all" {
                return Ok(None);
            }
            accepted
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| Some(*value))
                .ok_or_else(|| {
                    format!(
                        "unknown name '{name}' (accepted: {}, all)",
                        names.join(", ")
                    )
                })
        })
        .collect::<Result<Vec<Option<T>>, String>>()?;
    let mut chosen = Vec::new();
    for (index, (&name, value)) in given.iter().zip(resolved).enumerate() {
        if given[..index].contains(&name) {
            return Err(format!("'{name}' is given twice (give each name once)"));
        }
        let Some(value) = value else {
            if let Some(other) = given.iter().find(|n| **n != "all") {
                return Err(format!(
                    "'all' already includes '{other}' (give 'all' alone, or the names)"
                ));
            }
            chosen.extend(accepted.iter().map(|(_, value)| *value));
            continue;
        };
        if chosen.contains(&value) {
            // Two names for one thing (an alias): the same repeat.
            return Err(format!(
                "'{name}' names the same as an earlier name (give each once)"
            ));
        }
        chosen.push(value);
    }
    if chosen.is_empty() {
        return Err(format!(
            "no name given (accepted: {}, all)",
            names.join(", ")
        ));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_reject_nonsense() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "abc", "-1s", "0s", "10h", "NaNs"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_lists_expand_all_and_reject_unknown_names() {
        let accepted = [("a", 1), ("b", 2)];
        assert_eq!(name_list("b,a", &accepted), Ok(vec![2, 1]));
        assert_eq!(name_list("all", &accepted), Ok(vec![1, 2]));
        let err = name_list("c", &accepted).unwrap_err();
        assert!(err.contains("unknown name 'c'") && err.contains("accepted: a, b, all"));
        assert!(name_list(" , ", &accepted).is_err());
    }

    #[test]
    fn thread_counts_have_a_ceiling() {
        assert_eq!(threads("4096"), Ok(4096));
        assert_eq!(threads("4097"), Err("at most 4096 threads".to_owned()));
        assert!(threads("0").is_err());
    }

    #[test]
    fn key_counts_have_a_ceiling() {
        assert_eq!(
            keys("1G"),
            Err("not a count (examples: 1000, 100K, 8M)".to_owned())
        );
        assert_eq!(keys("1100M"), Err(format!("at most {MAX_KEYS} keys")));
        assert_eq!(keys("1000M"), Ok(1_000_000_000));
        assert_eq!(
            key_list("4M,2000M"),
            Err(format!("at most {MAX_KEYS} keys"))
        );
        assert_eq!(key_list("200K,4M"), Ok(vec![200_000, 4_000_000]));
    }

    #[test]
    fn count_lists_reject_zero_and_garbage() {
        assert_eq!(count_list("1,2,4"), Ok(vec![1, 2, 4]));
        assert_eq!(count_list("100K,1M"), Ok(vec![100_000, 1_000_000]));
        assert!(count_list("0").is_err());
        assert!(count_list("x").is_err());
        assert!(count_list("").is_err());
    }

    #[test]
    fn a_list_that_names_a_value_twice_is_rejected() {
        let accepted = [("a", 1), ("b", 2)];
        assert_eq!(
            name_list("b,a,b", &accepted),
            Err("'b' is given twice (give each name once)".to_owned())
        );
        assert!(name_list("all,all", &accepted).is_err());
        assert_eq!(
            name_list("all,a", &accepted),
            Err("'all' already includes 'a' (give 'all' alone, or the names)".to_owned())
        );
        assert!(name_list("a,all", &accepted).is_err());
        assert_eq!(
            name_list("all,c", &accepted),
            Err("unknown name 'c' (accepted: a, b, all)".to_owned())
        );
        let aliased = [("a", 1), ("alias-of-a", 1)];
        assert_eq!(
            name_list("a,alias-of-a", &aliased),
            Err("'alias-of-a' names the same as an earlier name (give each once)".to_owned())
        );
        assert_eq!(
            count_list("1,2,2"),
            Err("'2' is given twice (give each value once)".to_owned())
        );
        assert_eq!(
            count_list("1K,1000"),
            Err("'1K' and '1000' are both 1000 (give each value once)".to_owned())
        );
        assert_eq!(
            count_list("1,2, 1"),
            Err("'1' is given twice (give each value once)".to_owned())
        );
    }

    #[test]
    fn thread_lists_have_the_same_ceiling_as_thread_counts() {
        assert_eq!(thread_list("1,4096"), Ok(vec![1, 4096]));
        assert_eq!(
            thread_list("1,4097"),
            Err("at most 4096 threads".to_owned())
        );
    }
}
