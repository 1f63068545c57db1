//! Parquet tables.

use crate::{Error, Result};
use arrow_array::builder::StringBuilder;
use arrow_array::types::UInt32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use radcam_fusion::audit::AuditEvent;
use radcam_fusion::gates::{Evidence, GateResult};
use radcam_fusion::provenance::ClockId;
use radcam_fusion::sync::SyncRecord;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name of the gate table inside a report directory.
pub const GATES_FILE: &str = "gates.parquet";
/// File name of the per-frame sync table.
pub const SYNC_FILE: &str = "sync.parquet";
/// File name of the audit table.
pub const AUDIT_FILE: &str = "audit.parquet";

pub(crate) fn batch(path: &str, fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::Parquet {
        path: path.into(),
        detail: e.to_string(),
    })
}

/// A text column, its bytes counted first so they are copied once into a buffer of the
/// right size (collecting them grew it some 50,000 times an hour of the demo rig).
pub(crate) fn utf8<'a, T>(rows: &'a [T], f: impl Fn(&'a T) -> &'a str) -> ArrayRef {
    let bytes = rows.iter().map(|r| f(r).len()).sum();
    let mut b = StringBuilder::with_capacity(rows.len(), bytes);
    for r in rows {
        b.append_value(f(r));
    }
    Arc::new(b.finish())
}

/// The Arrow type of a categorical text column as the writer is handed it: a dictionary of
/// its few distinct texts (see [`categorical`]). The file holds a plain Parquet string column
/// whatever the Arrow type, since no Arrow schema is stored (see [`open_writer`]).
pub(crate) fn categorical_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8))
}

/// Distinct texts a categorical column's rows are looked up among (by address); a text not
/// among them is added again.
const LOOKED_UP_TEXTS: usize = 16;

/// A categorical text column (states, outcomes, buckets, class names: a few distinct
/// texts, each on many rows), as keys into its texts.
///
/// The Parquet writer dictionary-encodes text either way. Handed the texts row by row, it
/// also had them copied into a string array first, and then read them back from all over
/// that array; handed keys, it reads a handful of texts that stay in cache (a one-CPU replay
/// hour of the demo rig 2.5–3 % faster, the tables the same; `docs/performance.md`).
///
/// A text is looked up by its address: the same text is nearly always the same `&'static
/// str` of an enum, or the same shared `Arc<str>`. An equal text at another address is
/// added again, which costs only its bytes: the file's dictionary is made of the texts'
/// bytes, so each is written once whatever the keys.
pub(crate) fn categorical<'a, T>(rows: &'a [T], f: impl Fn(&'a T) -> &'a str) -> ArrayRef {
    let mut texts: Vec<&'a str> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(rows.len());
    for r in rows {
        let text = f(r);
        let key = texts
            .iter()
            .take(LOOKED_UP_TEXTS)
            .position(|t| std::ptr::eq(*t, text))
            .unwrap_or_else(|| {
                texts.push(text);
                texts.len() - 1
            });
        // at most one key a row, and a batch's rows are far fewer than 2^32
        keys.push(u32::try_from(key).unwrap_or(u32::MAX));
    }
    dictionary(keys, texts)
}

/// The `clock_id` column, categorical: each id written out as text once per batch (ids
/// change only at a clock step), not once per row.
pub(crate) fn clock_ids<T>(rows: &[T], f: impl Fn(&T) -> ClockId) -> ArrayRef {
    let mut ids: Vec<ClockId> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(rows.len());
    let mut last: Option<(ClockId, u32)> = None;
    for r in rows {
        let id = f(r);
        let key = match last {
            Some((prev, key)) if prev == id => key,
            _ => {
                let key = ids.iter().position(|i| *i == id).unwrap_or_else(|| {
                    ids.push(id);
                    ids.len() - 1
                });
                u32::try_from(key).unwrap_or(u32::MAX)
            }
        };
        last = Some((id, key));
        keys.push(key);
    }
    dictionary(keys, ids.iter().map(ToString::to_string))
}

