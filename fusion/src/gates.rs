//! Acceptance gates: a metric, a comparator and a threshold, evaluated to PASS, FAIL or
//! INCONCLUSIVE.

use crate::stats::Summary;
use crate::timeline::{DistributionResult, RateResult};
use crate::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Whether a FAIL or INCONCLUSIVE verdict fails the run (otherwise it is only reported).
    pub required: bool,
    /// Per-window gate: every window of this many seconds of log time (aligned to multiples
    /// of it) that has at least `min_samples` samples must pass; the value is the worst such
    /// window's. `None`: the whole run is one sample set.
    pub window_s: Option<f64>,
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
    /// Parses `PASS`, `FAIL`, `INCONCLUSIVE`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PASS" => Self::Pass,
            "FAIL" => Self::Fail,
            "INCONCLUSIVE" => Self::Inconclusive,
            _ => return None,
        })
    }

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
    /// The worst window of the metric, where the run has a timeline for it.
    pub evidence: Option<Evidence>,
}

/// Length of the windows evidence is sought in, ns (aligned to multiples of it in log time).
pub const EVIDENCE_WINDOW_NS: i64 = 10_000_000_000;

/// Where a gate's metric was worst: a window of log time and the metric's value in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Window start, host log time ns (inclusive).
    pub start_ns: i64,
    /// Window end, host log time ns (exclusive).
    pub end_ns: i64,
    /// The metric's value in the window.
    pub value: f64,
    /// Samples in the window.
    pub samples: u64,
}

/// A metric summarised per window of one length, by window index (window start = index ×
/// length, in log time ns).
#[derive(Debug, Clone, PartialEq)]
pub enum WindowSeries {
    /// A distribution's summary in every window with a finite sample.
    Distribution(Vec<(i64, Summary)>),
    /// A rate's (numerator, denominator) in every window with an increment.
    Rate(Vec<(i64, u64, u64)>),
}

