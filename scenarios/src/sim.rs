//! The simulator: the scenario's world and sensors, as the message stream a recorder would
//! capture, in log-time order.
//!
//! Each sensor is a stream with its own ChaCha8 stream of the seed, so adding messages to one
//! sensor never changes another's noise. Streams generate in order of their nominal times;
//! every message's log time is at or after its stream's nominal time, so a message is final
//! once every stream's next nominal time has passed it.

use crate::clock::{DeviceClock, TemperatureProfile};
use crate::config::{CalibratedLensConfig, DelayConfig, LatchConfig, MountConfig, Scenario};
use crate::preview;
use crate::world::{Target, TargetState};
use nalgebra::{Isometry3, Point3, Vector3};
use radcam_fusion::calib::{CalibrationRecord, Slot};
use radcam_fusion::geometry::{self, Intrinsics, RigidTransform};
use radcam_schema::foxglove_topics::{
    ImageAnnotations, PackedElementField, PointCloud, RawImage, packed_element_field, timestamp,
};
use radcam_schema::proto;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Pareto, Poisson};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One message of the simulated recording.
#[derive(Debug, Clone, PartialEq)]
pub enum SimMessage {
    /// `/camera/frame`
    CameraFrame(proto::CameraFrame),
    /// `/camera/latch`
    CameraLatch(proto::CameraLatch),
    /// `/camera/detections`
    CameraDetections(proto::CameraDetections),
    /// `/radar/frame`
    RadarFrame(proto::RadarFrame),
    /// `/ptp/status`
    PtpStatus(proto::PtpStatus),
    /// `/node/stats`
    NodeStats(proto::NodeStats),
    /// `/audit`
    Audit(proto::AuditEvent),
    /// `/truth/objects`
    TruthObjects(proto::TruthObjects),
    /// `/truth/clock`
    TruthClock(proto::TruthClock),
    /// `/camera/image` (Foxglove preview)
    Image(RawImage),
    /// `/camera/annotations` (Foxglove)
    Annotations(ImageAnnotations),
    /// `/radar/points` (Foxglove)
    Points(PointCloud),
}

/// A message and the host time it was logged at.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    /// Host CLOCK_MONOTONIC_RAW the message became available at, ns.
    pub log_time_ns: i64,
    /// The message.
    pub message: SimMessage,
}

struct Pending {
    log_time_ns: i64,
    stream: usize,
    seq: u64,
    message: SimMessage,
}

impl Pending {
    fn key(&self) -> (i64, usize, u64) {
        (self.log_time_ns, self.stream, self.seq)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key()) // min-heap
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Audit,
    Camera,
    Latch,
    Radar,
    Ptp,
    Node,
}

struct Stream {
    kind: Kind,
    next_ns: i64,
    index: u64,
    rng: ChaCha8Rng,
    last_out_ns: i64,
    last_aux_ns: i64,
    walk_ns: f64,
    /// Packets the egress port dropped so far (node stream).
    egress_dropped: f64,
}

/// Everything that does not change during a run.
struct Rig {
    scenario: Scenario,
    t0_ns: i64,
    end_ns: i64,
    targets: Vec<Target>,
    temperature: TemperatureProfile,
    camera_clock: DeviceClock,
    radar_clock: DeviceClock,
    intrinsics: Intrinsics,
    rig_from_camera: Isometry3<f64>,
    rig_from_radar: Isometry3<f64>,
    calibration: CalibrationRecord,
}

/// The seeded simulator; iterate it for the recording's messages in log-time order.
pub struct Simulator {
    rig: Rig,
    streams: Vec<Stream>,
    heap: BinaryHeap<Pending>,
    seq: u64,
}

fn mount(m: &MountConfig, axes: nalgebra::UnitQuaternion<f64>) -> Isometry3<f64> {
    let [r, p, y] = m.rpy_deg;
    geometry::mount_pose(
        m.position_m,
        [r.to_radians(), p.to_radians(), y.to_radians()],
        axes,
    )
}

/// Draws one delay, ns. The optional terms draw only when enabled, so a scenario without them
/// keeps its random sequence.
pub fn delay_ns(rng: &mut ChaCha8Rng, d: &DelayConfig) -> i64 {
    let excess = Pareto::new(1.0, d.tail_alpha).map_or(1.0, |p| p.sample(rng)) - 1.0;
    let mut us = d.min_us + d.scale_us * excess;
    if d.uniform_us > 0.0 {
        us += d.uniform_us * rng.random::<f64>();
    }
    if d.spike_probability > 0.0 && rng.random::<f64>() < d.spike_probability {
        us += d.spike_us * rng.random::<f64>();
    }
    (us.min(d.cap_us) * 1e3).round() as i64
}

/// The intrinsics a calibration record holds: the real lens's `real`, with what `lens` says
/// in place of it where it differs (see [`CalibratedLensConfig`]).
fn calibrated_intrinsics(real: &Intrinsics, lens: Option<&CalibratedLensConfig>) -> Intrinsics {
    let Some(lens) = lens else {
        return *real;
    };
    let [k1, k2, p1, p2, k3] = lens
        .distortion
        .unwrap_or([real.k1, real.k2, real.p1, real.p2, real.k3]);
    Intrinsics {
        fx_px: lens.fx_px.unwrap_or(real.fx_px),
        fy_px: lens.fy_px.unwrap_or(real.fy_px),
        cx_px: lens.cx_px.unwrap_or(real.cx_px),
        cy_px: lens.cy_px.unwrap_or(real.cy_px),
        k1,
        k2,
        p1,
        p2,
        k3,
        ..*real
    }
}

fn normal(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    Normal::new(0.0, sigma.max(0.0)).map_or(0.0, |n| n.sample(rng))
}

