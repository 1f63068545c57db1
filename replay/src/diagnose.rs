//! `radcam diagnose`: the field playbook as a command. Symptom window → evidence signals →
//! one discriminator → a suspected domain → the first fix.
//!
//! Evidence comes from the recording alone (no ground truth): the raw channels (`/ptp/status`,
//! `/radar/frame` arrivals and device clock, TLV 6 processing times, `/audit`) and one replay of
//! the fusion core (sync mapping, association decisions, reprojection residuals), plus — only
//! when the residual or the association is off — a radar↔camera time-offset search, which tells
//! a time misalignment (the residual collapses at another offset) from a geometric one (it does
//! not). The discriminators are applied in a fixed order, first match wins; when the evidence
//! is too thin the answer is `inconclusive`, never a guess.

use crate::extract::{Window, extract};
use crate::reader::McapFile;
use crate::runner::{ReplayConfig, replay_into};
use crate::spill::SpillStore;
use crate::time_limit::{MessageTimes, TIME_LIMIT_NS, possible_log_time};
use crate::time_offset::{self, SearchConfig};
use crate::{Error, Result};
use radcam_fusion::fused::{
    AssociationRecord, FrameRecord, FusedObject, FusionSink, Outcome, TruthRecord,
};
use radcam_fusion::geometry::ImageRegion;
use radcam_fusion::shown::Shown;
use radcam_fusion::stats::Summary;
use radcam_fusion::sync::SyncRecord;
use radcam_fusion::timeline::{COLLECT_LIMIT, SampleStore};
use radcam_schema::{decode, proto, topics};
use std::path::Path;

/// One evidence signal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// Signal name (with its unit).
    pub name: &'static str,
    /// Its value in the symptom window; `None` when it could not be measured.
    pub value: Option<f64>,
    /// The level above which it counts as abnormal.
    pub threshold: f64,
    /// Whether it is abnormal.
    pub flagged: bool,
    /// What it measures.
    pub about: &'static str,
}

/// The numbers of one part of the analysed span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapshot {
    /// `before`, `during` or `after`.
    pub label: &'static str,
    /// Span, s from the recording's first message.
    pub start_s: f64,
    /// See `start_s`.
    pub end_s: f64,
    /// Reprojection residual of assigned pairs, P95, px.
    pub reprojection_p95_px: Option<f64>,
    /// Detections without a radar partner / detections.
    pub association_fail_rate: Option<f64>,
    /// Radar arrival irregularity, P99, ms.
    pub radar_arrival_p99_ms: Option<f64>,
    /// |PTP master offset|, P99, µs.
    pub ptp_offset_p99_us: Option<f64>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    /// `time_sync`, `latency`, `extrinsic`, `intrinsic`, `association`, `egress_qos`,
    /// `calibration_change`, `healthy` or `inconclusive`.
    pub domain: &'static str,
    /// Every signal measured, flagged or not.
    pub evidence: Vec<Evidence>,
    /// The rule that decided, with the numbers that triggered it.
    pub discriminator: String,
    /// What to do first.
    pub first_fix: &'static str,
    /// Before / during / after the symptom window.
    pub snapshots: Vec<Snapshot>,
    /// The symptom window, s from the recording's first message.
    pub window_s: [f64; 2],
}

/// Thresholds of the evidence signals.
mod limits {
    pub const PTP_LOST_FRACTION: f64 = 0.05;
    pub const PTP_OFFSET_P99_US: f64 = 1000.0;
    pub const CAMERA_DELAY_JITTER_MS: f64 = 10.0;
    pub const CAMERA_RESYNCS: f64 = 0.5;
    pub const RADAR_ARRIVAL_P99_MS: f64 = 40.0;
    pub const RADAR_DEVICE_MAX_MS: f64 = 2.0;
    pub const STALL_CORRELATION: f64 = 0.5;
    pub const REPROJECTION_P95_PX: f64 = 25.0;
    pub const REPROJECTION_GROWTH: f64 = 1.5;
    /// The edge's residual spreads wider than the centre's in a healthy rig (up to about
    /// 30 px P95 in the library's 40 s scenarios, against 25 px overall).
    pub const REPROJECTION_EDGE_P95_PX: f64 = 32.0;
    pub const EDGE_CENTER_RATIO: f64 = 1.6;
    pub const EDGE_RADIAL_SHARE: f64 = 0.5;
    /// Assigned pairs each region needs before the two are compared.
    pub const MIN_REGION_PAIRS: u64 = 100;
    pub const ASSOCIATION_FAIL_RATE: f64 = 0.05;
    pub const RADAR_UNMATCHED_RATE: f64 = 0.15;
    pub const CPU_LOAD_P95_PCT: f64 = 85.0;
    pub const EGRESS_DROPS: f64 = 0.0;
    pub const EGRESS_QUEUE_FILL: f64 = 0.5;
    pub const TIME_OFFSET_SHIFT_MS: f64 = 10.0;
    pub const TIME_OFFSET_GAIN: f64 = 0.25;
    pub const CONFIG_CHANGES: f64 = 0.5;
    pub const MIN_CAMERA_FRAMES: usize = 30;
    pub const MIN_RADAR_FRAMES: usize = 10;
}

fn quantile(v: Vec<f64>, q: f64) -> Option<f64> {
    radcam_fusion::stats::quantile_sorted(&sorted_finite(v), q)
}