/// A dictionary array of `keys` into `texts` (every key below their count).
fn dictionary<S: AsRef<str>>(keys: Vec<u32>, texts: impl IntoIterator<Item = S>) -> ArrayRef {
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(texts));
    Arc::new(DictionaryArray::<UInt32Type>::new(
        UInt32Array::from(keys),
        values,
    ))
}

pub(crate) fn u64s<T>(rows: &[T], f: impl Fn(&T) -> u64) -> ArrayRef {
    Arc::new(UInt64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
}

/// The validity of a nullable column, collected straight into its bitmap (`None` when every
/// row has a value). The nullable builders below fill values and validity directly, not
/// through a `Vec<Option<_>>`.
fn validity<T, V>(rows: &[T], f: impl Fn(&T) -> Option<V>) -> Option<NullBuffer> {
    let nulls = NullBuffer::new(BooleanBuffer::collect_bool(rows.len(), |i| {
        f(&rows[i]).is_some()
    }));
    (nulls.null_count() > 0).then_some(nulls)
}

/// A nullable i64 column.
pub(crate) fn i64s<T>(rows: &[T], f: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    let values: Vec<i64> = rows.iter().map(|r| f(r).unwrap_or_default()).collect();
    Arc::new(Int64Array::new(values.into(), validity(rows, f)))
}

/// A nullable f64 column.
pub(crate) fn f64s<T>(rows: &[T], f: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    let values: Vec<f64> = rows.iter().map(|r| f(r).unwrap_or_default()).collect();
    Arc::new(Float64Array::new(values.into(), validity(rows, f)))
}

/// A nullable bool column.
pub(crate) fn bools<T>(rows: &[T], f: impl Fn(&T) -> Option<bool>) -> ArrayRef {
    let values = BooleanBuffer::collect_bool(rows.len(), |i| f(&rows[i]).unwrap_or_default());
    Arc::new(BooleanArray::new(values, validity(rows, f)))
}

/// The `sync` table: one row per mapped camera frame, with provenance.
pub fn sync_batch(rows: &[SyncRecord]) -> Result<RecordBatch> {
    let fields = vec![
        Field::new("frame_id", DataType::UInt64, false),
        Field::new("device_ns", DataType::Int64, false),
        Field::new("host_ns", DataType::Int64, false),
        Field::new("uncertainty_ns", DataType::Float64, false),
        Field::new("sync_state", categorical_type(), false),
        Field::new("sync_epoch_id", DataType::UInt64, false),
        Field::new("true_error_ns", DataType::Int64, true),
        Field::new("timestamp_source", categorical_type(), false),
        Field::new("cal_version", DataType::UInt64, false),
        Field::new("config_version", DataType::UInt64, false),
        Field::new("clock_id", categorical_type(), false),
        Field::new("ptp_offset_ns_bucket", categorical_type(), false),
        Field::new("event_seq", DataType::UInt64, false),
    ];
    let columns = vec![
        u64s(rows, |r| r.frame_id),
        i64s(rows, |r| Some(r.device_ns)),
        i64s(rows, |r| Some(r.host_ns)),
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.uncertainty_ns).collect::<Vec<_>>(),
        )) as ArrayRef,
        categorical(rows, |r| r.provenance.sync_state.as_str()),
        u64s(rows, |r| r.sync_epoch_id),
        i64s(rows, |r| r.true_error_ns),
        categorical(rows, |r| r.provenance.timestamp_source.as_str()),
        u64s(rows, |r| r.provenance.cal_version),
        u64s(rows, |r| r.provenance.config_version),
        clock_ids(rows, |r| r.provenance.clock_id),
        categorical(rows, |r| r.provenance.ptp_offset_ns_bucket),
        u64s(rows, |r| r.provenance.event_seq),
    ];
    batch(SYNC_FILE, fields, columns)
}