impl Simulator {
    /// A simulator for `scenario` over `duration_s` seconds with `seed`.
    pub fn new(scenario: &Scenario, seed: u64, duration_s: f64) -> Self {
        let s = scenario.clone();
        let t0_ns = s.rig.host_start_ns;
        let temperature = TemperatureProfile::new(&s.temperature);
        let c = &s.camera;
        let [k1, k2, p1, p2, k3] = c.distortion;
        let intrinsics = Intrinsics {
            fx_px: c.fx_px,
            fy_px: c.fy_px,
            cx_px: c.cx_px,
            cy_px: c.cy_px,
            k1,
            k2,
            p1,
            p2,
            k3,
            width_px: c.width_px,
            height_px: c.height_px,
        };
        let rig_from_camera = mount(&c.mount, geometry::rig_from_optical_axes());
        let rig_from_radar = mount(&s.radar.mount, geometry::rig_from_radar_axes());
        let calibration = CalibrationRecord {
            sensor_id: c.sensor_id.clone(),
            rig_id: s.rig.rig_id.clone(),
            cal_timestamp_ns: 0,
            timestamp_source: "HW".into(),
            cal_version: 1,
            active_slot: Slot::A,
            rollback_guard: 0,
            intrinsics: calibrated_intrinsics(&intrinsics, c.calibrated_lens.as_ref()),
            camera_from_radar: RigidTransform::from_isometry(
                &(rig_from_camera.inverse() * rig_from_radar),
            ),
            rig_from_radar: RigidTransform::from_isometry(&rig_from_radar),
            radar_time_offset_ns: -(s.radar.arrival_delay.min_us * 1e3).round() as i64,
            crc32: 0,
        }
        .seal();
        let rig = Rig {
            t0_ns,
            // saturating: a length past `MAX_DURATION_S` is refused before, never wraps here
            end_ns: t0_ns.saturating_add((duration_s * 1e9).round() as i64),
            targets: s.targets.iter().map(Target::new).collect(),
            camera_clock: DeviceClock::new(&c.clock, &temperature, t0_ns),
            radar_clock: DeviceClock::new(&s.radar.clock, &temperature, t0_ns),
            temperature,
            intrinsics,
            rig_from_camera,
            rig_from_radar,
            calibration,
            scenario: s,
        };
        let mut kinds = vec![
            Kind::Audit,
            Kind::Camera,
            Kind::Radar,
            Kind::Ptp,
            Kind::Node,
        ];
        if rig.scenario.camera.latch.rate_hz > 0.0 {
            kinds.push(Kind::Latch);
        }
        let streams = kinds
            .into_iter()
            .map(|kind| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(kind as u64);
                let start = match kind {
                    Kind::Radar => 7_000_000, // the radar frame clock is not aligned to the camera
                    Kind::Latch => 1_000_000,
                    _ => 0,
                };
                Stream {
                    kind,
                    next_ns: t0_ns + start,
                    index: 0,
                    rng,
                    last_out_ns: i64::MIN,
                    last_aux_ns: i64::MIN,
                    walk_ns: 0.0,
                    egress_dropped: 0.0,
                }
            })
            .collect();
        Self {
            rig,
            streams,
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// The calibration record the simulated rig is built with.
    pub fn calibration(&self) -> &CalibrationRecord {
        &self.rig.calibration
    }

    /// Host time of the first message, ns.
    pub fn start_ns(&self) -> i64 {
        self.rig.t0_ns
    }

    fn push(&mut self, stream: usize, log_time_ns: i64, message: SimMessage) {
        self.seq += 1;
        self.heap.push(Pending {
            log_time_ns,
            stream,
            seq: self.seq,
            message,
        });
    }

    fn step(&mut self, i: usize) {
        let mut out = Vec::new();
        let st = &mut self.streams[i];
        let rig = &self.rig;
        match st.kind {
            Kind::Audit => {
                audit(rig, st, &mut out);
                st.next_ns = i64::MAX;
            }
            Kind::Camera => camera(rig, st, &mut out),
            Kind::Latch => latch(rig, st, &mut out),
            Kind::Radar => radar(rig, st, &mut out),
            Kind::Ptp => ptp(rig, st, &mut out),
            Kind::Node => node(rig, st, &mut out),
        }
        st.index += 1;
        if st.next_ns >= rig.end_ns {
            st.next_ns = i64::MAX;
        }
        for (t, m) in out {
            self.push(i, t, m);
        }
    }
}

impl Iterator for Simulator {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        loop {
            let (idx, horizon) = self
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.next_ns))
                .min_by_key(|&(i, t)| (t, i))
                .unwrap_or((0, i64::MAX));
            if let Some(top) = self.heap.peek()
                && top.log_time_ns < horizon
            {
                return self.heap.pop().map(|p| SimEvent {
                    log_time_ns: p.log_time_ns,
                    message: p.message,
                });
            }
            if horizon == i64::MAX {
                return self.heap.pop().map(|p| SimEvent {
                    log_time_ns: p.log_time_ns,
                    message: p.message,
                });
            }
            self.step(idx);
        }
    }
}

type Out = Vec<(i64, SimMessage)>;

fn secs(rig: &Rig, t_ns: i64) -> f64 {
    (t_ns - rig.t0_ns) as f64 * 1e-9
}