/// The finite values of `v`, sorted, for taking several quantiles of one copy.
fn sorted_finite(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    // values equal under `total_cmp` are the same bits: an unstable sort gives the same order,
    // without a stable sort's scratch buffer
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// A radar frame's timing: device clock, host arrival (ns) and TLV 6 processing time (µs).
#[derive(Debug, Clone, Copy)]
struct RadarTiming {
    device_ns: i64,
    host_arrival_ns: i64,
    processing_us: u32,
}

/// Each camera frame's log time and host arrival (ns) by frame id, a later frame of an id
/// (after a camera reset) replacing an earlier one: a vector sorted by frame id, 24 B a frame
/// where a `BTreeMap` took about twice that (a day of the demo rig is 2.6 M frames). Frames
/// come in id order but after a reset, so they are appended, and sorted only if one did not.
#[derive(Debug, Default)]
struct CameraArrivals {
    /// (frame id, log time ns, host arrival ns).
    frames: Vec<(u64, u64, i64)>,
    /// A frame came whose id is not above the one before it.
    unsorted: bool,
}

impl CameraArrivals {
    /// Adds a frame, after every frame added so far.
    fn insert(&mut self, frame_id: u64, log_time_ns: u64, host_arrival_ns: i64) {
        self.unsorted |= self.frames.last().is_some_and(|l| l.0 >= frame_id);
        self.frames.push((frame_id, log_time_ns, host_arrival_ns));
    }

    /// Sorts the frames by id, keeping the last added of each; once every frame is in.
    fn finish(&mut self) {
        if !std::mem::take(&mut self.unsorted) {
            return;
        }
        // stable: frames of one id stay in the order they came
        self.frames.sort_by_key(|f| f.0);
        let mut kept: Vec<(u64, u64, i64)> = Vec::with_capacity(self.frames.len());
        for f in self.frames.drain(..) {
            match kept.last_mut() {
                Some(last) if last.0 == f.0 => *last = f,
                _ => kept.push(f),
            }
        }
        self.frames = kept;
    }

    /// The (log time ns, host arrival ns) of frame `frame_id`, after [`CameraArrivals::finish`].
    fn get(&self, frame_id: u64) -> Option<(u64, i64)> {
        debug_assert!(!self.unsorted, "finish first");
        let i = self.frames.binary_search_by_key(&frame_id, |f| f.0).ok()?;
        Some((self.frames[i].1, self.frames[i].2))
    }
}

/// Raw-channel facts of one span: what the evidence needs of each message, not the message
/// (an hour of radar frames is 6.5 M points).
#[derive(Debug, Default)]
struct Raw {
    ptp: Vec<(u64, proto::PtpStatus)>,
    radar: Vec<(u64, RadarTiming)>,
    camera_arrival: CameraArrivals,
    config_changes: Vec<(u64, String)>,
    node: Vec<(u64, proto::NodeStats)>,
    latches: Vec<u64>,
}

fn read_raw(path: &Path) -> Result<(Raw, u64, u64)> {
    let mut f = McapFile::open(path)?;
    let (first, last) = f
        .summary()
        .stats
        .as_ref()
        .map_or((0, 0), |s| (s.message_start_time, s.message_end_time));
    // messages logged at impossible times are left out below: the span ends before them
    let limit = TIME_LIMIT_NS.unsigned_abs() - 1;
    let (first, last) = (first.min(limit), last.min(limit));
    let mut raw = Raw::default();
    let dec = |log_time_ns: u64, e: radcam_schema::Error| Error::Decode {
        path: path.to_owned(),
        log_time_ns,
        source: e,
    };
    let wanted = [
        topics::PTP_STATUS,
        topics::RADAR_FRAME,
        topics::CAMERA_FRAME,
        topics::CAMERA_LATCH,
        topics::NODE_STATS,
        topics::AUDIT,
    ];
    // a message with an impossible time is left out, as the replay leaves it out
    // (`crate::time_limit`)
    f.for_each_message(&wanted, |m| {
        let t = m.log_time_ns;
        if !possible_log_time(t) {
            return Ok(());
        }
        match m.topic {
            topics::PTP_STATUS => {
                let p: proto::PtpStatus = decode(m.data).map_err(|e| dec(t, e))?;
                if p.possible() {
                    raw.ptp.push((t, p));
                }
            }
            topics::RADAR_FRAME => {
                let r: proto::RadarFrame = decode(m.data).map_err(|e| dec(t, e))?;
                if !r.possible() {
                    return Ok(());
                }
                raw.radar.push((
                    t,
                    RadarTiming {
                        device_ns: r.device_ns,
                        host_arrival_ns: r.host_arrival_ns,
                        processing_us: r.inter_frame_processing_time_us,
                    },
                ));
            }
            topics::CAMERA_LATCH => raw.latches.push(t),
            topics::NODE_STATS => {
                let n: proto::NodeStats = decode(m.data).map_err(|e| dec(t, e))?;
                if n.possible() {
                    raw.node.push((t, n));
                }
            }
            topics::CAMERA_FRAME => {
                let c: proto::CameraFrame = decode(m.data).map_err(|e| dec(t, e))?;
                if c.possible() {
                    raw.camera_arrival.insert(c.frame_id, t, c.host_arrival_ns);
                }
            }
            topics::AUDIT => {
                let a: proto::AuditEvent = decode(m.data).map_err(|e| dec(t, e))?;
                if !a.possible() {
                    return Ok(());
                }
                // a version change after the recording began (not the initial load)
                let mid = a.event_ts_ns as u64 > first + 1_000_000_000;
                if mid
                    && matches!(a.kind.as_str(), "CAL_UPDATED" | "CONFIG_UPDATED")
                    && a.old_state != a.new_state
                {
                    raw.config_changes.push((
                        a.event_ts_ns as u64,
                        format!("{} {}→{}: {}", a.kind, a.old_state, a.new_state, a.detail),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    raw.camera_arrival.finish();
    Ok((raw, first, last))
}

/// Radar arrival irregularity per frame (|Δarrival − Δdevice|, ms), device-period deviation
/// (|Δdevice − median|, ms) and TLV 6 processing time (ms), for frames logged in `[a, b]`.
fn radar_series(raw: &Raw, a: u64, b: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let frames: Vec<&RadarTiming> = raw
        .radar
        .iter()
        .filter(|(t, _)| (a..=b).contains(t))
        .map(|(_, f)| f)
        .collect();
    let dd: Vec<f64> = frames
        .windows(2)
        .map(|w| (w[1].device_ns - w[0].device_ns) as f64 / 1e6)
        .collect();
    let med = quantile(dd.clone(), 0.5).unwrap_or(0.0);
    let arrival: Vec<f64> = frames
        .windows(2)
        .map(|w| {
            let da = (w[1].host_arrival_ns - w[0].host_arrival_ns) as f64 / 1e6;
            let dv = (w[1].device_ns - w[0].device_ns) as f64 / 1e6;
            (da - dv).abs()
        })
        .collect();
    let device: Vec<f64> = dd.iter().map(|d| (d - med).abs()).collect();
    let processing: Vec<f64> = frames
        .iter()
        .skip(1)
        .map(|f| f64::from(f.processing_us) / 1e3)
        .collect();
    (arrival, device, processing)
}

/// Association facts of a span the replay counted: the reprojection residual P95 of assigned
/// pairs (px), and the fail rate.
fn association_stats(rows: &mut Rows, span: SpanId) -> Result<(Option<f64>, Option<f64>)> {
    let ((a, b), c) = rows.span(span);
    let fail = (c.detections > 0).then(|| c.failed as f64 / c.detections as f64);
    Ok((residual_p95(rows, a..=b)?, fail))
}

/// Hands the values of `store` logged in `span` (ns) to `f`, in the order they came, read back
/// from their temporary file.
fn each_value(
    store: &mut SpillStore,
    span: &impl std::ops::RangeBounds<i64>,
    f: &mut dyn FnMut(f64),
) -> Result<()> {
    store
        .replay(&mut |t_ns, v| {
            if span.contains(&t_ns) {
                f(v)
            }
        })
        .map_err(|source| Error::Spill {
            dir: std::env::temp_dir(),
            source,
        })
}

/// Hands the reprojection residuals (px) of the assigned pairs of the frames logged in `span`
/// (ns) to `f`: the image centre's, then the edge's.
fn each_residual(
    rows: &mut Rows,
    span: &impl std::ops::RangeBounds<i64>,
    f: &mut dyn FnMut(f64),
) -> Result<()> {
    for store in &mut rows.residuals {
        each_value(store, span, f)?;
    }
    Ok(())
}

/// The summary of the values of `store` logged in `span` (ns), selected in passes over them.
fn summary_of(
    store: &mut SpillStore,
    span: &impl std::ops::RangeBounds<i64>,
) -> Result<Option<Summary>> {
    Summary::by_passes(|f| each_value(store, span, f), COLLECT_LIMIT)
}

/// What the residuals of `span` (ns) say of the lens model: (the edge's residual P95 px, the
/// edge's residual median over the centre's, and the share of the edge's median residual
/// that lies along the ray from the principal point: |median radial component| / median
/// residual). The comparisons are `None` when either region has fewer than
/// [`limits::MIN_REGION_PAIRS`] assigned pairs.
fn lens_evidence(
    rows: &mut Rows,
    span: impl std::ops::RangeBounds<i64>,
) -> Result<(Option<f64>, Option<f64>, Option<f64>)> {
    let [center, edge] = &mut rows.residuals;
    let (center, edge_summary) = (summary_of(center, &span)?, summary_of(edge, &span)?);
    let edge_p95 = edge_summary.as_ref().map(|s| s.p95);
    let enough = |s: &Option<Summary>| {
        s.as_ref()
            .filter(|s| s.samples >= limits::MIN_REGION_PAIRS)
            .map(|s| s.p50)
    };
    let (Some(center_p50), Some(edge_p50)) = (enough(&center), enough(&edge_summary)) else {
        return Ok((edge_p95, None, None));
    };
    let ratio = (center_p50 > 0.0).then(|| edge_p50 / center_p50);
    let radial = summary_of(&mut rows.edge_radial, &span)?;
    let share = radial
        .filter(|_| edge_p50 > 0.0)
        .map(|r| r.p50.abs() / edge_p50);
    Ok((edge_p95, ratio, share))
}

/// P95 (px) of the residuals [`each_residual`] hands out for `span`, selected in a few passes
/// over them rather than from a sorted copy: an hour of the demo rig has about 1.5 M.
fn residual_p95(rows: &mut Rows, span: impl std::ops::RangeBounds<i64>) -> Result<Option<f64>> {
    let summary = Summary::by_passes(|f| each_residual(rows, &span, f), COLLECT_LIMIT)?;
    Ok(summary.map(|s| s.p95))
}

/// What the camera frames fused in the symptom window say of the camera's delivery.
#[derive(Debug, Default)]
struct CameraDelivery {
    /// Frames mapped to host time whose log time is in the window.
    frames: usize,
    /// Each one's delivery delay after its mapped exposure time, ms.
    delays_ms: Vec<f64>,
    /// The sync epochs they were mapped in.
    epochs: std::collections::BTreeSet<u64>,
}

/// A span's camera-frame counts, summed as the replay goes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SpanCounts {
    /// Detections with at least one association decision.
    detections: u64,
    /// Those of them no radar object was assigned to.
    failed: u64,
    /// Radar objects in view of the camera.
    radar_in_view: u64,
    /// Those of them no detection was assigned to.
    radar_unmatched: u64,
}

/// A span [`Rows::count_span`] counts: its place in [`Rows::spans`].
#[derive(Debug, Clone, Copy)]
struct SpanId(usize);

/// One detection's decisions so far, while its frame's decisions arrive.
#[derive(Debug, Clone, Copy, Default)]
struct DetectionFact {
    /// A radar object was assigned to it.
    assigned: bool,
    /// The assigned pair's reprojection residual, px.
    residual_px: Option<f64>,
    /// Its component along the ray from the principal point, px.
    residual_radial_px: Option<f64>,
    /// The detection is in the image's edge region.
    edge: bool,
}

/// What the evidence needs of a replay's rows, taken as the replay streams them: each camera
/// frame's delivery delay, counts summed over the spans the evidence is taken over (known
/// from the raw pass before the replay), and the residuals of assigned pairs; nothing of
/// fused or truth objects. (Collecting every row took about 1 GB an hour of the demo rig; a
/// fact per detection, about 100 MB; the residuals in memory, 12 MB, about half of what a
/// diagnosis held, and twice that while their vector grew; the mapped times and the frames'
/// counts kept per frame for the spans, 56 B a frame, about 6 MB.)
#[derive(Debug)]
struct Rows<'a> {
    /// Every camera frame's log time and host arrival, by frame id (the raw pass's).
    arrivals: &'a CameraArrivals,
    /// The symptom window, log time ns, both ends in.
    window: (u64, u64),
    /// The camera's delivery in the window.
    camera: CameraDelivery,
    /// The spans counted (log time ns, both ends in) and their counts so far.
    spans: Vec<((i64, i64), SpanCounts)>,
    /// Residuals of assigned pairs (px) with their frame's log time (ns), frame after frame,
    /// by detection index in a frame, of detections in the image centre and at its edge
    /// ([`ImageRegion`]): in temporary files (16 bytes each), as a replay's metric samples
    /// are, so they do not grow the diagnosis's memory with the recording.
    residuals: [SpillStore; 2],
    /// The edge residuals' components along the ray from the principal point (px), in the
    /// order of the edge's residuals.
    edge_radial: SpillStore,
    /// The frame whose decisions are arriving (frame id, log time ns), and its detections
    /// by index so far.
    frame: Option<(u64, i64)>,
    pending: Vec<Option<DetectionFact>>,
    /// Messages the replay left out whole for an impossible time (see `crate::time_limit`).
    rejected_messages: u64,
}

impl<'a> Rows<'a> {
    /// Rows to fill from a replay: camera frames timed against `arrivals` over `window` (log
    /// time ns, both ends in), no span counted yet.
    fn new(arrivals: &'a CameraArrivals, window: (u64, u64)) -> Self {
        Self {
            arrivals,
            window,
            camera: CameraDelivery::default(),
            spans: Vec::new(),
            residuals: Default::default(),
            edge_radial: SpillStore::default(),
            frame: None,
            pending: Vec::new(),
            rejected_messages: 0,
        }
    }

    /// Counts camera frames logged in `[a, b]` (ns) from now on; before the replay.
    fn count_span(&mut self, a: u64, b: u64) -> SpanId {
        self.spans
            .push(((a as i64, b as i64), SpanCounts::default()));
        SpanId(self.spans.len() - 1)
    }

    /// A counted span's bounds (log time ns, both ends in) and counts.
    fn span(&self, id: SpanId) -> ((i64, i64), SpanCounts) {
        self.spans.get(id.0).copied().unwrap_or_default()
    }

    /// Adds `add` to the counts of every span holding log time `t_ns`.
    fn count(&mut self, t_ns: i64, add: impl Fn(&mut SpanCounts)) {
        for ((a, b), c) in &mut self.spans {
            if (*a..=*b).contains(&t_ns) {
                add(c);
            }
        }
    }

    /// Counts the pending frame's detections into its spans and spills their residuals.
    fn flush(&mut self) {
        let Some((_, t_ns)) = self.frame.take() else {
            return;
        };
        let (mut detections, mut failed) = (0u64, 0u64);
        for d in self.pending.drain(..).flatten() {
            detections += 1;
            failed += u64::from(!d.assigned);
            if let Some(r) = d.residual_px {
                self.residuals[usize::from(d.edge)].push(t_ns, r);
                if d.edge {
                    self.edge_radial
                        .push(t_ns, d.residual_radial_px.unwrap_or(f64::NAN));
                }
            }
        }
        self.count(t_ns, |c| {
            c.detections += detections;
            c.failed += failed;
        });
    }
}

/// Replays `path` with `cfg` into `rows`, which keep what the evidence needs of its rows.
fn replay_rows<'a>(path: &Path, cfg: &ReplayConfig, mut rows: Rows<'a>) -> Result<Rows<'a>> {
    let out = replay_into(path, cfg, |_, _| {}, &mut rows)?;
    rows.flush();
    rows.rejected_messages = out.rejected.messages;
    Ok(rows)
}

impl FusionSink for Rows<'_> {
    fn fused(&mut self, _: FusedObject) {}

    fn association(&mut self, r: AssociationRecord) {
        let frame = Some((r.frame_id, r.t_ns));
        if self.frame != frame {
            self.flush();
            self.frame = frame;
        }
        let i = r.detection_index as usize;
        if self.pending.len() <= i {
            self.pending.resize(i + 1, None);
        }
        let assigned = r.outcome == Outcome::Assigned;
        let d = self.pending[i].get_or_insert_default();
        d.edge = r.image_region == ImageRegion::Edge;
        if assigned && !d.assigned {
            d.assigned = true;
            d.residual_px = r.residual_px;
            d.residual_radial_px = r.residual_radial_px;
        }
    }

    fn truth(&mut self, _: TruthRecord) {}

    fn frame(&mut self, f: FrameRecord) {
        self.count(f.t_ns, |c| {
            c.radar_in_view += u64::from(f.radar_objects_in_view);
            c.radar_unmatched += u64::from(f.radar_objects_unmatched);
        });
    }

    fn sync(&mut self, s: SyncRecord) {
        if let Some((t, arrival)) = self.arrivals.get(s.frame_id)
            && (self.window.0..=self.window.1).contains(&t)
        {
            let c = &mut self.camera;
            c.frames += 1;
            c.delays_ms.push((arrival - s.host_ns) as f64 / 1e6);
            c.epochs.insert(s.sync_epoch_id);
        }
    }
}

/// What an inconclusive diagnosis adds when the replay left `n` messages out for an
/// impossible time: they are a likely reason for too little to go on.
fn left_out(n: u64) -> String {
    if n == 0 {
        return String::new();
    }
    format!(
        "; {n} messages left out for an impossible time (±2^62 ns or beyond: corrupt fields or \
         a driver's sentinel)"
    )
}

/// An evidence value as a diagnosis states it: `n/a` when it could not be measured, a
/// whole number (a count) whole, any other to three decimals, and a magnitude from 1e15 up
/// (hostile data) in exponent form.
pub fn stated(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_owned(),
        Some(v) if v.abs() >= 1e15 => Shown(v).to_string(),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// The PTP rule's discriminator: the signal that broke its limit first (the share of polls
/// without a grandmaster when `lost_flagged`, else the offset P99 in µs), the other after it.
fn ptp_discriminator(lost: Option<f64>, lost_flagged: bool, offset_p99_us: Option<f64>) -> String {
    let lost = format!("{} of polls without a grandmaster", percent(lost));
    let offset = format!(
        "|master offset| P99 {} µs while synchronised",
        stated(offset_p99_us)
    );
    if lost_flagged {
        format!(
            "PTP: {lost} (limit {} %), {offset}",
            limits::PTP_LOST_FRACTION * 100.0
        )
    } else {
        format!(
            "PTP: {offset} (limit {} µs), {lost}",
            limits::PTP_OFFSET_P99_US
        )
    }
}

/// A share (0–1) as a discriminator states it: a percentage to one decimal, `n/a` when it
/// could not be measured.
fn percent(share: Option<f64>) -> String {
    share.map_or("n/a".to_owned(), |s| format!("{:.1} %", s * 100.0))
}

fn ev(name: &'static str, value: Option<f64>, threshold: f64, about: &'static str) -> Evidence {
    Evidence {
        name,
        value,
        threshold,
        flagged: value.is_some_and(|v| v > threshold),
        about,
    }
}

/// Diagnoses `path`, or the window `window` of it (seconds from its first message).
pub fn diagnose(path: &Path, window: Option<Window>) -> Result<Diagnosis> {
    match window {
        None => analyse(path, None),
        Some(w) => {
            // analyse a slice one window-length wider on each side: before / during / after
            let len = w.end_s - w.start_s;
            let wide = Window {
                start_s: (w.start_s - len).max(0.0),
                end_s: w.end_s + len,
            };
            let dir = tempfile::tempdir().map_err(|source| Error::Io {
                path: std::env::temp_dir(),
                source,
            })?;
            let slice = dir.path().join("window.mcap");
            let s = extract(path, wide, crate::extract::DEFAULT_LEAD_IN_S, &slice)?;
            // [s.start_ns, s.end_ns] is the wide window in the recording's log time, its end
            // cut at the recording's last message; the slice also holds messages from before
            // it (lead-in, last states), which belong to no span
            let origin_ns = s
                .start_ns
                .saturating_sub((wide.start_s * 1e9).round() as u64);
            let ns = |t_s: f64| origin_ns.saturating_add((t_s * 1e9).round() as u64);
            let (start, end) = (ns(w.start_s), ns(w.end_s).min(s.end_ns));
            if start >= s.end_ns {
                return Err(Error::Invalid {
                    path: path.to_owned(),
                    problem: format!(
                        "--window {w}: starts after the recording ends ({:.3} s of messages)",
                        s.end_ns.saturating_sub(origin_ns) as f64 / 1e9
                    ),
                });
            }
            let spans = Spans {
                origin_ns,
                before_ns: s.start_ns,
                during_ns: (start, end),
                after_ns: s.end_ns,
            };
            // what is wrong in the slice is wrong in the recording: say so of it
            let mut d = analyse(&slice, Some(spans)).map_err(|e| e.for_path(&slice, path))?;
            // as asked; the snapshots show where the recording ends within it
            d.window_s = [w.start_s, w.end_s];
            Ok(d)
        }
    }
}

/// The spans of a windowed diagnosis, in the log time of the slice analysed (the recording's):
/// before `[before_ns, during_ns.0]`, during, after `[during_ns.1, after_ns]`.
#[derive(Debug, Clone, Copy)]
struct Spans {
    /// The recording's first message: what the seconds shown count from.
    origin_ns: u64,
    /// Where the before span opens (the slice's earlier messages are lead-in).
    before_ns: u64,
    /// The symptom window.
    during_ns: (u64, u64),
    /// Where the after span closes.
    after_ns: u64,
}

fn analyse(path: &Path, windowed: Option<Spans>) -> Result<Diagnosis> {
    let (raw, first, last) = read_raw(path)?;
    let spans = windowed.unwrap_or(Spans {
        origin_ns: first,
        before_ns: first,
        during_ns: (first, last),
        after_ns: last,
    });
    let ((t0, t1), first) = (spans.during_ns, spans.origin_ns);
    // every span the evidence is taken over is known now: the replay counts each as it goes
    let mut rows = Rows::new(&raw.camera_arrival, (t0, t1));
    let whole = rows.count_span(t0, t1);
    let snapshot_spans = snapshot_spans(&spans, windowed.is_some())
        .map(|(label, a, b)| (label, a, b, rows.count_span(a, b)));
    let mut rows = replay_rows(
        path,
        &ReplayConfig {
            gates: Vec::new(),
            ..ReplayConfig::default()
        },
        rows,
    )?;
    let in_window = |t: u64| (t0..=t1).contains(&t);

    // PTP
    let ptp: Vec<&proto::PtpStatus> = raw
        .ptp
        .iter()
        .filter(|(t, _)| in_window(*t))
        .map(|(_, p)| p)
        .collect();
    let ptp_lost = (!ptp.is_empty())
        .then(|| ptp.iter().filter(|p| !p.gm_present).count() as f64 / ptp.len() as f64);
    let ptp_offset = quantile(
        ptp.iter()
            .filter(|p| p.gm_present)
            .map(|p| p.master_offset_ns.unsigned_abs() as f64 / 1e3)
            .collect(),
        0.99,
    );

    // camera: delivery delay after the mapped exposure time, and re-syncs
    let camera_frames = rows.camera.frames;
    let epochs = std::mem::take(&mut rows.camera.epochs);
    let delays = sorted_finite(std::mem::take(&mut rows.camera.delays_ms));
    let at = |q| radcam_fusion::stats::quantile_sorted(&delays, q);
    let jitter = match (at(0.99), at(0.5)) {
        (Some(a), Some(b)) => Some(a - b),
        _ => None,
    };
    let resyncs = (camera_frames > 0).then(|| epochs.len().saturating_sub(1) as f64);

    // radar
    let (arrival, device, processing) = radar_series(&raw, t0, t1);
    let radar_frames = arrival.len() + 1;
    let radar_arrival = quantile(arrival.clone(), 0.99);
    let radar_device = device.iter().copied().reduce(f64::max);
    let spikes: Vec<usize> = (0..arrival.len())
        .filter(|&i| arrival[i] > limits::RADAR_ARRIVAL_P99_MS)
        .collect();
    let proc_med = quantile(processing.clone(), 0.5).unwrap_or(0.0);
    let stall = (!spikes.is_empty()).then(|| {
        spikes
            .iter()
            .filter(|&&i| processing.get(i).is_some_and(|p| *p > proc_med + 2.0))
            .count() as f64
            / spikes.len() as f64
    });

    // association and residual
    let (p95, fail) = association_stats(&mut rows, whole)?;
    let third = (t1 - t0) as i64 / 3;
    let growth = match (
        residual_p95(&mut rows, t0 as i64..t0 as i64 + third)?,
        residual_p95(&mut rows, t1 as i64 - third..t1 as i64 + 1)?,
    ) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    };
    let (edge_p95, edge_ratio, edge_radial) = lens_evidence(&mut rows, t0 as i64..=t1 as i64)?;
    let unmatched_radar = {
        let (_, c) = rows.span(whole);
        (c.radar_in_view > 0).then(|| c.radar_unmatched as f64 / c.radar_in_view as f64)
    };
    // the node: CPU load, the egress port
    let node: Vec<&proto::NodeStats> = raw
        .node
        .iter()
        .filter(|(t, _)| in_window(*t))
        .map(|(_, n)| n)
        .collect();
    let cpu = quantile(node.iter().map(|n| n.cpu_load_pct).collect(), 0.95);
    let egress_total = |n: &proto::NodeStats| -> Option<u64> {
        let v: Vec<u64> = n
            .drops
            .iter()
            .filter(|d| d.name.starts_with("egress"))
            .map(|d| d.count)
            .collect();
        (!v.is_empty()).then(|| v.iter().fold(0u64, |sum, c| sum.saturating_add(*c)))
    };
    let egress_drops = match (
        node.first().and_then(|n| egress_total(n)),
        node.last().and_then(|n| egress_total(n)),
    ) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64),
        _ => None,
    };
    let egress_fill = quantile(
        node.iter()
            .flat_map(|n| n.queues.iter())
            .filter(|q| q.name == "egress" && q.capacity > 0)
            .map(|q| f64::from(q.depth) / f64::from(q.capacity))
            .collect(),
        0.95,
    );
    let passive = (camera_frames > 0)
        .then(|| f64::from(u8::from(!raw.latches.iter().any(|t| in_window(*t)))));
    let changes: Vec<&(u64, String)> = raw.config_changes.iter().filter(|c| c.0 <= t1).collect();

    let mut evidence = vec![
        ev(
            "ptp_lost_fraction",
            ptp_lost,
            limits::PTP_LOST_FRACTION,
            "share of PTP polls without a grandmaster",
        ),
        ev(
            "ptp_offset_p99_us",
            ptp_offset,
            limits::PTP_OFFSET_P99_US,
            "|PTP master offset| P99 while synchronised",
        ),
        ev(
            "camera_delay_jitter_ms",
            jitter,
            limits::CAMERA_DELAY_JITTER_MS,
            "camera delivery delay after the mapped exposure, P99 − P50",
        ),
        ev(
            "camera_resyncs",
            resyncs,
            limits::CAMERA_RESYNCS,
            "camera clock re-syncs (sync epochs − 1)",
        ),
        ev(
            "radar_arrival_p99_ms",
            radar_arrival,
            limits::RADAR_ARRIVAL_P99_MS,
            "radar arrival irregularity |Δarrival − Δdevice| P99",
        ),
        ev(
            "radar_device_max_ms",
            radar_device,
            limits::RADAR_DEVICE_MAX_MS,
            "radar device-clock period deviation, max",
        ),
        ev(
            "radar_stall_correlation",
            stall,
            limits::STALL_CORRELATION,
            "share of late radar frames whose TLV 6 processing time was also high",
        ),
        ev(
            "reprojection_p95_px",
            p95,
            limits::REPROJECTION_P95_PX,
            "reprojection residual of assigned pairs, P95",
        ),
        ev(
            "reprojection_growth",
            growth,
            limits::REPROJECTION_GROWTH,
            "residual P95, last third over first third",
        ),
        ev(
            "reprojection_edge_p95_px",
            edge_p95,
            limits::REPROJECTION_EDGE_P95_PX,
            "reprojection residual of assigned pairs whose detection is at the image edge \
             (half the way to a corner or beyond), P95",
        ),
        ev(
            "edge_center_residual_ratio",
            edge_ratio,
            limits::EDGE_CENTER_RATIO,
            "median residual at the image edge over the median at its centre (a lens-model \
             error grows toward the edges)",
        ),
        ev(
            "edge_residual_radial_share",
            edge_radial,
            limits::EDGE_RADIAL_SHARE,
            "|median component of the edge residuals along the ray from the principal point| \
             over their median (a lens-model error is radial, a roll about the optical axis \
             is not)",
        ),
        ev(
            "association_fail_rate",
            fail,
            limits::ASSOCIATION_FAIL_RATE,
            "detections without a radar partner",
        ),
        ev(
            "radar_unmatched_rate",
            unmatched_radar,
            limits::RADAR_UNMATCHED_RATE,
            "radar objects in the image without a camera partner (ghosts, clutter)",
        ),
        ev(
            "cpu_load_p95_pct",
            cpu,
            limits::CPU_LOAD_P95_PCT,
            "node CPU load, P95",
        ),
        ev(
            "camera_passive",
            passive,
            0.5,
            "1 when the camera has no latch in the window: software (arrival) timestamps",
        ),
        ev(
            "egress_drops",
            egress_drops,
            limits::EGRESS_DROPS,
            "packets the egress port dropped in the window",
        ),
        ev(
            "egress_queue_p95_fill",
            egress_fill,
            limits::EGRESS_QUEUE_FILL,
            "egress queue depth over capacity, P95",
        ),
        ev(
            "config_changes",
            Some(changes.len() as f64),
            limits::CONFIG_CHANGES,
            "calibration or configuration version changes during the recording",
        ),
    ];
    let flag = |evidence: &[Evidence], name: &str| {
        evidence
            .iter()
            .find(|e| e.name == name)
            .is_some_and(|e| e.flagged)
    };
    let value = |evidence: &[Evidence], name: &str| {
        evidence
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value)
    };
    // the time-offset search only when the geometry is off: it costs a few dozen replays
    let lens_off = flag(&evidence, "reprojection_edge_p95_px")
        && flag(&evidence, "edge_center_residual_ratio")
        && flag(&evidence, "edge_residual_radial_share");
    let geometry_off = flag(&evidence, "reprojection_p95_px")
        || flag(&evidence, "reprojection_growth")
        || flag(&evidence, "association_fail_rate")
        || lens_off;
    if geometry_off && camera_frames >= limits::MIN_CAMERA_FRAMES {
        let search = SearchConfig {
            coarse_span_ns: 150_000_000,
            coarse_step_ns: 25_000_000,
            fine_step_ns: 5_000_000,
            center_ns: None,
        };
        let est = time_offset::estimate(path, &search, |_, _| {})
            .ok()
            .map(|(e, _)| e);
        let shift = est.as_ref().map(|e| {
            let c = e.calibrated_ns;
            let halves = e.half_offsets_ns.iter().map(|h| (h - c).abs());
            ((e.offset_ns - c).abs()).max(halves.max().unwrap_or(0)) as f64 / 1e6
        });
        // how much of the residual P95 the best offset removes: a time error collapses it, a
        // geometric one barely moves it (one more replay, at the best offset)
        // (a drifting offset: the second half's best offset, judged on the second half)
        let mid = t0 + (t1 - t0) / 2;
        let mut gain: Option<f64> = None;
        if let Some(e) = &est {
            for (offset, a, b) in [(e.offset_ns, t0, t1), (e.half_offsets_ns[1], mid, t1)] {
                let p95_cal = residual_p95(&mut rows, a as i64..=b as i64)?;
                let Some(p95_cal) = p95_cal.filter(|p| *p > 0.0) else {
                    continue;
                };
                let cfg = ReplayConfig {
                    radar_time_offset_ns: Some(offset),
                    gates: Vec::new(),
                    ..ReplayConfig::default()
                };
                let rows = Rows::new(&raw.camera_arrival, (t0, t1));
                let mut shifted = replay_rows(path, &cfg, rows)?;
                if let Some(p95_best) = residual_p95(&mut shifted, a as i64..=b as i64)? {
                    let g = 1.0 - p95_best / p95_cal;
                    gain = Some(gain.map_or(g, |x: f64| x.max(g)));
                }
            }
        }
        evidence.push(ev(
            "time_offset_shift_ms",
            shift,
            limits::TIME_OFFSET_SHIFT_MS,
            "radar↔camera offset that fits best (whole span or either half) minus the calibrated",
        ));
        evidence.push(ev(
            "time_offset_gain",
            gain,
            limits::TIME_OFFSET_GAIN,
            "share of the residual P95 that replaying at the best-fitting offset removes (whole \
             window, or its second half at the second half's offset)",
        ));
    }

    let time_error = flag(&evidence, "time_offset_shift_ms") && flag(&evidence, "time_offset_gain");
    let before_after = snapshots(&raw, &mut rows, first, snapshot_spans)?;
    let f = |n: &str| flag(&evidence, n);
    // a number as the discriminator states it, and a share as a percentage
    let v = |n: &str| stated(value(&evidence, n));
    let pct = |n: &str| percent(value(&evidence, n));
    let (domain, discriminator, first_fix): (&'static str, String, &'static str) =
        if camera_frames < limits::MIN_CAMERA_FRAMES || radar_frames < limits::MIN_RADAR_FRAMES {
            (
                "inconclusive",
                format!(
                    "too little to go on: {camera_frames} mapped camera frames and {radar_frames} \
                     radar frames in the window (need {} and {}){}",
                    limits::MIN_CAMERA_FRAMES,
                    limits::MIN_RADAR_FRAMES,
                    left_out(rows.rejected_messages),
                ),
                if rows.rejected_messages > 0 {
                    "find which driver or logger writes the impossible times (`radcam replay` \
                     counts them); then record again"
                } else {
                    "record a longer window with camera, radar and PTP running"
                },
            )
        } else if f("config_changes")
            && (time_error || f("reprojection_p95_px") || f("reprojection_growth"))
        {
            let c = changes.first().map_or(String::new(), |c| {
                format!(
                    " at {:.1} s ({})",
                    (c.0.saturating_sub(first)) as f64 / 1e9,
                    c.1
                )
            });
            (
                "calibration_change",
                format!(
                    "a version change{c}, and the alignment broke with it (residual P95 {} px, \
                     growth ×{}, best-fit time shift {} ms)",
                    v("reprojection_p95_px"),
                    v("reprojection_growth"),
                    v("time_offset_shift_ms")
                ),
                "re-run the calibration (radcam calib time-offset, extrinsic check) for the new \
                 firmware/config version, or roll the update back",
            )
        } else if f("ptp_lost_fraction") || f("ptp_offset_p99_us") {
            (
                "time_sync",
                ptp_discriminator(
                    value(&evidence, "ptp_lost_fraction"),
                    f("ptp_lost_fraction"),
                    value(&evidence, "ptp_offset_p99_us"),
                ),
                "check the grandmaster and the path to it (ptp4l log, pmc TIME_STATUS_NP); bound \
                 the holdover time and alarm on it",
            )
        } else if f("radar_device_max_ms") && !f("radar_arrival_p99_ms") {
            (
                "time_sync",
                format!(
                    "the radar's own clock jumps (period deviation max {} ms) while its frames \
                     arrive on time (arrival P99 {} ms): a clock reference problem",
                    v("radar_device_max_ms"),
                    v("radar_arrival_p99_ms")
                ),
                "check the radar's clock reference and its timestamping (timeCpuCycles wrap, \
                 resets); re-sync the radar clock",
            )
        } else if (f("camera_delay_jitter_ms") || f("radar_arrival_p99_ms"))
            && f("camera_passive")
            && f("cpu_load_p95_pct")
        {
            (
                "time_sync",
                format!(
                    "software timestamps under CPU load: the camera has no latch (passive), its \
                     delivery jitters by {} ms with the CPU at {} % (P95)",
                    v("camera_delay_jitter_ms"),
                    v("cpu_load_p95_pct")
                ),
                "timestamp in hardware: enable the camera's timestamp latch (or PTP on the \
                 camera); until then pin and prioritise the capture thread",
            )
        } else if f("camera_resyncs") {
            (
                "time_sync",
                format!("the camera clock re-synced {} times", v("camera_resyncs")),
                "find what steps the camera clock (resets, PTP steps on the camera); keep the \
                 latch running through it",
            )
        } else if f("egress_drops") || f("egress_queue_p95_fill") {
            (
                "egress_qos",
                format!(
                    "the egress port is saturated: {} packets dropped, queue P95 {} full",
                    v("egress_drops"),
                    pct("egress_queue_p95_fill")
                ),
                "give PTP and metadata strict priority over video at the egress (traffic classes, \
                 VLAN PCP / DSCP), cap or drop video streams, or a faster link",
            )
        } else if f("radar_arrival_p99_ms") || f("camera_delay_jitter_ms") {
            let stall = if f("radar_stall_correlation") {
                ", the radar's processing time rising with it (a processing stall)"
            } else {
                ""
            };
            (
                "latency",
                format!(
                    "delivery jitter with clocks in order: radar arrival P99 {} ms, camera delay \
                     jitter {} ms{stall}; PTP offset P99 {} µs",
                    v("radar_arrival_p99_ms"),
                    v("camera_delay_jitter_ms"),
                    v("ptp_offset_p99_us")
                ),
                "find the stall: CPU scheduling and priorities of the capture threads (CPU load \
                 P95 is in the evidence), radar \
                 processing load (TLV 6), USB/UART buffering; timestamp at the device, not on \
                 arrival",
            )
        } else if time_error {
            (
                "time_sync",
                format!(
                    "the residual collapses at another radar↔camera offset: best fit {} ms from \
                     the calibrated one removes {} of the residual P95 ({} px), every CRC clean",
                    v("time_offset_shift_ms"),
                    pct("time_offset_gain"),
                    v("reprojection_p95_px")
                ),
                "radcam calib time-offset on this recording, activate the proposed record; find \
                 what moved the offset (latency change, timestamp source)",
            )
        } else if lens_off {
            (
                "intrinsic",
                format!(
                    "residuals grow toward the image edge along the rays from the principal \
                     point: edge P95 {} px, edge median ×{} the centre's, {} of it radial; no \
                     time offset removes it (the best one removes {} of it)",
                    v("reprojection_edge_p95_px"),
                    v("edge_center_residual_ratio"),
                    pct("edge_residual_radial_share"),
                    pct("time_offset_gain")
                ),
                "re-run the intrinsic calibration (focal length and distortion, with a target \
                 across the whole image) and check the lens was not swapped, refocused or \
                 loaded from a datasheet",
            )
        } else if f("reprojection_p95_px") || f("reprojection_growth") {
            (
                "extrinsic",
                format!(
                    "residual P95 {} px (growth ×{}) that no time offset removes (the best one \
                     removes {} of it)",
                    v("reprojection_p95_px"),
                    v("reprojection_growth"),
                    pct("time_offset_gain")
                ),
                "check the mounts (torque, brackets, thermal flex) and re-run the extrinsic \
                 calibration",
            )
        } else if f("association_fail_rate") || f("radar_unmatched_rate") {
            (
                "association",
                format!(
                    "{} of detections and {} of radar objects unmatched while the alignment holds \
                     (residual P95 {} px): ghosts, clutter or objects too close to tell apart",
                    pct("association_fail_rate"),
                    pct("radar_unmatched_rate"),
                    v("reprojection_p95_px"),
                ),
                "tighten the association gates (SNR, velocity), suppress multipath (reflective \
                 surfaces), review the clutter filter",
            )
        } else {
            (
                "healthy",
                "every evidence signal within its limit".to_owned(),
                "nothing to fix; keep this recording as a baseline",
            )
        };
    Ok(Diagnosis {
        domain,
        evidence,
        discriminator,
        first_fix,
        snapshots: before_after,
        window_s: [
            t0.saturating_sub(first) as f64 / 1e9,
            t1.saturating_sub(first) as f64 / 1e9,
        ],
    })
}

