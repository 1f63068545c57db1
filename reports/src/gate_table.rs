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
    for r in results
        .iter()
        .filter(|r| r.verdict != radcam_fusion::gates::Verdict::Pass)
    {
        if let Some(e) = r.evidence {
            let _ = writeln!(
                s,
                "  {}: worst {} s window at log time [{}, {}) ns: {} = {:.4}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_table_snapshot() {
        insta::assert_snapshot!(gate_table(&crate::sample_results()));
    }
}
