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

/// The gate results as JSON: one object per gate, with its evidence window when known.
pub fn gates_json(results: &[GateResult]) -> serde_json::Value {
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
                    "evidence": r.evidence.map(|e| serde_json::json!({
                        "log_time_start_ns": e.start_ns,
                        "log_time_end_ns": e.end_ns,
                        "value": num(e.value),
                    })),
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
        insta::assert_snapshot!(gate_table(&crate::sample_results()));
    }
}
