//! Acceptance gates: a metric, a comparator and a threshold, evaluated to PASS, FAIL or
//! INCONCLUSIVE.

use crate::stats::Summary;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// How a metric's value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// value <= threshold
    Le,
    /// value < threshold
    Lt,
    /// value >= threshold
    Ge,
    /// value > threshold
    Gt,
}

impl Comparator {
    /// As written in gate files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Le => "<=",
            Self::Lt => "<",
            Self::Ge => ">=",
            Self::Gt => ">",
        }
    }

    /// Parses `<=`, `<`, `>=`, `>`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<=" => Self::Le,
            "<" => Self::Lt,
            ">=" => Self::Ge,
            ">" => Self::Gt,
            _ => return None,
        })
    }

    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Le => value <= threshold,
            Self::Lt => value < threshold,
            Self::Ge => value >= threshold,
            Self::Gt => value > threshold,
        }
    }
}

/// A gate definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// Gate name, e.g. `sync_p999`.
    pub name: String,
    /// Metric path: a distribution and a statistic (`sync_error_us.p999`) or a rate.
    pub metric: String,
    /// Comparator.
    pub comparator: Comparator,
    /// Threshold, in the metric's unit.
    pub threshold: f64,
    /// Fewer samples than this make the verdict INCONCLUSIVE.
    pub min_samples: u64,
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Enough samples, and the comparison holds.
    Pass,
    /// Enough samples, and the comparison fails.
    Fail,
    /// Too few samples to judge; fails the run.
    Inconclusive,
}

impl Verdict {
    /// `PASS`, `FAIL`, `INCONCLUSIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// A gate with its evaluated value.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    /// The gate.
    pub gate: Gate,
    /// The metric's value, when there were samples.
    pub value: Option<f64>,
    /// Samples the value rests on.
    pub samples: u64,
    /// Verdict.
    pub verdict: Verdict,
}

/// A computed metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A distribution of samples (unit in the metric name).
    Distribution(Vec<f64>),
    /// A ratio of counts: numerator over denominator; the denominator is the sample count.
    Ratio {
        /// Events counted.
        numerator: u64,
        /// Opportunities counted.
        denominator: u64,
    },
}

/// Every metric a run computed, by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSet {
    /// Metrics by name, e.g. `sync_error_us`, `track_id_switch_rate`.
    pub metrics: BTreeMap<String, Metric>,
}

impl MetricSet {
    /// The value and sample count of a metric path. `Err` for an unknown path.
    pub fn lookup(&self, gate: &str, path: &str) -> Result<(Option<f64>, u64)> {
        let unknown = || Error::UnknownMetric {
            gate: gate.to_owned(),
            metric: path.to_owned(),
            known: self.known_paths().join(", "),
        };
        if let Some(Metric::Ratio {
            numerator,
            denominator,
        }) = self.metrics.get(path)
        {
            let v = (*denominator > 0).then(|| *numerator as f64 / *denominator as f64);
            return Ok((v, *denominator));
        }
        let (name, stat) = path.rsplit_once('.').ok_or_else(unknown)?;
        match self.metrics.get(name) {
            Some(Metric::Distribution(v)) if Summary::STATS.contains(&stat) => {
                Ok(match Summary::of(v) {
                    Some(s) => (s.stat(stat), s.samples),
                    None => (None, 0),
                })
            }
            _ => Err(unknown()),
        }
    }

    /// Every metric path that [`MetricSet::lookup`] accepts, sorted.
    pub fn known_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, m) in &self.metrics {
            match m {
                Metric::Ratio { .. } => out.push(name.clone()),
                Metric::Distribution(_) => {
                    out.extend(Summary::STATS.iter().map(|s| format!("{name}.{s}")))
                }
            }
        }
        out
    }
}

/// The seed's gates: sync error P99.9, reprojection residual, track id switch rate.
pub fn default_gates() -> Vec<Gate> {
    vec![
        Gate {
            name: "sync_p999".into(),
            metric: "sync_error_us.p999".into(),
            comparator: Comparator::Le,
            threshold: 500.0,
            min_samples: 100,
        },
        Gate {
            name: "reprojection_p95".into(),
            metric: "reprojection_residual_px.p95".into(),
            comparator: Comparator::Le,
            threshold: 20.0,
            min_samples: 100,
        },
        Gate {
            name: "track_id_switch_rate".into(),
            metric: "track_id_switch_rate".into(),
            comparator: Comparator::Le,
            threshold: 0.01,
            min_samples: 100,
        },
    ]
}

/// Evaluates `gates` against `metrics`. An unknown metric is an error (bad gate input).
pub fn evaluate(gates: &[Gate], metrics: &MetricSet) -> Result<Vec<GateResult>> {
    gates
        .iter()
        .map(|g| {
            let (value, samples) = metrics.lookup(&g.name, &g.metric)?;
            let verdict = match value {
                Some(v) if samples >= g.min_samples.max(1) => {
                    if g.comparator.holds(v, g.threshold) {
                        Verdict::Pass
                    } else {
                        Verdict::Fail
                    }
                }
                _ => Verdict::Inconclusive,
            };
            Ok(GateResult {
                gate: g.clone(),
                value,
                samples,
                verdict,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> MetricSet {
        let mut m = MetricSet::default();
        m.metrics.insert(
            "sync_error_us".into(),
            Metric::Distribution((0..1000).map(f64::from).collect()),
        );
        m.metrics.insert(
            "track_id_switch_rate".into(),
            Metric::Ratio {
                numerator: 5,
                denominator: 1000,
            },
        );
        m.metrics.insert(
            "reprojection_residual_px".into(),
            Metric::Distribution(vec![]),
        );
        m
    }

    #[test]
    fn verdicts_follow_values_and_sample_counts() {
        let r = evaluate(&default_gates(), &metrics()).expect("known metrics");
        assert_eq!(r[0].verdict, Verdict::Fail, "{:?}", r[0]); // p999 of 0..999 is 998.001 > 500
        assert_eq!(r[1].verdict, Verdict::Inconclusive);
        assert_eq!(r[1].samples, 0);
        assert_eq!(r[2].verdict, Verdict::Pass);
        assert_eq!(r[2].value, Some(0.005));
    }

    #[test]
    fn unknown_metric_lists_the_known_ones() {
        let mut g = default_gates();
        g[0].metric = "sync_eror_us.p999".into();
        let err = evaluate(&g, &metrics()).expect_err("unknown");
        let msg = err.to_string();
        assert!(
            msg.contains("sync_error_us.p999") && msg.contains("track_id_switch_rate"),
            "{msg}"
        );
    }
}
