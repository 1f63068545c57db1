//! Reading a report directory's `gates.parquet` back (for `radcam report` and baselines).

use crate::{Error, GATES_FILE, Result};
use arrow_array::{
    Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use radcam_fusion::gates::{Comparator, Evidence, Gate, GateResult, Verdict};
use std::path::Path;

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::Parquet {
            path: path.to_owned(),
            detail: format!("column '{name}' is missing or has the wrong type"),
        })
}

/// Reads `dir/gates.parquet` into gate results, in file order.
pub fn read_gates(dir: &Path) -> Result<Vec<GateResult>> {
    let path = dir.join(GATES_FILE);
    let pq = |detail: String| Error::Parquet {
        path: path.clone(),
        detail,
    };
    let file = std::fs::File::open(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| pq(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| pq(e.to_string()))?;
        let gate = column::<StringArray>(&batch, "gate", &path)?;
        let metric = column::<StringArray>(&batch, "metric", &path)?;
        let comparator = column::<StringArray>(&batch, "comparator", &path)?;
        let threshold = column::<Float64Array>(&batch, "threshold", &path)?;
        let value = column::<Float64Array>(&batch, "value", &path)?;
        let samples = column::<UInt64Array>(&batch, "samples", &path)?;
        let verdict = column::<StringArray>(&batch, "verdict", &path)?;
        let min_samples = column::<UInt64Array>(&batch, "min_samples", &path)?;
        let required = column::<BooleanArray>(&batch, "required", &path)?;
        let w_start = column::<Int64Array>(&batch, "worst_window_start_ns", &path)?;
        let w_end = column::<Int64Array>(&batch, "worst_window_end_ns", &path)?;
        let w_value = column::<Float64Array>(&batch, "worst_window_value", &path)?;
        let window_s = column::<Float64Array>(&batch, "window_s", &path)?;
        for i in 0..batch.num_rows() {
            let row = |what: &str, v: &str| pq(format!("row {i}: {what} '{v}'"));
            out.push(GateResult {
                gate: Gate {
                    name: gate.value(i).to_owned(),
                    metric: metric.value(i).to_owned(),
                    comparator: Comparator::parse(comparator.value(i))
                        .ok_or_else(|| row("comparator", comparator.value(i)))?,
                    threshold: threshold.value(i),
                    min_samples: min_samples.value(i),
                    required: required.value(i),
                    window_s: (!window_s.is_null(i)).then(|| window_s.value(i)),
                },
                value: (!value.is_null(i)).then(|| value.value(i)),
                samples: samples.value(i),
                verdict: Verdict::parse(verdict.value(i))
                    .ok_or_else(|| row("verdict", verdict.value(i)))?,
                // the window's sample count is not stored: 0 when read back
                evidence: (!w_start.is_null(i) && !w_value.is_null(i)).then(|| Evidence {
                    start_ns: w_start.value(i),
                    end_ns: w_end.value(i),
                    value: w_value.value(i),
                    samples: 0,
                }),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_round_trip_through_parquet() {
        let dir = tempfile::tempdir().expect("tmp");
        let results = crate::sample_results();
        crate::write_gates(dir.path(), &results, &Default::default()).expect("write");
        assert_eq!(read_gates(dir.path()).expect("read"), results);
        let err = read_gates(&dir.path().join("nope")).expect_err("missing");
        assert!(err.to_string().contains("gates.parquet"), "{err}");
    }
}
