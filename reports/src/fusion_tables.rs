//! The fusion tables: `tracks` (the fused object list), `associations` (every decision with its
//! gates), `ground_truth` and `tracking` (the CLEAR-MOT / ID summary), so anyone can recompute
//! the tracking metrics (e.g. with py-motmetrics) from the first three.

use crate::page_spill::PageSpill;
use crate::parquet_out::{Layout, batch, close_writer, i64s, open_writer, u64s, utf8, write_table};
use crate::{Error, Result};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use radcam_fusion::fused::{AssociationRecord, FrameRecord, FusedObject, FusionSink, TruthRecord};
use radcam_fusion::metrics::MotSummary;
use radcam_fusion::provenance::Provenance;
use radcam_fusion::sync::SyncRecord;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name of the fused object list.
pub const TRACKS_FILE: &str = "tracks.parquet";
/// File name of the association decisions.
pub const ASSOCIATIONS_FILE: &str = "associations.parquet";
/// File name of the truth objects of evaluated frames.
pub const GROUND_TRUTH_FILE: &str = "ground_truth.parquet";
/// File name of the tracking summary.
pub const TRACKING_FILE: &str = "tracking.parquet";
/// File name of the per-frame table.
pub const FRAMES_FILE: &str = "frames.parquet";

fn f64s<T>(rows: &[T], f: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
}

fn bools<T>(rows: &[T], f: impl Fn(&T) -> Option<bool>) -> ArrayRef {
    Arc::new(BooleanArray::from(rows.iter().map(f).collect::<Vec<_>>()))
}

/// The provenance columns shared by every table derived from fused outputs.
fn provenance_columns<T>(rows: &[T], p: impl Fn(&T) -> &Provenance) -> (Vec<Field>, Vec<ArrayRef>) {
    (
        vec![
            Field::new("sync_state", DataType::Utf8, false),
            Field::new("timestamp_source", DataType::Utf8, false),
            Field::new("cal_version", DataType::UInt64, false),
            Field::new("config_version", DataType::UInt64, false),
            Field::new("clock_id", DataType::Utf8, false),
            Field::new("ptp_offset_ns_bucket", DataType::Utf8, false),
            Field::new("event_seq", DataType::UInt64, false),
        ],
        vec![
            utf8(rows, |r| p(r).sync_state.as_str()),
            utf8(rows, |r| p(r).timestamp_source.as_str()),
            u64s(rows, |r| p(r).cal_version),
            u64s(rows, |r| p(r).config_version),
            utf8(rows, |r| &p(r).clock_id),
            utf8(rows, |r| p(r).ptp_offset_ns_bucket),
            u64s(rows, |r| p(r).event_seq),
        ],
    )
}

