//! The gate table printed at the end of a run.

use radcam_fusion::gates::GateResult;
use std::fmt::Write;

/// Renders the gate table as fixed-width text.
pub fn gate_table(results: &[GateResult]) -> String {
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
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use radcam_fusion::gates::{Metric, MetricSet, default_gates, evaluate};

    #[test]
    fn gate_table_snapshot() {
        let mut m = MetricSet::default();
        m.metrics.insert(
            "sync_error_us".into(),
            Metric::Distribution((0..1000).map(|i| f64::from(i) * 0.1).collect()),
        );
        m.metrics.insert(
            "reprojection_residual_px".into(),
            Metric::Distribution(vec![]),
        );
        m.metrics.insert(
            "track_id_switch_rate".into(),
            Metric::Ratio {
                numerator: 30,
                denominator: 1000,
            },
        );
        let r = evaluate(&default_gates(), &m).expect("known");
        insta::assert_snapshot!(gate_table(&r));
    }
}