/// The before / during / after spans (log time ns) of a diagnosis: around the symptom window
/// when one was given, else the thirds of the recording (`spans.during_ns`).
fn snapshot_spans(spans: &Spans, windowed: bool) -> [(&'static str, u64, u64); 3] {
    let (t0, t1) = spans.during_ns;
    if windowed {
        [
            ("before", spans.before_ns, t0),
            ("during", t0, t1),
            ("after", t1, spans.after_ns),
        ]
    } else {
        let (first, last) = (t0, t1);
        let third = (last - first) / 3;
        [
            ("before", first, first + third),
            ("during", first + third, last - third),
            ("after", last - third, last),
        ]
    }
}

/// The before / during / after snapshots of the spans `rows` counted (label, log time ns).
fn snapshots(
    raw: &Raw,
    rows: &mut Rows,
    first: u64,
    spans: [(&'static str, u64, u64, SpanId); 3],
) -> Result<Vec<Snapshot>> {
    spans
        .iter()
        .map(|&(label, a, b, span)| {
            let (p95, fail) = association_stats(rows, span)?;
            let (arrival, _, _) = radar_series(raw, a, b);
            Ok(Snapshot {
                label,
                start_s: a.saturating_sub(first) as f64 / 1e9,
                end_s: b.saturating_sub(first) as f64 / 1e9,
                reprojection_p95_px: p95,
                association_fail_rate: fail,
                radar_arrival_p99_ms: quantile(arrival, 0.99),
                ptp_offset_p99_us: quantile(
                    raw.ptp
                        .iter()
                        .filter(|(t, p)| (a..b).contains(t) && p.gm_present)
                        .map(|(_, p)| p.master_offset_ns.unsigned_abs() as f64 / 1e3)
                        .collect(),
                    0.99,
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use radcam_fusion::provenance::{ClockId, Provenance};
    use radcam_fusion::sync::SyncState;
    use radcam_fusion::time::TimestampSource;
    use std::collections::BTreeMap;

    /// A decision about detection `det` of frame `frame` (at `frame` s), with `residual`.
    fn row(frame: u64, det: u32, outcome: Outcome, residual: Option<f64>) -> AssociationRecord {
        AssociationRecord {
            t_ns: frame as i64 * 1_000_000_000,
            frame_id: frame,
            detection_index: det,
            camera_object_id: None,
            score: 0.9,
            radar_object_index: residual.map(|_| 0),
            residual_px: residual,
            image_region: ImageRegion::Center,
            residual_radial_px: residual,
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
            outcome,
            provenance: Provenance {
                timestamp_source: TimestampSource::Hw,
                cal_version: 1,
                config_version: 1,
                sync_state: SyncState::Locked,
                clock_id: ClockId {
                    estimator: "bracket",
                    epoch: 0,
                },
                ptp_offset_ns_bucket: "<1us",
                event_seq: 0,
            },
        }
    }

    #[test]
    fn a_detection_fails_only_when_none_of_its_pairs_is_assigned() {
        use Outcome::{Assigned, NoCandidate, NotAssigned};
        let arrivals = CameraArrivals::default();
        let mut rows = Rows::new(&arrivals, (0, u64::MAX));
        let s = 1_000_000_000;
        let frames = [1, 2, 3].map(|f| rows.count_span(f * s, f * s));
        let all = rows.count_span(0, 10 * s);
        let frame_2 = rows.count_span(2 * s, 2 * s);
        let none = rows.count_span(5 * s, 6 * s);
        for r in [
            // frame 1: detection 0 has three candidates, the second assigned; detection 2 two,
            // none assigned; detection 1 none at all
            row(1, 0, NotAssigned, Some(9.0)),
            row(1, 0, Assigned, Some(2.5)),
            row(1, 0, NotAssigned, Some(4.0)),
            row(1, 2, NotAssigned, Some(7.0)),
            row(1, 2, NotAssigned, Some(8.0)),
            row(1, 1, NoCandidate, None),
            // frame 2: its one detection assigned
            row(2, 0, Assigned, Some(1.5)),
            // frame 3: its one detection left alone
            row(3, 0, NoCandidate, None),
        ] {
            rows.association(r);
        }
        rows.flush();
        let counts = frames.map(|f| {
            let (_, c) = rows.span(f);
            (c.detections, c.failed)
        });
        assert_eq!(counts, [(3, 2), (1, 0), (1, 1)]);
        let s = s as i64;
        let mut residuals_in = |span| {
            let mut v = Vec::new();
            each_residual(&mut rows, &span, &mut |r| v.push(r)).expect("reads back");
            v
        };
        assert_eq!(residuals_in(0..10 * s), vec![2.5, 1.5]);
        assert_eq!(residuals_in(s + 1..3 * s), vec![1.5]);
        assert_eq!(residuals_in(s + 1..2 * s), Vec::<f64>::new());
        let (p95, fail) = association_stats(&mut rows, all).expect("reads back");
        assert_eq!(p95, Some(1.5 + (2.5 - 1.5) * 0.95));
        assert_eq!(fail, Some(3.0 / 5.0));
        // a span holding frame 2 only, closed
        assert_eq!(
            association_stats(&mut rows, frame_2).expect("reads back"),
            (Some(1.5), Some(0.0))
        );
        // a span without detections
        assert_eq!(
            association_stats(&mut rows, none).expect("reads back"),
            (None, None)
        );
    }

    /// Frames 1..=n, each with a centre pair of residual `center_px` and an edge pair of
    /// residual `edge_px` whose radial component is `edge_radial_px`, into fresh rows.
    fn lens_rows(
        arrivals: &CameraArrivals,
        n: u64,
        center_px: f64,
        edge_px: f64,
        edge_radial_px: f64,
    ) -> Rows<'_> {
        let mut rows = Rows::new(arrivals, (0, u64::MAX));
        for f in 1..=n {
            rows.association(row(f, 0, Outcome::Assigned, Some(center_px)));
            rows.association(AssociationRecord {
                image_region: ImageRegion::Edge,
                residual_radial_px: Some(edge_radial_px),
                ..row(f, 1, Outcome::Assigned, Some(edge_px))
            });
            // a candidate not assigned says nothing of the lens
            rows.association(AssociationRecord {
                image_region: ImageRegion::Edge,
                residual_radial_px: Some(-90.0),
                ..row(f, 1, Outcome::NotAssigned, Some(99.0))
            });
        }
        rows.flush();
        rows
    }

    #[test]
    fn discriminators_state_counts_whole_and_shares_as_percentages() {
        assert_eq!(stated(Some(29250.0)), "29250");
        assert_eq!(stated(Some(0.0)), "0");
        assert_eq!(stated(Some(60.0)), "60");
        assert_eq!(stated(Some(1645.677083)), "1645.677");
        assert_eq!(stated(Some(1e300)), "1e300");
        assert_eq!(stated(Some(-2.5e18)), "-2.5e18");
        assert_eq!(stated(None), "n/a");
        assert_eq!(percent(Some(0.0427)), "4.3 %");
        assert_eq!(percent(Some(1.0)), "100.0 %");
        assert_eq!(percent(None), "n/a");
    }

    #[test]
    fn the_ptp_rule_leads_with_the_signal_that_broke_its_limit() {
        assert_eq!(
            ptp_discriminator(Some(0.0), false, Some(1645.6771)),
            "PTP: |master offset| P99 1645.677 µs while synchronised (limit 1000 µs), 0.0 % of \
             polls without a grandmaster"
        );
        assert_eq!(
            ptp_discriminator(Some(0.25), true, None),
            "PTP: 25.0 % of polls without a grandmaster (limit 5 %), |master offset| P99 n/a µs \
             while synchronised"
        );
    }

    #[test]
    fn lens_evidence_compares_the_edge_with_the_centre_along_the_rays() {
        let arrivals = CameraArrivals::default();
        let all = ..;
        // a lens-model error: residuals three times the centre's at the edge, along the rays
        let mut rows = lens_rows(&arrivals, 150, 10.0, 30.0, 27.0);
        let (p95, ratio, share) = lens_evidence(&mut rows, all).expect("reads back");
        assert_eq!((p95, ratio, share), (Some(30.0), Some(3.0), Some(0.9)));
        // every residual, both regions, is still there for the whole-image P95
        let mut n = 0;
        each_residual(&mut rows, &all, &mut |_| n += 1).expect("reads back");
        assert_eq!(n, 300);
        // the same magnitudes across the rays (a roll about the optical axis)
        let mut rows = lens_rows(&arrivals, 150, 10.0, 30.0, -1.5);
        let (_, ratio, share) = lens_evidence(&mut rows, all).expect("reads back");
        assert_eq!((ratio, share), (Some(3.0), Some(0.05)));
        // too few pairs in a region to compare: only the edge's P95
        let mut rows = lens_rows(&arrivals, limits::MIN_REGION_PAIRS - 1, 10.0, 30.0, 27.0);
        let (p95, ratio, share) = lens_evidence(&mut rows, all).expect("reads back");
        assert_eq!((p95, ratio, share), (Some(30.0), None, None));
        // a span without the frames
        let mut rows = lens_rows(&arrivals, 150, 10.0, 30.0, 27.0);
        let late = 1_000 * 1_000_000_000..;
        assert_eq!(
            lens_evidence(&mut rows, late).expect("reads back"),
            (None, None, None)
        );
    }

    #[test]
    fn the_sink_counts_frames_into_their_spans_and_times_camera_frames_in_the_window() {
        let s = 1_000_000_000u64;
        let mut arrivals = CameraArrivals::default();
        // (frame id, log time, host arrival): frame 3 is logged after the window
        for (id, t, arrival) in [(1, s, s + 10_000_000), (2, 2 * s, 2 * s + 30_000_000)] {
            arrivals.insert(id, t, arrival as i64);
        }
        arrivals.insert(3, 30 * s, 30 * s as i64);
        arrivals.finish();
        let mut rows = Rows::new(&arrivals, (0, 10 * s));
        let all = rows.count_span(0, 10 * s);
        let second = rows.count_span(2 * s, 2 * s);
        let provenance = row(0, 0, Outcome::Assigned, None).provenance;
        // frame 9 has no arrival: not timed
        for (frame_id, host_ns, epoch) in [(1, s, 0), (2, 2 * s, 1), (3, 30 * s, 2), (9, s, 3)] {
            rows.sync(SyncRecord {
                frame_id,
                device_ns: 0,
                host_ns: host_ns as i64,
                uncertainty_ns: 0.0,
                sync_epoch_id: epoch,
                true_error_ns: None,
                provenance,
            });
        }
        assert_eq!(rows.camera.frames, 2);
        assert_eq!(rows.camera.delays_ms, [10.0, 30.0]);
        assert_eq!(
            rows.camera.epochs.iter().copied().collect::<Vec<_>>(),
            [0, 1]
        );
        // (log time, radar objects in view, unmatched): the third after both spans
        for (t, in_view, unmatched) in [(s, 4, 1), (2 * s, 2, 2), (20 * s, 5, 5)] {
            rows.frame(FrameRecord {
                frame_id: 0,
                t_ns: t as i64,
                arrival_ns: 0,
                detections_ns: 0,
                ready_ns: None,
                fuse_start_ns: None,
                fuse_end_ns: None,
                tx_ns: None,
                queue_depth: None,
                detections: 0,
                associated: 0,
                fused_objects: 0,
                radar_objects_in_view: in_view,
                radar_objects_unmatched: unmatched,
                temperature_c: None,
                cpu_load_pct: None,
                provenance,
            });
        }
        let radar = |span| {
            let (_, c) = rows.span(span);
            (c.radar_in_view, c.radar_unmatched)
        };
        assert_eq!(radar(all), (6, 3));
        assert_eq!(radar(second), (2, 2));
    }

    proptest::proptest! {
        /// Camera arrivals answer as a map written in the same order would: the last frame
        /// of an id wins, whether ids come in order or restart after a reset.
        #[test]
        fn camera_arrivals_are_a_map_where_the_last_frame_of_an_id_wins(
            ids in proptest::collection::vec(0u64..40, 0..120),
        ) {
            let mut rising = ids.clone();
            rising.sort_unstable();
            rising.dedup();
            for ids in [ids, rising] {
                let (mut got, mut want) = (CameraArrivals::default(), BTreeMap::new());
                for (i, &id) in ids.iter().enumerate() {
                    got.insert(id, i as u64, -(i as i64));
                    want.insert(id, (i as u64, -(i as i64)));
                }
                got.finish();
                for id in 0..41 {
                    proptest::prop_assert_eq!(got.get(id), want.get(&id).copied(), "id {}", id);
                }
            }
        }
    }

    /// Beyond what is collected in one go, the P95 selected in passes over the frames of a
    /// span is still exactly the sorted quantile of that span's residuals.
    #[test]
    fn residual_p95_in_passes_is_the_sorted_quantile_of_the_span() {
        let arrivals = CameraArrivals::default();
        let mut rows = Rows::new(&arrivals, (0, u64::MAX));
        let mut x = 0x9e37_79b9_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 100_000) as f64 / 7.0
        };
        let mut by_frame = Vec::new();
        for frame in 0..300u64 {
            let t_ns = frame as i64 * 1_000;
            let values: Vec<f64> = (0..500).map(|_| next()).collect();
            for (det, v) in values.iter().enumerate() {
                let mut r = row(frame, det as u32, Outcome::Assigned, Some(*v));
                r.t_ns = t_ns;
                rows.association(r);
            }
            by_frame.push((t_ns, values));
        }
        rows.flush();
        for (a, b) in [(0, 299_000), (1_000, 250_000), (100_000, 100_000)] {
            let want: Vec<f64> = by_frame
                .iter()
                .filter(|(t, _)| (a..=b).contains(t))
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            assert!(a == b || want.len() > COLLECT_LIMIT);
            assert_eq!(
                residual_p95(&mut rows, a..=b).expect("reads back"),
                quantile(want, 0.95)
            );
        }
    }

    #[test]
    fn frames_left_out_for_impossible_times_are_named_as_the_reason_for_too_little() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = dir.path().join("sentinel.mcap");
        let mut frames = 0u64;
        radcam_recorder::record_scenario_with(
            &radcam_recorder::RecordRequest {
                scenario: radcam_scenarios::Scenario::demo().expect("demo"),
                seed: 4,
                duration_s: 4.0,
                out: rec.clone(),
            },
            |ev| {
                if let radcam_scenarios::SimMessage::CameraFrame(f) = &mut ev.message {
                    f.host_arrival_ns = i64::MAX;
                    frames += 1;
                }
            },
            |_| {},
        )
        .expect("record");
        let d = diagnose(&rec, None).expect("diagnose");
        assert_eq!(d.domain, "inconclusive");
        assert!(
            d.discriminator.contains(&format!(
                "{frames} messages left out for an impossible time"
            )),
            "{}",
            d.discriminator
        );
        assert!(d.first_fix.contains("impossible times"), "{}", d.first_fix);
        // a thin recording with nothing left out says only that it is thin
        assert!(left_out(0).is_empty());
    }
}