/// A computed metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A distribution's summary (unit in the metric name); `None` without a finite sample.
    Distribution(Option<Summary>),
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
    /// Per-window series by window length (ns), then metric name, where known: the source of
    /// gate evidence and of windowed gates. A run computes the lengths
    /// [`window_lengths_ns`] asks for.
    pub windows: BTreeMap<i64, BTreeMap<String, WindowSeries>>,
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
            Some(Metric::Distribution(summary)) if Summary::STATS.contains(&stat) => {
                Ok(match summary {
                    Some(s) => (s.stat(stat), s.samples),
                    None => (None, 0),
                })
            }
            _ => Err(unknown()),
        }
    }

    /// The worst window of `path` (a distribution statistic or a rate) for `comparator`: the
    /// largest value for `<`/`<=` gates, the smallest for `>`/`>=`; ties go to the earliest.
    pub fn evidence(&self, path: &str, comparator: Comparator) -> Option<Evidence> {
        worst(self.per_window(path, EVIDENCE_WINDOW_NS)?, comparator, 0)
    }

    /// `path` (a distribution statistic or a rate) in every window of `window_ns` of log time
    /// (aligned to multiples of it) that has samples, in time order; `None` when the run did
    /// not summarise the metric per window of that length.
    pub fn per_window(&self, path: &str, window_ns: i64) -> Option<Vec<Evidence>> {
        let (name, stat) = match self.metrics.get(path) {
            Some(Metric::Ratio { .. }) => (path, None),
            _ => path.rsplit_once('.').map(|(n, s)| (n, Some(s)))?,
        };
        Some(self.series(name, window_ns)?.pick(stat, window_ns))
    }

    /// Every metric path with its windows of `window_ns` (as [`MetricSet::per_window`], in
    /// [`MetricSet::known_paths`] order), one path at a time (so a caller writing them out
    /// never holds them all).
    pub fn windows_by_path(&self, window_ns: i64) -> impl Iterator<Item = (String, Vec<Evidence>)> {
        self.metrics.keys().flat_map(move |name| {
            let series = self.series(name, window_ns);
            let stats: Vec<Option<&'static str>> = match series {
                Some(WindowSeries::Rate(_)) => vec![None],
                Some(WindowSeries::Distribution(_)) => Summary::STATS.map(Some).to_vec(),
                None => Vec::new(),
            };
            stats.into_iter().filter_map(move |stat| {
                let rows = series?.pick(stat, window_ns);
                let path = match stat {
                    Some(stat) => format!("{name}.{stat}"),
                    None => name.clone(),
                };
                Some((path, rows))
            })
        })
    }

    /// Adds every metric and window series of `other`, replacing those of the same name.
    pub fn merge(&mut self, other: MetricSet) {
        self.metrics.extend(other.metrics);
        for (len, series) in other.windows {
            self.windows.entry(len).or_default().extend(series);
        }
    }

    /// Drops every metric's windows (their whole-run values stay).
    pub fn drop_windows(&mut self) {
        self.windows.clear();
    }

    /// Metric `name` summarised per window of `window_ns`, if the run did that.
    fn series(&self, name: &str, window_ns: i64) -> Option<&WindowSeries> {
        self.windows.get(&window_ns.max(1))?.get(name)
    }

    /// Adds a finished distribution metric (see [`crate::timeline::DistributionAcc::finish`]).
    pub fn put_distribution(&mut self, name: &str, (whole, windows): DistributionResult) {
        self.metrics
            .insert(name.to_owned(), Metric::Distribution(whole));
        for (len, series) in windows {
            self.windows
                .entry(len)
                .or_default()
                .insert(name.to_owned(), WindowSeries::Distribution(series));
        }
    }

    /// Adds a finished rate metric (see [`crate::timeline::RateAcc::finish`]).
    pub fn put_rate(&mut self, name: &str, ((numerator, denominator), windows): RateResult) {
        self.metrics.insert(
            name.to_owned(),
            Metric::Ratio {
                numerator,
                denominator,
            },
        );
        for (len, series) in windows {
            self.windows
                .entry(len)
                .or_default()
                .insert(name.to_owned(), WindowSeries::Rate(series));
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

impl WindowSeries {
    /// `stat` (`None` for a rate) in every window with samples, as evidence rows.
    fn pick(&self, stat: Option<&str>, window_ns: i64) -> Vec<Evidence> {
        let window_ns = window_ns.max(1);
        let row = |w: i64, value: f64, samples: u64| Evidence {
            start_ns: w * window_ns,
            end_ns: (w + 1) * window_ns,
            value,
            samples,
        };
        match (self, stat) {
            (Self::Distribution(d), Some(stat)) => d
                .iter()
                .filter_map(|(w, s)| Some(row(*w, s.stat(stat)?, s.samples)))
                .collect(),
            (Self::Rate(r), None) => r
                .iter()
                .filter(|(_, _, d)| *d > 0)
                .map(|(w, n, d)| row(*w, *n as f64 / *d as f64, *d))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The window lengths (ns) a run must summarise its metrics per, for `gates`: the evidence
/// windows ([`EVIDENCE_WINDOW_NS`]) and every windowed gate's, sorted, without repeats.
pub fn window_lengths_ns(gates: &[Gate]) -> Vec<i64> {
    let mut out: Vec<i64> = gates
        .iter()
        .filter_map(|g| g.window_s)
        .map(window_ns)
        .chain([EVIDENCE_WINDOW_NS])
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Names of the metrics `gates` judge (for `reprojection_residual_px.p99`, both the path and
/// `reprojection_residual_px`): the metrics whose windows a run must keep to evaluate them.
pub fn judged_metrics(gates: &[Gate]) -> BTreeSet<String> {
    gates
        .iter()
        .flat_map(|g| {
            let name = g.metric.rsplit_once('.').map(|(n, _)| n.to_owned());
            [Some(g.metric.clone()), name]
        })
        .flatten()
        .collect()
}

/// A gate's window length in ns.
fn window_ns(window_s: f64) -> i64 {
    ((window_s * 1e9).round() as i64).max(1)
}

/// The worst of `windows` for `comparator` among those with at least `min_samples` samples:
/// the largest value for `<`/`<=` gates, the smallest for `>`/`>=`; ties go to the earliest.
fn worst(windows: Vec<Evidence>, comparator: Comparator, min_samples: u64) -> Option<Evidence> {
    let worse = |a: f64, b: f64| match comparator {
        Comparator::Le | Comparator::Lt => a > b,
        Comparator::Ge | Comparator::Gt => a < b,
    };
    let mut best: Option<Evidence> = None;
    for cand in windows.into_iter().filter(|w| w.samples >= min_samples) {
        if best.is_none_or(|b| worse(cand.value, b.value)) {
            best = Some(cand);
        }
    }
    best
}

/// The default gates: the seed's three ([`seed_gates`]) plus end-to-end latency P99.9
/// (camera exposure to the fused output leaving the node ≤ 150 ms) and the association fail rate (≤ 5 % of
/// detections without a radar partner).
pub fn default_gates() -> Vec<Gate> {
    let mut g = seed_gates();
    g.push(Gate {
        name: "e2e_latency_p999".into(),
        metric: "latency_e2e_ms.p999".into(),
        comparator: Comparator::Le,
        threshold: 150.0,
        min_samples: 100,
        required: true,
        window_s: None,
    });
    g.push(Gate {
        name: "association_fail_rate".into(),
        metric: "association_fail_rate".into(),
        comparator: Comparator::Le,
        threshold: 0.05,
        min_samples: 100,
        required: true,
        window_s: None,
    });
    g
}

/// The seed's gates: sync error P99.9, reprojection residual, track id switch rate.
pub fn seed_gates() -> Vec<Gate> {
    vec![
        Gate {
            name: "sync_p999".into(),
            metric: "sync_error_us.p999".into(),
            comparator: Comparator::Le,
            threshold: 500.0,
            min_samples: 100,
            required: true,
            window_s: None,
        },
        Gate {
            name: "reprojection_p95".into(),
            metric: "reprojection_residual_px.p95".into(),
            comparator: Comparator::Le,
            threshold: 20.0,
            min_samples: 100,
            required: true,
            window_s: None,
        },
        Gate {
            name: "track_id_switch_rate".into(),
            metric: "track_id_switch_rate".into(),
            comparator: Comparator::Le,
            threshold: 0.01,
            min_samples: 100,
            required: true,
            window_s: None,
        },
    ]
}

/// Checks that every gate names a metric `metrics` knows (values need not be present yet), so
/// a bad gates file is rejected before any work is done.
pub fn validate(gates: &[Gate], metrics: &MetricSet) -> Result<()> {
    gates
        .iter()
        .try_for_each(|g| metrics.lookup(&g.name, &g.metric).map(|_| ()))
}

/// Whether every required gate passed.
pub fn all_required_passed(results: &[GateResult]) -> bool {
    results
        .iter()
        .all(|r| !r.gate.required || r.verdict == Verdict::Pass)
}

/// Evaluates `gates` against `metrics`. An unknown metric is an error (bad gate input).
pub fn evaluate(gates: &[Gate], metrics: &MetricSet) -> Result<Vec<GateResult>> {
    gates
        .iter()
        .map(|g| {
            let (value, samples) = metrics.lookup(&g.name, &g.metric)?;
            if let Some(window_s) = g.window_s {
                // every window with enough samples must pass: judge the worst of them
                let worst_window = metrics
                    .per_window(&g.metric, window_ns(window_s))
                    .and_then(|w| worst(w, g.comparator, g.min_samples.max(1)));
                let verdict = match worst_window {
                    Some(w) if g.comparator.holds(w.value, g.threshold) => Verdict::Pass,
                    Some(_) => Verdict::Fail,
                    None => Verdict::Inconclusive,
                };
                return Ok(GateResult {
                    gate: g.clone(),
                    value: worst_window.map(|w| w.value),
                    samples: worst_window.map_or(samples, |w| w.samples),
                    verdict,
                    evidence: worst_window,
                });
            }
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
                evidence: metrics.evidence(&g.metric, g.comparator),
            })
        })
        .collect()
}

/// How much worse than the baseline a gate metric may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Allowed worsening as a fraction of the baseline value's magnitude.
    pub relative: f64,
    /// Allowed worsening in the metric's unit.
    pub absolute: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            relative: 0.10,
            absolute: 0.0,
        }
    }
}

/// One gate compared with the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRow {
    /// Gate name.
    pub gate: String,
    /// Metric path.
    pub metric: String,
    /// Baseline value.
    pub old: Option<f64>,
    /// New value.
    pub new: Option<f64>,
    /// Worsening allowed, in the metric's unit.
    pub allowed: f64,
    /// Whether this is a regression.
    pub regressed: bool,
    /// Why (or `ok`).
    pub note: String,
}

/// Compares `new` gate results with a baseline run's. A metric that got worse (in the
/// direction its comparator penalises) by more than `max(absolute, relative·|old|)`, a
/// verdict that went from PASS to anything else, or a value that disappeared is a regression.
pub fn compare_to_baseline(
    old: &[GateResult],
    new: &[GateResult],
    tolerance: impl Fn(&str) -> Tolerance,
) -> Vec<BaselineRow> {
    new.iter()
        .map(|n| {
            let o = old.iter().find(|o| o.gate.name == n.gate.name);
            let tol = tolerance(&n.gate.metric);
            let base = BaselineRow {
                gate: n.gate.name.clone(),
                metric: n.gate.metric.clone(),
                old: o.and_then(|o| o.value),
                new: n.value,
                allowed: 0.0,
                regressed: false,
                note: String::new(),
            };
            let Some(o) = o else {
                return BaselineRow {
                    note: "not in baseline".into(),
                    ..base
                };
            };
            let allowed = o
                .value
                .map_or(0.0, |v| tol.absolute.max(tol.relative * v.abs()));
            let (regressed, note) = match (o.value, n.value) {
                (Some(ov), Some(nv)) => {
                    // positive = worse: a "<=" gate penalises growth, a ">=" gate shrinkage
                    let worse_by = match n.gate.comparator {
                        Comparator::Le | Comparator::Lt => nv - ov,
                        Comparator::Ge | Comparator::Gt => ov - nv,
                    };
                    if worse_by > allowed {
                        // four decimals, as the baseline table shows the values and the
                        // worsening allowed beside it
                        (true, format!("worse by {worse_by:.4}"))
                    } else if o.verdict == Verdict::Pass && n.verdict != Verdict::Pass {
                        (
                            true,
                            format!("verdict {} -> {}", o.verdict.as_str(), n.verdict.as_str()),
                        )
                    } else {
                        (false, "ok".into())
                    }
                }
                (Some(_), None) => (true, "no samples any more".into()),
                (None, _) => (false, "no baseline value".into()),
            };
            BaselineRow {
                allowed,
                regressed,
                note,
                ..base
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{DistributionAcc, MemoryStore, RateAcc};

    fn distribution(samples: &[(i64, f64)]) -> DistributionResult {
        let mut acc = DistributionAcc::new(MemoryStore::default(), &[EVIDENCE_WINDOW_NS]);
        samples.iter().for_each(|s| acc.push(*s));
        let Ok(r) = acc.finish();
        r
    }

    fn rate(counts: &[(i64, u64, u64)]) -> RateResult {
        let mut acc = RateAcc::new(&[EVIDENCE_WINDOW_NS]);
        counts.iter().for_each(|c| acc.push(*c));
        acc.finish()
    }

    fn metrics() -> MetricSet {
        let mut m = MetricSet::default();
        m.metrics.insert(
            "sync_error_us".into(),
            Metric::Distribution(Summary::of(&(0..1000).map(f64::from).collect::<Vec<_>>())),
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
            Metric::Distribution(None),
        );
        m
    }

    #[test]
    fn verdicts_follow_values_and_sample_counts() {
        let r = evaluate(&seed_gates(), &metrics()).expect("known metrics");
        assert_eq!(r[0].verdict, Verdict::Fail, "{:?}", r[0]); // p999 of 0..999 is 998.001 > 500
        assert_eq!(r[1].verdict, Verdict::Inconclusive);
        assert_eq!(r[1].samples, 0);
        assert_eq!(r[2].verdict, Verdict::Pass);
        assert_eq!(r[2].value, Some(0.005));
    }

    #[test]
    fn baseline_catches_worsening_beyond_tolerance_in_the_penalised_direction() {
        let old = evaluate(&seed_gates(), &metrics()).expect("known");
        let mut worse = metrics();
        worse.metrics.insert(
            "sync_error_us".into(),
            Metric::Distribution(Summary::of(
                &(0..1000).map(|i| f64::from(i) * 1.2).collect::<Vec<_>>(),
            )),
        );
        worse.metrics.insert(
            "track_id_switch_rate".into(),
            Metric::Ratio {
                numerator: 4,
                denominator: 1000,
            },
        );
        let new = evaluate(&seed_gates(), &worse).expect("known");
        let rows = compare_to_baseline(&old, &new, |_| Tolerance::default());
        assert!(rows[0].regressed, "{:?}", rows[0]); // p999 grew 20 % > 10 %
        assert!(!rows[1].regressed, "{:?}", rows[1]); // no values either side
        assert!(!rows[2].regressed, "{:?}", rows[2]); // switch rate improved
        let loose = compare_to_baseline(&old, &new, |_| Tolerance {
            relative: 0.5,
            absolute: 0.0,
        });
        assert!(!loose[0].regressed);
    }

    #[test]
    fn a_windowed_gate_fails_on_one_bad_window_that_the_whole_run_hides() {
        let s = EVIDENCE_WINDOW_NS;
        let mut m = MetricSet::default();
        // 50 windows of 10 s, one with 20 % failures, the rest with none
        let counts: Vec<(i64, u64, u64)> = (0..50)
            .map(|w| (w * s + 1, u64::from(w == 30) * 20, 100))
            .collect();
        m.put_rate("association_fail_rate", rate(&counts));
        let gate = |window_s: Option<f64>, min_samples: u64| Gate {
            name: "assoc".into(),
            metric: "association_fail_rate".into(),
            comparator: Comparator::Le,
            threshold: 0.05,
            min_samples,
            required: true,
            window_s,
        };
        let r = evaluate(
            &[
                gate(None, 100),
                gate(Some(10.0), 100),
                gate(Some(10.0), 101),
            ],
            &m,
        )
        .expect("evaluates");
        assert_eq!(r[0].verdict, Verdict::Pass, "0.4 % over the run");
        assert_eq!(r[1].verdict, Verdict::Fail, "20 % in one window");
        assert_eq!(r[1].value, Some(0.2));
        assert_eq!(r[1].evidence.map(|e| e.start_ns), Some(30 * s));
        assert_eq!(
            r[2].verdict,
            Verdict::Inconclusive,
            "no window has 101 samples"
        );
    }

    #[test]
    fn evidence_is_the_worst_window_in_the_penalised_direction() {
        let mut m = metrics();
        let s = EVIDENCE_WINDOW_NS;
        m.put_distribution(
            "sync_error_us",
            distribution(&[(1, 5.0), (2, 7.0), (s + 1, 90.0), (2 * s, 3.0)]),
        );
        m.put_rate(
            "track_id_switch_rate",
            rate(&[(0, 0, 100), (s, 3, 100), (2 * s + 5, 1, 100)]),
        );
        let e = m
            .evidence("sync_error_us.max", Comparator::Le)
            .expect("evidence");
        assert_eq!(
            (e.start_ns, e.end_ns, e.value, e.samples),
            (s, 2 * s, 90.0, 1)
        );
        let e = m
            .evidence("sync_error_us.max", Comparator::Ge)
            .expect("evidence");
        assert_eq!(e.value, 3.0);
        let e = m
            .evidence("track_id_switch_rate", Comparator::Le)
            .expect("evidence");
        assert_eq!((e.start_ns, e.value), (s, 0.03));
        assert_eq!(
            m.evidence("reprojection_residual_px.p95", Comparator::Le),
            None
        );
    }

    #[test]
    fn unknown_metric_lists_the_known_ones() {
        let mut g = seed_gates();
        g[0].metric = "sync_eror_us.p999".into();
        let err = evaluate(&g, &metrics()).expect_err("unknown");
        let msg = err.to_string();
        assert!(
            msg.contains("sync_error_us.p999") && msg.contains("track_id_switch_rate"),
            "{msg}"
        );
    }

    #[test]
    fn judged_metrics_name_each_gate_metric_and_its_distribution() {
        let judged = judged_metrics(&seed_gates());
        for g in seed_gates() {
            assert!(judged.contains(&g.metric), "{}", g.metric);
            if let Some((name, _)) = g.metric.rsplit_once('.') {
                assert!(judged.contains(name), "{name}");
            }
        }
        assert!(judged_metrics(&[]).is_empty());
    }
}
