//! The rows a fusion run emits: the fused object list, every association decision and the
//! ground truth it was scored against. Plain data; `reports` writes them as Parquet.

use crate::gates::Evidence;
use crate::geometry::ImageRegion;
use crate::metrics::Labeled;
use crate::provenance::Provenance;
use crate::sync::SyncRecord;
use crate::track::TrackOutput;

/// One object of the fused object list at one camera frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedObject {
    /// The object's timestamp: the camera frame's instant mapped to host time, ns.
    pub t_ns: i64,
    /// Camera frame it was output with.
    pub frame_id: u64,
    /// Stable track id.
    pub track_id: u64,
    /// Position on the rig ground plane, m.
    pub x_m: f64,
    /// Position y, m.
    pub y_m: f64,
    /// Velocity, m/s.
    pub vx_mps: f64,
    /// Velocity y, m/s.
    pub vy_mps: f64,
    /// Confidence in [0, 1] (halved while DEGRADED).
    pub confidence: f64,
    /// True when the sync state forbids fusion and the track is held at its last fused state.
    pub frozen: bool,
    /// Provenance (sync state, timestamp source, versions, clock id, ...).
    pub provenance: Provenance,
}

/// Outcome of one association decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The global assignment chose this pair.
    Assigned,
    /// A candidate pair the assignment did not choose (a gate failed or another pair won).
    NotAssigned,
    /// A detection with no radar object within the candidate radius.
    NoCandidate,
}

impl Outcome {
    /// Contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::NotAssigned => "not_assigned",
            Self::NoCandidate => "no_candidate",
        }
    }
}

/// One row of `associations.parquet`: a (detection, radar object) candidate pair with the
/// outcome of each gate, or a detection that had none. Two fields are for the evidence of
/// `radcam diagnose` and are not columns of the table: `image_region` and
/// `residual_radial_px`.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationRecord {
    /// Camera frame instant, host ns.
    pub t_ns: i64,
    /// Camera frame.
    pub frame_id: u64,
    /// Detection index within the frame.
    pub detection_index: u32,
    /// The camera's own object id for the detection, if it has one.
    pub camera_object_id: Option<u64>,
    /// Detector score.
    pub score: f64,
    /// Radar object index within the frame (range order); `None` for `no_candidate`.
    pub radar_object_index: Option<u32>,
    /// Projected radar centroid to box centre, px.
    pub residual_px: Option<f64>,
    /// Where the detection's box centre is in the image (the regions of the
    /// `reprojection_residual_center_px` and `_edge_px` metrics). Not a table column.
    pub image_region: ImageRegion,
    /// The residual's component along the ray from the principal point through the box
    /// centre, px: positive when the projected radar centroid lies farther out than the box
    /// centre (see [`crate::geometry::Intrinsics::radial_component_px`]). For the assigned
    /// pair only (`None` for every other row). Not a table column.
    pub residual_radial_px: Option<f64>,
    /// Position-gate margin used (base + k·sigma), px.
    pub margin_px: Option<f64>,
    /// Worst-direction sigma of the projection, px.
    pub projection_sigma_px: Option<f64>,
    /// Radar range, m.
    pub radar_range_m: Option<f64>,
    /// Radar radial speed, m/s.
    pub radar_doppler_mps: Option<f64>,
    /// Camera-derived radial speed, m/s, when the camera had enough history.
    pub camera_radial_mps: Option<f64>,
    /// Velocity-gate tolerance used, m/s, when evaluated.
    pub velocity_tolerance_mps: Option<f64>,
    /// Radar SNR, dB.
    pub radar_snr_db: Option<f64>,
    /// Position gate outcome.
    pub position_gate: Option<bool>,
    /// Velocity gate outcome (`None`: not evaluated).
    pub velocity_gate: Option<bool>,
    /// Confidence gate outcome.
    pub confidence_gate: Option<bool>,
    /// What was decided.
    pub outcome: Outcome,
    /// Provenance of the frame.
    pub provenance: Provenance,
}

/// One truth object at one evaluated camera frame (`ground_truth.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRecord {
    /// True instant of the camera frame, host ns.
    pub t_ns: i64,
    /// Camera frame.
    pub frame_id: u64,
    /// Object id.
    pub object_id: u64,
    /// Object class (one allocation per class, shared by its rows).
    pub class_name: std::sync::Arc<str>,
    /// Position on the rig ground plane, m.
    pub x_m: f64,
    /// Position y, m.
    pub y_m: f64,
    /// Velocity, m/s.
    pub vx_mps: f64,
    /// Velocity y, m/s.
    pub vy_mps: f64,
}

