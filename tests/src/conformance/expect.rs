//! What the suite expects of each driver generation, read from `tests/data/driver_expectations.txt`
//! (one row per case and generation, each naming its source). The table is data written from the
//! public driver sources, apart from both mocks: neither reads it.

use nix::errno::Errno;

use super::Outcome;
use gunyah_hypervisor::{Generation, HypResult};

/// The table, built into the suite (Android.bp lists it as `compile_data`).
const TABLE: &str = include_str!("../../data/driver_expectations.txt");

/// One expected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The call succeeds.
    Ok,
    /// The call fails with this errno.
    Errno(Errno),
    /// What the case observes, in the table's words (`signals`, `completes`, `crashed`, ...).
    Word(&'static str),
    /// Nobody has read what this driver does: the case checks only what holds either way.
    Unknown,
}

/// A row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// `area/what`.
    pub case: &'static str,
    /// The generation, by its name (`a14-early`, ...).
    pub generation: &'static str,
    /// The expected answer.
    pub expect: Expect,
    /// Where it was read, and how sure.
    pub source: &'static str,
}

fn parse_expect(word: &'static str) -> Result<Expect, String> {
    Ok(match word {
        "ok" => Expect::Ok,
        "unknown" => Expect::Unknown,
        w if w.starts_with('E') => Expect::Errno(errno_by_name(w)?),
        w => Expect::Word(w),
    })
}

fn errno_by_name(name: &str) -> Result<Errno, String> {
    (1..4096)
        .map(Errno::from_raw)
        .find(|e| format!("{e:?}") == name)
        .ok_or_else(|| format!("{name} is no errno"))
}

/// Every row, or what is wrong with the table (parsed once).
pub fn rows() -> Result<&'static [Row], String> {
    static ROWS: std::sync::OnceLock<Result<Vec<Row>, String>> = std::sync::OnceLock::new();
    ROWS.get_or_init(parse).as_deref().map_err(Clone::clone)
}

fn parse() -> Result<Vec<Row>, String> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, line)| {
            let fields: Vec<&'static str> = line.split(" | ").map(str::trim).collect();
            let [case, generation, expect, source] = fields[..] else {
                return Err(format!(
                    "line {}: not `case | generation | expected | source`",
                    n + 1
                ));
            };
            if Generation::from_name(generation).is_none() {
                return Err(format!("line {}: no generation {generation}", n + 1));
            }
            let sure = ["VERIFIED", "INFERRED", "UNKNOWN", "CHOSEN"];
            if !sure.iter().any(|s| source.contains(s)) {
                return Err(format!(
                    "line {}: the source says neither of {sure:?}",
                    n + 1
                ));
            }
            Ok(Row {
                case,
                generation,
                expect: parse_expect(expect).map_err(|e| format!("line {}: {e}", n + 1))?,
                source,
            })
        })
        .collect()
}

/// What `case` expects of `generation`. Panics (failing the case, which `run` catches) when the
/// table has no such row: every case asks only for rows the table's own test proves are there.
pub fn of(case: &str, generation: Generation) -> Expect {
    let name = generation.name();
    match rows() {
        Ok(rows) => rows
            .iter()
            .find(|r| r.case == case && r.generation == name)
            .map(|r| r.expect)
            .unwrap_or_else(|| {
                panic!("tests/data/driver_expectations.txt has no row {case} | {name}")
            }),
        Err(e) => panic!("tests/data/driver_expectations.txt: {e}"),
    }
}

/// Checks a driver call against the table's `Ok` or errno row for `case`.
pub fn call<T>(case: &str, generation: Generation, result: HypResult<T>) -> Outcome {
    let want = of(case, generation);
    match (want, result) {
        (Expect::Ok, Ok(_)) | (Expect::Unknown, _) => Ok(()),
        (Expect::Errno(e), Err(got)) if got.errno == e => Ok(()),
        (Expect::Errno(e), Err(got)) => Err(format!("{case}: expected {e}, got {}", got.errno)),
        (Expect::Errno(e), Ok(_)) => Err(format!("{case}: expected {e}, but it succeeded")),
        (Expect::Ok, Err(got)) => Err(format!("{case}: expected success, got {}", got.errno)),
        (Expect::Word(w), _) => Err(format!("{case}: the table says {w:?}, not a call's answer")),
    }
}

/// Checks what a case observed, in the table's words (`ok`, an errno's name, or a word), against
/// the row for `case`.
pub fn observed(case: &str, generation: Generation, seen: &str) -> Outcome {
    let matches = match of(case, generation) {
        Expect::Unknown => true,
        Expect::Ok => seen == "ok",
        Expect::Errno(e) => seen == format!("{e:?}"),
        Expect::Word(w) => seen == w,
    };
    if matches {
        Ok(())
    } else {
        Err(format!(
            "{case}: expected {}, observed {seen:?}",
            describe(of(case, generation))
        ))
    }
}

/// An expectation in the table's words.
fn describe(want: Expect) -> String {
    match want {
        Expect::Ok => "ok".into(),
        Expect::Errno(e) => format!("{e:?}"),
        Expect::Word(w) => w.into(),
        Expect::Unknown => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_case_has_one_row_per_generation() {
        let rows = rows().expect("the table parses");
        let generations = Generation::ALL
            .into_iter()
            .filter(|g| *g != Generation::Upstream);
        let mut cases: Vec<&str> = rows.iter().map(|r| r.case).collect();
        cases.dedup();
        assert!(cases.len() > 20, "{} cases", cases.len());
        for case in cases {
            for g in generations.clone() {
                let n = rows
                    .iter()
                    .filter(|r| r.case == case && r.generation == g.name())
                    .count();
                assert_eq!(n, 1, "{case} | {g}: {n} rows");
            }
        }
    }

    #[test]
    fn test_words_parse() {
        assert_eq!(parse_expect("EEXIST"), Ok(Expect::Errno(Errno::EEXIST)));
        assert_eq!(parse_expect("ok"), Ok(Expect::Ok));
        assert_eq!(parse_expect("signals"), Ok(Expect::Word("signals")));
        assert!(parse_expect("ENOTANERRNO").is_err());
    }
}