/// The `tracks` table: one row per fused object per camera frame.
pub fn tracks_batch(rows: &[FusedObject]) -> Result<RecordBatch> {
    let mut fields = vec![
        Field::new("t_ns", DataType::Int64, false),
        Field::new("frame_id", DataType::UInt64, false),
        Field::new("track_id", DataType::UInt64, false),
        Field::new("x_m", DataType::Float64, false),
        Field::new("y_m", DataType::Float64, false),
        Field::new("vx_mps", DataType::Float64, false),
        Field::new("vy_mps", DataType::Float64, false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("frozen", DataType::Boolean, false),
    ];
    let mut columns = vec![
        i64s(rows, |r| Some(r.t_ns)),
        u64s(rows, |r| r.frame_id),
        u64s(rows, |r| r.track_id),
        f64s(rows, |r| Some(r.x_m)),
        f64s(rows, |r| Some(r.y_m)),
        f64s(rows, |r| Some(r.vx_mps)),
        f64s(rows, |r| Some(r.vy_mps)),
        f64s(rows, |r| Some(r.confidence)),
        bools(rows, |r| Some(r.frozen)),
    ];
    let (pf, pc) = provenance_columns(rows, |r| &r.provenance);
    fields.extend(pf);
    columns.extend(pc);
    batch(TRACKS_FILE, fields, columns)
}

/// The `associations` table: one row per candidate pair, or per detection without one.
pub fn associations_batch(rows: &[AssociationRecord]) -> Result<RecordBatch> {
    let mut fields = vec![
        Field::new("t_ns", DataType::Int64, false),
        Field::new("frame_id", DataType::UInt64, false),
        Field::new("detection_index", DataType::UInt32, false),
        Field::new("camera_object_id", DataType::UInt64, true),
        Field::new("score", DataType::Float64, false),
        Field::new("radar_object_index", DataType::UInt32, true),
        Field::new("residual_px", DataType::Float64, true),
        Field::new("margin_px", DataType::Float64, true),
        Field::new("projection_sigma_px", DataType::Float64, true),
        Field::new("radar_range_m", DataType::Float64, true),
        Field::new("radar_doppler_mps", DataType::Float64, true),
        Field::new("camera_radial_mps", DataType::Float64, true),
        Field::new("velocity_tolerance_mps", DataType::Float64, true),
        Field::new("radar_snr_db", DataType::Float64, true),
        Field::new("position_gate", DataType::Boolean, true),
        Field::new("velocity_gate", DataType::Boolean, true),
        Field::new("confidence_gate", DataType::Boolean, true),
        Field::new("outcome", DataType::Utf8, false),
    ];
    let mut columns = vec![
        i64s(rows, |r| Some(r.t_ns)),
        u64s(rows, |r| r.frame_id),
        Arc::new(UInt32Array::from(
            rows.iter().map(|r| r.detection_index).collect::<Vec<_>>(),
        )) as ArrayRef,
        Arc::new(arrow_array::UInt64Array::from(
            rows.iter().map(|r| r.camera_object_id).collect::<Vec<_>>(),
        )),
        f64s(rows, |r| Some(r.score)),
        Arc::new(UInt32Array::from(
            rows.iter()
                .map(|r| r.radar_object_index)
                .collect::<Vec<_>>(),
        )),
        f64s(rows, |r| r.residual_px),
        f64s(rows, |r| r.margin_px),
        f64s(rows, |r| r.projection_sigma_px),
        f64s(rows, |r| r.radar_range_m),
        f64s(rows, |r| r.radar_doppler_mps),
        f64s(rows, |r| r.camera_radial_mps),
        f64s(rows, |r| r.velocity_tolerance_mps),
        f64s(rows, |r| r.radar_snr_db),
        bools(rows, |r| r.position_gate),
        bools(rows, |r| r.velocity_gate),
        bools(rows, |r| r.confidence_gate),
        utf8(rows, |r| r.outcome.as_str()),
    ];
    let (pf, pc) = provenance_columns(rows, |r| &r.provenance);
    fields.extend(pf);
    columns.extend(pc);
    batch(ASSOCIATIONS_FILE, fields, columns)
}

/// The `frames` table: one row per camera frame that reached fusion, in fusion order.
pub fn frames_batch(rows: &[FrameRecord]) -> Result<RecordBatch> {
    let ms = |a: i64, b: i64| (b - a) as f64 / 1e6;
    let mut fields = vec![
        Field::new("frame_id", DataType::UInt64, false),
        Field::new("t_ns", DataType::Int64, false),
        Field::new("arrival_ns", DataType::Int64, false),
        Field::new("detections_ns", DataType::Int64, false),
        Field::new("ready_ns", DataType::Int64, true),
        Field::new("t_fuse_start_ns", DataType::Int64, true),
        Field::new("t_fuse_end_ns", DataType::Int64, true),
        Field::new("t_tx_ns", DataType::Int64, true),
        Field::new("frame_queue_depth", DataType::UInt32, true),
        Field::new("latency_camera_ms", DataType::Float64, false),
        Field::new("latency_detector_ms", DataType::Float64, false),
        Field::new("latency_e2e_ms", DataType::Float64, true),
        Field::new("detections", DataType::UInt32, false),
        Field::new("associated", DataType::UInt32, false),
        Field::new("fused_objects", DataType::UInt32, false),
        Field::new("radar_objects_in_view", DataType::UInt32, false),
        Field::new("radar_objects_unmatched", DataType::UInt32, false),
        Field::new("temperature_c", DataType::Float64, true),
        Field::new("cpu_load_pct", DataType::Float64, true),
    ];
    let u32s = |f: &dyn Fn(&FrameRecord) -> u32| -> ArrayRef {
        Arc::new(UInt32Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let mut columns = vec![
        u64s(rows, |r| r.frame_id),
        i64s(rows, |r| Some(r.t_ns)),
        i64s(rows, |r| Some(r.arrival_ns)),
        i64s(rows, |r| Some(r.detections_ns)),
        i64s(rows, |r| r.ready_ns),
        i64s(rows, |r| r.fuse_start_ns),
        i64s(rows, |r| r.fuse_end_ns),
        i64s(rows, |r| r.tx_ns),
        Arc::new(UInt32Array::from(
            rows.iter().map(|r| r.queue_depth).collect::<Vec<_>>(),
        )),
        f64s(rows, |r| Some(ms(r.t_ns, r.arrival_ns))),
        f64s(rows, |r| Some(ms(r.arrival_ns, r.detections_ns))),
        f64s(rows, |r| r.tx_ns.map(|f| ms(r.t_ns, f))),
        u32s(&|r| r.detections),
        u32s(&|r| r.associated),
        u32s(&|r| r.fused_objects),
        u32s(&|r| r.radar_objects_in_view),
        u32s(&|r| r.radar_objects_unmatched),
        f64s(rows, |r| r.temperature_c),
        f64s(rows, |r| r.cpu_load_pct),
    ];
    let (pf, pc) = provenance_columns(rows, |r| &r.provenance);
    fields.extend(pf);
    columns.extend(pc);
    batch(FRAMES_FILE, fields, columns)
}

/// The `ground_truth` table: the truth objects of every evaluated frame, in evaluation order.
pub fn ground_truth_batch(rows: &[TruthRecord]) -> Result<RecordBatch> {
    let fields = vec![
        Field::new("t_ns", DataType::Int64, false),
        Field::new("frame_id", DataType::UInt64, false),
        Field::new("object_id", DataType::UInt64, false),
        Field::new("class_name", DataType::Utf8, false),
        Field::new("x_m", DataType::Float64, false),
        Field::new("y_m", DataType::Float64, false),
        Field::new("vx_mps", DataType::Float64, false),
        Field::new("vy_mps", DataType::Float64, false),
    ];
    let columns = vec![
        i64s(rows, |r| Some(r.t_ns)),
        u64s(rows, |r| r.frame_id),
        u64s(rows, |r| r.object_id),
        utf8(rows, |r| &r.class_name),
        f64s(rows, |r| Some(r.x_m)),
        f64s(rows, |r| Some(r.y_m)),
        f64s(rows, |r| Some(r.vx_mps)),
        f64s(rows, |r| Some(r.vy_mps)),
    ];
    batch(GROUND_TRUTH_FILE, fields, columns)
}

/// The `tracking` table: one row of CLEAR-MOT / ID measures.
pub fn tracking_batch(s: &MotSummary) -> Result<RecordBatch> {
    let rows = [*s];
    let fields = vec![
        Field::new("num_switches", DataType::UInt64, false),
        Field::new("num_matches", DataType::UInt64, false),
        Field::new("num_misses", DataType::UInt64, false),
        Field::new("num_false_positives", DataType::UInt64, false),
        Field::new("num_objects", DataType::UInt64, false),
        Field::new("num_predictions", DataType::UInt64, false),
        Field::new("num_frames", DataType::UInt64, false),
        Field::new("mota", DataType::Float64, false),
        Field::new("idf1", DataType::Float64, false),
        Field::new("idtp", DataType::UInt64, false),
        Field::new("match_threshold_m", DataType::Float64, false),
    ];
    let columns = vec![
        u64s(&rows, |r| r.num_switches),
        u64s(&rows, |r| r.num_matches),
        u64s(&rows, |r| r.num_misses),
        u64s(&rows, |r| r.num_false_positives),
        u64s(&rows, |r| r.num_objects),
        u64s(&rows, |r| r.num_predictions),
        u64s(&rows, |r| r.num_frames),
        f64s(&rows, |r| Some(r.mota)),
        f64s(&rows, |r| Some(r.idf1)),
        u64s(&rows, |r| r.idtp),
        f64s(&rows, |r| Some(r.match_threshold_m)),
    ];
    batch(TRACKING_FILE, fields, columns)
}

/// Rows buffered per table before they are handed to the writer as one batch.
const BATCH_ROWS: usize = 8_192;

/// Rows per row group of a streamed table (the Parquet default). A writer keeps every
/// closed row group's metadata (about 1 KB a column) until the file closes, so the row
/// groups of 16,384 rows used before grew a long replay's memory by megabytes an hour.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// One table being streamed: rows are buffered and handed to the writer a batch at a time;
/// the writer closes a row group every `row_group_rows`.
struct TableStream<T> {
    path: PathBuf,
    spill: PageSpill,
    row_group_rows: usize,
    to_batch: fn(&[T]) -> Result<RecordBatch>,
    writer: Option<ArrowWriter<std::fs::File>>,
    buf: Vec<T>,
}

impl<T> TableStream<T> {
    fn new(path: PathBuf, spill: &PageSpill, to_batch: fn(&[T]) -> Result<RecordBatch>) -> Self {
        Self {
            path,
            spill: spill.clone(),
            row_group_rows: ROW_GROUP_ROWS,
            to_batch,
            writer: None,
            buf: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<()> {
        let batch = (self.to_batch)(&self.buf)?;
        self.buf.clear();
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(open_writer(
                &self.path,
                batch.schema(),
                Layout::Streamed {
                    spill: &self.spill,
                    row_group_rows: self.row_group_rows,
                },
            )?),
        };
        w.write(&batch).map_err(|e| Error::Parquet {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }

    fn push(&mut self, row: T) -> Result<()> {
        self.buf.push(row);
        if self.buf.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered (an empty table if nothing ever came) and closes the file.
    fn finish(mut self, metadata: &BTreeMap<String, String>) -> Result<()> {
        if !self.buf.is_empty() || self.writer.is_none() {
            self.flush()?;
        }
        match self.writer.take() {
            Some(w) => close_writer(&self.path, w, metadata),
            None => Ok(()),
        }
    }
}

/// Streams `tracks.parquet`, `associations.parquet` and `ground_truth.parquet` into a report
/// directory as a replay makes the rows; [`FusionTablesWriter::finish`] adds the key-value
/// metadata, `tracking.parquet`, and drops `ground_truth.parquet` for a recording without
/// truth. The first write error is kept and returned by `finish`.
pub struct FusionTablesWriter {
    tracks: TableStream<FusedObject>,
    associations: TableStream<AssociationRecord>,
    truth: TableStream<TruthRecord>,
    frames: TableStream<FrameRecord>,
    sync: TableStream<SyncRecord>,
    dir: PathBuf,
    error: Option<Error>,
}

impl FusionTablesWriter {
    /// A writer into `dir` (which must exist), parking pages of row groups in progress in
    /// temporary files in `spill_dir` (the system temporary directory when `None`). Files
    /// are created on the first batch.
    pub fn new(dir: &Path, spill_dir: Option<&Path>) -> Self {
        let spill = PageSpill {
            dir: spill_dir.map(Path::to_owned),
        };
        let table = |name: &str| dir.join(name);
        Self {
            tracks: TableStream::new(table(TRACKS_FILE), &spill, tracks_batch),
            associations: TableStream::new(table(ASSOCIATIONS_FILE), &spill, associations_batch),
            truth: TableStream::new(table(GROUND_TRUTH_FILE), &spill, ground_truth_batch),
            frames: TableStream::new(table(FRAMES_FILE), &spill, frames_batch),
            sync: TableStream::new(
                table(crate::SYNC_FILE),
                &spill,
                crate::parquet_out::sync_batch,
            ),
            dir: dir.to_owned(),
            error: None,
        }
    }

    fn keep(&mut self, r: Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// Closes every table with `metadata`; with a tracking summary also writes
    /// `ground_truth.parquet` and `tracking.parquet`. Returns the file names written.
    pub fn finish(
        self,
        metadata: &BTreeMap<String, String>,
        tracking: Option<&MotSummary>,
    ) -> Result<Vec<&'static str>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.tracks.finish(metadata)?;
        self.associations.finish(metadata)?;
        self.frames.finish(metadata)?;
        self.sync.finish(metadata)?;
        let mut written = vec![
            crate::SYNC_FILE,
            FRAMES_FILE,
            TRACKS_FILE,
            ASSOCIATIONS_FILE,
        ];
        match tracking {
            Some(s) => {
                self.truth.finish(metadata)?;
                write_table(&self.dir.join(TRACKING_FILE), &tracking_batch(s)?, metadata)?;
                written.extend([GROUND_TRUTH_FILE, TRACKING_FILE]);
            }
            None => {
                // no truth: no truth tables (and none left over from an earlier run)
                for f in [GROUND_TRUTH_FILE, TRACKING_FILE] {
                    let _ = std::fs::remove_file(self.dir.join(f));
                }
            }
        }
        Ok(written)
    }
}

impl FusionSink for FusionTablesWriter {
    fn fused(&mut self, row: FusedObject) {
        let r = self.tracks.push(row);
        self.keep(r);
    }

    fn association(&mut self, row: AssociationRecord) {
        let r = self.associations.push(row);
        self.keep(r);
    }

    fn truth(&mut self, row: TruthRecord) {
        let r = self.truth.push(row);
        self.keep(r);
    }

    fn frame(&mut self, row: FrameRecord) {
        let r = self.frames.push(row);
        self.keep(r);
    }

    fn sync(&mut self, row: SyncRecord) {
        let r = self.sync.push(row);
        self.keep(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use radcam_fusion::provenance::Provenance;
    use radcam_fusion::sync::SyncState;
    use radcam_fusion::time::TimestampSource;

    fn object(i: u64) -> FusedObject {
        FusedObject {
            t_ns: i as i64 * 33_333_333,
            frame_id: i / 8,
            track_id: i % 8,
            x_m: i as f64 * 0.01,
            y_m: -1.0,
            vx_mps: 2.0,
            vy_mps: 0.0,
            confidence: 0.9,
            frozen: false,
            provenance: Provenance {
                timestamp_source: TimestampSource::Hw,
                cal_version: 3,
                config_version: 1,
                sync_state: SyncState::Locked,
                clock_id: "camera/bracket/epoch0".into(),
                ptp_offset_ns_bucket: "<1us",
                event_seq: i + 1,
            },
        }
    }

    fn write(dir: &Path, n: u64, tracking: Option<&MotSummary>) -> Vec<&'static str> {
        let mut w = FusionTablesWriter::new(dir, None);
        w.tracks.row_group_rows = 1000;
        for i in 0..n {
            w.fused(object(i));
        }
        let meta: BTreeMap<String, String> = [("seed".to_owned(), "1".to_owned())].into();
        w.finish(&meta, tracking).expect("finish")
    }

    #[test]
    fn streams_row_groups_with_every_row_and_identical_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        let n = 2 * 1000 + 17;
        assert_eq!(
            write(&a, n, None),
            vec![
                crate::SYNC_FILE,
                FRAMES_FILE,
                TRACKS_FILE,
                ASSOCIATIONS_FILE
            ]
        );
        write(&b, n, None);
        let bytes = |d: &Path| std::fs::read(d.join(TRACKS_FILE)).expect("read");
        assert_eq!(bytes(&a), bytes(&b));
        let reader =
            SerializedFileReader::new(std::fs::File::open(a.join(TRACKS_FILE)).expect("open"))
                .expect("parquet");
        let md = reader.metadata();
        assert_eq!(
            md.file_metadata().num_rows(),
            i64::try_from(n).expect("fits")
        );
        assert_eq!(md.num_row_groups(), 3);
        let kv = md.file_metadata().key_value_metadata().expect("kv");
        assert!(kv.iter().any(|k| k.key == "seed"));
        // an empty table is still a valid file; no truth, no truth tables
        assert!(a.join(ASSOCIATIONS_FILE).exists());
        assert!(!a.join(GROUND_TRUTH_FILE).exists() && !a.join(TRACKING_FILE).exists());
    }
}