/// One camera frame through the node: when it was exposed, arrived, was detected and fused,
/// what it yielded (`frames.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    /// Camera frame.
    pub frame_id: u64,
    /// Exposure instant mapped to host time, ns.
    pub t_ns: i64,
    /// When the frame reached host memory, ns.
    pub arrival_ns: i64,
    /// When its detections were available, ns (log time).
    pub detections_ns: i64,
    /// When it was ready to fuse (the radar frame after it arrived and was processed, or the
    /// fusion deadline passed), ns; `None` if the recording ended first.
    pub ready_ns: Option<i64>,
    /// When the fusion stage started on it, ns (`None`: not fused, or dropped at the queue).
    pub fuse_start_ns: Option<i64>,
    /// When the fusion stage finished it, ns.
    pub fuse_end_ns: Option<i64>,
    /// When its fused output left the egress port, ns (`None`: dropped there).
    pub tx_ns: Option<i64>,
    /// Frames waiting for the fusion stage when it became ready.
    pub queue_depth: Option<u32>,
    /// Detections in the frame (valid ones).
    pub detections: u32,
    /// Detections associated with a radar object.
    pub associated: u32,
    /// Fused objects output with the frame.
    pub fused_objects: u32,
    /// Radar objects projected into the image at the frame's instant (0 when not fused).
    pub radar_objects_in_view: u32,
    /// Of those, the ones no detection was associated with.
    pub radar_objects_unmatched: u32,
    /// Node temperature at the frame (the camera zone, else the first), °C.
    pub temperature_c: Option<f64>,
    /// Node CPU load at the frame (last `/node/stats` sample), %.
    pub cpu_load_pct: Option<f64>,
    /// Provenance of the frame's time mapping.
    pub provenance: Provenance,
}

/// Where a fusion run puts its rows as it makes them, so that nothing proportional to the
/// recording's length has to stay in memory. Implementations that can fail (a file) keep the
/// first error and report it when they are finished.
pub trait FusionSink {
    /// One fused object.
    fn fused(&mut self, row: FusedObject);
    /// One association decision.
    fn association(&mut self, row: AssociationRecord);
    /// One scored truth object.
    fn truth(&mut self, row: TruthRecord);
    /// One camera frame's passage through the node.
    fn frame(&mut self, row: FrameRecord);
    /// One camera frame's time mapping.
    fn sync(&mut self, row: SyncRecord);
    /// One metric path's value in every window of
    /// [`EVIDENCE_WINDOW_NS`](crate::gates::EVIDENCE_WINDOW_NS) with samples, in time order
    /// (the rows of `windows.parquet`). Handed over at the end of a run, path after path in
    /// [`MetricSet::known_paths`](crate::gates::MetricSet::known_paths) order, so that the
    /// run need keep only the windows its gates judge. Ignored unless implemented.
    fn windows(&mut self, metric_path: &str, windows: &[Evidence]) {
        let _ = (metric_path, windows);
    }
}

/// A sink that keeps every row in memory (tests, small runs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectSink {
    /// Fused objects, in output order.
    pub fused: Vec<FusedObject>,
    /// Association decisions, in order.
    pub associations: Vec<AssociationRecord>,
    /// Scored truth objects, in order.
    pub truth: Vec<TruthRecord>,
    /// Camera frames, in fusion order.
    pub frames: Vec<FrameRecord>,
    /// Time mappings, in frame order.
    pub sync: Vec<SyncRecord>,
    /// Every metric path's windows, in the order handed over.
    pub windows: Vec<(String, Vec<Evidence>)>,
}

impl FusionSink for CollectSink {
    fn fused(&mut self, row: FusedObject) {
        self.fused.push(row);
    }

    fn association(&mut self, row: AssociationRecord) {
        self.associations.push(row);
    }

    fn truth(&mut self, row: TruthRecord) {
        self.truth.push(row);
    }

    fn frame(&mut self, row: FrameRecord) {
        self.frames.push(row);
    }

    fn sync(&mut self, row: SyncRecord) {
        self.sync.push(row);
    }

    fn windows(&mut self, metric_path: &str, windows: &[Evidence]) {
        self.windows
            .push((metric_path.to_owned(), windows.to_vec()));
    }
}

impl From<&TruthRecord> for Labeled {
    fn from(o: &TruthRecord) -> Self {
        Self {
            id: o.object_id,
            x_m: o.x_m,
            y_m: o.y_m,
        }
    }
}

impl From<&TrackOutput> for Labeled {
    fn from(t: &TrackOutput) -> Self {
        Self {
            id: t.track_id,
            x_m: t.x_m,
            y_m: t.y_m,
        }
    }
}
