//! The fusion tables: `tracks` (the fused object list), `associations` (every decision with its
//! gates), `ground_truth` and `tracking` (the CLEAR-MOT / ID summary), so anyone can recompute
//! the tracking metrics (e.g. with py-motmetrics) from the first three.

use crate::Result;
use crate::parquet_out::{batch, i64s, u64s, utf8, write_table};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field};
use radcam_fusion::fused::{AssociationRecord, FusedObject, TruthRecord};
use radcam_fusion::metrics::MotSummary;
use radcam_fusion::provenance::Provenance;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// File name of the fused object list.
pub const TRACKS_FILE: &str = "tracks.parquet";
/// File name of the association decisions.
pub const ASSOCIATIONS_FILE: &str = "associations.parquet";
/// File name of the truth objects of evaluated frames.
pub const GROUND_TRUTH_FILE: &str = "ground_truth.parquet";
/// File name of the tracking summary.
pub const TRACKING_FILE: &str = "tracking.parquet";

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
            utf8(rows, |r| p(r).sync_state.as_str().to_owned()),
            utf8(rows, |r| p(r).timestamp_source.as_str().to_owned()),
            u64s(rows, |r| p(r).cal_version),
            u64s(rows, |r| p(r).config_version),
            utf8(rows, |r| p(r).clock_id.clone()),
            utf8(rows, |r| p(r).ptp_offset_ns_bucket.to_owned()),
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
        utf8(rows, |r| r.outcome.as_str().to_owned()),
    ];
    let (pf, pc) = provenance_columns(rows, |r| &r.provenance);
    fields.extend(pf);
    columns.extend(pc);
    batch(ASSOCIATIONS_FILE, fields, columns)
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
        utf8(rows, |r| r.class_name.clone()),
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

/// What a run fused, for [`write_fusion_tables`].
#[derive(Debug, Clone, Copy)]
pub struct FusionTables<'a> {
    /// Fused object list.
    pub tracks: &'a [FusedObject],
    /// Association decisions.
    pub associations: &'a [AssociationRecord],
    /// Truth of evaluated frames (empty without truth).
    pub truth: &'a [TruthRecord],
    /// Tracking summary (`None` without truth).
    pub tracking: Option<&'a MotSummary>,
}

/// Writes `tracks.parquet` and `associations.parquet`, and with truth `ground_truth.parquet`
/// and `tracking.parquet`, into `dir`. Returns the file names written.
pub fn write_fusion_tables(
    dir: &Path,
    t: &FusionTables<'_>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<&'static str>> {
    write_table(&dir.join(TRACKS_FILE), &tracks_batch(t.tracks)?, metadata)?;
    write_table(
        &dir.join(ASSOCIATIONS_FILE),
        &associations_batch(t.associations)?,
        metadata,
    )?;
    let mut written = vec![TRACKS_FILE, ASSOCIATIONS_FILE];
    if let Some(s) = t.tracking {
        write_table(
            &dir.join(GROUND_TRUTH_FILE),
            &ground_truth_batch(t.truth)?,
            metadata,
        )?;
        write_table(&dir.join(TRACKING_FILE), &tracking_batch(s)?, metadata)?;
        written.extend([GROUND_TRUTH_FILE, TRACKING_FILE]);
    }
    Ok(written)
}
