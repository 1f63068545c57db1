//! The fusion tables: `tracks` (the fused object list), `associations` (every decision with its
//! gates), `ground_truth` and `tracking` (the CLEAR-MOT / ID summary), so anyone can recompute
//! the tracking metrics (e.g. with py-motmetrics) from the first three.

use crate::association_columns::AssociationColumns;
use crate::page_spill::PageSpill;
use crate::parquet_out::{
    Layout, WindowsWriter, batch, bools, categorical, categorical_type, clock_ids, close_writer,
    f64s, i64s, open_writer, u64s, write_table,
};
use crate::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use radcam_fusion::fused::{AssociationRecord, FrameRecord, FusedObject, FusionSink, TruthRecord};
use radcam_fusion::gates::Evidence;
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

/// The provenance columns shared by every table derived from fused outputs.
pub(crate) fn provenance_columns<T>(
    rows: &[T],
    p: impl Fn(&T) -> &Provenance,
) -> (Vec<Field>, Vec<ArrayRef>) {
    (
        vec![
            Field::new("sync_state", categorical_type(), false),
            Field::new("timestamp_source", categorical_type(), false),
            Field::new("cal_version", DataType::UInt64, false),
            Field::new("config_version", DataType::UInt64, false),
            Field::new("clock_id", categorical_type(), false),
            Field::new("ptp_offset_ns_bucket", categorical_type(), false),
            Field::new("event_seq", DataType::UInt64, false),
        ],
        vec![
            categorical(rows, |r| p(r).sync_state.as_str()),
            categorical(rows, |r| p(r).timestamp_source.as_str()),
            u64s(rows, |r| p(r).cal_version),
            u64s(rows, |r| p(r).config_version),
            clock_ids(rows, |r| p(r).clock_id),
            categorical(rows, |r| p(r).ptp_offset_ns_bucket),
            u64s(rows, |r| p(r).event_seq),
        ],
    )
}

/// Columns of the streamed tables written without compression: measurements that vary
/// continuously from row to row (estimated positions and velocities, residuals, latencies),
/// in which LZ4 finds nothing to shrink (on the demo rig each came out within 0.4 % of its
/// size, most of them larger) but still searches every page. Measured, 2026-11-24: a one-CPU
/// replay hour 0.5 % faster, its tables 0.16 MB smaller. The tracker's velocities shrink by
/// 1 % and stay compressed.
const TRACKS_UNCOMPRESSED: &[&str] = &["x_m", "y_m"];
/// See [`TRACKS_UNCOMPRESSED`].
const ASSOCIATIONS_UNCOMPRESSED: &[&str] =
    &["residual_px", "camera_radial_mps", "velocity_tolerance_mps"];
/// See [`TRACKS_UNCOMPRESSED`].
const FRAMES_UNCOMPRESSED: &[&str] =
    &["latency_camera_ms", "latency_detector_ms", "latency_e2e_ms"];

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
        Field::new("class_name", categorical_type(), false),
        Field::new("x_m", DataType::Float64, false),
        Field::new("y_m", DataType::Float64, false),
        Field::new("vx_mps", DataType::Float64, false),
        Field::new("vy_mps", DataType::Float64, false),
    ];
    let columns = vec![
        i64s(rows, |r| Some(r.t_ns)),
        u64s(rows, |r| r.frame_id),
        u64s(rows, |r| r.object_id),
        categorical(rows, |r| &r.class_name),
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

/// Rows buffered per table before they are handed to the encoding thread as one batch.
const BATCH_ROWS: usize = 4_096;

/// Batches that may wait for the encoding thread: when it falls this far behind, the replay
/// waits for it, so besides each table's batch being filled at most two are in memory (one
/// waiting, of any table, and one being encoded), and an emptied one per table kept for reuse
/// (but for `associations`, whose columns become the record batch's arrays).
const BATCHES_IN_FLIGHT: usize = 1;

/// Rows per row group of a streamed table (the Parquet default). A writer keeps every
/// closed row group's metadata (about 1 KB a column) until the file closes, so the row
/// groups of 16,384 rows used before grew a long replay's memory by megabytes an hour.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// One streamed table's Parquet writer: batches of rows in, row groups of `row_group_rows`
/// closed by the writer. Lives on the encoding thread.
struct TableEncoder<B: ?Sized> {
    path: PathBuf,
    spill: PageSpill,
    row_group_rows: usize,
    to_batch: fn(&mut B) -> Result<RecordBatch>,
    /// Columns written without compression.
    uncompressed: &'static [&'static str],
    writer: Option<ArrowWriter<std::fs::File>>,
}

