//! `radcam sync`: clock mapping for engineers with their own latch logs, CSV in, CSV out.
//!
//! Inputs: latches `host_before_ns,device_ns,host_after_ns,host_after_read_ns` (the last two
//! may be equal, or either empty where a logger has only one); optional arrivals
//! `device_ns,host_arrival_ns`; queries `device_ns`. Output: `device_ns,host_ns,
//! uncertainty_ns,sync_state`, one row per query, in query order.
//!
//! Causal: the three files are merged by device time (each file in its own order), so a query
//! is answered with only the latches and arrivals at or before its device time. A latch that
//! starts within [`BURST_GAP_NS`] of the previous one's end belongs to the same burst.

use crate::time_limit::possible_times;
use crate::{Error, Result};
use radcam_fusion::audit::AuditLog;
use radcam_fusion::clock::{self, ArrivalSample, ClockSync, LatchSample, SyncPolicy};
use radcam_fusion::sync::{ClockStatus, SyncMonitor, SyncThresholds};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Latches starting within this of the previous latch's end form one burst, ns.
pub const BURST_GAP_NS: i64 = 20_000_000;

/// One answered query.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncAnswer {
    /// Queried device time, ns.
    pub device_ns: i64,
    /// Mapped host time, ns (`None` before the estimator has data).
    pub host_ns: Option<i64>,
    /// One-sigma uncertainty, ns.
    pub uncertainty_ns: Option<f64>,
    /// Sync state at the query.
    pub sync_state: &'static str,
}

