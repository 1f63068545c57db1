//! The replay runner: feeds a recording through the fusion core in log-time order and
//! evaluates the gates.
//!
//! Camera frames are mapped to host time by the chosen clock estimator (latches or arrivals),
//! radar frames by the passive estimator plus the calibration's radar time offset. Each camera
//! frame's detections wait until a radar frame at or after its instant has arrived, so both
//! bracketing radar frames are known; radar objects are interpolated to the camera instant,
//! projected, associated and tracked.

use crate::faults::{FaultPlan, Injectors};
use crate::node_model::{Egress, FusionStage, Sent};
use crate::reader::CheckedRecording;
use crate::salvage::{Gap, Salvaged};
use crate::spill::SpillStore;
use crate::time_limit::{MessageTimes, mapped_time, possible_log_time};
use crate::{Error, McapFile, Result};
use nalgebra::{Isometry3, Point3, Vector2};
use radcam_fusion::associate::{AssociationConfig, BoxPx, ProjectedObject, associate};
use radcam_fusion::audit::{AuditEvent, AuditKind, AuditLog};
use radcam_fusion::calib::CalibrationRecord;
use radcam_fusion::camera_motion::{ScaleRate, ScaleRateConfig};
use radcam_fusion::clock::{
    self, ArrivalSample, ClockEstimator, ClockSync, LatchSample, Passive, SyncPolicy,
};
use radcam_fusion::distance_gate::DistanceGate;
use radcam_fusion::fused::{
    AssociationRecord, CollectSink, FrameRecord, FusedObject, FusionSink, Outcome, TruthRecord,
};
use radcam_fusion::gates::{self, EVIDENCE_WINDOW_NS, Gate, GateResult, Metric, MetricSet};
use radcam_fusion::geometry::{ImageRegion, Intrinsics};
use radcam_fusion::metrics::{Labeled, MotCounter, MotSummary};
use radcam_fusion::projection::{RadarNoise, project_objects};
use radcam_fusion::provenance::{ClockId, Provenance, ptp_offset_bucket};
use radcam_fusion::radar::{ClusterConfig, RadarDetection, RadarObject, cluster};
use radcam_fusion::sync::{ClockStatus, SyncMonitor, SyncRecord, SyncState, SyncThresholds};
use radcam_fusion::time::TimestampSource;
use radcam_fusion::timeline::{DistributionAcc, RateAcc};
use radcam_fusion::track::{TrackOutput, Tracker, TrackerConfig};
use radcam_schema::fusion_views::FusionDetections;
use radcam_schema::metadata::{self, keys};
use radcam_schema::{TopicMessage, decode, decode_into, proto, topics};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Camera clock estimator name (see `radcam_fusion::clock::ESTIMATOR_NAMES`).
    pub estimator: String,
    /// Gates to evaluate.
    pub gates: Vec<Gate>,
    /// Seed for injected randomness (recorded in reports).
    pub seed: u64,
    /// Ground-plane match threshold for tracking metrics, m.
    pub match_threshold_m: f64,
    /// Faults to inject (see [`crate::faults`]); the default injects none.
    pub faults: FaultPlan,
    /// A camera frame waiting for radar is fused at the latest this long after its detections
    /// were delivered, with the radar data at hand (stale), ms.
    pub fusion_deadline_ms: f64,
    /// Read a damaged recording by scanning it, skipping what is unreadable (each gap is an
    /// audit event) instead of failing.
    pub salvage: bool,
    /// Target speed band edges, m/s, ascending (empty: no bands). Bands are `[e0, e1)`, …,
    /// `[e_last, ∞)`; a detection's band is the speed of its truth object (recordings with
    /// truth only).
    pub speed_bands_mps: Vec<f64>,
    /// Radar↔camera time offset to use instead of the recording's calibration, ns (`None`:
    /// the calibration's). For estimating that offset.
    pub radar_time_offset_ns: Option<i64>,
    /// Directory of the unnamed temporary files the metric samples wait in until the end of
    /// the run, 16 bytes a sample (`None`: the system's temporary directory, `$TMPDIR`).
    pub spill_dir: Option<PathBuf>,
    /// Set (by a signal handler) to stop the replay: it then returns
    /// [`Error::Interrupted`] within a few thousand messages, and its whole-file check
    /// within a block.
    pub cancel: Option<Arc<AtomicBool>>,
    /// The recording's whole-file check, done once by the caller for many replays of it (a
    /// sweep's runs): its content hash is taken as it is, provided the file's size and
    /// modification time have not changed, and each chunk's CRC is checked as it is read.
    /// `None`: the replay checks the whole file itself.
    pub checked: Option<Arc<CheckedRecording>>,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            estimator: clock::Bracket::NAME.to_owned(),
            gates: gates::default_gates(),
            seed: 0,
            match_threshold_m: 2.0,
            faults: FaultPlan::default(),
            fusion_deadline_ms: DEFAULT_FUSION_DEADLINE_MS,
            speed_bands_mps: Vec::new(),
            salvage: false,
            radar_time_offset_ns: None,
            spill_dir: None,
            cancel: None,
            checked: None,
        }
    }
}

/// Default of [`ReplayConfig::fusion_deadline_ms`]: longer than any wait for radar in a
/// healthy 20 Hz rig (the demo's longest is 75 ms), ms.
pub const DEFAULT_FUSION_DEADLINE_MS: f64 = 100.0;

/// What a replay computed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOutput {
    /// Recording path.
    pub path: PathBuf,
    /// Gate verdicts, in gate order.
    pub gates: Vec<GateResult>,
    /// Every metric computed.
    pub metrics: MetricSet,
    /// Report key-value metadata (tool version, hashes, seed, estimator, versions).
    pub report_metadata: BTreeMap<String, String>,
    /// Camera frames read and how many could be mapped to host time.
    pub camera_frames: u64,
    /// Camera frames mapped to host time.
    pub camera_frames_mapped: u64,
    /// Radar frames read.
    pub radar_frames: u64,
    /// The camera clock estimator actually used (after any fallback).
    pub estimator_used: String,
    /// Per-frame time mappings with provenance ([`replay`] only; [`replay_into`] streams them).
    pub sync: Vec<SyncRecord>,
    /// Audit events of the run.
    pub audit: Vec<AuditEvent>,
    /// The fused object list, per camera frame ([`replay`] only; [`replay_into`] streams it).
    pub fused: Vec<FusedObject>,
    /// Every association decision ([`replay`] only).
    pub associations: Vec<AssociationRecord>,
    /// Truth objects of every evaluated frame ([`replay`] only; empty without truth).
    pub truth: Vec<TruthRecord>,
    /// Every camera frame's passage through the node, in fusion order ([`replay`] only).
    pub frames: Vec<FrameRecord>,
    /// CLEAR-MOT / ID summary against truth; `None` without truth.
    pub tracking: Option<MotSummary>,
    /// Input samples rejected as non-finite or out of range.
    pub rejected: Rejected,
    /// Frames lost to the fault plan's dropouts and drop bursts.
    pub dropped: Dropped,
    /// Camera frames fused without a radar frame at or after their instant (deadline passed
    /// or recording ended).
    pub stale_fusions: u64,
    /// Gates judged per target speed band (empty without bands or truth).
    pub bands: Vec<BandResult>,
    /// Parts of the recording skipped as unreadable (`salvage` only).
    pub gaps: Vec<Gap>,
    /// Calibration version in force.
    pub cal_version: u64,
}

/// The gates judged on the detections of one target speed band: `association_fail_rate` and
/// `reprojection_residual_px` count only the band's detections; every other metric is the
/// whole run's.
#[derive(Debug, Clone, PartialEq)]
pub struct BandResult {
    /// Lower edge, m/s.
    pub min_mps: f64,
    /// Upper edge, m/s (`None`: open).
    pub max_mps: Option<f64>,
    /// Detections of truth objects in the band.
    pub detections: u64,
    /// Gate verdicts, in gate order.
    pub gates: Vec<GateResult>,
}

impl BandResult {
    /// `2-5 m/s`, or `≥10 m/s` for the open band.
    pub fn label(&self) -> String {
        match self.max_mps {
            Some(max) => format!("{}-{} m/s", self.min_mps, max),
            None => format!(">={} m/s", self.min_mps),
        }
    }
}

/// Counts of input samples rejected before fusion (non-finite or out of range); they are
/// dropped one by one, never propagated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rejected {
    /// Radar points.
    pub radar_points: u64,
    /// Camera detection boxes.
    pub detections: u64,
    /// Whole messages carrying a time (log time, host or device time) of
    /// [`TIME_LIMIT_NS`](crate::time_limit::TIME_LIMIT_NS) or more in magnitude, or whose
    /// sample time came out so once mapped to the host clock.
    pub messages: u64,
}

/// Temperatures a node's sensor can read, °C: from absolute zero to 1000 °C. A reading
/// outside them (a broken sensor, a sentinel) is no reading; the last one stands.
const POSSIBLE_TEMPERATURE_C: std::ops::RangeInclusive<f64> = -273.15..=1000.0;

/// Frames lost to injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dropped {
    /// Camera frames (with their detections).
    pub camera_frames: u64,
    /// Radar frames.
    pub radar_frames: u64,
}

impl ReplayOutput {
    /// Whether every required gate passed.
    pub fn passed(&self) -> bool {
        gates::all_required_passed(&self.gates)
    }
}

/// Topics the runner reads.
pub const TOPICS: [&str; 8] = [
    topics::PTP_STATUS,
    topics::NODE_STATS,
    topics::CAMERA_LATCH,
    topics::CAMERA_FRAME,
    topics::CAMERA_DETECTIONS,
    topics::RADAR_FRAME,
    topics::TRUTH_CLOCK,
    topics::TRUTH_OBJECTS,
];

/// A distribution metric's timed samples (host log time ns, value), spilled to a file.
type Samples = DistributionAcc<SpillStore>;
/// A rate metric's timed increments (host log time ns, numerator, denominator).
type Counts = RateAcc;

/// Names of the distribution metrics a replay computes (units in the names).
const DISTRIBUTIONS: [&str; 18] = [
    "sync_error_us",
    "reprojection_residual_px",
    "reprojection_residual_center_px",
    "reprojection_residual_edge_px",
    "latency_camera_ms",
    "latency_detector_ms",
    "latency_radar_ms",
    "latency_e2e_ms",
    "latency_wait_ms",
    "latency_queue_ms",
    "latency_fusion_ms",
    "latency_tx_ms",
    "frame_queue_depth",
    "radar_processing_time_ms",
    "tx_queue_latency_ptp_ms",
    "tx_queue_latency_control_ms",
    "tx_queue_latency_metadata_ms",
    "tx_queue_latency_video_ms",
];

/// Names of the rate metrics a replay computes.
const RATES: [&str; 9] = [
    "association_fail_rate",
    "radar_unmatched_rate",
    "track_id_switch_rate",
    "stale_fusion_rate",
    "frame_drop_rate",
    "packet_drop_rate_ptp",
    "packet_drop_rate_control",
    "packet_drop_rate_metadata",
    "packet_drop_rate_video",
];

