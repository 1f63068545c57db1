//! The `sweep` and `tolerance` tables of `radcam sweep`.

use crate::Result;
use crate::parquet_out::{batch, write_table};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field};
use radcam_fusion::gates::GateResult;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// File name of the sweep table.
pub const SWEEP_FILE: &str = "sweep.parquet";
/// File name of the tolerance table.
pub const TOLERANCE_FILE: &str = "tolerance.parquet";

/// One replay of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// Position in the sweep (grid point-major, then replicate).
    pub run_index: u32,
    /// Replicate of the grid point (Monte Carlo), 0-based.
    pub replicate: u32,
    /// The run's seed, derived from the base seed and the replicate.
    pub seed: u64,
    /// Swept parameter values, by parameter name (same names and order in every row).
    pub params: Vec<(String, f64)>,
    /// The whole fault plan of the run, as JSON.
    pub fault_plan: String,
    /// Whether every required gate passed.
    pub passed: bool,
    /// Gate verdicts, in gate order (same gates in every row).
    pub gates: Vec<GateResult>,
    /// Camera frames fused with stale (extrapolated) radar.
    pub stale_fusions: u64,
    /// Camera frames lost to the plan.
    pub dropped_camera_frames: u64,
    /// Radar frames lost to the plan.
    pub dropped_radar_frames: u64,
    /// MOTA against truth, when the recording has truth.
    pub mota: Option<f64>,
    /// IDF1 against truth, when the recording has truth.
    pub idf1: Option<f64>,
}

/// The `sweep` table: `run_index`, `replicate`, `seed`, one column per swept parameter
/// (named as in `--grid`), `fault_plan`, `passed`, then for every gate `<gate>_value` and
/// `<gate>_verdict`, then `stale_fusions`, `dropped_camera_frames`, `dropped_radar_frames`,
/// `mota`, `idf1`.
pub fn sweep_batch(rows: &[SweepRow]) -> Result<arrow_array::RecordBatch> {
    let first = rows.first();
    let param_names: Vec<String> = first
        .map(|r| r.params.iter().map(|p| p.0.clone()).collect())
        .unwrap_or_default();
    let gate_names: Vec<String> = first
        .map(|r| r.gates.iter().map(|g| g.gate.name.clone()).collect())
        .unwrap_or_default();
    let mut fields = vec![
        Field::new("run_index", DataType::UInt32, false),
        Field::new("replicate", DataType::UInt32, false),
        Field::new("seed", DataType::UInt64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(
            rows.iter().map(|r| r.run_index),
        )),
        Arc::new(UInt32Array::from_iter_values(
            rows.iter().map(|r| r.replicate),
        )),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seed))),
    ];
    for (i, name) in param_names.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            rows.iter()
                .map(|r| r.params.get(i).map_or(f64::NAN, |p| p.1)),
        )));
    }
    fields.push(Field::new("fault_plan", DataType::Utf8, false));
    columns.push(Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.fault_plan.as_str()),
    )));
    fields.push(Field::new("passed", DataType::Boolean, false));
    columns.push(Arc::new(BooleanArray::from(
        rows.iter().map(|r| r.passed).collect::<Vec<_>>(),
    )));
    for (i, name) in gate_names.iter().enumerate() {
        fields.push(Field::new(format!("{name}_value"), DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(
            rows.iter()
                .map(|r| r.gates.get(i).and_then(|g| g.value))
                .collect::<Vec<_>>(),
        )));
        fields.push(Field::new(format!("{name}_verdict"), DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|r| r.gates.get(i).map_or("", |g| g.verdict.as_str())),
        )));
    }
    for (name, f) in [
        (
            "stale_fusions",
            (|r: &SweepRow| r.stale_fusions) as fn(&SweepRow) -> u64,
        ),
        ("dropped_camera_frames", |r| r.dropped_camera_frames),
        ("dropped_radar_frames", |r| r.dropped_radar_frames),
    ] {
        fields.push(Field::new(name, DataType::UInt64, false));
        columns.push(Arc::new(UInt64Array::from_iter_values(rows.iter().map(f))));
    }
    fields.push(Field::new("mota", DataType::Float64, true));
    columns.push(Arc::new(Float64Array::from(
        rows.iter().map(|r| r.mota).collect::<Vec<_>>(),
    )));
    fields.push(Field::new("idf1", DataType::Float64, true));
    columns.push(Arc::new(Float64Array::from(
        rows.iter().map(|r| r.idf1).collect::<Vec<_>>(),
    )));
    batch(SWEEP_FILE, fields, columns)
}

