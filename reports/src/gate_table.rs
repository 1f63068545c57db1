//! The gate table printed at the end of a run.

use radcam_fusion::gates::{Evidence, GateResult};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The report metadata key holding the log time of the recording's first message, ns: the
/// origin of every "seconds from the recording's first message" (fault plans,
/// `diagnose --window`, `extract --window`).
pub const RECORDING_START_KEY: &str = "recording_start_ns";

/// The recording's first message's log time (ns) a report's metadata names; `None` for a
/// report written before it was recorded, or a value that is not a number.
pub fn recording_start_ns(metadata: &BTreeMap<String, String>) -> Option<i64> {
    metadata.get(RECORDING_START_KEY)?.parse().ok()
}

/// `e`'s window in seconds from the recording's first message (`origin_ns`), as `A..B` the way
/// `diagnose --window` and `extract --window` take it: whole milliseconds, widened outward so
/// the window holds all of `e`'s, its start 0 at the earliest (a window aligned to log time can
/// begin before the first message).
pub fn window_from_start(e: &Evidence, origin_ns: i64) -> String {
    span_from_start(e.start_ns, e.end_ns, origin_ns)
}

/// The log-time span `start_ns..end_ns` in seconds from the recording's first message
/// (`origin_ns`), written as [`window_from_start`] writes a window.
pub fn span_from_start(start_ns: i64, end_ns: i64, origin_ns: i64) -> String {
    let (start_ms, end_ms) = ms_from_start(start_ns, end_ns, origin_ns);
    format!("{}..{}", seconds(start_ms), seconds(end_ms))
}

/// `start_ns..end_ns` in whole milliseconds from `origin_ns`, widened outward, the start 0 at
/// the earliest.
fn ms_from_start(start_ns: i64, end_ns: i64, origin_ns: i64) -> (i64, i64) {
    const NS_PER_MS: i64 = 1_000_000;
    let start_ms = start_ns
        .saturating_sub(origin_ns)
        .max(0)
        .div_euclid(NS_PER_MS);
    let end_ms = end_ns
        .saturating_sub(origin_ns)
        .max(0)
        .saturating_add(NS_PER_MS - 1)
        .div_euclid(NS_PER_MS);
    (start_ms, end_ms)
}

/// `ms` as seconds with no trailing zeros: 50000 → `50`, 49877 → `49.877`.
fn seconds(ms: i64) -> String {
    let (whole, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
    }
}

/// Renders the gate table as fixed-width text; a gate that did not pass is followed by its
/// worst window, in seconds from the recording's first message when `origin_ns` (its log time,
/// ns) is known.
pub fn gate_table(results: &[GateResult], origin_ns: Option<i64>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:<32} {:>4} {:>10} {:>12} {:>8}  verdict",
        "gate", "metric", "cmp", "threshold", "value", "samples"
    );
    for r in results {
        let value = r
            .value
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
        let _ = writeln!(
            s,
            "{:<22} {:<32} {:>4} {:>10} {:>12} {:>8}  {}",
            r.gate.name,
            r.gate.metric,
            r.gate.comparator.as_str(),
            r.gate.threshold,
            value,
            r.samples,
            r.verdict.as_str()
        );
    }
    for r in results
        .iter()
        .filter(|r| r.verdict != radcam_fusion::gates::Verdict::Pass)
    {
        if let Some(e) = r.evidence {
            let from_start = origin_ns.map_or_else(String::new, |t0| {
                format!(" {} s from the start", window_from_start(&e, t0))
            });
            let _ = writeln!(
                s,
                "  {}: worst {} s window{from_start} (log time [{}, {}) ns): {} = {:.4}",
                r.gate.name,
                (e.end_ns - e.start_ns) / 1_000_000_000,
                e.start_ns,
                e.end_ns,
                r.gate.metric,
                e.value
            );
        }
    }
    s
}

/// Renders the baseline comparison as fixed-width text.
pub fn baseline_table(rows: &[radcam_fusion::gates::BaselineRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:<32} {:>12} {:>12} {:>12}  result",
        "gate", "metric", "baseline", "now", "allowed"
    );
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    for r in rows {
        let _ = writeln!(
            s,
            "{:<22} {:<32} {:>12} {:>12} {:>12}  {}{}",
            r.gate,
            r.metric,
            num(r.old),
            num(r.new),
            format!("{:.4}", r.allowed),
            if r.regressed { "REGRESSION: " } else { "" },
            r.note
        );
    }
    s
}