/// The `audit` table: one row per audit event.
pub fn audit_batch(rows: &[AuditEvent]) -> Result<RecordBatch> {
    let fields = vec![
        Field::new("event_id", DataType::UInt64, false),
        Field::new("event_ts_ns", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("old_state", DataType::Utf8, false),
        Field::new("new_state", DataType::Utf8, false),
        Field::new("cal_version", DataType::UInt64, false),
        Field::new("config_version", DataType::UInt64, false),
        Field::new("detail", DataType::Utf8, false),
    ];
    let columns = vec![
        u64s(rows, |r| r.event_id),
        i64s(rows, |r| Some(r.event_ts_ns)),
        utf8(rows, |r| r.kind.as_str()),
        utf8(rows, |r| &r.old_state),
        utf8(rows, |r| &r.new_state),
        u64s(rows, |r| r.cal_version),
        u64s(rows, |r| r.config_version),
        utf8(rows, |r| &r.detail),
    ];
    batch(AUDIT_FILE, fields, columns)
}

/// File name of the per-window metrics table.
pub const WINDOWS_FILE: &str = "windows.parquet";

/// Rows of the `windows` table, long format: one row per (10 s log-time window, metric path)
/// with samples in that window: `window_start_ns`, `window_end_ns`, `metric`, `value`,
/// `samples`; here the rows of one metric path.
fn windows_rows_batch(metric_path: &str, rows: &[Evidence]) -> Result<RecordBatch> {
    let fields = vec![
        Field::new("window_start_ns", DataType::Int64, false),
        Field::new("window_end_ns", DataType::Int64, false),
        Field::new("metric", categorical_type(), false),
        Field::new("value", DataType::Float64, false),
        Field::new("samples", DataType::UInt64, false),
    ];
    let columns = vec![
        i64s(rows, |r| Some(r.start_ns)),
        i64s(rows, |r| Some(r.end_ns)),
        categorical(rows, |_| metric_path),
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        )) as ArrayRef,
        u64s(rows, |r| r.samples),
    ];
    batch(WINDOWS_FILE, fields, columns)
}

/// Rows per row group of `windows.parquet`: about an hour and a half of the demo rig's
/// windows. A writer holds a row group's encoded pages until it ends, and a day's table as
/// one row group (about a million rows) was 12 MB of a replay's peak.
const WINDOWS_ROW_GROUP_ROWS: usize = 65_536;

/// `dir/windows.parquet`, written as a run hands over its metric paths' windows (see
/// [`FusionSink::windows`](radcam_fusion::fused::FusionSink::windows)): by metric path then
/// time, one path at a time, so a long run's windows (tens of thousands of rows an hour) are
/// never all in memory, nor all of their encoded pages (see [`WINDOWS_ROW_GROUP_ROWS`]).
pub struct WindowsWriter {
    path: PathBuf,
    writer: ArrowWriter<std::fs::File>,
}

impl WindowsWriter {
    /// Creates `dir/windows.parquet`.
    pub fn create(dir: &Path) -> Result<Self> {
        let path = dir.join(WINDOWS_FILE);
        let writer = open_writer(
            &path,
            windows_rows_batch("", &[])?.schema(),
            Layout::RowGroups(WINDOWS_ROW_GROUP_ROWS),
        )?;
        Ok(Self { path, writer })
    }

