//! Report serialisation: Arrow schemas, Parquet tables and the gate table.
//!
//! Reports serialise what the fusion core computed; they compute nothing themselves. Parquet
//! files (zstd, or LZ4 for the tables a replay streams) carry key-value metadata (tool
//! version, recording hash, seed, estimator, versions) and a pinned `created_by`, so identical
//! inputs give identical bytes.

mod association_columns;
pub mod content_hash;
pub mod error;
pub mod fusion_tables;
pub mod gate_table;
pub mod html;
pub mod junit;
pub mod page_spill;
pub mod parquet_in;
pub mod parquet_out;
pub mod staged_dir;
pub mod summary;
pub mod sweep_html;
pub mod sweep_in;
pub mod sweep_tables;

pub use content_hash::{combined_hash, table_hashes};
pub use error::{Error, Result};
pub use fusion_tables::FusionTablesWriter;
pub use gate_table::{
    RECORDING_START_KEY, baseline_table, gate_table, gates_json, recording_start_ns,
    span_from_start, window_from_start,
};
pub use html::html_report;
pub use junit::junit_xml;
pub use parquet_in::read_gates;
pub use parquet_out::{
    AUDIT_FILE, GATES_FILE, SYNC_FILE, WINDOWS_FILE, WindowsWriter, write_audit, write_gates,
    write_sync,
};
/// Gate types and the baseline comparison, re-exported for the report's callers.
pub use radcam_fusion::gates::{
    BaselineRow, GateResult, Verdict, all_required_passed, compare_to_baseline,
};
pub use staged_dir::StagedDir;

/// Every table a replay's report directory can hold: what [`StagedDir::commit`] replaces.
pub const REPORT_FILES: [&str; 9] = [
    GATES_FILE,
    AUDIT_FILE,
    WINDOWS_FILE,
    SYNC_FILE,
    fusion_tables::FRAMES_FILE,
    fusion_tables::TRACKS_FILE,
    fusion_tables::ASSOCIATIONS_FILE,
    fusion_tables::GROUND_TRUTH_FILE,
    fusion_tables::TRACKING_FILE,
];

/// Every table a sweep's directory can hold: what [`StagedDir::commit`] replaces.
pub const SWEEP_FILES: [&str; 2] = [SWEEP_FILE, TOLERANCE_FILE];
pub use summary::report_summary;
pub use sweep_in::sweep_dir_json;
pub use sweep_tables::{
    SWEEP_FILE, SweepRow, TOLERANCE_FILE, ToleranceRow, sweep_json, sweep_table, tolerance_json,
    tolerance_table, write_sweep, write_tolerance,
};

/// Gate results over fixed metrics, shared by this crate's tests: one PASS, one INCONCLUSIVE,
/// one FAIL.
#[cfg(test)]
pub(crate) fn sample_results() -> Vec<radcam_fusion::gates::GateResult> {
    use radcam_fusion::gates::{Metric, MetricSet, evaluate, seed_gates};
    use radcam_fusion::stats::Summary;
    let mut m = MetricSet::default();
    let mut put = |k: &str, v| {
        m.metrics.insert(k.to_owned(), v);
    };
    put(
        "sync_error_us",
        Metric::Distribution(Summary::of(
            &(0..1000).map(|i| f64::from(i) * 0.1).collect::<Vec<_>>(),
        )),
    );
    put("reprojection_residual_px", Metric::Distribution(None));
    put(
        "track_id_switch_rate",
        Metric::Ratio {
            numerator: 30,
            denominator: 1000,
        },
    );
    evaluate(&seed_gates(), &m).unwrap_or_default()
}