/// The mount's mechanical creep at `ts` s: a rotation about the sensor's own origin.
fn mount_creep(rig: &Rig, m: &MountConfig, ts: f64) -> Isometry3<f64> {
    let mut rpy = [0.0f64; 3];
    if let Some(per_h) = m.creep_rpy_deg_per_h {
        for (a, d) in rpy.iter_mut().zip(per_h) {
            *a += d * ts / 3600.0;
        }
    }
    if let Some(per_c) = m.creep_rpy_deg_per_c {
        let dt = rig.temperature.at(ts) - rig.temperature.at(0.0);
        for (a, d) in rpy.iter_mut().zip(per_c) {
            *a += d * dt;
        }
    }
    if rpy == [0.0; 3] {
        return Isometry3::identity();
    }
    // rig axes → the sensor's: rotate in the rig frame, expressed about the sensor origin
    let q = nalgebra::UnitQuaternion::from_euler_angles(
        rpy[0].to_radians(),
        rpy[1].to_radians(),
        rpy[2].to_radians(),
    );
    let r = rig.rig_from_radar.rotation;
    Isometry3::from_parts(nalgebra::Translation3::identity(), r.inverse() * q * r)
}

fn audit(rig: &Rig, _st: &mut Stream, out: &mut Out) {
    let cal = &rig.calibration;
    if let Some(fw) = &rig.scenario.radar.firmware_update {
        let t = rig.t0_ns + (fw.at_s * 1e9).round() as i64;
        out.push((
            t,
            SimMessage::Audit(proto::AuditEvent {
                event_id: 3,
                event_ts_ns: t,
                kind: "CONFIG_UPDATED".into(),
                old_state: "1".into(),
                new_state: "2".into(),
                cal_version: cal.cal_version,
                config_version: 2,
                detail: "radar firmware updated; calibration unchanged".into(),
            }),
        ));
    }
    for (id, kind, detail) in [
        (
            1,
            "CAL_UPDATED",
            format!("calibration {} of {} loaded", cal.cal_version, cal.rig_id),
        ),
        (
            2,
            "CONFIG_UPDATED",
            format!("scenario {}", rig.scenario.name),
        ),
    ] {
        out.push((
            rig.t0_ns,
            SimMessage::Audit(proto::AuditEvent {
                event_id: id,
                event_ts_ns: rig.t0_ns,
                kind: kind.into(),
                old_state: "0".into(),
                new_state: "1".into(),
                cal_version: cal.cal_version,
                config_version: 1,
                detail,
            }),
        ));
    }
}

/// 3-D box corners of a target in the rig frame.
fn corners(t: &TargetState, size: [f64; 3]) -> [Point3<f64>; 8] {
    let [l, w, h] = size;
    let (c, s) = (t.heading_rad.cos(), t.heading_rad.sin());
    let mut out = [Point3::origin(); 8];
    for (i, p) in out.iter_mut().enumerate() {
        let dx = if i & 1 == 0 { -l / 2.0 } else { l / 2.0 };
        let dy = if i & 2 == 0 { -w / 2.0 } else { w / 2.0 };
        let z = if i & 4 == 0 { 0.0 } else { h };
        *p = Point3::new(t.x_m + c * dx - s * dy, t.y_m + s * dx + c * dy, z);
    }
    out
}