/// Reads a CSV of i64 columns (empty cells allowed where `optional`), naming file and line in
/// errors.
fn read_columns(path: &Path, columns: &[&str], optional: &[&str]) -> Result<Vec<Vec<Option<i64>>>> {
    let csv_err = |line: u64, detail: String| Error::Csv {
        path: path.to_owned(),
        line,
        detail,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                path: path.to_owned(),
                source,
            },
            other => csv_err(1, format!("{other:?}")),
        })?;
    let header = rdr
        .headers()
        .map_err(|e| csv_err(1, e.to_string()))?
        .clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            header.iter().position(|h| h == *c).ok_or_else(|| {
                csv_err(
                    1,
                    format!(
                        "missing column '{c}' (header: {})",
                        header.iter().collect::<Vec<_>>().join(",")
                    ),
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let line = n as u64 + 2;
        let rec = rec.map_err(|e| csv_err(line, e.to_string()))?;
        let row = columns
            .iter()
            .zip(&index)
            .map(|(name, &i)| {
                let cell = rec.get(i).unwrap_or("");
                if cell.is_empty() {
                    return if optional.contains(name) {
                        Ok(None)
                    } else {
                        Err(csv_err(line, format!("column '{name}' is empty")))
                    };
                }
                let v = cell.parse::<i64>().map_err(|e| {
                    csv_err(
                        line,
                        format!("column '{name}': '{cell}' is not an integer ns value ({e})"),
                    )
                })?;
                if !possible_times(&[v]) {
                    return Err(csv_err(
                        line,
                        format!(
                            "column '{name}': {v} ns is no time (±2^62 ns, about 146 years, or beyond)"
                        ),
                    ));
                }
                Ok(Some(v))
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(row);
    }
    Ok(rows)
}

enum Event {
    Latch(LatchSample),
    Arrival(ArrivalSample),
    Query(usize, i64),
}

impl Event {
    fn device_ns(&self) -> i64 {
        match self {
            Self::Latch(l) => l.device_ns,
            Self::Arrival(a) => a.device_ns,
            Self::Query(_, d) => *d,
        }
    }
}

/// What `radcam sync` reads and writes.
#[derive(Debug, Clone)]
pub struct SyncCsvRequest {
    /// Latch log.
    pub latches: PathBuf,
    /// Frame arrival log.
    pub arrivals: Option<PathBuf>,
    /// Query device times.
    pub query: PathBuf,
    /// Estimator name.
    pub estimator: String,
    /// Output CSV.
    pub out: PathBuf,
}

/// The answers, and what in the latch log the estimators could not use.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// One answer per query, in query order.
    pub answers: Vec<SyncAnswer>,
    /// Latches read from the log.
    pub latches: usize,
    /// Latches whose `host_after_ns` is before their `host_before_ns`: a bracket that runs
    /// backwards says nothing of when the latch happened, so every estimator skips it.
    pub backwards_latches: usize,
    /// The latch log's line of the first backwards latch (the header is line 1).
    pub first_backwards_line: Option<u64>,
}

/// Answers every query causally; see the module docs.
pub fn answer(req: &SyncCsvRequest) -> Result<SyncOutcome> {
    let estimator = clock::by_name(&req.estimator)?;
    let mut latches = Vec::new();
    let (mut backwards_latches, mut first_backwards_line) = (0, None);
    let mut last_end: Option<i64> = None;
    let mut burst_index = 0u32;
    for (n, r) in read_columns(
        &req.latches,
        &[
            "host_before_ns",
            "device_ns",
            "host_after_ns",
            "host_after_read_ns",
        ],
        &["host_after_ns", "host_after_read_ns"],
    )?
    .into_iter()
    .enumerate()
    {
        let (Some(before), Some(device)) = (r[0], r[1]) else {
            continue;
        };
        let Some(after) = r[2].or(r[3]) else {
            return Err(Error::Csv {
                path: req.latches.clone(),
                line: n as u64 + 2,
                detail: "host_after_ns and host_after_read_ns are both empty".into(),
            });
        };
        let after_read = r[3].unwrap_or(after);
        if after < before {
            backwards_latches += 1;
            first_backwards_line.get_or_insert(n as u64 + 2);
        }
        burst_index = match last_end {
            Some(end) if before - end <= BURST_GAP_NS => burst_index + 1,
            _ => 0,
        };
        last_end = Some(after_read);
        latches.push(Event::Latch(LatchSample {
            host_before_ns: before,
            device_ns: device,
            host_after_ns: after,
            host_after_read_ns: after_read,
            burst_index,
        }));
    }
    let arrivals: Vec<Event> = match &req.arrivals {
        Some(p) => read_columns(p, &["device_ns", "host_arrival_ns"], &[])?
            .into_iter()
            .filter_map(|r| {
                Some(Event::Arrival(ArrivalSample {
                    device_ns: r[0]?,
                    host_arrival_ns: r[1]?,
                }))
            })
            .collect(),
        None => Vec::new(),
    };
    let queries: Vec<Event> = read_columns(&req.query, &["device_ns"], &[])?
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| Some(Event::Query(i, r[0]?)))
        .collect();
    let n_queries = queries.len();
    let n_latches = latches.len();
    // k-way merge by device time, each file in its own order; samples before queries on ties
    let mut streams = [
        latches.into_iter().peekable(),
        arrivals.into_iter().peekable(),
        queries.into_iter().peekable(),
    ];
    let mut sync = ClockSync::new(estimator, SyncPolicy::default());
    let mut monitor = SyncMonitor::new(SyncThresholds::default());
    let mut audit = AuditLog::default();
    let mut last_sample_host: Option<i64> = None;
    let mut answers: Vec<Option<SyncAnswer>> = vec![None; n_queries];
    loop {
        let next = (0..streams.len())
            .filter_map(|k| streams[k].peek().map(|e| (e.device_ns(), k)))
            .min();
        let Some((_, k)) = next else { break };
        let Some(event) = streams[k].next() else {
            break;
        };
        match event {
            Event::Latch(l) => {
                let _ = sync.observe_latch(&l);
                last_sample_host = Some(l.host_after_read_ns);
            }
            Event::Arrival(a) => {
                let _ = sync.observe_arrival(&a);
                if !sync.uses_latches() {
                    last_sample_host = Some(a.host_arrival_ns);
                }
            }
            Event::Query(i, device_ns) => {
                let mapping = sync.map(device_ns);
                let t = mapping.map_or(last_sample_host.unwrap_or(0), |m| m.host_ns);
                let status = ClockStatus {
                    locked: sync.locked(),
                    epoch: sync.epoch(),
                    uncertainty_ns: mapping.map_or(f64::INFINITY, |m| m.uncertainty_ns),
                    last_sample_ns: last_sample_host,
                };
                let state = monitor.evaluate(t, &status, &mut audit);
                answers[i] = Some(SyncAnswer {
                    device_ns,
                    host_ns: mapping.map(|m| m.host_ns),
                    uncertainty_ns: mapping.map(|m| m.uncertainty_ns),
                    sync_state: state.as_str(),
                });
            }
        }
    }
    Ok(SyncOutcome {
        answers: answers.into_iter().flatten().collect(),
        latches: n_latches,
        backwards_latches,
        first_backwards_line,
    })
}

/// Answers the queries and writes the output CSV.
pub fn run(req: &SyncCsvRequest) -> Result<SyncOutcome> {
    let mut inputs = vec![
        (req.latches.as_path(), "the latch log"),
        (req.query.as_path(), "the query file"),
    ];
    inputs.extend(req.arrivals.as_deref().map(|a| (a, "the arrival log")));
    crate::out_path::check_output(&req.out, &inputs)?;
    let outcome = answer(req)?;
    let answers = &outcome.answers;
    let io = |source| Error::Io {
        path: req.out.clone(),
        source,
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(&req.out).map_err(io)?);
    writeln!(w, "device_ns,host_ns,uncertainty_ns,sync_state").map_err(io)?;
    for a in answers {
        let host = a.host_ns.map_or(String::new(), |h| h.to_string());
        let unc = a
            .uncertainty_ns
            .map_or(String::new(), |u| format!("{u:.0}"));
        writeln!(w, "{},{},{},{}", a.device_ns, host, unc, a.sync_state).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).expect("write");
        p
    }

    fn logs(dir: &Path) -> SyncCsvRequest {
        // device = host + 5 s + 20 ppm; latch 40 µs into an 80 µs bracket; bursts of 3 at 2 Hz
        let dev = |t: i64| t + 5_000_000_000 + t / 50_000;
        let mut latches =
            String::from("host_before_ns,device_ns,host_after_ns,host_after_read_ns\n");
        for i in 0..40i64 {
            for k in 0..3i64 {
                let t = 1_000_000_000 + i * 500_000_000 + k * 1_000_000;
                let after_read = if k == 1 {
                    String::new()
                } else {
                    (t + 300_000).to_string()
                };
                latches += &format!("{},{},{},{}\n", t, dev(t + 40_000), t + 80_000, after_read);
            }
        }
        let mut query = String::from("device_ns\n");
        for q in [dev(500_000_000), dev(10_000_000_000), dev(20_000_000_000)] {
            query += &format!("{q}\n");
        }
        SyncCsvRequest {
            latches: write(dir, "l.csv", &latches),
            arrivals: None,
            query: write(dir, "q.csv", &query),
            estimator: "bracket".into(),
            out: dir.join("out.csv"),
        }
    }

    #[test]
    fn answers_each_query_causally_in_query_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let req = logs(dir.path());
        let outcome = run(&req).expect("runs");
        assert_eq!(
            (
                outcome.latches,
                outcome.backwards_latches,
                outcome.first_backwards_line
            ),
            (120, 0, None)
        );
        let a = outcome.answers;
        assert_eq!(a.len(), 3);
        // the first query precedes every latch: nothing to map it with yet
        assert_eq!(a[0].host_ns, None);
        assert_eq!(a[0].sync_state, "FREERUN");
        let h = a[1].host_ns.expect("mapped");
        assert!((h - 10_000_000_000).abs() < 1_000, "{h}");
        assert_eq!(a[2].sync_state, "LOCKED");
        let text = std::fs::read_to_string(&req.out).expect("out");
        assert!(text.starts_with("device_ns,host_ns,uncertainty_ns,sync_state\n"));
        assert_eq!(text.lines().count(), 4);
    }

    #[test]
    fn backwards_brackets_are_counted_and_their_first_line_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut req = logs(dir.path());
        // a logger that wrote its two host reads the other way round: every bracket runs back
        let text = std::fs::read_to_string(&req.latches).expect("read");
        let swapped = text.replacen(
            "host_before_ns,device_ns,host_after_ns",
            "host_after_ns,device_ns,host_before_ns",
            1,
        );
        req.latches = write(dir.path(), "swapped.csv", &swapped);
        let outcome = run(&req).expect("runs");
        assert_eq!(
            (
                outcome.latches,
                outcome.backwards_latches,
                outcome.first_backwards_line
            ),
            (120, 120, Some(2))
        );
        assert!(outcome.answers.iter().all(|a| a.host_ns.is_none()));
        // one backwards latch among good ones: counted at its line, the rest still map
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let cells: Vec<i64> = lines[5]
            .split(',')
            .take(3)
            .map(|c| c.parse().expect("int"))
            .collect();
        lines[5] = format!("{},{},{},", cells[2], cells[1], cells[0]);
        req.latches = write(dir.path(), "one.csv", &(lines.join("\n") + "\n"));
        let outcome = run(&req).expect("runs");
        assert_eq!(
            (outcome.backwards_latches, outcome.first_backwards_line),
            (1, Some(6))
        );
        assert!(outcome.answers[2].host_ns.is_some());
    }

    #[test]
    fn malformed_lines_name_file_line_and_column() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut req = logs(dir.path());
        let header = "host_before_ns,device_ns,host_after_ns,host_after_read_ns";
        // (file, its text, what the error must name)
        let cases = [
            (
                "bad.csv",
                format!("{header}\n1,2,3,4\n5,x6,7,8\n"),
                vec!["bad.csv:3", "device_ns"],
            ),
            (
                "nohdr.csv",
                "a,b\n1,2\n".to_owned(),
                vec!["nohdr.csv:1", "host_before_ns"],
            ),
            ("both.csv", format!("{header}\n1,2,,\n"), vec!["both.csv:2"]),
            (
                "sentinel.csv",
                format!("{header}\n1,2,3,4\n5,9223372036854775807,7,8\n"),
                vec!["sentinel.csv:3", "device_ns", "no time"],
            ),
        ];
        for (name, text, named) in cases {
            req.latches = write(dir.path(), name, &text);
            let msg = run(&req).expect_err(name).to_string();
            assert!(named.iter().all(|n| msg.contains(n)), "{name}: {msg}");
        }
    }

    /// A time of a hostile log: ordinary, or at an edge of what a time can be.
    fn hostile_time() -> impl Strategy<Value = i64> {
        let limit = crate::time_limit::TIME_LIMIT_NS;
        prop_oneof![
            4 => 0i64..100_000_000_000,
            1 => prop::sample::select(vec![0, -1, 1, limit - 1, -limit + 1, limit / 2, -limit / 2]),
            1 => -limit + 1..limit,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any times within the limit a logger could write, in any order, through every
        /// estimator: every query answered, never a panic (overflow checks are on in tests).
        #[test]
        fn any_logged_times_within_the_limit_are_answered_never_a_panic(
            latches in prop::collection::vec(
                (hostile_time(), hostile_time(), hostile_time(), prop::option::of(hostile_time())),
                0..40,
            ),
            arrivals in prop::collection::vec((hostile_time(), hostile_time()), 0..40),
            queries in prop::collection::vec(hostile_time(), 1..20),
            estimator in prop::sample::select(radcam_fusion::clock::ESTIMATOR_NAMES.to_vec()),
        ) {
            let dir = tempfile::tempdir().expect("tmp");
            let mut l = String::from("host_before_ns,device_ns,host_after_ns,host_after_read_ns\n");
            for (b, d, a, r) in &latches {
                let r = r.map_or(String::new(), |r| r.to_string());
                l += &format!("{b},{d},{a},{r}\n");
            }
            let mut ar = String::from("device_ns,host_arrival_ns\n");
            for (d, h) in &arrivals {
                ar += &format!("{d},{h}\n");
            }
            let mut q = String::from("device_ns\n");
            for d in &queries {
                q += &format!("{d}\n");
            }
            let req = SyncCsvRequest {
                latches: write(dir.path(), "l.csv", &l),
                arrivals: Some(write(dir.path(), "a.csv", &ar)),
                query: write(dir.path(), "q.csv", &q),
                estimator: estimator.to_owned(),
                out: dir.path().join("out.csv"),
            };
            let outcome = run(&req).expect("in-range times are answered");
            prop_assert_eq!(outcome.answers.len(), queries.len());
            prop_assert_eq!(outcome.latches, latches.len());
            let backwards = latches.iter().filter(|(b, _, a, _)| a < b).count();
            prop_assert_eq!(outcome.backwards_latches, backwards);
        }
    }
}