    /// Appends the windows of one metric path.
    pub fn write(&mut self, metric_path: &str, windows: &[Evidence]) -> Result<()> {
        self.writer
            .write(&windows_rows_batch(metric_path, windows)?)
            .map_err(|e| Error::Parquet {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// Closes the table with `metadata`.
    pub fn finish(self, metadata: &BTreeMap<String, String>) -> Result<()> {
        close_writer(&self.path, self.writer, metadata)
    }
}

/// Writes `dir/sync.parquet`.
pub fn write_sync(
    dir: &Path,
    rows: &[SyncRecord],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_table(&dir.join(SYNC_FILE), &sync_batch(rows)?, metadata)
}

/// Writes `dir/audit.parquet`.
pub fn write_audit(
    dir: &Path,
    rows: &[AuditEvent],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_table(&dir.join(AUDIT_FILE), &audit_batch(rows)?, metadata)
}

/// How a table's file is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Layout<'a> {
    /// Written at once: zstd.
    Whole,
    /// Written as it comes, zstd, in row groups of this many rows (the last one shorter).
    RowGroups(usize),
    /// Streamed through a replay: LZ4, row groups of `row_group_rows` whose pages wait in
    /// temporary files (see [`crate::page_spill`]). Every column of every streamed table
    /// has a writer open for the whole replay, and zstd keeps a compression context in each
    /// (about 0.3 MB): a one-hour replay peaked at 55 MB with zstd level 1 and 32 MB with
    /// LZ4, and LZ4 is the faster of the two; the tables are about 28 % larger.
    Streamed {
        /// Where the pages of row groups in progress wait.
        spill: &'a crate::page_spill::PageSpill,
        /// Rows per row group.
        row_group_rows: usize,
        /// Columns written without compression (see [`crate::fusion_tables`]' lists).
        uncompressed: &'a [&'a str],
    },
}

/// Rows per data page. A page of 8-byte values is then 96 KiB, under glibc's 128 KiB mmap
/// threshold: every column of every streamed table holds one page in progress, and pages of
/// the default 20,000 rows (160 KiB) took a replay's peak memory from 32 to 39 MB.
const PAGE_ROWS: usize = 12_288;

/// A Parquet writer at `path` for `schema`, `created_by` pinned, no key-value metadata
/// yet (append it before closing).
pub(crate) fn open_writer(
    path: &Path,
    schema: arrow_schema::SchemaRef,
    layout: Layout<'_>,
) -> Result<ArrowWriter<std::fs::File>> {
    let pq = |e: &dyn std::fmt::Display| Error::Parquet {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let (compression, row_group_rows) = match layout {
        Layout::Whole => (
            Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| pq(&e))?),
            None,
        ),
        Layout::RowGroups(rows) => (
            Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| pq(&e))?),
            Some(rows.max(1)),
        ),
        Layout::Streamed { row_group_rows, .. } => (Compression::LZ4_RAW, Some(row_group_rows)),
    };
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_created_by(format!("radcam {}", env!("CARGO_PKG_VERSION")))
        // min/max per row group, not per page: a writer keeps every page's column index
        // until it closes, which grew a long replay's memory by megabytes an hour
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(row_group_rows)
        .set_data_page_row_count_limit(PAGE_ROWS);
    // dictionaries pay off for the repetitive strings (states, outcomes, clock ids); for
    // numbers they cost a hash per value and are mostly abandoned anyway
    for field in schema.fields() {
        let text = match field.data_type() {
            DataType::Utf8 => true,
            DataType::Dictionary(_, values) => **values == DataType::Utf8,
            _ => false,
        };
        if !text {
            props = props.set_column_dictionary_enabled(
                parquet::schema::types::ColumnPath::from(field.name().as_str()),
                false,
            );
        }
    }
    if let Layout::Streamed { uncompressed, .. } = layout {
        for name in uncompressed {
            props = props.set_column_compression(
                parquet::schema::types::ColumnPath::from(*name),
                Compression::UNCOMPRESSED,
            );
        }
        // nor the offset index of a streamed table: it is 24 bytes a page of every column,
        // also held until the file closes, some 10,000 pages (0.4 MB) an hour of the demo
        // rig. Readers go without it, scanning a row group instead of seeking to a page.
        props = props.set_offset_index_disabled(true);
        for field in schema.fields() {
            let column = parquet::schema::types::ColumnPath::from(field.name().as_str());
            props = if field.data_type().is_integer() {
                // integer columns (times, ids, counts, sequence numbers, the constant
                // calibration and config versions) rise or repeat: delta-encoded, their plain
                // 8-byte values shrink to a few bits each before LZ4 sees them (the streamed
                // tables of a replay hour of the demo rig: 193 → 170 MB, 3 MB less peak)
                props.set_column_encoding(column, parquet::basic::Encoding::DELTA_BINARY_PACKED)
            } else {
                // and min/max only for them (what a reader prunes its row groups of a
                // million time-ordered rows by); measurements, flags and categorical strings
                // span about their whole range in every row group, so theirs cost a
                // comparison per value (7 % of a replay's instructions) and prune nothing
                props.set_column_statistics_enabled(column, EnabledStatistics::None)
            };
        }
    }
    // no Arrow schema in the file: its Parquet types say all (every Arrow type written here
    // has one Parquet type that reads back as it), and a categorical column handed over as
    // a dictionary reads back as the plain text column it is
    let mut options = ArrowWriterOptions::new()
        .with_properties(props.build())
        .with_skip_arrow_metadata(true);
    if let Layout::Streamed { spill, .. } = layout {
        options = options.with_page_store_factory(Arc::new(spill.clone()));
    }
    let file = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    ArrowWriter::try_new_with_options(file, schema, options).map_err(|e| pq(&e))
}