fn camera(rig: &Rig, st: &mut Stream, out: &mut Out) {
    let c = &rig.scenario.camera;
    let k = st.index;
    let t_ns = rig.t0_ns + (k as f64 * 1e9 / c.fps).round() as i64;
    st.next_ns = rig.t0_ns + ((k + 1) as f64 * 1e9 / c.fps).round() as i64;
    let ts = secs(rig, t_ns);
    let device_ns = rig.camera_clock.device_ns(t_ns);
    let device_ticks = (device_ns as f64 * c.tick_hz / 1e9).round().max(0.0) as u64;
    let exposure_end = t_ns + (c.exposure_us * 1e3).round() as i64;
    let arrival = (exposure_end
        + delay_ns(&mut st.rng, &c.arrival_delay)
        + scheduling_delay_ns(rig, &mut st.rng, ts))
    .max(st.last_out_ns.saturating_add(100_000));
    st.last_out_ns = arrival;
    let states: Vec<TargetState> = rig.targets.iter().map(|t| t.state(ts)).collect();
    let temperature_c = rig.temperature.at(ts);

    // ground truth at the exposure instant the device timestamp marks
    let ptp_truth = st.walk_ns;
    out.push((
        t_ns,
        SimMessage::TruthClock(proto::TruthClock {
            host_ns: t_ns,
            frame_id: k,
            camera_device_ns: device_ns,
            radar_device_ns: rig.radar_clock.device_ns(t_ns),
            camera_offset_ns: device_ns - t_ns,
            camera_rate_ppm: rig.camera_clock.rate_ppm(ts),
            radar_rate_ppm: rig.radar_clock.rate_ppm(ts),
            temperature_c,
            ptp_offset_ns: ptp_truth,
        }),
    ));
    out.push((
        t_ns,
        SimMessage::TruthObjects(proto::TruthObjects {
            host_ns: t_ns,
            frame_id: k,
            objects: rig
                .targets
                .iter()
                .zip(&states)
                .map(|(t, s)| proto::TruthObject {
                    object_id: s.id,
                    class_name: t.cfg.class.clone(),
                    x_m: s.x_m,
                    y_m: s.y_m,
                    z_m: t.cfg.size_m[2] / 2.0,
                    vx_mps: s.vx_mps,
                    vy_mps: s.vy_mps,
                    length_m: t.cfg.size_m[0],
                    width_m: t.cfg.size_m[1],
                    height_m: t.cfg.size_m[2],
                })
                .collect(),
        }),
    ));
    out.push((
        arrival,
        SimMessage::CameraFrame(proto::CameraFrame {
            frame_id: k,
            device_ns,
            device_ticks,
            tick_hz: c.tick_hz,
            host_arrival_ns: arrival,
            exposure_us: c.exposure_us,
            timestamp_marks: proto::FrameInstant::ExposureStart as i32,
            width_px: c.width_px,
            height_px: c.height_px,
            aravis_system_ns: 0,
        }),
    ));

    // detections
    let (w, h) = (f64::from(c.width_px), f64::from(c.height_px));
    let camera_from_rig = rig.rig_from_camera.inverse();
    let det = &c.detector;
    let mut detections = Vec::new();
    for (t, s) in rig.targets.iter().zip(&states) {
        let pix: Option<Vec<_>> = corners(s, t.cfg.size_m)
            .iter()
            .map(|p| rig.intrinsics.project(&(camera_from_rig * p)))
            .collect();
        let Some(pix) = pix else { continue };
        let (x0, x1) = pix
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.x), b.max(p.x)));
        let (y0, y1) = pix
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.y), b.max(p.y)));
        let (cx0, cx1, cy0, cy1) = (x0.max(0.0), x1.min(w), y0.max(0.0), y1.min(h));
        let full = (x1 - x0) * (y1 - y0);
        if cx1 - cx0 < 4.0 || cy1 - cy0 < 4.0 || (cx1 - cx0) * (cy1 - cy0) < 0.6 * full {
            continue;
        }
        // draw the noise even for a miss, so one miss does not shift every later draw
        let n: [f64; 4] = std::array::from_fn(|_| normal(&mut st.rng, det.box_noise_px));
        let score = 0.6 + 0.38 * st.rng.random::<f64>();
        if st.rng.random::<f64>() < det.miss_probability {
            continue;
        }
        let (bx0, by0) = (cx0 + n[0], cy0 + n[1]);
        let (bx1, by1) = (cx1 + n[2], cy1 + n[3]);
        detections.push(proto::Detection {
            x_px: bx0,
            y_px: by0,
            width_px: (bx1 - bx0).max(1.0),
            height_px: (by1 - by0).max(1.0),
            class_name: t.cfg.class.clone(),
            score,
            object_id: Some(s.id),
        });
    }
    let fp = Poisson::new(det.false_positives_per_frame.max(1e-9))
        .map_or(0.0, |p| p.sample(&mut st.rng));
    for _ in 0..(fp as u32) {
        let (bw, bh) = (
            20.0 + 120.0 * st.rng.random::<f64>(),
            20.0 + 120.0 * st.rng.random::<f64>(),
        );
        detections.push(proto::Detection {
            x_px: (w - bw) * st.rng.random::<f64>(),
            y_px: (h - bh) * st.rng.random::<f64>(),
            width_px: bw,
            height_px: bh,
            class_name: "unknown".into(),
            score: 0.3 + 0.3 * st.rng.random::<f64>(),
            object_id: None,
        });
    }
    let det_ns =
        (arrival + delay_ns(&mut st.rng, &det.latency)).max(st.last_aux_ns.saturating_add(100_000));
    st.last_aux_ns = det_ns;

    let every = rig.scenario.node.preview_every_n_frames;
    if every > 0 && k.is_multiple_of(u64::from(every)) {
        let scale = f64::from(rig.scenario.node.preview_scale);
        let (pw, ph) = (
            c.width_px / rig.scenario.node.preview_scale,
            c.height_px / rig.scenario.node.preview_scale,
        );
        let boxes: Vec<_> = detections
            .iter()
            .map(|d| {
                (
                    d.x_px / scale,
                    d.y_px / scale,
                    d.width_px / scale,
                    d.height_px / scale,
                )
            })
            .collect();
        let horizon = rig
            .intrinsics
            .project(&(camera_from_rig * Point3::new(1000.0, 0.0, 0.0)))
            .map_or(h / 2.0, |p| p.y)
            / scale;
        out.push((
            arrival,
            SimMessage::Image(RawImage {
                timestamp: Some(timestamp(t_ns)),
                frame_id: "camera".into(),
                width: pw,
                height: ph,
                encoding: "mono8".into(),
                step: pw,
                data: preview::render(pw, ph, horizon, &boxes).into(),
            }),
        ));
        out.push((det_ns, SimMessage::Annotations(annotations(t_ns, &boxes))));
    }
    out.push((
        det_ns,
        SimMessage::CameraDetections(proto::CameraDetections {
            frame_id: k,
            device_ns,
            host_ns: det_ns,
            detections,
        }),
    ));
}