/// Writes `dir/sweep.parquet`.
pub fn write_sweep(
    dir: &Path,
    rows: &[SweepRow],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_table(&dir.join(SWEEP_FILE), &sweep_batch(rows)?, metadata)
}

/// The tolerance found for one target speed band.
#[derive(Debug, Clone, PartialEq)]
pub struct ToleranceRow {
    /// What was searched: `offset`, `jitter` or `drift`.
    pub kind: String,
    /// Band label: `all`, or `2-5 m/s`.
    pub band: String,
    /// Lower speed edge of the band, m/s (`None` for `all`).
    pub band_min_mps: Option<f64>,
    /// Upper speed edge, m/s (`None` for `all` or an open band).
    pub band_max_mps: Option<f64>,
    /// Detections of targets in the band, in the fault-free run.
    pub detections: u64,
    /// The largest magnitude at which every gate passed (both signs for offset and drift);
    /// `None` when the band had no targets.
    pub tolerance: Option<f64>,
    /// Unit of `tolerance`, `resolution` and `searched_max`: `ms`, `us` or `ppm`.
    pub unit: String,
    /// The search's resolution at this band's answer.
    pub resolution: f64,
    /// The largest magnitude searched.
    pub searched_max: f64,
    /// `within` (found), `fails_without_faults`, `passes_at_max`, or `no_targets`.
    pub status: String,
    /// The first failing gate just above the tolerance, if any.
    pub limiting_gate: Option<String>,
    /// That gate's value there.
    pub limiting_value: Option<f64>,
}

/// The `tolerance` table: `kind`, `band`, `band_min_mps`, `band_max_mps`, `detections`,
/// `tolerance`, `unit`, `resolution`, `searched_max`, `status`, `limiting_gate`,
/// `limiting_value` — one row per speed band, `all` first.
pub fn tolerance_batch(rows: &[ToleranceRow]) -> Result<arrow_array::RecordBatch> {
    let f64s = |f: fn(&ToleranceRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let strs = |f: fn(&ToleranceRow) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let fields = vec![
        Field::new("kind", DataType::Utf8, false),
        Field::new("band", DataType::Utf8, false),
        Field::new("band_min_mps", DataType::Float64, true),
        Field::new("band_max_mps", DataType::Float64, true),
        Field::new("detections", DataType::UInt64, false),
        Field::new("tolerance", DataType::Float64, true),
        Field::new("unit", DataType::Utf8, false),
        Field::new("resolution", DataType::Float64, false),
        Field::new("searched_max", DataType::Float64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("limiting_gate", DataType::Utf8, true),
        Field::new("limiting_value", DataType::Float64, true),
    ];
    let columns = vec![
        strs(|r| Some(&r.kind)),
        strs(|r| Some(&r.band)),
        f64s(|r| r.band_min_mps),
        f64s(|r| r.band_max_mps),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.detections),
        )) as ArrayRef,
        f64s(|r| r.tolerance),
        strs(|r| Some(&r.unit)),
        f64s(|r| Some(r.resolution)),
        f64s(|r| Some(r.searched_max)),
        strs(|r| Some(&r.status)),
        strs(|r| r.limiting_gate.as_deref()),
        f64s(|r| r.limiting_value),
    ];
    batch(TOLERANCE_FILE, fields, columns)
}

/// Writes `dir/tolerance.parquet`.
pub fn write_tolerance(
    dir: &Path,
    rows: &[ToleranceRow],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_table(&dir.join(TOLERANCE_FILE), &tolerance_batch(rows)?, metadata)
}