/// Appends `metadata` as key-value metadata and closes the writer.
pub(crate) fn close_writer(
    path: &Path,
    mut w: ArrowWriter<std::fs::File>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    for (k, v) in metadata {
        w.append_key_value_metadata(KeyValue::new(k.clone(), v.clone()));
    }
    w.close().map_err(|e| Error::Parquet {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(())
}

/// Writes one record batch as a zstd Parquet file with `metadata` as key-value metadata.
pub(crate) fn write_table(
    path: &Path,
    batch: &RecordBatch,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut w = open_writer(path, batch.schema(), Layout::Whole)?;
    w.write(batch).map_err(|e| Error::Parquet {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    close_writer(path, w, metadata)
}

/// The `gates` table: `gate`, `metric`, `comparator`, `threshold`, `value`, `samples`,
/// `verdict`, `min_samples`, `required`, and the evidence `worst_window_start_ns`,
/// `worst_window_end_ns`, `worst_window_value` — one row per gate, in gate order.
pub fn gates_batch(results: &[GateResult]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("gate", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("comparator", DataType::Utf8, false),
        Field::new("threshold", DataType::Float64, false),
        Field::new("value", DataType::Float64, true),
        Field::new("samples", DataType::UInt64, false),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("min_samples", DataType::UInt64, false),
        Field::new("required", DataType::Boolean, false),
        Field::new("worst_window_start_ns", DataType::Int64, true),
        Field::new("worst_window_end_ns", DataType::Int64, true),
        Field::new("worst_window_value", DataType::Float64, true),
        Field::new("window_s", DataType::Float64, true),
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
        Arc::new(UInt64Array::from(
            results
                .iter()
                .map(|r| r.gate.min_samples)
                .collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            results.iter().map(|r| r.gate.required).collect::<Vec<_>>(),
        )),
        i64s(results, |r| r.evidence.map(|e| e.start_ns)),
        i64s(results, |r| r.evidence.map(|e| e.end_ns)),
        Arc::new(Float64Array::from(
            results
                .iter()
                .map(|r| r.evidence.map(|e| e.value))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            results.iter().map(|r| r.gate.window_s).collect::<Vec<_>>(),
        )),
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
    use radcam_fusion::gates::EVIDENCE_WINDOW_NS;

    #[test]
    fn clock_ids_are_written_out_per_row_across_changes() {
        let id = |estimator, epoch| ClockId { estimator, epoch };
        let rows = [
            id("bracket", 0),
            id("bracket", 0),
            id("bracket", 1),
            id("kalman", 1),
            id("kalman", 1),
            id("bracket", 0),
        ];
        let (got, _) = texts(&clock_ids(&rows, |r| *r));
        let want: Vec<String> = rows.iter().map(ToString::to_string).collect();
        assert_eq!(got, want);
        assert_eq!(got[2], "camera/bracket/epoch1");
    }

    /// A categorical column's texts, row by row, and how many texts it holds.
    fn texts(col: &ArrayRef) -> (Vec<String>, usize) {
        let col = col
            .as_any()
            .downcast_ref::<DictionaryArray<UInt32Type>>()
            .expect("categorical");
        let values = col
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("texts");
        let rows = col
            .keys()
            .values()
            .iter()
            .map(|&k| values.value(k as usize).to_owned())
            .collect();
        (rows, arrow_array::Array::len(values))
    }

    #[test]
    fn categorical_columns_keep_every_rows_text() {
        // an enum's texts: each held once
        let states = ["locked", "holdover", "unlocked"];
        let rows: Vec<&str> = (0..100).map(|i| states[(i * i + i / 7) % 3]).collect();
        let want: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(texts(&categorical(&rows, |r| *r)), (want, 3));
        // shared texts beside equal texts at other addresses, and more distinct texts than
        // are looked up: every row's text is kept all the same
        let shared: Vec<Arc<str>> = (0..LOOKED_UP_TEXTS + 5)
            .map(|k| Arc::from(format!("class{k}")))
            .collect();
        let mut rows: Vec<Arc<str>> = Vec::new();
        for round in 0..3 {
            for k in 0..shared.len() {
                rows.push(Arc::clone(&shared[(k * 7 + round) % shared.len()]));
                rows.push(Arc::from(format!("class{k}")));
            }
        }
        rows.push(Arc::from(""));
        let (got, _) = texts(&categorical(&rows, |r| &**r));
        let want: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(got, want);
        assert_eq!(texts(&categorical(&[] as &[&str], |r| *r)), (Vec::new(), 0));
    }

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

    /// A long run's windows table is cut into row groups (so its writer never holds a
    /// day's pages) and still has every row, by metric path then time.
    #[test]
    fn a_long_windows_table_is_written_in_row_groups_with_every_row() {
        let dir = tempfile::tempdir().expect("tmp");
        let windows = WINDOWS_ROW_GROUP_ROWS as i64 + 1_000;
        let mut w = WindowsWriter::create(dir.path()).expect("create");
        for name in ["a_rate", "b_rate"] {
            let rows: Vec<Evidence> = (0..windows)
                .map(|i| Evidence {
                    start_ns: i * EVIDENCE_WINDOW_NS,
                    end_ns: (i + 1) * EVIDENCE_WINDOW_NS,
                    value: (i % 3) as f64 / 3.0,
                    samples: 3,
                })
                .collect();
            w.write(name, &rows).expect("write");
        }
        w.finish(&BTreeMap::new()).expect("finish");
        let file = std::fs::File::open(dir.path().join(WINDOWS_FILE)).expect("open");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet");
        let rows = 2 * windows as usize;
        assert_eq!(
            reader.metadata().num_row_groups(),
            rows.div_ceil(WINDOWS_ROW_GROUP_ROWS)
        );
        let mut got = Vec::new();
        for b in reader.build().expect("reader") {
            let b = b.expect("batch");
            let start = b
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("i64");
            let metric = b
                .column(2)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("utf8");
            for i in 0..b.num_rows() {
                got.push((metric.value(i).to_owned(), start.value(i)));
            }
        }
        let want: Vec<(String, i64)> = ["a_rate", "b_rate"]
            .iter()
            .flat_map(|n| (0..windows).map(move |w| (n.to_string(), w * EVIDENCE_WINDOW_NS)))
            .collect();
        assert_eq!(got, want);
    }
}