fn annotations(t_ns: i64, boxes: &[(f64, f64, f64, f64)]) -> ImageAnnotations {
    use radcam_schema::foxglove_topics::foxglove_messages::{
        Color, Point2, PointsAnnotation, points_annotation,
    };
    ImageAnnotations {
        timestamp: Some(timestamp(t_ns)),
        metadata: vec![],
        circles: vec![],
        texts: vec![],
        points: boxes
            .iter()
            .map(|&(x, y, w, h)| PointsAnnotation {
                timestamp: Some(timestamp(t_ns)),
                r#type: points_annotation::Type::LineLoop as i32,
                points: [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
                    .iter()
                    .map(|&(x, y)| Point2 { x, y })
                    .collect(),
                outline_color: Some(Color {
                    r: 0.1,
                    g: 0.9,
                    b: 0.2,
                    a: 1.0,
                }),
                outline_colors: vec![],
                fill_color: None,
                thickness: 2.0,
                metadata: vec![],
            })
            .collect(),
    }
}

fn latch(rig: &Rig, st: &mut Stream, out: &mut Out) {
    let l = &rig.scenario.camera.latch;
    let start = st.next_ns.max(st.last_out_ns);
    st.next_ns = rig.t0_ns + 1_000_000 + ((st.index + 1) as f64 * 1e9 / l.rate_hz).round() as i64;
    let (burst, free_ns) = latch_burst(
        &mut st.rng,
        l,
        rig.scenario.camera.tick_hz,
        &rig.camera_clock,
        start,
        st.index,
    );
    for m in burst {
        out.push((m.host_after_read_ns, SimMessage::CameraLatch(m)));
    }
    st.last_out_ns = free_ns;
}

/// One burst of latch pairs starting at host time `start_ns`: each latch is bracketed by host
/// reads around the latch command, then its value is read back. Returns the latches and the
/// host time the link is free again.
pub fn latch_burst(
    rng: &mut ChaCha8Rng,
    l: &LatchConfig,
    tick_hz: f64,
    clock: &DeviceClock,
    start_ns: i64,
    burst_no: u64,
) -> (Vec<proto::CameraLatch>, i64) {
    let mut t = start_ns;
    let mut out = Vec::with_capacity(l.burst as usize);
    for b in 0..l.burst {
        let host_before_ns = t;
        let latch_ns = host_before_ns + delay_ns(rng, &l.outgoing);
        let host_after_ns = latch_ns + delay_ns(rng, &l.return_leg);
        let host_after_read_ns = host_after_ns + delay_ns(rng, &l.read);
        let device_ns = clock.device_ns(latch_ns);
        out.push(proto::CameraLatch {
            seq: burst_no * u64::from(l.burst) + u64::from(b),
            host_before_ns,
            device_ns,
            host_after_ns,
            host_after_read_ns,
            device_ticks: (device_ns as f64 * tick_hz / 1e9).round().max(0.0) as u64,
            tick_hz,
            burst_index: b,
        });
        t = host_after_read_ns + 50_000;
    }
    (out, t)
}

fn radar(rig: &Rig, st: &mut Stream, out: &mut Out) {
    let r = &rig.scenario.radar;
    let t_ns = st.next_ns;
    st.next_ns = rig.t0_ns + 7_000_000 + ((st.index + 1) as f64 * 1e9 / r.fps).round() as i64;
    let ts = secs(rig, t_ns);
    let device_ns = rig.radar_clock.device_ns(t_ns);
    let cycles = ((device_ns.max(0) as f64) * r.cpu_hz / 1e9).round() as u64;
    let rig_from_radar = rig.rig_from_radar * mount_creep(rig, &r.mount, ts);
    let radar_from_rig = rig_from_radar.inverse();
    let radar_origin_rig = rig_from_radar * Point3::origin();
    let (fov_az, fov_el) = (
        r.fov_azimuth_deg.to_radians(),
        r.fov_elevation_deg.to_radians(),
    );
    let mut points = Vec::new();
    let point = |rng: &mut ChaCha8Rng, p_radar: Point3<f64>, doppler: f64, snr: f64| {
        let (range, az, el) = geometry::radar_spherical(&p_radar);
        let range = range + normal(rng, r.range_noise_m);
        let az = az + normal(rng, r.azimuth_noise_deg.to_radians());
        let el = el + normal(rng, r.elevation_noise_deg.to_radians());
        let doppler = doppler + normal(rng, r.doppler_noise_mps);
        let noise_db = 50.0 + normal(rng, 1.0);
        proto::RadarPoint {
            x_m: (range * el.cos() * az.sin()) as f32,
            y_m: (range * el.cos() * az.cos()) as f32,
            z_m: (range * el.sin()) as f32,
            doppler_mps: doppler as f32,
            snr_db: snr as f32,
            noise_db: noise_db as f32,
            range_m: range as f32,
            azimuth_rad: az as f32,
            elevation_rad: el as f32,
        }
    };
    for t in &rig.targets {
        let s = t.state(ts);
        let [l, w, h] = t.cfg.size_m;
        let center = Point3::new(s.x_m, s.y_m, h / 2.0);
        let (range, az, el) = geometry::radar_spherical(&(radar_from_rig * center));
        if range > r.max_range_m || az.abs() > fov_az || el.abs() > fov_el {
            continue;
        }
        let (c, sn) = (s.heading_rad.cos(), s.heading_rad.sin());
        let mut body = Vec::new();
        for _ in 0..r.points_per_target {
            let (dx, dy, dz) = (
                normal(&mut st.rng, l / 8.0),
                normal(&mut st.rng, w / 8.0),
                normal(&mut st.rng, h / 8.0),
            );
            let p_rig = Point3::new(
                center.x + c * dx - sn * dy,
                center.y + sn * dx + c * dy,
                center.z + dz,
            );
            let los: Vector3<f64> = (p_rig - radar_origin_rig).normalize();
            let doppler = Vector3::new(s.vx_mps, s.vy_mps, 0.0).dot(&los);
            let snr = 38.0 - 20.0 * (range / 10.0).max(0.1).log10() + normal(&mut st.rng, 2.0);
            points.push(point(
                &mut st.rng,
                radar_from_rig * p_rig,
                doppler,
                snr.max(1.0),
            ));
            body.push((p_rig, snr));
        }
        if let Some(m) = &r.multipath {
            // the ghost: the target mirrored behind the wall, its velocity mirrored too
            let seen = st.rng.random::<f64>() < m.probability;
            for &(p_rig, snr) in body.iter().filter(|_| seen) {
                let ghost = Point3::new(p_rig.x, 2.0 * m.wall_y_m - p_rig.y, p_rig.z);
                let p_radar = radar_from_rig * ghost;
                let (g_range, g_az, g_el) = geometry::radar_spherical(&p_radar);
                if g_range > r.max_range_m || g_az.abs() > fov_az || g_el.abs() > fov_el {
                    continue;
                }
                let los: Vector3<f64> = (ghost - radar_origin_rig).normalize();
                let doppler = Vector3::new(s.vx_mps, -s.vy_mps, 0.0).dot(&los);
                points.push(point(
                    &mut st.rng,
                    p_radar,
                    doppler,
                    (snr - m.snr_loss_db).max(1.0),
                ));
            }
        }
    }
    for _ in 0..r.clutter_points {
        let range = 2.0 + (r.max_range_m - 2.0) * st.rng.random::<f64>();
        let az = fov_az * (2.0 * st.rng.random::<f64>() - 1.0);
        let el = fov_el * (2.0 * st.rng.random::<f64>() - 1.0);
        let p = Point3::new(
            range * el.cos() * az.sin(),
            range * el.cos() * az.cos(),
            range * el.sin(),
        );
        let snr = 4.0 + 10.0 * st.rng.random::<f64>();
        points.push(point(&mut st.rng, p, 0.0, snr));
    }
    let processing_ns =
        delay_ns(&mut st.rng, &r.arrival_delay) + scheduling_delay_ns(rig, &mut st.rng, ts);
    let mut unknown_ms = r.uncalibrated_delay_ms.unwrap_or(0.0);
    if let Some(per_c) = r.uncalibrated_delay_ms_per_c {
        unknown_ms += per_c * (rig.temperature.at(ts) - rig.temperature.at(0.0));
    }
    if let Some(fw) = &r.firmware_update
        && ts >= fw.at_s
    {
        unknown_ms += fw.added_delay_ms;
    }
    let processing_ns = processing_ns + (unknown_ms * 1e6).round() as i64;
    let arrival = (t_ns + processing_ns).max(st.last_out_ns.saturating_add(100_000));
    st.last_out_ns = arrival;
    out.push((arrival, SimMessage::Points(point_cloud(t_ns, &points))));
    out.push((
        arrival,
        SimMessage::RadarFrame(proto::RadarFrame {
            radar_frame_id: st.index,
            time_cpu_cycles: (cycles & 0xffff_ffff) as u32,
            cpu_hz: r.cpu_hz,
            device_ns,
            host_arrival_ns: arrival,
            subframe: 0,
            points,
            inter_frame_processing_time_us: (processing_ns / 2_000) as u32,
            transmit_output_time_us: (processing_ns / 2_000) as u32,
        }),
    ));
}

fn point_cloud(t_ns: i64, points: &[proto::RadarPoint]) -> PointCloud {
    let f32t = packed_element_field::NumericType::Float32 as i32;
    let fields = ["x", "y", "z", "doppler", "snr"]
        .iter()
        .enumerate()
        .map(|(i, n)| PackedElementField {
            name: (*n).into(),
            offset: 4 * i as u32,
            r#type: f32t,
        })
        .collect();
    let mut data = Vec::with_capacity(points.len() * 20);
    for p in points {
        for v in [p.x_m, p.y_m, p.z_m, p.doppler_mps, p.snr_db] {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    PointCloud {
        timestamp: Some(timestamp(t_ns)),
        frame_id: "radar".into(),
        pose: None,
        point_stride: 20,
        fields,
        data: data.into(),
    }
}

fn ptp(rig: &Rig, st: &mut Stream, out: &mut Out) {
    let p = &rig.scenario.ptp;
    let t_ns = st.next_ns;
    let dt = 1.0 / p.rate_hz;
    st.next_ns = rig.t0_ns + ((st.index + 1) as f64 * 1e9 / p.rate_hz).round() as i64;
    st.walk_ns += normal(&mut st.rng, p.random_walk_ns_per_sqrt_s * dt.sqrt());
    let offset = st.walk_ns + normal(&mut st.rng, p.offset_sigma_ns);
    let query = t_ns + 150_000 + (st.rng.random::<f64>() * 100_000.0) as i64;
    out.push((
        query,
        SimMessage::PtpStatus(proto::PtpStatus {
            host_query_ns: query,
            master_offset_ns: offset.round() as i64,
            ingress_time_ns: t_ns,
            path_delay_ns: p.path_delay_ns + normal(&mut st.rng, 20.0),
            freq_ppb: -1500.0 + normal(&mut st.rng, 5.0),
            port_state: "SLAVE".into(),
            gm_present: true,
            gm_identity: "001122.fffe.334455".into(),
        }),
    ));
}

fn node(rig: &Rig, st: &mut Stream, out: &mut Out) {
    let n = &rig.scenario.node;
    let t_ns = st.next_ns;
    st.next_ns = rig.t0_ns + ((st.index + 1) as f64 * 1e9 / n.stats_rate_hz).round() as i64;
    let temp = rig.temperature.at(secs(rig, t_ns));
    let depth = (st.rng.random::<f64>() * 3.0) as u32;
    out.push((
        t_ns,
        SimMessage::NodeStats(proto::NodeStats {
            host_ns: t_ns,
            queues: vec![
                proto::QueueDepth {
                    name: "camera".into(),
                    depth,
                    capacity: 8,
                },
                proto::QueueDepth {
                    name: "radar".into(),
                    depth: depth.min(1),
                    capacity: 4,
                },
            ],
            drops: vec![
                proto::DropCounter {
                    name: "camera".into(),
                    count: 0,
                },
                proto::DropCounter {
                    name: "radar".into(),
                    count: 0,
                },
            ],
            temperatures: vec![
                proto::Temperature {
                    zone: "camera".into(),
                    temperature_c: temp,
                },
                proto::Temperature {
                    zone: "cpu".into(),
                    temperature_c: temp + 12.0 + normal(&mut st.rng, 0.5),
                },
            ],
            cpu_load_pct: cpu_load(rig, secs(rig, t_ns))
                .unwrap_or_else(|| 35.0 + 10.0 * st.rng.random::<f64>()),
        }),
    ));
    if let Some(e) = &n.egress
        && let Some((_, SimMessage::NodeStats(m))) = out.last_mut()
    {
        // one second of the egress FIFO: offered load against the link, 1,500-byte packets
        let offered = f64::from(e.video_streams) * e.video_mbps + 2.0;
        let rho = offered / e.link_mbps;
        let pkts_per_s = |mbps: f64| mbps * 1e6 / 8.0 / 1500.0;
        let cap = f64::from(e.queue_packets);
        let burst = 1.0 + 0.3 * normal(&mut st.rng, 1.0).abs();
        let (depth, lost) = if rho >= 1.0 {
            (cap, pkts_per_s(offered - e.link_mbps) / rate_hz(n))
        } else {
            // below capacity a FIFO of `cap` packets still turns some away: M/M/1/K's blocking
            // probability (a queue that fills in bursts drops in them)
            let blocked = (1.0 - rho) * rho.powf(cap) / (1.0 - rho.powf(cap + 1.0));
            (
                (rho / (1.0 - rho) * burst).min(cap),
                pkts_per_s(offered) * blocked / rate_hz(n),
            )
        };
        st.egress_dropped += lost;
        let video_share = f64::from(e.video_streams) * e.video_mbps / offered;
        m.queues.push(proto::QueueDepth {
            name: "egress".into(),
            depth: depth.round() as u32,
            capacity: e.queue_packets,
        });
        m.drops.push(proto::DropCounter {
            name: "egress_video".into(),
            count: (st.egress_dropped * video_share).round() as u64,
        });
        m.drops.push(proto::DropCounter {
            name: "egress_metadata".into(),
            count: (st.egress_dropped * (1.0 - video_share)).round() as u64,
        });
    }
}

fn rate_hz(n: &crate::config::NodeConfig) -> f64 {
    n.stats_rate_hz.max(1e-9)
}

/// The scenario's CPU load at `ts` s, %, when it sets a profile.
fn cpu_load(rig: &Rig, ts: f64) -> Option<f64> {
    let p = rig.scenario.node.cpu_load_pct.as_ref()?;
    let first = p.first()?;
    if ts <= first[0] {
        return Some(first[1]);
    }
    for w in p.windows(2) {
        if ts <= w[1][0] {
            let f = (ts - w[0][0]) / (w[1][0] - w[0][0]).max(1e-9);
            return Some(w[0][1] + f * (w[1][1] - w[0][1]));
        }
    }
    p.last().map(|l| l[1])
}

/// Extra delivery delay from scheduling under CPU load at `ts` s, ns (0 when not configured).
fn scheduling_delay_ns(rig: &Rig, rng: &mut ChaCha8Rng, ts: f64) -> i64 {
    let Some(sch) = &rig.scenario.node.scheduling else {
        return 0;
    };
    let load = cpu_load(rig, ts).unwrap_or(40.0);
    let p = ((load - sch.above_pct) / (100.0 - sch.above_pct).max(1e-9)).clamp(0.0, 1.0);
    if rng.random::<f64>() < p {
        (rng.random::<f64>() * sch.spike_us * 1e3).round() as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> Vec<SimEvent> {
        let s = Scenario::demo().expect("demo");
        Simulator::new(&s, 42, 3.0).collect()
    }

    /// The egress FIFO's (depth P95 over capacity, packets dropped at the end) over 20 s of
    /// `network_queue_jitter` with `streams` video streams of 7.5 Mbit/s on its 25 Mbit/s link.
    fn egress_with(streams: u32) -> (f64, u64) {
        let mut s = Scenario::library("network_queue_jitter").expect("library");
        s.node.egress.as_mut().expect("egress").video_streams = streams;
        let (mut fills, mut dropped) = (Vec::new(), 0);
        for e in Simulator::new(&s, 1, 20.0) {
            if let SimMessage::NodeStats(n) = e.message {
                let q = n
                    .queues
                    .iter()
                    .find(|q| q.name == "egress")
                    .expect("egress");
                fills.push(f64::from(q.depth) / f64::from(q.capacity));
                dropped = n
                    .drops
                    .iter()
                    .filter(|d| d.name.starts_with("egress"))
                    .map(|d| d.count)
                    .sum();
            }
        }
        fills.sort_by(f64::total_cmp);
        (fills[fills.len() * 95 / 100], dropped)
    }

    #[test]
    fn a_fifo_that_fills_in_bursts_drops_in_them() {
        // 24.5 of 25 Mbit/s offered: the 64-packet FIFO is full at times, and turns away a
        // few packets (M/M/1/K blocking: 0.75 %, about 15 of 2,042 a second), not the excess
        // of an oversubscribed link
        let (fill, dropped) = egress_with(3);
        assert_eq!(fill, 1.0);
        assert!((200..=400).contains(&dropped), "{dropped}");
        // 9.5 Mbit/s: the queue stays short and nothing is dropped
        let (fill, dropped) = egress_with(1);
        assert!(fill < 0.1, "{fill}");
        assert_eq!(dropped, 0);
        // 32 Mbit/s on 25: the excess, 583 packets a second, is dropped
        let (fill, dropped) = egress_with(4);
        assert_eq!(fill, 1.0);
        assert!(dropped > 19 * 583, "{dropped}");
    }

    #[test]
    fn a_calibrated_lens_changes_the_record_not_the_lens() {
        let with = |lens: &str| {
            let text = crate::DEMO_TOML.replace(
                "mount = { position_m = [0.0, 0.0, 1.5]",
                &format!("calibrated_lens = {lens}\nmount = {{ position_m = [0.0, 0.0, 1.5]"),
            );
            assert_ne!(text, crate::DEMO_TOML, "the camera's mount line moved");
            Scenario::from_toml(&text, std::path::Path::new("lens.toml"))
        };
        let demo = Scenario::demo().expect("demo");
        let real = Simulator::new(&demo, 1, 1.0).calibration().intrinsics;
        let s = with("{ fx_px = 1045.0, distortion = [0.0, 0.0, 0.0, 0.0, 0.0] }").expect("parses");
        let sim = Simulator::new(&s, 1, 1.0);
        let cal = sim.calibration().intrinsics;
        let expected = Intrinsics {
            fx_px: 1045.0,
            k1: 0.0,
            k2: 0.0,
            p1: 0.0,
            p2: 0.0,
            k3: 0.0,
            ..real
        };
        assert_eq!(cal, expected);
        // the lens the detections see is the real one
        assert_eq!(sim.rig.intrinsics, real);
        assert!(sim.calibration().verify().is_ok());
        for (lens, field) in [
            ("{ fx_px = 0.0 }", "camera.calibrated_lens.fx_px"),
            ("{ cy_px = inf }", "camera.calibrated_lens.cy_px"),
            (
                "{ distortion = [0.0, nan, 0.0, 0.0, 0.0] }",
                "camera.calibrated_lens.distortion[1]",
            ),
            ("{ k1 = 0.0 }", "k1"),
        ] {
            let msg = with(lens).expect_err(lens).to_string();
            assert!(msg.contains(field), "{lens}: {msg}");
        }
    }

    /// Every `key = number` line of the demo scenario set to a hostile value: the file is
    /// refused naming the field, or it simulates (no panic: tests check overflow, no hang).
    #[test]
    fn any_number_in_a_scenario_file_is_refused_naming_its_field_or_simulates() {
        let demo = crate::DEMO_TOML;
        let (mut refused, mut simulated) = (0, 0);
        for (i, line) in demo.lines().enumerate() {
            let Some((key, rest)) = line.split_once(" = ") else {
                continue;
            };
            let number = rest.split_whitespace().next().unwrap_or("");
            if key.contains(char::is_whitespace)
                || !number.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            {
                continue;
            }
            // 1e-300: a rate that small once made a period no clock reaches
            for value in [
                "1e300", "-1e300", "nan", "inf", "0", "-1", "1e9", "1000", "1e-300",
            ] {
                let text: String = demo
                    .lines()
                    .enumerate()
                    .map(|(j, l)| {
                        if j == i {
                            format!("{key} = {value}\n")
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
                match Scenario::from_toml(&text, std::path::Path::new("s.toml")) {
                    Err(e) => {
                        let e = e.to_string();
                        assert!(e.starts_with("s.toml"), "{key} = {value}: {e}");
                        refused += 1;
                    }
                    Ok(s) => {
                        // no field has a range that takes these
                        assert!(
                            !["1e300", "-1e300", "nan", "inf"].contains(&value),
                            "{key} = {value} was accepted"
                        );
                        let events = Simulator::new(&s, 1, 0.5).count();
                        assert!(events > 0, "{key} = {value}");
                        simulated += 1;
                    }
                }
            }
        }
        // both branches ran: the in-range values (0, -1, 1000 where a field allows them) simulate
        assert!(
            refused > 0 && simulated > 0,
            "{refused} refused, {simulated} simulated"
        );
    }

    #[test]
    fn events_come_in_log_time_order_and_cover_every_stream() {
        let ev = short();
        assert!(ev.windows(2).all(|w| w[0].log_time_ns <= w[1].log_time_ns));
        let count = |f: fn(&SimMessage) -> bool| ev.iter().filter(|e| f(&e.message)).count();
        assert_eq!(count(|m| matches!(m, SimMessage::TruthClock(_))), 90);
        assert!(count(|m| matches!(m, SimMessage::CameraFrame(_))) >= 89);
        assert!(count(|m| matches!(m, SimMessage::RadarFrame(_))) >= 59);
        assert!(count(|m| matches!(m, SimMessage::CameraLatch(_))) >= 8);
        assert!(count(|m| matches!(m, SimMessage::PtpStatus(_))) >= 3);
        assert_eq!(count(|m| matches!(m, SimMessage::Audit(_))), 2);
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_noise() {
        let a = short();
        let b = short();
        assert_eq!(a, b);
        let s = Scenario::demo().expect("demo");
        let c: Vec<SimEvent> = Simulator::new(&s, 43, 3.0).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn demo_rig_meets_the_benchmark_shape() {
        let ev = short();
        let frames: Vec<&proto::RadarFrame> = ev
            .iter()
            .filter_map(|e| match &e.message {
                SimMessage::RadarFrame(f) => Some(f),
                _ => None,
            })
            .collect();
        assert!(frames.iter().all(|f| f.points.len() >= 64), "radar points");
        let dets: Vec<&proto::CameraDetections> = ev
            .iter()
            .filter_map(|e| match &e.message {
                SimMessage::CameraDetections(d) => Some(d),
                _ => None,
            })
            .collect();
        let mean =
            dets.iter().map(|d| d.detections.len()).sum::<usize>() as f64 / dets.len() as f64;
        assert!(mean >= 8.0, "mean detections per frame {mean}");
    }

    #[test]
    fn latches_bracket_the_true_device_time() {
        for e in short() {
            if let SimMessage::CameraLatch(l) = e.message {
                assert!(
                    l.host_before_ns < l.host_after_ns && l.host_after_ns <= l.host_after_read_ns
                );
                assert_eq!(e.log_time_ns, l.host_after_read_ns);
            }
        }
    }
}