/// The (empty) set of every metric a replay computes, for validating gates.
pub(crate) fn known_metric_set() -> MetricSet {
    let mut m = MetricSet::default();
    for name in DISTRIBUTIONS {
        m.metrics
            .insert(name.to_owned(), Metric::Distribution(None));
    }
    for name in RATES {
        m.metrics.insert(
            name.to_owned(),
            Metric::Ratio {
                numerator: 0,
                denominator: 0,
            },
        );
    }
    m
}

/// Every metric path a gate may name.
pub fn known_metric_paths() -> Vec<String> {
    known_metric_set().known_paths()
}

/// Why `name` is no metric a gate may name: the nearest known path when one is close (a
/// typo), and every known one, grouped (rates; distributions, each with its statistics).
pub fn unknown_metric(name: &str) -> String {
    let nearest = if DISTRIBUTIONS.contains(&name) {
        // a distribution without its statistic: the one a gate most often means
        Some(format!("{name}.p99"))
    } else {
        known_metric_paths()
            .into_iter()
            .map(|known| (strsim::jaro_winkler(name, &known), known))
            .filter(|(similarity, _)| *similarity >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
            .map(|(_, known)| known)
    };
    let mut distributions = DISTRIBUTIONS.to_vec();
    let mut rates = RATES.to_vec();
    distributions.sort_unstable();
    rates.sort_unstable();
    format!(
        "unknown metric '{name}'{}; known: the rates {}; the distributions {}, each as \
         <name>.<statistic> with the statistic one of {}",
        nearest.map_or(String::new(), |known| format!(" (did you mean '{known}'?)")),
        rates.join(", "),
        distributions.join(", "),
        radcam_fusion::stats::Summary::STATS.join(", ")
    )
}

/// Radar frames kept for interpolation.
const RADAR_HISTORY: usize = 8;
/// Pending camera frames kept while waiting for radar, at most.
const MAX_PENDING: usize = 64;

struct RadarSnapshot {
    host_ns: i64,
    objects: Vec<RadarObject>,
}

struct PendingFrame {
    frame_id: u64,
    host_ns: i64,
    arrival_ns: i64,
    detections_ns: i64,
    provenance: Provenance,
    boxes: Vec<BoxPx>,
    camera_ids: Vec<Option<u64>>,
}

/// Largest radar range accepted, m.
const MAX_RADAR_RANGE_M: f64 = 1_000.0;
/// Largest |doppler| accepted, m/s.
const MAX_DOPPLER_MPS: f64 = 150.0;

struct State<'s> {
    cal: CalibrationRecord,
    camera_clock: ClockSync,
    timestamp_source: TimestampSource,
    monitor: SyncMonitor,
    audit: AuditLog,
    last_clock_sample_ns: Option<i64>,
    frame_prov: BTreeMap<u64, Provenance>,
    event_seq: u64,
    radar_clock: Passive,
    truth_host: BTreeMap<u64, i64>,
    truth_objects: BTreeMap<u64, Vec<TruthRecord>>,
    /// Every truth class name seen, each shared by the truth rows of its class.
    truth_classes: BTreeSet<Arc<str>>,
    has_truth: bool,
    inj: Injectors,
    /// The calibration's radar→camera transform, perturbed by the fault plan.
    camera_from_radar: Isometry3<f64>,
    /// The calibration's intrinsics with the plan's lens-model error: what the fusion
    /// projects with (the truth scoring keeps the calibration's).
    intrinsics: Intrinsics,
    /// Messages held back by a latency fault, by (delivery log time, arrival order).
    delayed: BTreeMap<(i64, u64), (Delayed, i64)>,
    delayed_seq: u64,
    fusion_deadline_ns: i64,
    /// Frames lost to injected dropouts (camera, radar).
    dropped: Dropped,
    stale: Counts,
    speed_edges_mps: Vec<f64>,
    /// Truth speed of every object of recent frames, m/s, by frame then object id.
    truth_speed: BTreeMap<u64, BTreeMap<u64, f64>>,
    band_association: Vec<Counts>,
    band_residual_px: Vec<Samples>,
    scale_rate: ScaleRate,
    radar_noise: RadarNoise,
    last_tracks: Vec<TrackOutput>,
    camera_track: BTreeMap<u64, u64>,
    churn: Counts,
    sink: &'s mut dyn FusionSink,
    rejected: Rejected,
    /// Mapped exposure instant and arrival of frames awaiting their detections, ns.
    frame_host: BTreeMap<u64, (i64, i64)>,
    temperature_c: Option<f64>,
    /// Node CPU load, % (last `/node/stats` sample).
    cpu_load_pct: Option<f64>,
    /// Log time of the message being processed; `None` while flushing at the end.
    now_ns: Option<i64>,
    latency_camera_ms: Samples,
    latency_detector_ms: Samples,
    latency_radar_ms: Samples,
    latency_e2e_ms: Samples,
    latency_wait_ms: Samples,
    latency_queue_ms: Samples,
    latency_fusion_ms: Samples,
    latency_tx_ms: Samples,
    frame_queue_depth: Samples,
    radar_processing_time_ms: Samples,
    frame_drops: Counts,
    tx_queue_latency_ms: [Samples; 4],
    packet_drops: [Counts; 4],
    stage: FusionStage,
    egress: Egress,
    /// Modelled processing time of the radar frame being handled, ns (0 otherwise).
    radar_processing_ns: i64,
    radar: VecDeque<RadarSnapshot>,
    pending: VecDeque<PendingFrame>,
    tracker: Tracker,
    mot: MotCounter,
    sync_error_us: Samples,
    residual_px: Samples,
    residual_center_px: Samples,
    residual_edge_px: Samples,
    /// Radar objects in the image without a detection partner, per fused frame.
    radar_unmatched: Counts,
    association: Counts,
    switches: Counts,
    camera_frames: u64,
    camera_frames_mapped: u64,
    radar_frames: u64,
    cluster_cfg: ClusterConfig,
    assoc_cfg: AssociationConfig,
}

/// Replays `path` with `cfg`.
pub fn replay(path: &Path, cfg: &ReplayConfig) -> Result<ReplayOutput> {
    replay_with_progress(path, cfg, |_, _| {})
}

/// Replays `path` with `cfg`, calling `progress(messages_done, messages_total)` as it goes;
/// keeps every fused object, association decision and truth row in the output.
pub fn replay_with_progress(
    path: &Path,
    cfg: &ReplayConfig,
    progress: impl FnMut(u64, u64),
) -> Result<ReplayOutput> {
    let mut rows = CollectSink::default();
    let mut out = replay_into(path, cfg, progress, &mut rows)?;
    out.fused = rows.fused;
    out.associations = rows.associations;
    out.truth = rows.truth;
    out.frames = rows.frames;
    out.sync = rows.sync;
    Ok(out)
}

/// Replays `path` with `cfg`, handing fused objects, association decisions and truth rows to
/// `sink` as they are made (the output's row vectors stay empty): memory does not grow with
/// the recording's length for them.
///
/// The file's content hash and data-section CRC are computed on rayon's global pool while the
/// replay runs (before it, when called from a pool's thread), or taken from
/// [`ReplayConfig::checked`] when the caller checked the file once for many replays (a
/// sweep's runs); a file whose data section is damaged is reported as [`McapFile::verify`]
/// reports it, whatever the replay made of it.
pub fn replay_into(
    path: &Path,
    cfg: &ReplayConfig,
    progress: impl FnMut(u64, u64),
    sink: &mut dyn FusionSink,
) -> Result<ReplayOutput> {
    let mut file = Source::open(path, cfg.salvage)?;
    let (content_hash, out) = match &mut file {
        Source::Salvaged(s) => (s.content_hash.clone(), run(file, path, cfg, progress, sink)),
        // checked once for all of a sweep's runs; each chunk's CRC is checked as it is read
        Source::Indexed(_) if let Some(checked) = &cfg.checked => {
            checked.still(path)?;
            (
                checked.verified.content_hash.clone(),
                run(file, path, cfg, progress, sink),
            )
        }
        // called from a pool's thread: the pool may have other work, so the check comes first
        Source::Indexed(f) if rayon::current_thread_index().is_some() => {
            let hash = f.verify()?.content_hash;
            (hash, run(file, path, cfg, progress, sink))
        }
        Source::Indexed(f) => {
            let check = f.file_check()?;
            let mut checked = None;
            let out = rayon::in_place_scope(|scope| {
                scope.spawn(|_| checked = Some(check.run_until(&|| cancelled(cfg))));
                run(file, path, cfg, progress, sink)
            });
            match checked {
                Some(Ok(c)) if c.intact() => (c.verified.content_hash, out),
                Some(Err(e)) => return Err(e),
                // damaged: say where, as `verify` does
                _ => match McapFile::open(path)?.verify() {
                    Err(e) => return Err(e),
                    Ok(v) => (v.content_hash, out),
                },
            }
        }
    };
    let mut out = out?;
    out.report_metadata
        .insert("recording_content_hash".to_owned(), content_hash);
    Ok(out)
}

/// Whether the replay was asked to stop (see [`ReplayConfig::cancel`]).
fn cancelled(cfg: &ReplayConfig) -> bool {
    cfg.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::Relaxed))
}