/// The gate results as JSON: one object per gate, with its evidence window when known (and
/// that window in seconds from the recording's first message, `start_s` and `end_s` as
/// [`window_from_start`] gives them, when `origin_ns`, its log time, is known).
pub fn gates_json(results: &[GateResult], origin_ns: Option<i64>) -> serde_json::Value {
    let num = |v: f64| {
        if v.is_finite() {
            serde_json::json!(v)
        } else {
            serde_json::Value::Null
        }
    };
    serde_json::Value::Array(
        results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "gate": r.gate.name,
                    "metric": r.gate.metric,
                    "comparator": r.gate.comparator.as_str(),
                    "threshold": num(r.gate.threshold),
                    "value": r.value.map(num),
                    "samples": r.samples,
                    "min_samples": r.gate.min_samples,
                    "required": r.gate.required,
                    "window_s": r.gate.window_s,
                    "verdict": r.verdict.as_str(),
                    "evidence": r.evidence.map(|e| {
                        let mut evidence = serde_json::json!({
                            "log_time_start_ns": e.start_ns,
                            "log_time_end_ns": e.end_ns,
                            "value": num(e.value),
                        });
                        if let Some(t0) = origin_ns {
                            let (a, b) = ms_from_start(e.start_ns, e.end_ns, t0);
                            evidence["start_s"] = (a as f64 / 1e3).into();
                            evidence["end_s"] = (b as f64 / 1e3).into();
                        }
                        evidence
                    }),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_table_snapshot() {
        insta::assert_snapshot!(gate_table(&crate::sample_results(), None));
    }

    /// A regression's note gives the worsening with the table's four decimals.
    #[test]
    fn baseline_table_snapshot() {
        let old = crate::sample_results();
        let mut new = old.clone();
        new[0].value = new[0].value.map(|v| v * 1.5);
        let rows = crate::compare_to_baseline(&old, &new, |_| Default::default());
        assert!(rows[0].regressed, "{:?}", rows[0]);
        insta::assert_snapshot!(baseline_table(&rows));
    }

    fn evidence(start_ns: i64, end_ns: i64) -> Evidence {
        Evidence {
            start_ns,
            end_ns,
            value: 1.0,
            samples: 1,
        }
    }

    #[test]
    fn a_window_is_in_seconds_from_the_start_widened_to_whole_milliseconds() {
        let s = 1_000_000_000;
        // aligned to the origin
        assert_eq!(
            window_from_start(&evidence(1050 * s, 1060 * s), 1000 * s),
            "50..60"
        );
        // an origin off the 10 s grid: the start rounds down, the end up
        let t0 = 1000 * s + 123_456_789;
        assert_eq!(
            window_from_start(&evidence(1050 * s, 1060 * s), t0),
            "49.876..59.877"
        );
        // the first window begins before the first message
        assert_eq!(
            window_from_start(&evidence(1000 * s, 1010 * s), t0),
            "0..9.877"
        );
        // an end exactly on a millisecond stays there; leading zeros of the fraction kept
        assert_eq!(
            window_from_start(
                &evidence(1000 * s + 5_000_000, 1000 * s + 70_000_000),
                1000 * s
            ),
            "0.005..0.07"
        );
        // log times far from the origin do not overflow
        assert_eq!(
            window_from_start(&evidence(i64::MIN, i64::MAX), i64::MAX),
            "0..0"
        );
    }

    #[test]
    fn a_failed_gate_names_its_window_from_the_start_when_the_origin_is_known() {
        let mut r = crate::sample_results();
        let s = 1_000_000_000;
        for g in &mut r {
            g.evidence = Some(evidence(1050 * s, 1060 * s));
        }
        let with = gate_table(&r, Some(1000 * s));
        assert!(
            with.contains(
                "track_id_switch_rate: worst 10 s window 50..60 s from the start \
                 (log time [1050000000000, 1060000000000) ns)"
            ),
            "{with}"
        );
        let without = gate_table(&r, None);
        assert!(
            without.contains(
                "track_id_switch_rate: worst 10 s window (log time [1050000000000, \
                 1060000000000) ns)"
            ),
            "{without}"
        );
        // passed gates name no window
        assert!(!with.contains("sync_p999: worst"), "{with}");
        let json = gates_json(&r, Some(1000 * s + 123_456_789));
        assert_eq!(json[2]["evidence"]["start_s"], 49.876);
        assert_eq!(json[2]["evidence"]["end_s"], 59.877);
        let without = gates_json(&r, None);
        assert!(without[2]["evidence"].get("start_s").is_none());
        assert!(without[2]["evidence"].get("end_s").is_none());
    }

    #[test]
    fn the_origin_is_read_from_the_metadata() {
        let meta = |v: &str| BTreeMap::from([(RECORDING_START_KEY.to_owned(), v.to_owned())]);
        assert_eq!(
            recording_start_ns(&meta("1000000000000")),
            Some(1_000_000_000_000)
        );
        assert_eq!(recording_start_ns(&meta("soon")), None);
        assert_eq!(recording_start_ns(&BTreeMap::new()), None);
    }
}
