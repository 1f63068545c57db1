//! Parquet tables.

use crate::{Error, Result};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use radcam_fusion::gates::GateResult;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// File name of the gate table inside a report directory.
pub const GATES_FILE: &str = "gates.parquet";

/// Writes one record batch as a zstd Parquet file with `metadata` as key-value metadata.
fn write_table(
    path: &Path,
    batch: &RecordBatch,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let pq = |e: &dyn std::fmt::Display| Error::Parquet {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let kv = metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| pq(&e))?,
        ))
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("radcam {}", env!("CARGO_PKG_VERSION")))
        .build();
    let file = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| pq(&e))?;
    w.write(batch).map_err(|e| pq(&e))?;
    w.close().map_err(|e| pq(&e))?;
    Ok(())
}

/// The `gates` table: `gate`, `metric`, `comparator`, `threshold`, `value`, `samples`,
/// `verdict` — one row per gate, in gate order.
pub fn gates_batch(results: &[GateResult]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("gate", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("comparator", DataType::Utf8, false),
        Field::new("threshold", DataType::Float64, false),
        Field::new("value", DataType::Float64, true),
        Field::new("samples", DataType::UInt64, false),
        Field::new("verdict", DataType::Utf8, false),
    ]));
    let strings = |f: &dyn Fn(&GateResult) -> String| -> ArrayRef {
        Arc::new(StringArray::from(results.iter().map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        strings(&|r| r.gate.name.clone()),
        strings(&|r| r.gate.metric.clone()),
        strings(&|r| r.gate.comparator.as_str().to_owned()),
        Arc::new(Float64Array::from(
            results.iter().map(|r| r.gate.threshold).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            results.iter().map(|r| r.value).collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            results.iter().map(|r| r.samples).collect::<Vec<_>>(),
        )),
        strings(&|r| r.verdict.as_str().to_owned()),
    ];
    RecordBatch::try_new(schema, columns).map_err(|e| Error::Parquet {
        path: GATES_FILE.into(),
        detail: e.to_string(),
    })
}

/// Writes `dir/gates.parquet`.
pub fn write_gates(
    dir: &Path,
    results: &[GateResult],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let batch = gates_batch(results)?;
    write_table(&dir.join(GATES_FILE), &batch, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample_results as results;

    #[test]
    fn identical_inputs_give_identical_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        let meta: BTreeMap<String, String> = [("seed".to_owned(), "1".to_owned())].into();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        write_gates(&a, &results(), &meta).expect("write");
        write_gates(&b, &results(), &meta).expect("write");
        let read = |d: &Path| std::fs::read(d.join(GATES_FILE)).expect("read");
        assert_eq!(read(&a), read(&b));
        let batch = gates_batch(&results()).expect("batch");
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.schema().field(6).name(), "verdict");
    }
}