/// The replay itself, of an opened file (`replay_into` without the whole-file check).
fn run(
    mut file: Source,
    path: &Path,
    cfg: &ReplayConfig,
    mut progress: impl FnMut(u64, u64),
    sink: &mut dyn FusionSink,
) -> Result<ReplayOutput> {
    let mut estimator = clock::by_name(&cfg.estimator)?;
    gates::validate(&cfg.gates, &known_metric_set())?;
    let windows = gates::window_lengths_ns(&cfg.gates);
    let spill_err = |source| Error::Spill {
        dir: cfg.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
        source,
    };
    // a temporary directory that cannot take the samples fails the run now, not at its end
    SpillStore::probe(cfg.spill_dir.as_deref()).map_err(spill_err)?;
    let dist = || Samples::new(SpillStore::new(cfg.spill_dir.clone()), &windows);
    let rate = || Counts::new(&windows);
    let meta = file.metadata()?;
    let missing = |what: &str| Error::Missing {
        path: path.to_owned(),
        what: what.to_owned(),
    };
    let cal_json = meta
        .get(metadata::CALIBRATION_METADATA)
        .and_then(|m| m.get(metadata::CALIBRATION_JSON_KEY))
        .ok_or_else(|| missing("no calibration record (metadata 'radcam.calibration'; a rig recording carries one when its rig file names `calibration`)"))?;
    let mut cal = CalibrationRecord::from_json(cal_json).map_err(|source| Error::Calibration {
        path: path.to_owned(),
        source,
    })?;
    if let Some(offset) = cfg.radar_time_offset_ns {
        cal.radar_time_offset_ns = offset;
    }
    let recording = meta
        .get(metadata::RECORDING_METADATA)
        .cloned()
        .unwrap_or_default();
    let config_version = recording
        .get(keys::CONFIG_VERSION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut audit = AuditLog::new(cal.cal_version, config_version);
    let start_ns = file.start_ns();
    for g in file.gaps() {
        audit.push(
            g.start_ns.map_or(start_ns, |t| t as i64),
            AuditKind::RecordingGap,
            "",
            "",
            format!(
                "skipped the record at byte offset {}{}: {}",
                g.offset,
                match (g.start_ns, g.end_ns) {
                    (Some(a), Some(b)) => format!(" (log time {a}..{b} ns)"),
                    _ => String::new(),
                },
                g.reason
            ),
        );
    }
    if estimator.uses_latches() && file.message_count(topics::CAMERA_LATCH) == Some(0) {
        // a camera without a latch feature: fall back to passive sync, and say so
        audit.push(
            start_ns,
            AuditKind::TimebaseSwitched,
            &format!("latch/{}", estimator.name()),
            &format!("arrival/{}", clock::Passive::NAME),
            "recording has no /camera/latch messages".into(),
        );
        estimator = Box::new(clock::Passive::default());
    }
    let timestamp_source = if estimator.uses_latches() {
        TimestampSource::Hw
    } else {
        TimestampSource::Sw
    };
    let estimator_used = estimator.name().to_owned();
    let mut st = State {
        camera_from_radar: cal.camera_from_radar() * cfg.faults.extrinsic.delta(),
        intrinsics: cfg.faults.intrinsic.apply(&cal.intrinsics),
        cal,
        camera_clock: ClockSync::new(estimator, SyncPolicy::default()),
        timestamp_source,
        monitor: SyncMonitor::new(SyncThresholds::default()),
        audit,
        last_clock_sample_ns: None,
        frame_prov: BTreeMap::new(),
        event_seq: 0,
        radar_clock: Passive::default(),
        truth_host: BTreeMap::new(),
        truth_objects: BTreeMap::new(),
        truth_classes: BTreeSet::new(),
        has_truth: file.message_count(topics::TRUTH_OBJECTS).unwrap_or(0) > 0,
        inj: Injectors::new(&cfg.faults, cfg.seed, start_ns),
        delayed: BTreeMap::new(),
        delayed_seq: 0,
        fusion_deadline_ns: (cfg.fusion_deadline_ms * 1e6).round() as i64,
        dropped: Dropped::default(),
        stale: rate(),
        speed_edges_mps: cfg.speed_bands_mps.clone(),
        truth_speed: BTreeMap::new(),
        band_association: cfg.speed_bands_mps.iter().map(|_| rate()).collect(),
        band_residual_px: cfg.speed_bands_mps.iter().map(|_| dist()).collect(),
        scale_rate: ScaleRate::new(ScaleRateConfig::default()),
        radar_noise: RadarNoise::default(),
        last_tracks: Vec::new(),
        camera_track: BTreeMap::new(),
        churn: rate(),
        sink,
        rejected: Rejected::default(),
        frame_host: BTreeMap::new(),
        temperature_c: None,
        cpu_load_pct: None,
        now_ns: None,
        latency_camera_ms: dist(),
        latency_detector_ms: dist(),
        latency_radar_ms: dist(),
        latency_e2e_ms: dist(),
        latency_wait_ms: dist(),
        latency_queue_ms: dist(),
        latency_fusion_ms: dist(),
        latency_tx_ms: dist(),
        frame_queue_depth: dist(),
        radar_processing_time_ms: dist(),
        frame_drops: rate(),
        tx_queue_latency_ms: [dist(), dist(), dist(), dist()],
        packet_drops: [rate(), rate(), rate(), rate()],
        stage: FusionStage::new(&cfg.faults.node),
        egress: Egress::new(&cfg.faults.egress, start_ns),
        radar_processing_ns: 0,
        radar: VecDeque::new(),
        pending: VecDeque::new(),
        tracker: Tracker::new(TrackerConfig::default()),
        mot: MotCounter::new(cfg.match_threshold_m),
        sync_error_us: dist(),
        residual_px: dist(),
        residual_center_px: dist(),
        residual_edge_px: dist(),
        radar_unmatched: rate(),
        association: rate(),
        switches: rate(),
        camera_frames: 0,
        camera_frames_mapped: 0,
        radar_frames: 0,
        cluster_cfg: ClusterConfig::default(),
        assoc_cfg: AssociationConfig::default(),
    };
    let total: u64 = TOPICS.iter().filter_map(|t| file.message_count(t)).sum();
    let mut done = 0u64;
    let gaps = file.gaps().to_vec();
    // decoded into again and again, keeping their lists' capacity
    // detections without their class names, which fusion never reads (see
    // `radcam_schema::fusion_views`)
    let mut detections = FusionDetections::default();
    let mut radar = proto::RadarFrame::default();
    let mut truth = proto::TruthObjects::default();
    file.into_each_message(&TOPICS, |m| {
        done += 1;
        if !possible_log_time(m.log_time_ns) {
            st.rejected.messages += 1;
            return Ok(());
        }
        let now_ns = m.log_time_ns as i64;
        st.release_until(now_ns);
        st.now_ns = Some(now_ns);
        if done.is_multiple_of(4096) {
            if cancelled(cfg) {
                return Err(Error::Interrupted {
                    path: path.to_owned(),
                });
            }
            progress(done, total);
        }
        let dec_err = |source| Error::Decode {
            path: path.to_owned(),
            log_time_ns: m.log_time_ns,
            source,
        };
        // a message with an impossible time is counted and left out (see `time_limit`)
        let mut reject = |m: &dyn MessageTimes| {
            let impossible = !m.possible();
            st.rejected.messages += u64::from(impossible);
            impossible
        };
        match m.topic {
            proto::PtpStatus::TOPIC => {
                let p: proto::PtpStatus = decode(m.data).map_err(dec_err)?;
                if reject(&p) {
                    return Ok(());
                }
                let gm_present = p.gm_present && !st.inj.ptp_lost(p.host_query_ns);
                st.monitor.observe_ptp(
                    p.host_query_ns,
                    p.master_offset_ns as f64,
                    gm_present,
                    &mut st.audit,
                );
            }
            proto::CameraLatch::TOPIC => {
                let l: proto::CameraLatch = decode(m.data).map_err(dec_err)?;
                if !reject(&l) {
                    st.latch(&l);
                }
            }
            proto::CameraFrame::TOPIC => {
                let f: proto::CameraFrame = decode(m.data).map_err(dec_err)?;
                if !reject(&f) {
                    st.camera_frame(&f);
                }
            }
            FusionDetections::TOPIC => {
                decode_into(m.data, &mut detections).map_err(dec_err)?;
                if reject(&detections) {
                    return Ok(());
                }
                let due = st.inj.camera.delivery_ns(now_ns);
                if st.delivers_now(due, now_ns) {
                    st.detections(&detections, now_ns);
                } else {
                    st.hold(due, now_ns, Delayed::Detections(detections.clone()));
                }
            }
            proto::NodeStats::TOPIC => {
                let n: proto::NodeStats = decode(m.data).map_err(dec_err)?;
                if reject(&n) {
                    return Ok(());
                }
                let zone = n
                    .temperatures
                    .iter()
                    .find(|t| t.zone == "camera")
                    .or(n.temperatures.first());
                if let Some(z) = zone.filter(|z| POSSIBLE_TEMPERATURE_C.contains(&z.temperature_c))
                {
                    st.temperature_c = Some(z.temperature_c);
                }
                if n.cpu_load_pct.is_finite() {
                    st.cpu_load_pct = Some(n.cpu_load_pct);
                }
            }
            proto::RadarFrame::TOPIC => {
                decode_into(m.data, &mut radar).map_err(dec_err)?;
                if reject(&radar) {
                    return Ok(());
                }
                let due = st.inj.radar.delivery_ns(now_ns);
                if st.delivers_now(due, now_ns) {
                    st.radar_frame(&radar, 0);
                } else {
                    st.hold(due, now_ns, Delayed::Radar(radar.clone()));
                }
            }
            proto::TruthClock::TOPIC => {
                let t: proto::TruthClock = decode(m.data).map_err(dec_err)?;
                if !reject(&t) {
                    st.truth_host.insert(t.frame_id, t.host_ns);
                }
            }
            proto::TruthObjects::TOPIC => {
                decode_into(m.data, &mut truth).map_err(dec_err)?;
                if !reject(&truth) {
                    st.truth_objects(&truth);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    // frames still waiting for radar when the recording ended: fused, but their latency is
    // not known (no later radar frame released them)
    st.release_until(i64::MAX);
    st.now_ns = None;
    while let Some(p) = st.pending.pop_front() {
        st.fuse(p);
    }
    let stale_fusions = st.stale.numerator();
    let metrics = st
        .take_metric_set(&gates::judged_metrics(&cfg.gates))
        .map_err(spill_err)?;
    let mut bands = Vec::new();
    if st.has_truth {
        for (i, &min_mps) in cfg.speed_bands_mps.iter().enumerate() {
            let detections = st.band_association[i].denominator();
            let band = st.band_metric_set(&metrics, i).map_err(spill_err)?;
            bands.push(BandResult {
                min_mps,
                max_mps: cfg.speed_bands_mps.get(i + 1).copied(),
                detections,
                gates: gates::evaluate(&cfg.gates, &band)?,
            });
        }
    }
    let gates = gates::evaluate(&cfg.gates, &metrics)?;
    let tracking = st.has_truth.then(|| st.mot.summary());
    let mut report_metadata = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        report_metadata.insert(k.to_owned(), v);
    };
    put("tool_version", env!("CARGO_PKG_VERSION").to_owned());
    put(
        "scenario_hash",
        recording
            .get(keys::SCENARIO_HASH)
            .cloned()
            .unwrap_or_default(),
    );
    put(
        "recording_seed",
        recording.get(keys::SEED).cloned().unwrap_or_default(),
    );
    // the origin of every "seconds from the recording's first message" (fault times,
    // `diagnose --window`, `extract --window`), so a report can speak in them
    put("recording_start_ns", start_ns.to_string());
    put("seed", cfg.seed.to_string());
    put("fault_plan", cfg.faults.describe());
    if cfg.salvage {
        put(
            "salvage",
            format!("{} unreadable part(s) skipped", gaps.len()),
        );
    }
    put("estimator", estimator_used.clone());
    put("cal_version", st.cal.cal_version.to_string());
    put(
        "config_version",
        recording
            .get(keys::CONFIG_VERSION)
            .cloned()
            .unwrap_or_default(),
    );
    Ok(ReplayOutput {
        path: path.to_owned(),
        gates,
        metrics,
        report_metadata,
        camera_frames: st.camera_frames,
        camera_frames_mapped: st.camera_frames_mapped,
        radar_frames: st.radar_frames,
        estimator_used,
        sync: Vec::new(),
        audit: st.audit.events().to_vec(),
        fused: Vec::new(),
        associations: Vec::new(),
        truth: Vec::new(),
        frames: Vec::new(),
        tracking,
        rejected: st.rejected,
        dropped: st.dropped,
        stale_fusions,
        bands,
        gaps,
        cal_version: st.cal.cal_version,
    })
}

/// Where messages come from: the index of an intact recording, or a salvage scan.
enum Source {
    Indexed(McapFile),
    Salvaged(Salvaged),
}

impl Source {
    fn open(path: &Path, salvage: bool) -> Result<Self> {
        Ok(if salvage {
            Self::Salvaged(Salvaged::scan(path)?)
        } else {
            Self::Indexed(McapFile::open(path)?)
        })
    }

    fn metadata(&mut self) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        match self {
            Self::Indexed(f) => f.metadata(),
            Self::Salvaged(s) => Ok(s.metadata.clone()),
        }
    }

    fn start_ns(&self) -> i64 {
        match self {
            Self::Indexed(f) => f
                .summary()
                .stats
                .as_ref()
                .map_or(0, |s| s.message_start_time as i64),
            Self::Salvaged(s) => s.start_ns() as i64,
        }
    }

    fn message_count(&self, topic: &str) -> Option<u64> {
        match self {
            Self::Indexed(f) => f.message_count(topic),
            Self::Salvaged(s) => Some(s.counts.get(topic).copied().unwrap_or(0)),
        }
    }

    fn gaps(&self) -> &[Gap] {
        match self {
            Self::Indexed(_) => &[],
            Self::Salvaged(s) => &s.gaps,
        }
    }

    /// The replay's one pass over the messages on `topics`; the file is done with after it.
    fn into_each_message(
        self,
        topics: &[&str],
        f: impl FnMut(crate::reader::RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Self::Indexed(r) => r.into_each_message(topics, f),
            Self::Salvaged(mut s) => s.for_each_message(topics, f),
        }
    }
}

/// A message whose delivery a latency fault may hold back.
enum Delayed {
    Detections(FusionDetections),
    Radar(proto::RadarFrame),
}

impl State<'_> {
    /// Whether a message logged now (`now_ns`) and due at log time `due_ns` is handled now:
    /// it is due, and no message a latency fault holds is waiting before it.
    fn delivers_now(&self, due_ns: i64, now_ns: i64) -> bool {
        due_ns <= now_ns && self.delayed.is_empty()
    }

    /// Holds `msg`, logged now (`now_ns`), until the log reaches `due_ns` (see
    /// [`State::delivers_now`]).
    fn hold(&mut self, due_ns: i64, now_ns: i64, msg: Delayed) {
        self.delayed_seq += 1;
        // keeps the original log time to know the delay
        self.delayed
            .insert((due_ns.max(now_ns), self.delayed_seq), (msg, now_ns));
        self.release_until(now_ns);
    }

    /// Delivers every held message due at or before `now_ns`, then fuses frames whose
    /// deadline has passed.
    fn release_until(&mut self, now_ns: i64) {
        while let Some(entry) = self.delayed.first_entry() {
            let (due_ns, _) = *entry.key();
            if due_ns > now_ns {
                break;
            }
            let (msg, logged_ns) = entry.remove();
            let outer = self.now_ns;
            self.now_ns = Some(due_ns);
            self.handle(msg, due_ns, due_ns - logged_ns);
            self.now_ns = outer;
        }
        if now_ns == i64::MAX {
            return;
        }
        while self
            .pending
            .front()
            .is_some_and(|p| p.detections_ns + self.fusion_deadline_ns <= now_ns)
        {
            if let Some(p) = self.pending.pop_front() {
                let outer = self.now_ns;
                self.now_ns = Some(p.detections_ns + self.fusion_deadline_ns);
                self.fuse(p);
                self.now_ns = outer;
            }
        }
    }

    fn handle(&mut self, msg: Delayed, delivered_ns: i64, delay_ns: i64) {
        match msg {
            Delayed::Detections(d) => self.detections(&d, delivered_ns),
            Delayed::Radar(r) => self.radar_frame(&r, delay_ns),
        }
    }

    fn latch(&mut self, l: &proto::CameraLatch) {
        let _ = self.camera_clock.observe_latch(&LatchSample {
            host_before_ns: l.host_before_ns,
            device_ns: l.device_ns + self.inj.camera.device_step_ns(l.host_before_ns),
            host_after_ns: l.host_after_ns,
            host_after_read_ns: l.host_after_read_ns,
            burst_index: l.burst_index,
        });
        if self.timestamp_source == TimestampSource::Hw {
            self.last_clock_sample_ns = Some(l.host_after_read_ns);
        }
    }

    fn camera_frame(&mut self, f: &proto::CameraFrame) {
        self.camera_frames += 1;
        if self.inj.camera.dropped(f.host_arrival_ns) {
            self.dropped.camera_frames += 1;
            return;
        }
        let device_ns = f.device_ns + self.inj.camera.device_step_ns(f.host_arrival_ns);
        let _ = self.camera_clock.observe_arrival(&ArrivalSample {
            device_ns,
            host_arrival_ns: f.host_arrival_ns,
        });
        if self.timestamp_source == TimestampSource::Sw {
            self.last_clock_sample_ns = Some(f.host_arrival_ns);
        }
        let status = ClockStatus {
            locked: self.camera_clock.locked(),
            epoch: self.camera_clock.epoch(),
            uncertainty_ns: self
                .camera_clock
                .estimate()
                .map_or(f64::INFINITY, |e| e.uncertainty_ns),
            last_sample_ns: self.last_clock_sample_ns,
        };
        let mut state = self
            .monitor
            .evaluate(f.host_arrival_ns, &status, &mut self.audit);
        let Some(mapping) = self.camera_clock.map_frame(device_ns, f.host_arrival_ns) else {
            return;
        };
        if !mapping.locked && state.fuses() {
            // an implausible mapping (e.g. an unseen camera reset) is never fused as locked
            state = SyncState::Resyncing;
        }
        let error_ns = self
            .inj
            .camera
            .time_error_ns(f.host_arrival_ns, self.temperature_c);
        // a mapping far out (a wild clock estimate, an absurd injected error) is no time
        let Some(host_ns) = mapped_time(mapping.host_ns, &[error_ns]) else {
            self.rejected.messages += 1;
            return;
        };
        self.camera_frames_mapped += 1;
        self.frame_host
            .insert(f.frame_id, (host_ns, f.host_arrival_ns));
        self.latency_camera_ms.push((
            f.host_arrival_ns,
            (f.host_arrival_ns - host_ns) as f64 / 1e6,
        ));
        let truth = self.truth_host.remove(&f.frame_id);
        if let Some(truth) = truth {
            self.sync_error_us
                .push((f.host_arrival_ns, (host_ns - truth).abs() as f64 / 1e3));
        }
        self.event_seq += 1;
        let provenance = Provenance {
            timestamp_source: self.timestamp_source,
            cal_version: self.audit.cal_version,
            config_version: self.audit.config_version,
            sync_state: state,
            clock_id: ClockId {
                estimator: self.camera_clock.estimator_name(),
                epoch: mapping.epoch,
            },
            ptp_offset_ns_bucket: ptp_offset_bucket(self.monitor.ptp.last_offset_ns()),
            event_seq: self.event_seq,
        };
        self.frame_prov.insert(f.frame_id, provenance);
        self.sink.sync(SyncRecord {
            frame_id: f.frame_id,
            device_ns,
            host_ns,
            uncertainty_ns: mapping.uncertainty_ns,
            sync_epoch_id: mapping.epoch,
            true_error_ns: truth.map(|t| host_ns - t),
            provenance,
        });
        // truth of frames that never arrived would otherwise pile up
        self.truth_host = self.truth_host.split_off(&f.frame_id.saturating_sub(1000));
    }

    fn detections(&mut self, d: &FusionDetections, log_time_ns: i64) {
        let Some((host_ns, arrival_ns)) = self.frame_host.remove(&d.frame_id) else {
            return;
        };
        self.latency_detector_ms
            .push((log_time_ns, (log_time_ns - arrival_ns) as f64 / 1e6));
        let Some(provenance) = self.frame_prov.remove(&d.frame_id) else {
            return;
        };
        self.frame_prov = self.frame_prov.split_off(&d.frame_id.saturating_sub(1000));
        self.frame_host = self.frame_host.split_off(&d.frame_id.saturating_sub(1000));
        let mut boxes = Vec::with_capacity(d.detections.len());
        let mut camera_ids = Vec::with_capacity(d.detections.len());
        for b in &d.detections {
            let bx = BoxPx {
                x_px: b.x_px,
                y_px: b.y_px,
                width_px: b.width_px,
                height_px: b.height_px,
                score: b.score,
                scale_rate: None,
            };
            if bx.is_valid() {
                boxes.push(bx);
                camera_ids.push(b.object_id);
            } else {
                self.rejected.detections += 1;
            }
        }
        self.pending.push_back(PendingFrame {
            frame_id: d.frame_id,
            host_ns,
            arrival_ns,
            detections_ns: log_time_ns,
            provenance,
            boxes,
            camera_ids,
        });
        while self.pending.len() > MAX_PENDING {
            if let Some(p) = self.pending.pop_front() {
                self.fuse(p);
            }
        }
    }

    /// A radar frame, delivered `delay_ns` after it was due.
    fn radar_frame(&mut self, r: &proto::RadarFrame, delay_ns: i64) {
        self.radar_frames += 1;
        if self.inj.radar.dropped(r.host_arrival_ns) {
            self.dropped.radar_frames += 1;
            return;
        }
        let host_arrival_ns = r.host_arrival_ns + delay_ns;
        let device_ns = r.device_ns + self.inj.radar.device_step_ns(r.host_arrival_ns);
        self.radar_clock.observe_arrival(&ArrivalSample {
            device_ns,
            host_arrival_ns,
        });
        let Some(est) = self.radar_clock.estimate() else {
            return;
        };
        let error_ns = self
            .inj
            .radar
            .time_error_ns(r.host_arrival_ns, self.temperature_c);
        let Some(host_ns) = mapped_time(
            est.host_ns_at(device_ns),
            &[self.cal.radar_time_offset_ns, error_ns],
        ) else {
            self.rejected.messages += 1;
            return;
        };
        self.latency_radar_ms
            .push((host_arrival_ns, (host_arrival_ns - host_ns) as f64 / 1e6));
        let mut detections: Vec<RadarDetection> = Vec::with_capacity(r.points.len());
        for p in &r.points {
            let d = RadarDetection {
                position_m: Point3::new(f64::from(p.x_m), f64::from(p.y_m), f64::from(p.z_m)),
                doppler_mps: f64::from(p.doppler_mps),
                snr_db: f64::from(p.snr_db),
            };
            let valid = d.position_m.coords.iter().all(|v| v.is_finite())
                && d.position_m.coords.norm() <= MAX_RADAR_RANGE_M
                && d.doppler_mps.is_finite()
                && d.doppler_mps.abs() <= MAX_DOPPLER_MPS
                && d.snr_db.is_finite();
            if valid {
                detections.push(d);
            } else {
                self.rejected.radar_points += 1;
            }
        }
        let processing_ns = self.stage.radar_processing_ns(r.points.len());
        self.radar_processing_time_ms
            .push((host_arrival_ns, processing_ns as f64 / 1e6));
        self.radar.push_back(RadarSnapshot {
            host_ns,
            objects: cluster(&detections, &self.cluster_cfg),
        });
        while self.radar.len() > RADAR_HISTORY {
            self.radar.pop_front();
        }
        // frames this radar frame releases are ready once it is processed
        self.radar_processing_ns = processing_ns;
        while self.pending.front().is_some_and(|p| p.host_ns <= host_ns) {
            if let Some(p) = self.pending.pop_front() {
                self.fuse(p);
            }
        }
        self.radar_processing_ns = 0;
    }

    /// Radar objects at `t_ns`: the nearest radar frame's objects, each moved linearly towards
    /// its nearest neighbour in the frame on the other side of `t_ns`; beyond the newest (or
    /// before the oldest) frame, extrapolated from the last two frames at constant velocity,
    /// as a node predicting to the camera's instant does.
    fn radar_objects_at(&self, t_ns: i64) -> Vec<RadarObject> {
        let after = self.radar.iter().position(|s| s.host_ns >= t_ns);
        let n = self.radar.len();
        let (a, b) = match after {
            Some(0) => (self.radar.get(1), self.radar.front()),
            Some(i) => (self.radar.get(i - 1), self.radar.get(i)),
            None if n >= 2 => (self.radar.get(n - 1), self.radar.get(n - 2)),
            None => (self.radar.back(), None),
        };
        let (near, far) = match (a, b) {
            (Some(a), Some(b)) if (t_ns - a.host_ns).abs() <= (b.host_ns - t_ns).abs() => {
                (a, Some(b))
            }
            (Some(a), Some(b)) => (b, Some(a)),
            (Some(a), None) => (a, None),
            (None, Some(b)) => (b, None),
            (None, None) => return Vec::new(),
        };
        // an object's partner in the other radar frame: the nearest within 2 m
        let same_object = DistanceGate::below(2.0);
        near.objects
            .iter()
            .map(|o| {
                let Some(far) = far else { return *o };
                let partner = far
                    .objects
                    .iter()
                    .filter_map(|f| {
                        let d = same_object.pass((f.position_m - o.position_m).norm_squared())?;
                        Some((d, f))
                    })
                    .min_by(|x, y| x.0.total_cmp(&y.0));
                match partner {
                    Some((_, f)) if far.host_ns != near.host_ns => {
                        let s = (t_ns - near.host_ns) as f64 / (far.host_ns - near.host_ns) as f64;
                        RadarObject {
                            position_m: o.position_m + (f.position_m - o.position_m) * s,
                            ..*o
                        }
                    }
                    _ => *o,
                }
            })
            .collect()
    }

    /// A frame's truth objects, each row sharing its class's name.
    fn truth_objects(&mut self, t: &proto::TruthObjects) {
        if !self.speed_edges_mps.is_empty() {
            self.truth_speed.insert(
                t.frame_id,
                t.objects
                    .iter()
                    .map(|o| (o.object_id, o.vx_mps.hypot(o.vy_mps)))
                    .collect(),
            );
        }
        // only objects whose centre is in the camera's view are scored
        let rig_from_camera = self.cal.rig_from_radar() * self.cal.camera_from_radar().inverse();
        let camera_from_rig = rig_from_camera.inverse();
        let intr = self.cal.intrinsics;
        let classes = &mut self.truth_classes;
        let mut objs = Vec::with_capacity(t.objects.len());
        objs.extend(
            t.objects
                .iter()
                .filter(|o| {
                    intr.project(&(camera_from_rig * Point3::new(o.x_m, o.y_m, o.z_m)))
                        .is_some_and(|px| intr.contains(&px))
                })
                .map(|o| TruthRecord {
                    t_ns: t.host_ns,
                    frame_id: t.frame_id,
                    object_id: o.object_id,
                    class_name: match classes.get(o.class_name.as_str()) {
                        Some(name) => Arc::clone(name),
                        None => {
                            let name: Arc<str> = o.class_name.as_str().into();
                            classes.insert(Arc::clone(&name));
                            name
                        }
                    },
                    x_m: o.x_m,
                    y_m: o.y_m,
                    vx_mps: o.vx_mps,
                    vy_mps: o.vy_mps,
                }),
        );
        self.truth_objects.insert(t.frame_id, objs);
    }

    fn fuse(&mut self, p: PendingFrame) {
        let state = p.provenance.sync_state;
        let t = p.host_ns;
        // the node timing model: ready → fusion stage (bounded queue) → egress port
        let ready_ns = self.now_ns.map(|n| n + self.radar_processing_ns);
        let objects = self.radar.back().map_or(0, |s| s.objects.len());
        let timing = ready_ns.map(|r| (r, self.stage.admit(r, p.boxes.len(), objects)));
        if let Some((r, admitted)) = timing {
            self.latency_wait_ms
                .push((r, (r - p.detections_ns) as f64 / 1e6));
            self.frame_drops.push((r, u64::from(admitted.is_none()), 1));
            if let Some(ft) = admitted {
                self.frame_queue_depth.push((r, f64::from(ft.queue_depth)));
                self.latency_queue_ms
                    .push((r, (ft.start_ns - r) as f64 / 1e6));
                self.latency_fusion_ms
                    .push((r, (ft.end_ns - ft.start_ns) as f64 / 1e6));
            }
        }
        if let Some((_, None)) = timing {
            // dropped at the fusion stage's queue: no output for this frame
            self.frame_dropped(&p, ready_ns);
            return;
        }
        let fusion = timing.and_then(|t| t.1);
        let (tracks, associated, (in_view, unmatched)) = if state.fuses() {
            let (tracks, associated, radar) = self.fuse_frame(&p);
            self.last_tracks.clone_from(&tracks);
            (tracks, associated, radar)
        } else {
            // HOLDOVER / FREERUN / RESYNCING: no new fusion; the last fused tracks are held,
            // flagged frozen
            (self.last_tracks.clone(), 0, (0, 0))
        };
        let tx_ns = fusion.and_then(|f| {
            let bytes = 64 + 48 * tracks.len() as u64;
            let tx = self.egress.send_output(f.end_ns, bytes);
            self.drain_egress();
            tx
        });
        if let (Some(f), Some(tx)) = (fusion, tx_ns) {
            self.latency_tx_ms
                .push((f.end_ns, (tx - f.end_ns) as f64 / 1e6));
            self.latency_e2e_ms.push((tx, (tx - t) as f64 / 1e6));
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.sink.frame(FrameRecord {
            frame_id: p.frame_id,
            t_ns: t,
            arrival_ns: p.arrival_ns,
            detections_ns: p.detections_ns,
            ready_ns,
            fuse_start_ns: fusion.map(|f| f.start_ns),
            fuse_end_ns: fusion.map(|f| f.end_ns),
            tx_ns,
            queue_depth: fusion.map(|f| f.queue_depth),
            detections: count(p.boxes.len()),
            associated: count(associated),
            fused_objects: count(tracks.len()),
            radar_objects_in_view: count(in_view),
            radar_objects_unmatched: count(unmatched),
            temperature_c: self.temperature_c,
            cpu_load_pct: self.cpu_load_pct,
            provenance: p.provenance,
        });
        let confidence_scale = if state == SyncState::Degraded {
            0.5
        } else {
            1.0
        };
        for tr in &tracks {
            self.event_seq += 1;
            self.sink.fused(FusedObject {
                t_ns: t,
                frame_id: p.frame_id,
                track_id: tr.track_id,
                x_m: tr.x_m,
                y_m: tr.y_m,
                vx_mps: tr.vx_mps,
                vy_mps: tr.vy_mps,
                confidence: tr.confidence * confidence_scale,
                frozen: !state.fuses(),
                provenance: Provenance {
                    event_seq: self.event_seq,
                    ..p.provenance
                },
            });
        }
        let hyps: Vec<Labeled> = tracks.iter().map(Labeled::from).collect();
        self.score_truth(p.frame_id, t, &hyps);
        self.truth_objects = self
            .truth_objects
            .split_off(&p.frame_id.saturating_sub(1000));
        if !self.truth_speed.is_empty() {
            self.truth_speed = self.truth_speed.split_off(&p.frame_id.saturating_sub(1000));
        }
    }

    /// A frame the fusion stage's full queue turned away: recorded, no output; its truth
    /// objects are scored against nothing (misses), as a downstream consumer would see it.
    fn frame_dropped(&mut self, p: &PendingFrame, ready_ns: Option<i64>) {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.sink.frame(FrameRecord {
            frame_id: p.frame_id,
            t_ns: p.host_ns,
            arrival_ns: p.arrival_ns,
            detections_ns: p.detections_ns,
            ready_ns,
            fuse_start_ns: None,
            fuse_end_ns: None,
            tx_ns: None,
            queue_depth: None,
            detections: count(p.boxes.len()),
            associated: 0,
            fused_objects: 0,
            radar_objects_in_view: 0,
            radar_objects_unmatched: 0,
            temperature_c: self.temperature_c,
            cpu_load_pct: self.cpu_load_pct,
            provenance: p.provenance,
        });
        self.score_truth(p.frame_id, p.host_ns, &[]);
    }

    /// Scores frame `frame_id`'s truth objects (if the recording has them) against the
    /// hypotheses output for it, and hands the truth rows to the sink.
    fn score_truth(&mut self, frame_id: u64, t_ns: i64, hyps: &[Labeled]) {
        let Some(truth) = self.truth_objects.remove(&frame_id) else {
            return;
        };
        let objs: Vec<Labeled> = truth.iter().map(Labeled::from).collect();
        let matched = self.mot.num_matches + self.mot.num_switches;
        let switches = self.mot.update(&objs, hyps);
        let matched = self.mot.num_matches + self.mot.num_switches - matched;
        self.switches.push((t_ns, switches, matched));
        for row in truth {
            self.sink.truth(row);
        }
    }

    /// Moves what the egress port did into the tx metrics.
    fn drain_egress(&mut self) {
        for s in self.egress.log.drain(..) {
            match s {
                Sent::Departed(class, latency_ns, end_ns) => {
                    self.tx_queue_latency_ms[class].push((end_ns, latency_ns as f64 / 1e6));
                    self.packet_drops[class].push((end_ns, 0, 1));
                }
                Sent::Dropped(class, at_ns) => self.packet_drops[class].push((at_ns, 1, 1)),
            }
        }
    }

    /// Associates and tracks one frame; returns the confirmed tracks and how many detections
    /// were associated, and how many radar objects were in view and how many of those found
    /// no detection.
    fn fuse_frame(&mut self, p: &PendingFrame) -> (Vec<TrackOutput>, usize, (usize, usize)) {
        let t = p.host_ns;
        let mut assoc_cfg = self.assoc_cfg;
        if p.provenance.sync_state == SyncState::Degraded {
            assoc_cfg.margin_px *= 2.0; // widened gates while degraded
        }
        let mut boxes = p.boxes.clone();
        for (b, id) in boxes.iter_mut().zip(&p.camera_ids) {
            if let Some(id) = id {
                b.scale_rate = self.scale_rate.observe(*id, t, b.height_px);
            }
        }
        self.scale_rate.prune(t);
        let objects = self.radar_objects_at(t);
        let stale = !self.radar.iter().any(|s| s.host_ns >= t);
        self.stale.push((t, u64::from(stale), 1));
        let camera_from_radar = self.camera_from_radar;
        let rig_from_radar = self.cal.rig_from_radar();
        let intr = self.intrinsics;
        let (kept, projected): (Vec<usize>, Vec<ProjectedObject>) =
            project_objects(&intr, &camera_from_radar, &objects, &self.radar_noise)
                .into_iter()
                .unzip();
        let a = associate(&boxes, &projected, &assoc_cfg);
        self.association
            .push((t, a.unmatched_detections.len() as u64, boxes.len() as u64));
        // the assignment is one-to-one: a radar object is in at most one assigned pair
        let radar_unmatched = projected.len() - a.pairs().count();
        if !projected.is_empty() {
            self.radar_unmatched
                .push((t, radar_unmatched as u64, projected.len() as u64));
        }
        self.record_associations(p, &intr, &boxes, &projected, &a);
        let band_of_detection = self.detection_bands(p);
        if !band_of_detection.is_empty() {
            let n = self.speed_edges_mps.len();
            let (mut unmatched, mut total) = (vec![0u64; n], vec![0u64; n]);
            for b in band_of_detection.iter().flatten() {
                total[*b] += 1;
            }
            for d in &a.unmatched_detections {
                if let Some(b) = band_of_detection[*d] {
                    unmatched[b] += 1;
                }
            }
            for b in 0..n {
                if total[b] > 0 {
                    self.band_association[b].push((t, unmatched[b], total[b]));
                }
            }
            for pair in a.pairs() {
                if let Some(b) = band_of_detection[pair.detection] {
                    self.band_residual_px[b].push((t, pair.residual_px));
                }
            }
        }
        let mut measurements = Vec::with_capacity(boxes.len());
        let mut measured_ids = Vec::with_capacity(boxes.len());
        for pair in a.pairs() {
            self.residual_px.push((t, pair.residual_px));
            match intr.region(&boxes[pair.detection].center()) {
                ImageRegion::Center => self.residual_center_px.push((t, pair.residual_px)),
                ImageRegion::Edge => self.residual_edge_px.push((t, pair.residual_px)),
            }
            let rig = rig_from_radar * objects[kept[pair.object]].position_m;
            measurements.push(Vector2::new(rig.x, rig.y));
            measured_ids.push(p.camera_ids[pair.detection]);
        }
        let step = self.tracker.step_with_ids(t, &measurements);
        // identity churn of fused tracks against the camera's own object ids
        let (mut churned, mut compared) = (0, 0);
        for (cam, track) in measured_ids.iter().zip(&step.measurement_tracks) {
            if let Some(cam) = cam {
                compared += 1;
                if self
                    .camera_track
                    .insert(*cam, *track)
                    .is_some_and(|prev| prev != *track)
                {
                    churned += 1;
                }
            }
        }
        self.churn.push((t, churned, compared));
        (
            step.tracks,
            measurements.len(),
            (projected.len(), radar_unmatched),
        )
    }

    fn record_associations(
        &mut self,
        p: &PendingFrame,
        intr: &Intrinsics,
        boxes: &[BoxPx],
        objects: &[ProjectedObject],
        a: &radcam_fusion::associate::Association,
    ) {
        let base = |d: usize, image_region: ImageRegion| AssociationRecord {
            t_ns: p.host_ns,
            frame_id: p.frame_id,
            detection_index: u32::try_from(d).unwrap_or(u32::MAX),
            camera_object_id: p.camera_ids[d],
            score: boxes[d].score,
            radar_object_index: None,
            residual_px: None,
            image_region,
            residual_radial_px: None,
            margin_px: None,
            projection_sigma_px: None,
            radar_range_m: None,
            radar_doppler_mps: None,
            camera_radial_mps: None,
            velocity_tolerance_mps: None,
            radar_snr_db: None,
            position_gate: None,
            velocity_gate: None,
            confidence_gate: None,
            outcome: Outcome::NoCandidate,
            provenance: p.provenance,
        };
        let mut next = 0;
        for (d, b) in boxes.iter().enumerate() {
            let start = next;
            let centre = b.center();
            let region = intr.region(&centre);
            while next < a.candidates.len() && a.candidates[next].detection == d {
                let c = &a.candidates[next];
                let o = &objects[c.object];
                self.sink.association(AssociationRecord {
                    radar_object_index: u32::try_from(c.object).ok(),
                    residual_px: Some(c.residual_px),
                    // the assigned pair's only: the lens evidence needs no more, and a
                    // candidate's ray would cost a square root for each of millions an hour
                    residual_radial_px: c
                        .assigned
                        .then(|| intr.radial_component_px(&centre, &o.pixel)),
                    margin_px: Some(c.margin_px),
                    projection_sigma_px: Some(o.sigma_px),
                    radar_range_m: Some(o.range_m),
                    radar_doppler_mps: Some(o.doppler_mps),
                    camera_radial_mps: c.camera_radial_mps,
                    velocity_tolerance_mps: c.velocity_tolerance_mps,
                    radar_snr_db: Some(o.snr_db),
                    position_gate: Some(c.gates.position),
                    velocity_gate: c.gates.velocity,
                    confidence_gate: Some(c.gates.confidence),
                    outcome: if c.assigned {
                        Outcome::Assigned
                    } else {
                        Outcome::NotAssigned
                    },
                    ..base(d, region)
                });
                next += 1;
            }
            if next == start {
                self.sink.association(base(d, region));
            }
        }
    }

    /// The speed band of each detection of `p` (by its truth object); empty without bands.
    fn detection_bands(&self, p: &PendingFrame) -> Vec<Option<usize>> {
        let Some(speeds) = self.truth_speed.get(&p.frame_id) else {
            return Vec::new();
        };
        let edges = &self.speed_edges_mps;
        p.camera_ids
            .iter()
            .map(|id| {
                let v = *speeds.get(&(*id)?)?;
                edges.iter().rposition(|e| v >= *e)
            })
            .collect()
    }

    /// `all` with the association and residual metrics restricted to band `b` (call once
    /// per band, after [`State::take_metric_set`]).
    fn band_metric_set(&mut self, all: &MetricSet, b: usize) -> std::io::Result<MetricSet> {
        let mut m = all.clone();
        m.put_rate(
            "association_fail_rate",
            std::mem::take(&mut self.band_association[b]).finish(),
        );
        m.put_distribution(
            "reprojection_residual_px",
            std::mem::take(&mut self.band_residual_px[b]).finish()?,
        );
        Ok(m)
    }

    /// Every metric, finishing the accumulators (call once, at the end). Each metric's
    /// windows go to the sink as it is finished, in name order (the order of
    /// [`MetricSet::known_paths`]); the set keeps the windows of the metrics in `judged` only
    /// (a day of the demo rig has 19 MB of windows, and the gates judge a few metrics).
    fn take_metric_set(&mut self, judged: &BTreeSet<String>) -> std::io::Result<MetricSet> {
        let [tx0, tx1, tx2, tx3] = std::mem::take(&mut self.tx_queue_latency_ms);
        let [d0, d1, d2, d3] = std::mem::take(&mut self.packet_drops);
        // against truth when the recording has it, else against the camera's object ids
        let switches = if self.has_truth {
            std::mem::take(&mut self.switches)
        } else {
            std::mem::take(&mut self.churn)
        };
        let distributions = [
            std::mem::take(&mut self.sync_error_us),
            std::mem::take(&mut self.residual_px),
            std::mem::take(&mut self.residual_center_px),
            std::mem::take(&mut self.residual_edge_px),
            std::mem::take(&mut self.latency_camera_ms),
            std::mem::take(&mut self.latency_detector_ms),
            std::mem::take(&mut self.latency_radar_ms),
            std::mem::take(&mut self.latency_e2e_ms),
            std::mem::take(&mut self.latency_wait_ms),
            std::mem::take(&mut self.latency_queue_ms),
            std::mem::take(&mut self.latency_fusion_ms),
            std::mem::take(&mut self.latency_tx_ms),
            std::mem::take(&mut self.frame_queue_depth),
            std::mem::take(&mut self.radar_processing_time_ms),
            tx0,
            tx1,
            tx2,
            tx3,
        ];
        let rates = [
            std::mem::take(&mut self.association),
            std::mem::take(&mut self.radar_unmatched),
            switches,
            std::mem::take(&mut self.stale),
            std::mem::take(&mut self.frame_drops),
            d0,
            d1,
            d2,
            d3,
        ];
        enum Acc {
            Distribution(Samples),
            Rate(Counts),
        }
        let by_name: BTreeMap<&str, Acc> = DISTRIBUTIONS
            .into_iter()
            .zip(distributions.map(Acc::Distribution))
            .chain(RATES.into_iter().zip(rates.map(Acc::Rate)))
            .collect();
        let mut m = MetricSet::default();
        for (name, acc) in by_name {
            let mut one = MetricSet::default();
            match acc {
                Acc::Distribution(acc) => one.put_distribution(name, acc.finish()?),
                Acc::Rate(acc) => one.put_rate(name, acc.finish()),
            }
            for (path, windows) in one.windows_by_path(EVIDENCE_WINDOW_NS) {
                self.sink.windows(&path, &windows);
            }
            if !judged.contains(name) {
                one.drop_windows();
            }
            m.merge(one);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use radcam_recorder::{RecordRequest, record_scenario};
    use radcam_scenarios::Scenario;

    #[test]
    fn the_bench_baselines_read_every_message_the_replay_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let mut f = McapFile::open(&rec).expect("open");
        let indexed: u64 = TOPICS.iter().filter_map(|t| f.message_count(t)).sum();
        assert!(indexed > 1000);
        assert_eq!(f.bare_read(&TOPICS).expect("bare").0, indexed);
        assert_eq!(f.decoded_read(&TOPICS).expect("decoded"), indexed);
    }

    /// Every metric path's windows go to the sink, in `known_paths` order; the output keeps
    /// the windows of the metrics the gates judge (the same rows) and no others.
    #[test]
    fn windows_go_to_the_sink_and_only_the_judged_ones_stay() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let cfg = ReplayConfig::default();
        let mut sink = radcam_fusion::fused::CollectSink::default();
        let o = replay_into(&rec, &cfg, |_, _| {}, &mut sink).expect("replay");
        let paths: Vec<&str> = sink.windows.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, o.metrics.known_paths());
        let judged = gates::judged_metrics(&cfg.gates);
        assert!(!judged.is_empty());
        let mut kept = 0;
        for (path, rows) in &sink.windows {
            let name = path.rsplit_once('.').map_or(path.as_str(), |(n, _)| n);
            match o.metrics.per_window(path, EVIDENCE_WINDOW_NS) {
                Some(w) => {
                    assert!(judged.contains(name), "{path} kept");
                    assert_eq!(&w, rows, "{path}");
                    kept += 1;
                }
                None => assert!(!judged.contains(name), "{path} dropped"),
            }
        }
        assert!(kept > 0 && kept < sink.windows.len(), "{kept}");
        assert!(sink.windows.iter().any(|(_, rows)| rows.len() > 1));
    }

    fn recording(dir: &Path) -> PathBuf {
        recording_of(dir, 20.0)
    }

    /// A demo-rig recording of `duration_s` seconds in `dir`.
    fn recording_of(dir: &Path, duration_s: f64) -> PathBuf {
        let out = dir.join("r.mcap");
        record_scenario(
            &RecordRequest {
                scenario: Scenario::demo().expect("demo"),
                seed: 9,
                duration_s,
                out: out.clone(),
            },
            |_| {},
        )
        .expect("record");
        out
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_replay_as_interrupted() {
        let dir = tempfile::tempdir().expect("tmp");
        // about 5,000 messages: past the first check, at message 4,096
        let rec = recording_of(dir.path(), 30.0);
        let cancel = Arc::new(AtomicBool::new(true));
        let cfg = ReplayConfig {
            cancel: Some(cancel.clone()),
            ..ReplayConfig::default()
        };
        let mut last_progress = 0;
        let err =
            replay_with_progress(&rec, &cfg, |done, _| last_progress = done).expect_err("stopped");
        assert!(
            matches!(&err, Error::Interrupted { path } if *path == rec),
            "{err}"
        );
        assert_eq!(last_progress, 0, "stopped at the first check");
        cancel.store(false, Ordering::Relaxed);
        replay(&rec, &cfg).expect("a lowered flag lets it run to the end");
    }

    fn p999(o: &ReplayOutput) -> f64 {
        o.metrics
            .lookup("t", "sync_error_us.p999")
            .expect("metric")
            .0
            .expect("samples")
    }

    fn with_faults(toml: &str, seed: u64) -> ReplayConfig {
        ReplayConfig {
            faults: FaultPlan::parse(toml, Path::new("faults.toml")).expect("plan"),
            seed,
            ..ReplayConfig::default()
        }
    }

    #[test]
    fn each_fault_of_a_plan_shows_up_where_and_when_the_plan_says() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let clean = replay(&rec, &ReplayConfig::default()).expect("clean");
        let cfg = with_faults(
            "[camera]\nsteps = [{ at_s = 8.0, step_ms = 5.0 }]\n\
             dropouts = [{ start_s = 4.0, duration_s = 1.0 }]\n\
             [radar]\nlatency_spikes = { probability = 0.05, delay_ms = 250.0, length = 2 }\n\
             [[ptp_loss]]\nstart_s = 12.0\nduration_s = 3.0\n",
            1,
        );
        let out = replay(&rec, &cfg).expect("faulty");
        let start = McapFile::open(&rec)
            .expect("open")
            .summary()
            .stats
            .as_ref()
            .map_or(0, |s| s.message_start_time as i64);
        let at_s = |e: &AuditEvent| (e.event_ts_ns - start) as f64 * 1e-9;
        // the device clock step is detected and re-synchronised, once, right after 8 s
        let resync: Vec<f64> = out
            .audit
            .iter()
            .filter(|e| e.kind == AuditKind::SyncStateChanged && e.new_state == "RESYNCING")
            .map(at_s)
            .collect();
        assert!(
            resync.len() == 1 && (8.0..8.5).contains(&resync[0]),
            "{resync:?}"
        );
        // ptp4l's lost grandmaster degrades sync inside the window only
        let degraded: Vec<f64> = out
            .audit
            .iter()
            .filter(|e| e.kind == AuditKind::SyncStateChanged && e.new_state == "DEGRADED")
            .map(at_s)
            .collect();
        assert!(
            degraded.len() == 1 && (12.0..12.6).contains(&degraded[0]),
            "{degraded:?}"
        );
        // one second of camera frames (30 fps) lost
        assert_eq!(out.dropped.camera_frames, 30);
        assert_eq!(out.camera_frames, clean.camera_frames);
        // held radar frames leave camera frames to be fused with stale radar at the deadline
        assert_eq!(clean.stale_fusions, 1, "only the last frame of a clean run");
        assert!(out.stale_fusions > 20, "{}", out.stale_fusions);
        let e2e = |o: &ReplayOutput| {
            o.metrics
                .lookup("t", "latency_e2e_ms.max")
                .expect("metric")
                .0
                .expect("samples")
        };
        assert!(e2e(&clean) < DEFAULT_FUSION_DEADLINE_MS + 50.0);
        assert!(
            e2e(&out) > e2e(&clean) + 50.0,
            "{} vs {}",
            e2e(&out),
            e2e(&clean)
        );
        assert_ne!(out.report_metadata["fault_plan"], "none");
    }

    #[test]
    fn the_node_model_queues_fusion_and_shares_the_egress_port() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let stat = |o: &ReplayOutput, path: &str| {
            o.metrics
                .lookup("t", path)
                .expect("metric")
                .0
                .expect("samples")
        };
        let healthy = replay(&rec, &ReplayConfig::default()).expect("healthy");
        assert_eq!(stat(&healthy, "frame_drop_rate"), 0.0);
        assert_eq!(stat(&healthy, "packet_drop_rate_video"), 0.0);
        // three video streams on a 100 Mbit/s link, first come first served: the fused output
        // waits behind video frames
        let crowded = replay(
            &rec,
            &with_faults(
                "[egress]\nscheduler = \"fifo\"\nlink_mbps = 100.0\nvideo_streams = 3\n\
                 video_mbps_per_stream = 25.0\n",
                0,
            ),
        )
        .expect("crowded");
        assert!(stat(&crowded, "tx_queue_latency_metadata_ms.p99") > 5.0);
        assert!(stat(&crowded, "latency_e2e_ms.p50") > stat(&healthy, "latency_e2e_ms.p50") + 5.0);
        // the same load under strict priority: the output overtakes queued video
        let prio = replay(
            &rec,
            &with_faults(
                "[egress]\nlink_mbps = 100.0\nvideo_streams = 3\nvideo_mbps_per_stream = 25.0\n",
                0,
            ),
        )
        .expect("prio");
        assert!(
            stat(&prio, "tx_queue_latency_metadata_ms.p99")
                < stat(&crowded, "tx_queue_latency_metadata_ms.p99") / 2.0
        );
        // a fusion stage slower than the frame rate fills its queue and drops frames
        let slow = replay(
            &rec,
            &with_faults("[node]\nfusion_base_us = 50000.0\nqueue_depth = 2\n", 0),
        )
        .expect("slow");
        let drops = stat(&slow, "frame_drop_rate");
        assert!((0.2..0.6).contains(&drops), "{drops}");
        assert!(stat(&slow, "frame_queue_depth.max") >= 1.0);
    }

    #[test]
    fn injected_jitter_follows_the_seed_and_an_extrinsic_error_raises_the_residual() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let jitter = "[camera]\njitter = { distribution = \"laplace\", scale_us = 400.0 }\n";
        let a = replay(&rec, &with_faults(jitter, 5)).expect("a");
        let b = replay(&rec, &with_faults(jitter, 5)).expect("b");
        let c = replay(&rec, &with_faults(jitter, 6)).expect("c");
        assert_eq!(a, b);
        assert_ne!(a.sync, c.sync);
        let clean = replay(&rec, &ReplayConfig::default()).expect("clean");
        // laplace b = 400 µs: P99.9 of |jitter| = b·ln(1000) ≈ 2.8 ms
        assert!((1_500.0..5_000.0).contains(&p999(&a)), "{}", p999(&a));
        assert!(p999(&clean) < 100.0);
        let p95 = |o: &ReplayOutput| {
            o.metrics
                .lookup("t", "reprojection_residual_px.p95")
                .expect("metric")
                .0
                .expect("samples")
        };
        let tilted = replay(&rec, &with_faults("[extrinsic]\nyaw_deg = 1.0\n", 0)).expect("yaw");
        assert!(
            p95(&tilted) > p95(&clean) + 5.0,
            "{} vs {}",
            p95(&tilted),
            p95(&clean)
        );
        // a lens-model error moves the edge's residuals more than the centre's
        let median = |o: &ReplayOutput, region: &str| {
            o.metrics
                .lookup("t", &format!("reprojection_residual_{region}_px.p50"))
                .expect("metric")
                .0
                .expect("samples")
        };
        let long = replay(
            &rec,
            &with_faults("[intrinsic]\nfocal_error_pct = 5.0\n", 0),
        )
        .expect("focal");
        let grown = |region| median(&long, region) - median(&clean, region);
        assert!(
            grown("edge") > 5.0 && grown("edge") > 1.5 * grown("center"),
            "edge +{} px, centre +{} px",
            grown("edge"),
            grown("center")
        );
    }

    #[test]
    fn bracket_is_ten_times_better_than_the_seed_method_on_the_same_recording() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let bracket = replay(&rec, &ReplayConfig::default()).expect("replay");
        let seed = replay(
            &rec,
            &ReplayConfig {
                estimator: "seed-polyfit".into(),
                ..ReplayConfig::default()
            },
        )
        .expect("replay");
        assert_eq!(bracket.camera_frames, 600);
        assert!(
            p999(&bracket) * 10.0 < p999(&seed),
            "bracket {} µs vs seed {} µs",
            p999(&bracket),
            p999(&seed)
        );
        assert!(bracket.passed(), "{:?}", bracket.gates);
        // same input, same output
        assert_eq!(
            replay(&rec, &ReplayConfig::default()).expect("replay"),
            bracket
        );
    }

    /// A recording in `dir` with one bit flipped at the byte `at` picks from the file's bytes
    /// and its first chunk's offset; returns the recording and that offset.
    fn with_a_flipped_bit(dir: &Path, at: impl FnOnce(&[u8], usize) -> usize) -> (PathBuf, u64) {
        let rec = recording(dir);
        let first =
            McapFile::open(&rec).expect("open").chunks().expect("index")[0].chunk_start_offset;
        let mut bytes = std::fs::read(&rec).expect("read");
        let i = at(&bytes, usize::try_from(first).expect("fits"));
        bytes[i] ^= 0x01;
        std::fs::write(&rec, bytes).expect("write");
        (rec, first)
    }

    /// `recording_content_hash` is the SHA-256 of the file's bytes, whether the check runs
    /// beside the replay or before it inside a pool (a sweep's run).
    #[test]
    fn the_recording_content_hash_is_the_sha256_of_the_file() {
        use sha2::Digest;
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let sha: String = sha2::Sha256::digest(std::fs::read(&rec).expect("read"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let beside = replay(&rec, &ReplayConfig::default()).expect("replay");
        assert_eq!(beside.report_metadata["recording_content_hash"], sha);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let before = pool.install(|| replay(&rec, &ReplayConfig::default()).expect("replay"));
        assert_eq!(before.report_metadata["recording_content_hash"], sha);
        // and when a sweep checked the file once for all its runs
        let checked = ReplayConfig {
            checked: Some(Arc::new(CheckedRecording::check(&rec).expect("check"))),
            ..ReplayConfig::default()
        };
        let once = pool.install(|| replay(&rec, &checked).expect("replay"));
        assert_eq!(once.report_metadata, beside.report_metadata);
        assert_eq!(once.gates, beside.gates);
    }

    #[test]
    fn a_recording_changed_after_its_check_is_refused_or_its_damage_found() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = recording(dir.path());
        let cfg = ReplayConfig {
            checked: Some(Arc::new(CheckedRecording::check(&rec).expect("check"))),
            ..ReplayConfig::default()
        };
        let modified = std::fs::metadata(&rec)
            .and_then(|m| m.modified())
            .expect("mtime");
        let first =
            McapFile::open(&rec).expect("open").chunks().expect("index")[0].chunk_start_offset;
        let mut bytes = std::fs::read(&rec).expect("read");
        bytes[usize::try_from(first).expect("fits") + 200] ^= 0x01;
        // the same size, written anew: a new modification time
        std::fs::write(&rec, &bytes).expect("write");
        let err = replay(&rec, &cfg).expect_err("changed");
        assert!(
            matches!(&err, Error::Invalid { path, problem } if path == &rec && problem.contains("changed")),
            "{err}"
        );
        // the modification time put back as it was: the chunk's own CRC still finds it
        std::fs::File::options()
            .write(true)
            .open(&rec)
            .and_then(|f| f.set_modified(modified))
            .expect("set mtime");
        let msg = replay(&rec, &cfg).expect_err("damaged").to_string();
        assert!(
            msg.contains("corrupt chunk") && msg.contains(&first.to_string()),
            "{msg}"
        );
    }

    #[test]
    fn a_damaged_chunk_is_named_with_its_offset() {
        let dir = tempfile::tempdir().expect("tmp");
        let (rec, first) = with_a_flipped_bit(dir.path(), |_, chunk| chunk + 200);
        let err = replay(&rec, &ReplayConfig::default()).expect_err("damaged");
        let msg = err.to_string();
        assert!(
            msg.contains("corrupt chunk") && msg.contains(&first.to_string()),
            "{msg}"
        );
    }

    #[test]
    fn damage_the_replay_never_reads_still_fails_it_from_the_whole_file_check() {
        let dir = tempfile::tempdir().expect("tmp");
        // in the first message index record after the first chunk: the data section's CRC
        // covers it, the replay skips it
        let (rec, _) = with_a_flipped_bit(dir.path(), |bytes, mut at| {
            while bytes[at] != 0x07 {
                let len: [u8; 8] = bytes[at + 1..at + 9].try_into().expect("8 bytes");
                at += 9 + usize::try_from(u64::from_le_bytes(len)).expect("fits");
            }
            at + 12
        });
        let crc_mismatch = |e: Error| {
            let msg = e.to_string();
            assert!(
                msg.contains("data section") && msg.contains("CRC mismatch"),
                "{msg}"
            );
        };
        // beside the replay, and before it inside a pool (a sweep's run)
        crc_mismatch(replay(&rec, &ReplayConfig::default()).expect_err("damaged"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        crc_mismatch(pool.install(|| replay(&rec, &ReplayConfig::default()).expect_err("damaged")));
    }

    fn record(dir: &Path, name: &str, scenario: Scenario, duration_s: f64) -> PathBuf {
        let out = dir.join(name);
        record_scenario(
            &RecordRequest {
                scenario,
                seed: 1,
                duration_s,
                out: out.clone(),
            },
            |_| {},
        )
        .expect("record");
        out
    }

    #[test]
    fn a_camera_without_latches_falls_back_to_passive_and_says_so() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut scenario = Scenario::demo().expect("demo");
        scenario.camera.latch.rate_hz = 0.0;
        let out = record(dir.path(), "nolatch.mcap", scenario, 10.0);
        let r = replay(&out, &ReplayConfig::default()).expect("replay");
        assert_eq!(r.estimator_used, "passive");
        assert_eq!(r.audit[0].kind, AuditKind::TimebaseSwitched);
        assert_eq!(r.audit[0].old_state, "latch/bracket");
        assert_eq!(r.camera_frames_mapped, 300);
        assert!(
            r.sync
                .iter()
                .all(|s| s.provenance.timestamp_source == TimestampSource::Sw)
        );
        assert_eq!(
            r.report_metadata.get("estimator").map(String::as_str),
            Some("passive")
        );
    }

    #[test]
    fn a_camera_reset_resyncs_in_a_new_epoch_and_never_mislabels() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut scenario = Scenario::demo().expect("demo");
        // the camera resets 10 s in: its clock restarts near zero
        scenario.camera.clock.steps =
            vec![[10.0, -(scenario.camera.clock.offset_ns as f64) - 1.0e12]];
        let out = record(dir.path(), "reset.mcap", scenario, 20.0);
        let r = replay(&out, &ReplayConfig::default()).expect("replay");
        let epochs: Vec<u64> = r.sync.iter().map(|s| s.sync_epoch_id).collect();
        assert_eq!(epochs.last(), Some(&1), "a new epoch after the reset");
        let resync: Vec<&SyncRecord> = r
            .sync
            .iter()
            .filter(|s| s.provenance.sync_state == SyncState::Resyncing)
            .collect();
        assert!(
            !resync.is_empty(),
            "frames during the transition are RESYNCING"
        );
        for s in &r.sync {
            let err = s.true_error_ns.expect("simulated truth").abs();
            if s.provenance.sync_state == SyncState::Locked {
                assert!(
                    err < 1_000_000,
                    "frame {} LOCKED with error {err} ns",
                    s.frame_id
                );
            }
        }
        // LOCKED again within 3 s of the reset
        let relocked = r
            .sync
            .iter()
            .find(|s| s.sync_epoch_id == 1 && s.provenance.sync_state == SyncState::Locked)
            .expect("relocks");
        let reset_frame = 300;
        assert!(
            relocked.frame_id < reset_frame + 90,
            "relocked at frame {}",
            relocked.frame_id
        );
        let kinds: Vec<&str> = r.audit.iter().map(|e| e.new_state.as_str()).collect();
        assert!(kinds.contains(&"RESYNCING"), "{kinds:?}");
        // while resyncing nothing is fused: the last tracks are held and flagged frozen
        let frozen: Vec<&FusedObject> = r.fused.iter().filter(|f| f.frozen).collect();
        assert!(!frozen.is_empty(), "tracks are held through the resync");
        for f in &r.fused {
            assert_eq!(
                f.frozen,
                !f.provenance.sync_state.fuses(),
                "frame {} {:?}",
                f.frame_id,
                f.provenance.sync_state
            );
        }
        assert!(r.passed(), "{:?}", r.gates);
    }

    fn fail_rate(o: &ReplayOutput) -> f64 {
        o.metrics
            .lookup("t", "association_fail_rate")
            .expect("metric")
            .0
            .expect("samples")
    }

    #[test]
    fn well_separated_targets_associate_cleanly_and_never_switch() {
        let dir = tempfile::tempdir().expect("tmp");
        let scenario = Scenario::library("separated").expect("library");
        let rec = record(dir.path(), "sep.mcap", scenario, 20.0);
        let r = replay(&rec, &ReplayConfig::default()).expect("replay");
        let t = r.tracking.expect("truth");
        assert_eq!(t.num_switches, 0, "{t:?}");
        assert!(t.mota > 0.85 && t.idf1 > 0.9, "{t:?}");
        assert!(
            fail_rate(&r) < 0.01,
            "association_fail_rate {}",
            fail_rate(&r)
        );
        // every fused object carries the provenance of its frame
        assert!(!r.fused.is_empty());
        assert!(
            r.fused
                .iter()
                .all(|f| f.provenance.cal_version == r.cal_version
                    && f.provenance.clock_id.to_string() == "camera/bracket/epoch0"
                    && !f.frozen)
        );
        let seqs: Vec<u64> = r.fused.iter().map(|f| f.provenance.event_seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]));
        // every detection has at least one association row, and assigned rows passed every gate
        for a in &r.associations {
            if a.outcome == Outcome::Assigned {
                assert!(a.position_gate == Some(true) && a.confidence_gate == Some(true));
                assert_ne!(a.velocity_gate, Some(false));
            }
        }
    }

    #[test]
    fn association_degrades_as_the_camera_offset_grows() {
        let dir = tempfile::tempdir().expect("tmp");
        // lateral traffic: crossing pedestrians and cyclists
        let scenario = Scenario::library("crossing").expect("library");
        let rec = record(dir.path(), "cross.mcap", scenario, 30.0);
        let rates: Vec<f64> = [0, 200, 400, 800]
            .iter()
            .map(|ms| {
                let cfg = ReplayConfig {
                    faults: FaultPlan {
                        camera: crate::faults::SensorFaults {
                            offset_ms: f64::from(*ms),
                            ..Default::default()
                        },
                        ..FaultPlan::default()
                    },
                    ..ReplayConfig::default()
                };
                fail_rate(&replay(&rec, &cfg).expect("replay"))
            })
            .collect();
        assert!(
            rates.windows(2).all(|w| w[1] >= w[0]),
            "fail rate should not fall as the offset grows: {rates:?}"
        );
        assert!(rates[3] > 2.0 * rates[0], "{rates:?}");
    }

    /// Records 5 s of the demo rig with `seed` at `out`, each simulated message passed
    /// through `edit` first (how the tests plant bad input).
    fn record_demo_edited(
        out: &Path,
        seed: u64,
        edit: impl FnMut(&mut radcam_scenarios::SimEvent),
    ) {
        radcam_recorder::record_scenario_with(
            &RecordRequest {
                scenario: Scenario::demo().expect("demo"),
                seed,
                duration_s: 5.0,
                out: out.to_owned(),
            },
            edit,
            |_| {},
        )
        .expect("record");
    }

    #[test]
    fn messages_with_impossible_times_and_readings_are_left_out_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        // `temperature_c` for every /node/stats zone; camera frames and radar frames with an
        // impossible time (a driver's sentinel, a time some 146 years from its epoch)
        let record = |name: &str, temperature_c: f64| {
            let out = dir.path().join(name);
            let (mut frames, mut radar) = (0u64, 0u64);
            record_demo_edited(&out, 2, |ev| match &mut ev.message {
                radcam_scenarios::SimMessage::CameraFrame(f) if f.frame_id % 7 == 3 => {
                    f.host_arrival_ns = i64::MAX;
                    frames += 1;
                }
                radcam_scenarios::SimMessage::RadarFrame(f) if f.radar_frame_id % 4 == 1 => {
                    f.device_ns = -crate::time_limit::TIME_LIMIT_NS;
                    radar += 1;
                }
                radcam_scenarios::SimMessage::NodeStats(n) => {
                    n.temperatures
                        .iter_mut()
                        .for_each(|z| z.temperature_c = temperature_c);
                }
                _ => {}
            });
            (out, frames + radar)
        };
        let (absurd, impossible) = record("absurd.mcap", 1e300);
        let (unread, _) = record("unread.mcap", f64::NAN);
        assert!(impossible > 10, "{impossible}");
        let plan = "[camera]\ntemperature = { ppm_per_c = 0.5, reference_c = 25.0 }\n";
        let cfg = ReplayConfig {
            faults: FaultPlan::parse(plan, Path::new("t.toml")).expect("plan"),
            ..ReplayConfig::default()
        };
        let r = replay(&absurd, &cfg).expect("replay");
        assert_eq!(r.rejected.messages, impossible);
        assert!(r.camera_frames_mapped > 100, "{}", r.camera_frames_mapped);
        // 1e300 °C is no reading, as NaN is: the same replay
        let nan = replay(&unread, &cfg).expect("replay");
        assert_eq!(r.sync, nan.sync);
        assert_eq!(r.fused, nan.fused);
    }

    #[test]
    fn non_finite_and_impossible_inputs_are_rejected_one_by_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("bad.mcap");
        let (mut points, mut boxes) = (0u64, 0u64);
        record_demo_edited(&out, 1, |ev| match &mut ev.message {
            radcam_scenarios::SimMessage::RadarFrame(f) if f.radar_frame_id % 3 == 0 => {
                if let Some(p) = f.points.first_mut() {
                    p.x_m = f32::NAN;
                    points += 1;
                }
                if let Some(p) = f.points.get_mut(1) {
                    p.doppler_mps = f32::INFINITY;
                    points += 1;
                }
            }
            radcam_scenarios::SimMessage::CameraDetections(d) if d.frame_id % 5 == 0 => {
                if let Some(b) = d.detections.first_mut() {
                    b.width_px = -3.0;
                    boxes += 1;
                }
            }
            _ => {}
        });
        let r = replay(&out, &ReplayConfig::default()).expect("replay");
        assert_eq!(r.rejected.radar_points, points);
        // boxes of frames never mapped (before the first estimate) are never looked at
        assert!(r.rejected.detections > 0 && r.rejected.detections <= boxes);
        assert!(
            r.fused
                .iter()
                .all(|f| f.x_m.is_finite() && f.y_m.is_finite())
        );
        let residuals = r
            .metrics
            .lookup("t", "reprojection_residual_px.p95")
            .expect("metric");
        assert!(residuals.0.expect("samples").is_finite());
    }
}