/// The sweep as text: one line per grid point with its runs, how many passed, and each gate's
/// mean value over the point's runs (`*` marks a gate some run failed).
pub fn sweep_table(rows: &[SweepRow]) -> String {
    let Some(first) = rows.first() else {
        return "no runs\n".into();
    };
    let mut out = String::new();
    let mut header: Vec<String> = first.params.iter().map(|p| p.0.clone()).collect();
    header.push("runs".into());
    header.push("passed".into());
    header.extend(first.gates.iter().map(|g| g.gate.name.clone()));
    let widths: Vec<usize> = header.iter().map(|h| h.len().max(12)).collect();
    let line = |cells: &[String]| -> String {
        let mut l = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.push('\n');
        l
    };
    out.push_str(&line(&header));
    let mut i = 0;
    while i < rows.len() {
        let same = rows[i..]
            .iter()
            .take_while(|r| r.params == rows[i].params)
            .count();
        let group = &rows[i..i + same];
        let mut cells: Vec<String> = rows[i].params.iter().map(|p| format!("{}", p.1)).collect();
        cells.push(same.to_string());
        cells.push(group.iter().filter(|r| r.passed).count().to_string());
        for g in 0..first.gates.len() {
            let values: Vec<f64> = group
                .iter()
                .filter_map(|r| r.gates.get(g).and_then(|x| x.value))
                .collect();
            let failed = group.iter().any(|r| {
                r.gates
                    .get(g)
                    .is_some_and(|x| x.verdict != radcam_fusion::gates::Verdict::Pass)
            });
            let mean = if values.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.4}", values.iter().sum::<f64>() / values.len() as f64)
            };
            cells.push(format!("{mean}{}", if failed { "*" } else { " " }));
        }
        out.push_str(&line(&cells));
        i += same;
    }
    out
}

/// The tolerance rows as text.
pub fn tolerance_table(rows: &[ToleranceRow]) -> String {
    let mut out = format!(
        "{:<14} {:>10} {:>12} {:>12} {:<22} {}\n",
        "band", "detections", "tolerance", "resolution", "status", "limited by"
    );
    for r in rows {
        let limited = match (&r.limiting_gate, r.limiting_value) {
            (Some(g), Some(v)) => format!("{g} = {v:.4}"),
            (Some(g), None) => format!("{g} (no samples)"),
            _ => "-".into(),
        };
        let tolerance = r
            .tolerance
            .map_or_else(|| "-".to_owned(), |t| format!("{t:.3}"));
        out.push_str(&format!(
            "{:<14} {:>10} {:>9} {:<2} {:>9.3} {:<2} {:<22} {}\n",
            r.band, r.detections, tolerance, r.unit, r.resolution, r.unit, r.status, limited
        ));
    }
    out
}

/// The sweep rows as JSON.
pub fn sweep_json(rows: &[SweepRow]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                run_json(
                    r,
                    &r.params,
                    r.gates
                        .iter()
                        .map(|g| (g.gate.name.as_str(), g.value, g.verdict.as_str())),
                )
            })
            .collect(),
    )
}

/// One run of `sweep_json`: the run's counters from `r`, its parameters and gates as given
/// (so a run read back from `sweep.parquet`, without the gates' definitions, prints the same).
pub(crate) fn run_json<'a>(
    r: &SweepRow,
    params: &[(String, f64)],
    gates: impl Iterator<Item = (&'a str, Option<f64>, &'a str)>,
) -> serde_json::Value {
    serde_json::json!({
        "run_index": r.run_index,
        "replicate": r.replicate,
        "seed": r.seed,
        "params": params.iter().map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "passed": r.passed,
        "gates": gates.map(|(gate, value, verdict)| serde_json::json!({
            "gate": gate, "value": value, "verdict": verdict,
        })).collect::<Vec<_>>(),
        "stale_fusions": r.stale_fusions,
        "dropped_camera_frames": r.dropped_camera_frames,
        "dropped_radar_frames": r.dropped_radar_frames,
        "mota": r.mota,
        "idf1": r.idf1,
    })
}

/// The tolerance rows as JSON.
pub fn tolerance_json(rows: &[ToleranceRow]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "kind": r.kind, "band": r.band, "band_min_mps": r.band_min_mps,
                    "band_max_mps": r.band_max_mps, "detections": r.detections,
                    "tolerance": r.tolerance, "unit": r.unit, "resolution": r.resolution,
                    "searched_max": r.searched_max, "status": r.status,
                    "limiting_gate": r.limiting_gate, "limiting_value": r.limiting_value,
                })
            })
            .collect(),
    )
}
