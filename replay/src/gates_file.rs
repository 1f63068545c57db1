//! The gates file (`--gates FILE`, TOML):
//!
//! ```toml
//! [[gate]]
//! name = "sync_p999"
//! metric = "sync_error_us.p999"   # metric name + statistic
//! comparator = "<="               # <=, <, >=, >
//! threshold = 500.0
//! required = true                 # optional (default true): false reports without failing
//! min_samples = 100               # optional (default 1): fewer samples is INCONCLUSIVE
//! window = "10s"                  # optional: every 10 s window with >= min_samples must pass
//! ```
//!
//! `window` is a duration with a unit (`ms`, `s`, `min`, `h`); without it the whole run is
//! judged at once. Unknown keys are errors. Metric names are checked against what a replay
//! computes before any work starts.

use crate::{Error, Result};
use radcam_fusion::gates::{Comparator, Gate};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatesFile {
    gate: Vec<GateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateEntry {
    name: String,
    metric: String,
    comparator: String,
    threshold: f64,
    #[serde(default = "default_required")]
    required: bool,
    #[serde(default = "default_min_samples")]
    min_samples: u64,
    #[serde(default)]
    window: Option<String>,
}

/// Parses a window duration such as `10s`, `500ms`, `5min`, `1h` into seconds.
fn parse_window(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().ok()?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let s = v * scale;
    (s.is_finite() && s >= 0.001).then_some(s)
}

fn default_required() -> bool {
    true
}

fn default_min_samples() -> u64 {
    1
}

/// Parses gates TOML; `path` names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Gate>> {
    let bad = |message: String| Error::Config {
        path: path.to_owned(),
        message,
    };
    let file: GatesFile =
        toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_owned()))?;
    if file.gate.is_empty() {
        return Err(bad("no [[gate]] entries".into()));
    }
    let known = crate::runner::known_metric_paths();
    let mut names = std::collections::BTreeSet::new();
    file.gate
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            if !names.insert(g.name.clone()) {
                return Err(bad(format!(
                    "gate[{i}].name: duplicate gate name '{}'",
                    g.name
                )));
            }
            let comparator = Comparator::parse(&g.comparator).ok_or_else(|| {
                bad(format!(
                    "gate[{i}].comparator: '{}' is not one of <=, <, >=, >",
                    g.comparator
                ))
            })?;
            if !known.contains(&g.metric) {
                return Err(bad(format!(
                    "gate[{i}].metric: {}",
                    crate::runner::unknown_metric(&g.metric)
                )));
            }
            if !g.threshold.is_finite() {
                return Err(bad(format!("gate[{i}].threshold: must be a finite number")));
            }
            let window_s = match &g.window {
                None => None,
                Some(w) => Some(parse_window(w).ok_or_else(|| {
                    bad(format!(
                        "gate[{i}].window: '{w}' is not a duration like \"10s\", \"500ms\", \"5min\", \"1h\" (at least 1 ms)"
                    ))
                })?),
            };
            Ok(Gate {
                name: g.name,
                metric: g.metric,
                comparator,
                threshold: g.threshold,
                min_samples: g.min_samples,
                required: g.required,
                window_s,
            })
        })
        .collect()
}

/// Reads and parses a gates file.
pub fn load(path: &Path) -> Result<Vec<Gate>> {
    parse(&crate::read_text(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gates_with_defaults() {
        let g = parse(
            "[[gate]]\nname = \"a\"\nmetric = \"sync_error_us.p999\"\ncomparator = \"<=\"\nthreshold = 500.0\n\n[[gate]]\nname = \"b\"\nmetric = \"track_id_switch_rate\"\ncomparator = \"<\"\nthreshold = 0.1\nrequired = false\nmin_samples = 50\n",
            Path::new("g.toml"),
        )
        .expect("parses");
        assert_eq!(g.len(), 2);
        assert!(g[0].required && g[0].min_samples == 1);
        assert!(!g[1].required && g[1].min_samples == 50 && g[1].comparator == Comparator::Lt);
        assert_eq!((g[0].window_s, g[1].window_s), (None, None));
    }

    #[test]
    fn windows_take_units() {
        for (text, s) in [
            ("10s", 10.0),
            ("500ms", 0.5),
            ("5min", 300.0),
            ("1h", 3600.0),
            ("2.5 s", 2.5),
        ] {
            assert_eq!(parse_window(text), Some(s), "{text}");
        }
        for bad in ["10", "s", "-1s", "0s", "10 parsecs", "1e400s"] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse("[[gate]]\nname = \"a\"\nmetric = \"sync_eror_us.p99\"\ncomparator = \"<=\"\nthreshold = 1.0\n", Path::new("g.toml"))
            .expect_err("unknown metric")
            .to_string();
        assert!(
            e.contains("gate[0].metric: unknown metric 'sync_eror_us.p99' (did you mean 'sync_error_us.p99'?)"),
            "{e}"
        );
        // the nearest name when one is close; the known ones grouped, never all 117 paths
        for (metric, nearest) in [
            ("assocation_fail_rate", Some("association_fail_rate")),
            ("e2e_latency_p999", Some("latency_e2e_ms.p999")),
            ("latency_e2e_ms.p99.9", Some("latency_e2e_ms.p999")),
            ("sync_error_us", Some("sync_error_us.p99")),
            ("wobble", None),
        ] {
            let e = crate::runner::unknown_metric(metric);
            assert_eq!(
                e.contains("did you mean"),
                nearest.is_some(),
                "{metric}: {e}"
            );
            if let Some(n) = nearest {
                assert!(e.contains(&format!("(did you mean '{n}'?)")), "{e}");
            }
            assert!(
                e.contains("the rates association_fail_rate, frame_drop_rate")
                    && e.contains("sync_error_us, tx_queue_latency_control_ms")
                    && e.ends_with("one of p50, p95, p99, p999, mean, max")
                    && !e.contains("sync_error_us.p50"),
                "{e}"
            );
        }
        let e = parse("[[gate]]\nname = \"a\"\nmetric = \"sync_error_us.p99\"\ncomparator = \"=<\"\nthreshold = 1.0\n", Path::new("g.toml"))
            .expect_err("bad comparator")
            .to_string();
        assert!(
            e.contains("g.toml") && e.contains("gate[0].comparator"),
            "{e}"
        );
        let e = parse("[[gate]]\nname = \"a\"\nmetric = \"sync_error_us.p99\"\ncomparator = \"<=\"\nthreshold = 1.0\nwindow = \"10 parsecs\"\n", Path::new("g.toml"))
            .expect_err("window")
            .to_string();
        assert!(
            e.contains("gate[0].window") && e.contains("10 parsecs"),
            "{e}"
        );
        let e = parse("[[gate]]\nname = \"a\"\nmetric = \"sync_error_us.p99\"\ncomparator = \"<=\"\nthreshold = 1.0\nwindw = \"1s\"\n", Path::new("g.toml"))
            .expect_err("unknown key")
            .to_string();
        assert!(e.contains("windw") && e.contains("line"), "{e}");
        let e = parse("[[gate]]\nname = ", Path::new("g.toml"))
            .expect_err("syntax")
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