impl<B: ?Sized> TableEncoder<B> {
    fn new(
        path: PathBuf,
        spill: &PageSpill,
        row_group_rows: usize,
        to_batch: fn(&mut B) -> Result<RecordBatch>,
        uncompressed: &'static [&'static str],
    ) -> Self {
        Self {
            path,
            spill: spill.clone(),
            row_group_rows,
            to_batch,
            uncompressed,
            writer: None,
        }
    }

    /// Encodes `rows`; the file is created on the first call.
    fn write(&mut self, rows: &mut B) -> Result<()> {
        let batch = (self.to_batch)(rows)?;
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(open_writer(
                &self.path,
                batch.schema(),
                Layout::Streamed {
                    spill: &self.spill,
                    row_group_rows: self.row_group_rows,
                    uncompressed: self.uncompressed,
                },
            )?),
        };
        w.write(&batch).map_err(|e| Error::Parquet {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }

    /// Closes the file with `metadata` (the table of `empty`, no rows, if no row ever came).
    fn finish(mut self, metadata: &BTreeMap<String, String>, empty: &mut B) -> Result<()> {
        if self.writer.is_none() {
            self.write(empty)?;
        }
        match self.writer.take() {
            Some(w) => close_writer(&self.path, w, metadata),
            None => Ok(()),
        }
    }
}

/// The encoders of every streamed table.
struct Encoders {
    tracks: TableEncoder<[FusedObject]>,
    associations: TableEncoder<AssociationColumns>,
    truth: TableEncoder<[TruthRecord]>,
    frames: TableEncoder<[FrameRecord]>,
    sync: TableEncoder<[SyncRecord]>,
}

impl Encoders {
    fn write(&mut self, batch: &mut Batch) -> Result<()> {
        match batch {
            Batch::Tracks(rows) => self.tracks.write(rows),
            Batch::Associations(rows) => self.associations.write(rows),
            Batch::Truth(rows) => self.truth.write(rows),
            Batch::Frames(rows) => self.frames.write(rows),
            Batch::Sync(rows) => self.sync.write(rows),
        }
    }
}

/// A batch of one table's rows, on its way to the encoding thread (and back, emptied).
enum Batch {
    Tracks(Vec<FusedObject>),
    /// Boxed: the columns' vectors themselves are some 400 bytes.
    Associations(Box<AssociationColumns>),
    Truth(Vec<TruthRecord>),
    Frames(Vec<FrameRecord>),
    Sync(Vec<SyncRecord>),
}

impl Batch {
    /// Drops the rows, keeping the allocation.
    fn clear(&mut self) {
        match self {
            Batch::Tracks(rows) => rows.clear(),
            // its columns were moved into the record batch: nothing is left to drop
            Batch::Associations(_) => {}
            Batch::Truth(rows) => rows.clear(),
            Batch::Frames(rows) => rows.clear(),
            Batch::Sync(rows) => rows.clear(),
        }
    }
}

/// Rows not yet handed to the encoding thread, per table.
#[derive(Default)]
struct Buffers {
    tracks: Vec<FusedObject>,
    associations: AssociationColumns,
    truth: Vec<TruthRecord>,
    frames: Vec<FrameRecord>,
    sync: Vec<SyncRecord>,
}

/// What the encoding thread hands back when its input ends: the encoders (to be closed) and
/// the first error, after which it encoded nothing more.
type Encoded = (Encoders, Option<Error>);

/// Streams `tracks.parquet`, `associations.parquet`, `ground_truth.parquet`, `frames.parquet`
/// and `sync.parquet` into a report directory as a replay makes the rows.
///
/// Rows are encoded on a thread of their own, a batch at a time and in the order they came,
/// so the files are the same whatever the timing: a replay's fusion and the Parquet encoding
/// of its tables (about a third of its CPU time) then run side by side.
/// [`FusionTablesWriter::finish`] adds the key-value metadata, `tracking.parquet`, and drops
/// `ground_truth.parquet` for a recording without truth. The first write error is kept and
/// returned by `finish`.
pub struct FusionTablesWriter {
    buffers: Buffers,
    /// An emptied buffer per table, back from the encoding thread, for the next batch (none
    /// for `associations`: its columns were moved into the record batch).
    spare: Buffers,
    to_encoder: Option<std::sync::mpsc::SyncSender<Batch>>,
    /// Batches the encoding thread has encoded, emptied. Reusing them spares the replay the
    /// page faults of a fresh megabyte for every batch (about 3 % of its time).
    from_encoder: Option<std::sync::mpsc::Receiver<Batch>>,
    encoder: Option<std::thread::JoinHandle<Encoded>>,
    dir: PathBuf,
    /// `windows.parquet`, once the run hands over its first metric path's windows.
    windows: Option<WindowsWriter>,
    /// The first error writing it.
    windows_error: Option<Error>,
}

impl FusionTablesWriter {
    /// A writer into `dir` (which must exist), parking pages of row groups in progress in
    /// temporary files in `spill_dir` (the system temporary directory when `None`). Files
    /// are created on the first batch.
    pub fn new(dir: &Path, spill_dir: Option<&Path>) -> Self {
        Self::with_row_groups(dir, spill_dir, ROW_GROUP_ROWS)
    }

    fn with_row_groups(dir: &Path, spill_dir: Option<&Path>, row_group_rows: usize) -> Self {
        let spill = PageSpill {
            dir: spill_dir.map(Path::to_owned),
        };
        let table = |name: &str| dir.join(name);
        let mut encoders = Encoders {
            tracks: TableEncoder::new(
                table(TRACKS_FILE),
                &spill,
                row_group_rows,
                |rows: &mut [FusedObject]| tracks_batch(rows),
                TRACKS_UNCOMPRESSED,
            ),
            associations: TableEncoder::new(
                table(ASSOCIATIONS_FILE),
                &spill,
                row_group_rows,
                AssociationColumns::take_batch,
                ASSOCIATIONS_UNCOMPRESSED,
            ),
            truth: TableEncoder::new(
                table(GROUND_TRUTH_FILE),
                &spill,
                row_group_rows,
                |rows: &mut [TruthRecord]| ground_truth_batch(rows),
                &[],
            ),
            frames: TableEncoder::new(
                table(FRAMES_FILE),
                &spill,
                row_group_rows,
                |rows: &mut [FrameRecord]| frames_batch(rows),
                FRAMES_UNCOMPRESSED,
            ),
            sync: TableEncoder::new(
                table(crate::SYNC_FILE),
                &spill,
                row_group_rows,
                |rows: &mut [SyncRecord]| crate::parquet_out::sync_batch(rows),
                &[],
            ),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Batch>();
        let encoder = std::thread::Builder::new()
            .name("radcam-tables".into())
            .spawn(move || {
                let mut error = None;
                for mut batch in rx {
                    if error.is_none() {
                        error = encoders.write(&mut batch).err();
                    }
                    batch.clear();
                    // the replay may have finished and gone: the buffer is then just freed
                    let _ = back_tx.send(batch);
                }
                (encoders, error)
            });
        let (to_encoder, from_encoder, encoder) = match encoder {
            Ok(handle) => (Some(tx), Some(back_rx), Some(handle)),
            // no thread to be had: `finish` reports it
            Err(_) => (None, None, None),
        };
        Self {
            buffers: Buffers::default(),
            spare: Buffers::default(),
            to_encoder,
            from_encoder,
            encoder,
            dir: dir.to_owned(),
            windows: None,
            windows_error: None,
        }
    }

    /// Keeps the emptied batches the encoding thread has handed back, one per table (any
    /// more are freed: the replay fills one batch per table at a time).
    fn take_back_spares(&mut self) {
        let Some(rx) = &self.from_encoder else {
            return;
        };
        fn keep<T>(spare: &mut Vec<T>, rows: Vec<T>) {
            if spare.capacity() == 0 {
                *spare = rows;
            }
        }
        for batch in rx.try_iter() {
            match batch {
                Batch::Tracks(rows) => keep(&mut self.spare.tracks, rows),
                // its columns were moved into the record batch: no room is left to reuse
                Batch::Associations(_) => {}
                Batch::Truth(rows) => keep(&mut self.spare.truth, rows),
                Batch::Frames(rows) => keep(&mut self.spare.frames, rows),
                Batch::Sync(rows) => keep(&mut self.spare.sync, rows),
            }
        }
    }

    /// Hands `batch` to the encoding thread, waiting while it is [`BATCHES_IN_FLIGHT`]
    /// behind. A thread that has gone away is found out by `finish`.
    fn send(&mut self, batch: Batch) {
        if let Some(tx) = &self.to_encoder
            && tx.send(batch).is_err()
        {
            self.to_encoder = None;
        }
    }

    /// Ends the encoding thread's input and waits for it: `None` if it never started.
    fn stop(&mut self) -> Option<std::thread::Result<Encoded>> {
        drop(self.to_encoder.take());
        self.encoder.take().map(std::thread::JoinHandle::join)
    }

    /// Closes every table (and `windows.parquet`, empty if no windows came) with `metadata`;
    /// with a tracking summary also writes `ground_truth.parquet` and `tracking.parquet`.
    /// Returns the file names written (but `windows.parquet`).
    pub fn finish(
        mut self,
        metadata: &BTreeMap<String, String>,
        tracking: Option<&MotSummary>,
    ) -> Result<Vec<&'static str>> {
        let b = std::mem::take(&mut self.buffers);
        for batch in [
            (!b.tracks.is_empty()).then_some(Batch::Tracks(b.tracks)),
            (!b.associations.is_empty()).then(|| Batch::Associations(Box::new(b.associations))),
            (!b.truth.is_empty()).then_some(Batch::Truth(b.truth)),
            (!b.frames.is_empty()).then_some(Batch::Frames(b.frames)),
            (!b.sync.is_empty()).then_some(Batch::Sync(b.sync)),
        ]
        .into_iter()
        .flatten()
        {
            self.send(batch);
        }
        let stopped = self.stop();
        let lost = || Error::Parquet {
            path: self.dir.clone(),
            detail: "the table encoding thread could not be started or stopped unexpectedly".into(),
        };
        let (encoders, error) = stopped.ok_or_else(lost)?.map_err(|_| lost())?;
        if let Some(e) = error.or(self.windows_error.take()) {
            return Err(e);
        }
        match self.windows.take() {
            Some(w) => w.finish(metadata)?,
            None => WindowsWriter::create(&self.dir)?.finish(metadata)?,
        }
        encoders.tracks.finish(metadata, &mut [])?;
        encoders
            .associations
            .finish(metadata, &mut AssociationColumns::default())?;
        encoders.frames.finish(metadata, &mut [])?;
        encoders.sync.finish(metadata, &mut [])?;
        let mut written = vec![
            crate::SYNC_FILE,
            FRAMES_FILE,
            TRACKS_FILE,
            ASSOCIATIONS_FILE,
        ];
        match tracking {
            Some(s) => {
                encoders.truth.finish(metadata, &mut [])?;
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

impl Drop for FusionTablesWriter {
    /// A writer dropped without `finish` (the replay failed) stops its thread before going.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Adds `row` to `buf`; a full buffer is handed on as one batch.
macro_rules! buffered {
    ($self:ident, $table:ident, $variant:ident, $row:expr) => {{
        if $self.buffers.$table.capacity() == 0 {
            $self.take_back_spares();
            $self.buffers.$table = std::mem::take(&mut $self.spare.$table);
            $self.buffers.$table.reserve_exact(BATCH_ROWS);
        }
        let buf = &mut $self.buffers.$table;
        buf.push($row);
        if buf.len() >= BATCH_ROWS {
            let full = std::mem::take(buf);
            $self.send(Batch::$variant(full));
        }
    }};
}

impl FusionSink for FusionTablesWriter {
    fn fused(&mut self, row: FusedObject) {
        buffered!(self, tracks, Tracks, row);
    }

    fn association(&mut self, row: AssociationRecord) {
        if !self.buffers.associations.has_capacity() {
            // fresh columns for each batch: the last batch's became its Arrow arrays
            self.buffers.associations = AssociationColumns::with_capacity(BATCH_ROWS);
        }
        let columns = &mut self.buffers.associations;
        columns.push(&row);
        if columns.len() >= BATCH_ROWS {
            let full = std::mem::take(columns);
            self.send(Batch::Associations(Box::new(full)));
        }
    }

    fn truth(&mut self, row: TruthRecord) {
        buffered!(self, truth, Truth, row);
    }

    fn frame(&mut self, row: FrameRecord) {
        buffered!(self, frames, Frames, row);
    }

    fn sync(&mut self, row: SyncRecord) {
        buffered!(self, sync, Sync, row);
    }

    fn windows(&mut self, metric_path: &str, windows: &[Evidence]) {
        if self.windows_error.is_some() {
            return;
        }
        let written = match &mut self.windows {
            Some(w) => w.write(metric_path, windows),
            None => WindowsWriter::create(&self.dir).and_then(|mut w| {
                w.write(metric_path, windows)?;
                self.windows = Some(w);
                Ok(())
            }),
        };
        self.windows_error = written.err();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::{Compression, Encoding};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use radcam_fusion::provenance::{ClockId, Provenance};
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
                clock_id: ClockId {
                    estimator: "bracket",
                    epoch: 0,
                },
                ptp_offset_ns_bucket: "<1us",
                event_seq: i + 1,
            },
        }
    }

    fn write(dir: &Path, n: u64, tracking: Option<&MotSummary>) -> Vec<&'static str> {
        let mut w = FusionTablesWriter::with_row_groups(dir, None, 1000);
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
        // several batches through the encoding thread, several row groups
        let n = 2 * BATCH_ROWS as u64 + 17;
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
        assert_eq!(md.num_row_groups(), n.div_ceil(1000) as usize);
        // every row, in the order it came
        let t_ns: Vec<i64> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(a.join(TRACKS_FILE)).expect("open"),
            )
            .expect("arrow")
            .build()
            .expect("reader")
            .flat_map(|b| {
                let b = b.expect("batch");
                let c = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>();
                c.expect("t_ns").values().to_vec()
            })
            .collect();
        assert_eq!(t_ns, (0..n).map(|i| object(i).t_ns).collect::<Vec<_>>());
        let kv = md.file_metadata().key_value_metadata().expect("kv");
        assert!(kv.iter().any(|k| k.key == "seed"));
        // an empty table is still a valid file; no truth, no truth tables
        assert!(a.join(ASSOCIATIONS_FILE).exists());
        assert!(!a.join(GROUND_TRUTH_FILE).exists() && !a.join(TRACKING_FILE).exists());
    }

    #[test]
    fn streamed_tables_delta_encode_and_keep_min_max_for_integer_columns_only_and_no_offset_index()
    {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), 2500, None);
        let reader = SerializedFileReader::new(
            std::fs::File::open(dir.path().join(TRACKS_FILE)).expect("open"),
        )
        .expect("parquet");
        let md = reader.metadata();
        assert_eq!(md.num_row_groups(), 3);
        for rg in md.row_groups() {
            let column = |name: &str| {
                rg.columns()
                    .iter()
                    .find(|c| c.column_path().string() == name)
                    .unwrap_or_else(|| panic!("column {name}"))
            };
            let delta = |name: &str| {
                column(name)
                    .encodings()
                    .any(|e| e == Encoding::DELTA_BINARY_PACKED)
            };
            for name in ["t_ns", "frame_id", "track_id", "event_seq", "cal_version"] {
                let s = column(name)
                    .statistics()
                    .unwrap_or_else(|| panic!("{name} has min/max"));
                assert!(s.min_bytes_opt().is_some() && s.max_bytes_opt().is_some());
                assert!(delta(name), "{name} is delta-encoded");
            }
            for name in ["x_m", "confidence", "frozen", "sync_state"] {
                assert!(column(name).statistics().is_none(), "{name} has no min/max");
                assert!(!delta(name), "{name} is not delta-encoded");
            }
            // continuous measurements LZ4 cannot shrink go uncompressed, the rest LZ4
            for name in ["x_m", "y_m"] {
                assert_eq!(
                    column(name).compression(),
                    Compression::UNCOMPRESSED,
                    "{name}"
                );
            }
            for name in ["t_ns", "vx_mps", "confidence", "sync_state"] {
                assert_eq!(column(name).compression(), Compression::LZ4_RAW, "{name}");
            }
            // nor an offset index, which the writer would hold until it closes
            assert!(
                rg.columns()
                    .iter()
                    .all(|c| c.offset_index_offset().is_none())
            );
        }
    }

    #[test]
    fn a_report_without_truth_replaces_one_with_truth_whole() {
        let out = tempfile::tempdir().expect("tmp");
        let mot = radcam_fusion::metrics::MotCounter::new(2.0).summary();
        // a report as a replay writes it, committed into `out`; its files, sorted
        let report = |tracking: Option<&MotSummary>| {
            let staged = crate::StagedDir::new(out.path()).expect("staging");
            let meta = BTreeMap::new();
            crate::write_gates(staged.path(), &[], &meta).expect("gates");
            crate::write_audit(staged.path(), &[], &meta).expect("audit");
            let mut files = write(staged.path(), 3, tracking);
            files.extend([crate::GATES_FILE, crate::AUDIT_FILE, crate::WINDOWS_FILE]);
            files.sort_unstable();
            staged.commit(&crate::REPORT_FILES).expect("commit");
            files
        };
        let listing = || {
            let mut names: Vec<String> = std::fs::read_dir(out.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort_unstable();
            names
        };
        let with_truth = report(Some(&mot));
        assert!(with_truth.contains(&TRACKING_FILE));
        assert_eq!(listing(), with_truth);
        // every table a report can hold is one the commit replaces
        for f in &with_truth {
            assert!(crate::REPORT_FILES.contains(f), "{f}");
        }
        let without = report(None);
        assert!(!without.contains(&TRACKING_FILE));
        assert_eq!(listing(), without, "no table of the earlier report is left");
    }

    #[test]
    fn an_encoding_error_on_the_thread_is_returned_by_finish() {
        let dir = tempfile::tempdir().expect("tmp");
        let gone = dir.path().join("not-there");
        let mut w = FusionTablesWriter::new(&gone, None);
        for i in 0..BATCH_ROWS as u64 + 1 {
            w.fused(object(i));
        }
        let err = w.finish(&BTreeMap::new(), None).expect_err("no directory");
        assert!(err.to_string().contains("not-there"), "{err}");
    }

    #[test]
    fn a_writer_dropped_unfinished_stops_its_thread() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut w = FusionTablesWriter::new(dir.path(), None);
        for i in 0..BATCH_ROWS as u64 * 2 {
            w.fused(object(i));
        }
        drop(w);
        // joined in drop: the batches sent were encoded (into a file never closed) before
        // drop returned
        assert!(dir.path().join(TRACKS_FILE).exists());
    }
}
