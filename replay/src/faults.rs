//! Fault plans: seeded faults injected per sensor into a replay (`--faults FILE`, TOML).
//!
//! ```toml
//! [camera]                        # and/or [radar]; every key optional
//! offset_ms = 4.0                 # constant error of the sample time
//! drift_ppm = 20.0                # error growing with time since the recording started
//! jitter = { distribution = "student_t", scale_us = 300.0, dof = 3.0 }
//! temperature = { ppm_per_c = 0.5, reference_c = 25.0 }   # × /node/stats temperature
//! steps = [{ at_s = 30.0, step_ms = 5.0 }]   # the device clock jumps (re-sync)
//! dropouts = [{ start_s = 10.0, duration_s = 2.0 }]      # every frame in the window lost
//! drop_bursts = { probability = 0.002, length = 15 }     # a burst starts at a frame
//! latency_spikes = { probability = 0.01, delay_ms = 120.0, length = 1 }
//!
//! [extrinsic]                     # the calibration's camera_from_radar is perturbed
//! yaw_deg = 0.5
//! x_m = 0.02
//!
//! [intrinsic]                     # the calibration's lens model is perturbed
//! focal_error_pct = 2.0           # its focal lengths 2 % long
//! k1_error = 0.05                 # added to its first radial distortion coefficient
//!
//! [[ptp_loss]]                    # ptp4l reports no grandmaster in the window
//! start_s = 40.0
//! duration_s = 5.0
//!
//! [node]                          # the node timing model (defaults: a healthy node)
//! fusion_base_us = 1500.0
//! queue_depth = 4
//!
//! [egress]                        # the egress port model
//! scheduler = "fifo"              # or "strict_priority" (default)
//! video_streams = 3
//! ```
//!
//! `[node]` and `[egress]` are not faults but the model of the node the replay runs on; they
//! live in the plan so that a plan can load the node (more video streams, a slower link, a
//! heavier fusion stage) and a sweep can vary it. See [`crate::node_model`] for every key.
//!
//! Semantics, with t the sample's host time since the recording's first message:
//! - `offset_ms`, `drift_ppm`, `temperature` and `jitter` are errors of the time the node
//!   stamps the sensor's samples with, added after clock estimation (what a mis-synchronised
//!   node fuses with): error(t) = offset + drift·t + ∫ ppm_per_c·(T − reference) dt + jitter.
//!   They count in `sync_error_us` (camera) as any other timing error would.
//! - `steps` move the sensor's *device clock* (frame and latch timestamps) from `at_s` on, so
//!   the clock estimator must detect the step and re-synchronise.
//! - `dropouts` and `drop_bursts` lose frames (a camera frame with its detections).
//! - `latency_spikes` hold `length` consecutive frames (one spike, or a queue burst) until
//!   `delay_ms` after the first of them was due; fusion meanwhile uses what it has (stale).
//! - jitter distributions: `gaussian` (σ = scale), `laplace` (b = scale), `student_t`
//!   (scale × t with `dof`, default 3), `pareto` (a symmetric Lomax tail: scale × the Pareto
//!   excess with shape `alpha`, default 2.5).
//!
//! Randomness comes from `ChaCha8Rng` seeded with the run's seed, one stream per sensor and
//! purpose, so turning one fault on never changes another's random sequence.

use crate::node_model::{EgressConfig, NodeConfig};
use crate::{Error, Result};
use nalgebra::{Isometry3, Translation3, UnitQuaternion};
use radcam_fusion::geometry::Intrinsics;
use radcam_fusion::shown::Shown;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Exp, Normal, Pareto, StudentT};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole fault plan; the default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Faults of the camera.
    #[serde(skip_serializing_if = "SensorFaults::is_none")]
    pub camera: SensorFaults,
    /// Faults of the radar.
    #[serde(skip_serializing_if = "SensorFaults::is_none")]
    pub radar: SensorFaults,
    /// Perturbation of the radar→camera extrinsic the fusion uses.
    #[serde(skip_serializing_if = "ExtrinsicFault::is_none")]
    pub extrinsic: ExtrinsicFault,
    /// Perturbation of the camera's lens model the fusion projects with.
    #[serde(skip_serializing_if = "IntrinsicFault::is_none")]
    pub intrinsic: IntrinsicFault,
    /// Windows in which ptp4l reports no grandmaster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ptp_loss: Vec<Window>,
    /// The fusion stage's timing model (see [`crate::node_model`]).
    #[serde(skip_serializing_if = "is_default_node")]
    pub node: NodeConfig,
    /// The egress port model (see [`crate::node_model`]).
    #[serde(skip_serializing_if = "is_default_egress")]
    pub egress: EgressConfig,
}

fn is_default_node(n: &NodeConfig) -> bool {
    *n == NodeConfig::default()
}

fn is_default_egress(e: &EgressConfig) -> bool {
    *e == EgressConfig::default()
}

/// Faults of one sensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorFaults {
    /// Constant error of the sample time, ms.
    #[serde(skip_serializing_if = "is_zero")]
    pub offset_ms: f64,
    /// Error growing with elapsed time, ppm.
    #[serde(skip_serializing_if = "is_zero")]
    pub drift_ppm: f64,
    /// Random error of each sample's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// Error rate proportional to the node temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<TemperatureDrift>,
    /// Jumps of the device clock.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ClockStep>,
    /// Windows in which every frame is lost.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropouts: Vec<Window>,
    /// Randomly starting bursts of lost frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_bursts: Option<Bursts>,
    /// Randomly starting delivery delays (one frame, or a queue burst of several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_spikes: Option<LatencySpikes>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl SensorFaults {
    /// Whether nothing is injected.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// Jitter distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterDistribution {
    /// Normal, σ = scale.
    Gaussian,
    /// Laplace (double exponential), b = scale.
    Laplace,
    /// Student's t with `dof` degrees of freedom, times scale.
    StudentT,
    /// Symmetric Lomax (Pareto excess) with shape `alpha`, times scale.
    Pareto,
}

/// Random error of each sample's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jitter {
    /// The distribution.
    pub distribution: JitterDistribution,
    /// Its scale, µs.
    pub scale_us: f64,
    /// Degrees of freedom of `student_t` (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dof: Option<f64>,
    /// Tail shape of `pareto` (default 2.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

/// Error rate proportional to temperature: `ppm_per_c · (T − reference_c)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemperatureDrift {
    /// Sensitivity, ppm/°C.
    pub ppm_per_c: f64,
    /// Temperature of zero error, °C (default 25).
    #[serde(default = "default_reference_c")]
    pub reference_c: f64,
}

fn default_reference_c() -> f64 {
    25.0
}

/// A jump of a device clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    /// When, s since the recording's first message.
    pub at_s: f64,
    /// By how much, ms.
    pub step_ms: f64,
}

/// A time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, s since the recording's first message.
    pub start_s: f64,
    /// Length, s.
    pub duration_s: f64,
}

impl Window {
    fn contains(&self, t_s: f64) -> bool {
        t_s >= self.start_s && t_s < self.start_s + self.duration_s
    }
}

/// Randomly starting bursts of lost frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bursts {
    /// Probability that a burst starts at a given frame.
    pub probability: f64,
    /// Frames lost per burst.
    pub length: u32,
}

/// Randomly starting delivery delays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpikes {
    /// Probability that a spike starts at a given frame.
    pub probability: f64,
    /// Delay of the spike's first frame, ms; the others are released with it.
    pub delay_ms: f64,
    /// Frames held per spike (1: a spike; more: a queue burst).
    #[serde(default = "default_length")]
    pub length: u32,
}

fn default_length() -> u32 {
    1
}

/// Perturbation of the radar→camera extrinsic: `camera_from_radar · Δ`, Δ in the radar frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtrinsicFault {
    /// Rotation about the radar x axis, degrees.
    #[serde(skip_serializing_if = "is_zero")]
    pub roll_deg: f64,
    /// Rotation about the radar y axis, degrees.
    #[serde(skip_serializing_if = "is_zero")]
    pub pitch_deg: f64,
    /// Rotation about the radar z axis, degrees.
    #[serde(skip_serializing_if = "is_zero")]
    pub yaw_deg: f64,
    /// Translation along radar x, m.
    #[serde(skip_serializing_if = "is_zero")]
    pub x_m: f64,
    /// Translation along radar y, m.
    #[serde(skip_serializing_if = "is_zero")]
    pub y_m: f64,
    /// Translation along radar z, m.
    #[serde(skip_serializing_if = "is_zero")]
    pub z_m: f64,
}

impl ExtrinsicFault {
    /// Whether nothing is perturbed.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// The perturbation Δ as an isometry.
    pub fn delta(&self) -> Isometry3<f64> {
        Isometry3::from_parts(
            Translation3::new(self.x_m, self.y_m, self.z_m),
            UnitQuaternion::from_euler_angles(
                self.roll_deg.to_radians(),
                self.pitch_deg.to_radians(),
                self.yaw_deg.to_radians(),
            ),
        )
    }
}

/// Perturbation of the lens model (intrinsics) the fusion projects radar objects with: a
/// calibration whose focal lengths or radial distortion are off, as after a lens was swapped
/// or refocused. The truth scoring keeps the recorded calibration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntrinsicFault {
    /// Error of both focal lengths, % (positive: the calibration's are longer).
    #[serde(skip_serializing_if = "is_zero")]
    pub focal_error_pct: f64,
    /// Added to the calibration's first radial distortion coefficient k1.
    #[serde(skip_serializing_if = "is_zero")]
    pub k1_error: f64,
}

impl IntrinsicFault {
    /// Whether nothing is perturbed.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// `intrinsics` with the errors applied.
    pub fn apply(&self, intrinsics: &Intrinsics) -> Intrinsics {
        let scale = 1.0 + self.focal_error_pct / 100.0;
        Intrinsics {
            fx_px: intrinsics.fx_px * scale,
            fy_px: intrinsics.fy_px * scale,
            k1: intrinsics.k1 + self.k1_error,
            ..*intrinsics
        }
    }
}

impl FaultPlan {
    /// Whether nothing is injected.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// Compact one-line description for report metadata: `none` or the plan as JSON.
    pub fn describe(&self) -> String {
        if self.is_none() {
            "none".into()
        } else {
            serde_json::to_string(self).unwrap_or_else(|e| format!("unprintable plan: {e}"))
        }
    }

    /// Parses a fault plan TOML; `path` names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let plan: Self = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        plan.validate().map_err(|message| Error::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(plan)
    }

    /// Reads and parses a fault plan file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(&crate::read_text(path)?, path)
    }

    /// The plan of the quick flags `--offset-ms`, `--jitter-us` (gaussian σ) and
    /// `--drift-ppm`, all applied to the camera; the error names the field.
    pub fn camera_only(
        offset_ms: f64,
        jitter_us: f64,
        drift_ppm: f64,
    ) -> std::result::Result<Self, String> {
        let plan = Self {
            camera: SensorFaults {
                offset_ms,
                drift_ppm,
                jitter: (jitter_us != 0.0).then_some(Jitter {
                    distribution: JitterDistribution::Gaussian,
                    scale_us: jitter_us,
                    dof: None,
                    alpha: None,
                }),
                ..SensorFaults::default()
            },
            ..Self::default()
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Checks every number; the error names the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, s) in [("camera", &self.camera), ("radar", &self.radar)] {
            s.validate().map_err(|e| format!("{name}.{e}"))?;
        }
        let e = &self.extrinsic;
        for (field, v, max) in [
            ("roll_deg", e.roll_deg, 180.0),
            ("pitch_deg", e.pitch_deg, 180.0),
            ("yaw_deg", e.yaw_deg, 180.0),
            ("x_m", e.x_m, 100.0),
            ("y_m", e.y_m, 100.0),
            ("z_m", e.z_m, 100.0),
        ] {
            finite_within(&format!("extrinsic.{field}"), v, max)?;
        }
        let i = &self.intrinsic;
        // a focal length must stay positive: at most half of it gained or lost
        finite_within("intrinsic.focal_error_pct", i.focal_error_pct, 50.0)?;
        finite_within("intrinsic.k1_error", i.k1_error, 10.0)?;
        for (i, w) in self.ptp_loss.iter().enumerate() {
            w.validate(&format!("ptp_loss[{i}]"))?;
        }
        self.node.validate()?;
        self.egress.validate()?;
        Ok(())
    }
}

/// Largest time error a plan may inject in one term, ms (one hour).
const MAX_OFFSET_MS: f64 = 3_600_000.0;

fn finite_within(field: &str, v: f64, max: f64) -> std::result::Result<(), String> {
    if v.is_finite() && v.abs() <= max {
        Ok(())
    } else {
        Err(format!(
            "{field} = {}: must be finite and within ±{max}",
            Shown(v)
        ))
    }
}

/// Largest jitter scale a plan may ask for, µs (1000 s).
const MAX_JITTER_SCALE_US: f64 = 1e9;

fn finite_from_zero(field: &str, v: f64, max: f64) -> std::result::Result<(), String> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {}: must be finite and within [0, {max}]",
            Shown(v)
        ))
    }
}

fn probability(field: &str, p: f64) -> std::result::Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {}: must be a probability in [0, 1]",
            Shown(p)
        ))
    }
}

impl Window {
    fn validate(&self, field: &str) -> std::result::Result<(), String> {
        finite_within(&format!("{field}.start_s"), self.start_s, 1e7)?;
        if !(self.duration_s.is_finite() && self.duration_s >= 0.0) {
            return Err(format!(
                "{field}.duration_s = {}: must be finite and ≥ 0",
                Shown(self.duration_s)
            ));
        }
        Ok(())
    }
}

impl SensorFaults {
    fn validate(&self) -> std::result::Result<(), String> {
        finite_within("offset_ms", self.offset_ms, MAX_OFFSET_MS)?;
        finite_within("drift_ppm", self.drift_ppm, 1e6)?;
        if let Some(j) = &self.jitter {
            finite_from_zero("jitter.scale_us", j.scale_us, MAX_JITTER_SCALE_US)?;
            for (field, v) in [("dof", j.dof), ("alpha", j.alpha)] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                    return Err(format!(
                        "jitter.{field} = {}: must be finite and > 0",
                        Shown(v)
                    ));
                }
            }
        }
        if let Some(t) = &self.temperature {
            finite_within("temperature.ppm_per_c", t.ppm_per_c, 1e4)?;
            finite_within("temperature.reference_c", t.reference_c, 1e3)?;
        }
        for (i, s) in self.steps.iter().enumerate() {
            finite_within(&format!("steps[{i}].at_s"), s.at_s, 1e7)?;
            finite_within(&format!("steps[{i}].step_ms"), s.step_ms, MAX_OFFSET_MS)?;
        }
        for (i, w) in self.dropouts.iter().enumerate() {
            w.validate(&format!("dropouts[{i}]"))?;
        }
        if let Some(b) = &self.drop_bursts {
            probability("drop_bursts.probability", b.probability)?;
            if b.length == 0 {
                return Err("drop_bursts.length = 0: must be ≥ 1".into());
            }
        }
        if let Some(l) = &self.latency_spikes {
            probability("latency_spikes.probability", l.probability)?;
            finite_from_zero("latency_spikes.delay_ms", l.delay_ms, MAX_OFFSET_MS)?;
            if l.length == 0 {
                return Err("latency_spikes.length = 0: must be ≥ 1".into());
            }
        }
        Ok(())
    }
}

/// Which random stream a draw comes from (one per sensor and purpose).
#[derive(Clone, Copy)]
enum Purpose {
    Jitter = 0,
    Drops = 1,
    Spikes = 2,
}

/// The running injector of one sensor's faults.
#[derive(Debug, Clone)]
pub struct SensorInjector {
    faults: SensorFaults,
    start_ns: i64,
    jitter_rng: ChaCha8Rng,
    drop_rng: ChaCha8Rng,
    spike_rng: ChaCha8Rng,
    temperature_error_ns: f64,
    temperature_t_ns: Option<i64>,
    burst_left: u32,
    spike_release_ns: i64,
    spike_left: u32,
    last_delivery_ns: i64,
}

impl SensorInjector {
    /// An injector for `faults`; `sensor` selects the random streams (0 camera, 1 radar),
    /// `start_ns` is the recording's first log time.
    pub fn new(faults: &SensorFaults, seed: u64, sensor: u64, start_ns: i64) -> Self {
        let rng = |purpose: Purpose| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(sensor * 16 + purpose as u64);
            r
        };
        Self {
            faults: faults.clone(),
            start_ns,
            jitter_rng: rng(Purpose::Jitter),
            drop_rng: rng(Purpose::Drops),
            spike_rng: rng(Purpose::Spikes),
            temperature_error_ns: 0.0,
            temperature_t_ns: None,
            burst_left: 0,
            spike_release_ns: 0,
            spike_left: 0,
            last_delivery_ns: i64::MIN,
        }
    }

    fn elapsed_s(&self, t_ns: i64) -> f64 {
        (t_ns - self.start_ns) as f64 * 1e-9
    }

    /// Error to add to the time of a sample at host time `t_ns`, ns, with the node at
    /// `temperature_c`. Call in time order: temperature drift is integrated between calls.
    pub fn time_error_ns(&mut self, t_ns: i64, temperature_c: Option<f64>) -> i64 {
        let f = &self.faults;
        let mut error_ns = f.offset_ms * 1e6 + f.drift_ppm * 1e-6 * self.elapsed_s(t_ns) * 1e9;
        if let Some(tc) = &f.temperature {
            if let (Some(last), Some(temp)) = (self.temperature_t_ns, temperature_c) {
                let dt_ns = (t_ns - last).max(0) as f64;
                self.temperature_error_ns += tc.ppm_per_c * (temp - tc.reference_c) * 1e-6 * dt_ns;
            }
            self.temperature_t_ns = Some(t_ns);
            error_ns += self.temperature_error_ns;
        }
        if let Some(j) = &f.jitter {
            error_ns += jitter_us(j, &mut self.jitter_rng) * 1e3;
        }
        error_ns.round() as i64
    }

    /// How far the device clock has been stepped at host time `t_ns`, ns.
    pub fn device_step_ns(&self, t_ns: i64) -> i64 {
        let t_s = self.elapsed_s(t_ns);
        self.faults
            .steps
            .iter()
            .filter(|s| t_s >= s.at_s)
            .map(|s| (s.step_ms * 1e6).round() as i64)
            .sum()
    }

    /// Whether the frame at host time `t_ns` is lost. Call once per frame, in order.
    pub fn dropped(&mut self, t_ns: i64) -> bool {
        let t_s = self.elapsed_s(t_ns);
        let in_window = self.faults.dropouts.iter().any(|w| w.contains(t_s));
        let Some(b) = &self.faults.drop_bursts else {
            return in_window;
        };
        // one draw per frame, whether or not it is in a window, keeps the sequence stable
        let starts = self.drop_rng.random::<f64>() < b.probability;
        if self.burst_left == 0 && starts {
            self.burst_left = b.length;
        }
        let in_burst = self.burst_left > 0;
        self.burst_left = self.burst_left.saturating_sub(1);
        in_window || in_burst
    }

    /// When the frame due at log time `due_ns` is delivered: `due_ns` itself, or later
    /// during a latency spike. The sensor's queue is first-in first-out, so a frame is never
    /// delivered before the one ahead of it. Call once per frame, in order.
    pub fn delivery_ns(&mut self, due_ns: i64) -> i64 {
        let Some(s) = &self.faults.latency_spikes else {
            return due_ns;
        };
        let starts = self.spike_rng.random::<f64>() < s.probability;
        if self.spike_left == 0 && starts {
            self.spike_left = s.length;
            self.spike_release_ns = due_ns + (s.delay_ms * 1e6).round() as i64;
        }
        let mut at = due_ns.max(self.last_delivery_ns);
        if self.spike_left > 0 {
            self.spike_left -= 1;
            at = at.max(self.spike_release_ns);
        }
        self.last_delivery_ns = at;
        at
    }
}

/// One jitter draw, µs.
fn jitter_us(j: &Jitter, rng: &mut ChaCha8Rng) -> f64 {
    if j.scale_us == 0.0 {
        return 0.0;
    }
    let sign = |rng: &mut ChaCha8Rng| if rng.random::<bool>() { 1.0 } else { -1.0 };
    let unit = match j.distribution {
        JitterDistribution::Gaussian => Normal::new(0.0, 1.0).map_or(0.0, |d| d.sample(rng)),
        JitterDistribution::Laplace => {
            let s = sign(rng);
            s * Exp::new(1.0).map_or(0.0, |d| d.sample(rng))
        }
        JitterDistribution::StudentT => {
            StudentT::new(j.dof.unwrap_or(3.0)).map_or(0.0, |d| d.sample(rng))
        }
        JitterDistribution::Pareto => {
            let s = sign(rng);
            s * (Pareto::new(1.0, j.alpha.unwrap_or(2.5)).map_or(1.0, |d| d.sample(rng)) - 1.0)
        }
    };
    unit * j.scale_us
}

/// Every injector of a run.
#[derive(Debug, Clone)]
pub struct Injectors {
    /// The camera's.
    pub camera: SensorInjector,
    /// The radar's.
    pub radar: SensorInjector,
    start_ns: i64,
    ptp_loss: Vec<Window>,
}

impl Injectors {
    /// Injectors for `plan` with `seed`; `start_ns` is the recording's first log time.
    pub fn new(plan: &FaultPlan, seed: u64, start_ns: i64) -> Self {
        Self {
            camera: SensorInjector::new(&plan.camera, seed, 0, start_ns),
            radar: SensorInjector::new(&plan.radar, seed, 1, start_ns),
            start_ns,
            ptp_loss: plan.ptp_loss.clone(),
        }
    }

    /// Whether ptp4l has lost its grandmaster at host time `t_ns`.
    pub fn ptp_lost(&self, t_ns: i64) -> bool {
        let t_s = (t_ns - self.start_ns) as f64 * 1e-9;
        self.ptp_loss.iter().any(|w| w.contains(t_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<FaultPlan> {
        FaultPlan::parse(text, Path::new("faults.toml"))
    }

    #[test]
    fn the_documented_example_parses_and_round_trips_through_its_description() {
        let doc = include_str!("faults.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let p = plan(&example).expect("the module doc's example parses");
        assert_eq!(p.camera.offset_ms, 4.0);
        assert_eq!(
            p.camera.jitter.as_ref().map(|j| j.distribution),
            Some(JitterDistribution::StudentT)
        );
        assert_eq!(p.extrinsic.yaw_deg, 0.5);
        assert_eq!(p.intrinsic.focal_error_pct, 2.0);
        assert_eq!(p.intrinsic.k1_error, 0.05);
        assert_eq!(p.ptp_loss.len(), 1);
        let back: FaultPlan = serde_json::from_str(&p.describe()).expect("description is JSON");
        assert_eq!(back, p);
        assert_eq!(FaultPlan::default().describe(), "none");
    }

    #[test]
    fn an_intrinsic_error_scales_the_focal_lengths_and_moves_k1_only() {
        let cal = Intrinsics {
            fx_px: 1000.0,
            fy_px: 1200.0,
            cx_px: 700.0,
            cy_px: 500.0,
            k1: -0.1,
            k2: 0.03,
            p1: 0.001,
            p2: -0.002,
            k3: 0.004,
            width_px: 1440,
            height_px: 1080,
        };
        assert_eq!(IntrinsicFault::default().apply(&cal), cal);
        let f = IntrinsicFault {
            focal_error_pct: 5.0,
            k1_error: 0.25,
        };
        assert_eq!(
            f.apply(&cal),
            Intrinsics {
                fx_px: 1050.0,
                fy_px: 1260.0,
                k1: 0.15,
                ..cal
            }
        );
    }

    #[test]
    fn bad_plans_name_the_field() {
        let e = plan("[camera]\nofset_ms = 3\n").expect_err("unknown key");
        assert!(e.to_string().contains("ofset_ms"), "{e}");
        let e = plan("[radar]\ndrop_bursts = { probability = 1.5, length = 3 }\n")
            .expect_err("probability");
        assert!(
            e.to_string().contains("radar.drop_bursts.probability"),
            "{e}"
        );
        let e = plan("[camera]\njitter = { distribution = \"cauchy\", scale_us = 1.0 }\n")
            .expect_err("distribution");
        assert!(e.to_string().contains("cauchy"), "{e}");
        let e = plan("[[ptp_loss]]\nstart_s = 1.0\nduration_s = -2.0\n").expect_err("window");
        assert!(e.to_string().contains("ptp_loss[0].duration_s"), "{e}");
        // a value past a bound names the bound, not only the sign it must have
        for (text, names) in [
            (
                "[camera]\nlatency_spikes = { probability = 0.1, delay_ms = 1e7 }\n",
                "camera.latency_spikes.delay_ms = 10000000: must be finite and within [0, 3600000]",
            ),
            (
                "[radar]\njitter = { distribution = \"gaussian\", scale_us = -1.0 }\n",
                "radar.jitter.scale_us = -1: must be finite and within [0, 1000000000]",
            ),
            (
                "[intrinsic]\nfocal_error_pct = -100.0\n",
                "intrinsic.focal_error_pct = -100: must be finite and within ±50",
            ),
            (
                "[intrinsic]\nk1_error = nan\n",
                "intrinsic.k1_error = NaN: must be finite and within ±10",
            ),
        ] {
            let e = plan(text).expect_err(names);
            assert!(e.to_string().contains(names), "{e}");
        }
    }

    #[test]
    fn error_messages_show_huge_numbers_in_exponent_form() {
        let e = plan("[camera]\noffset_ms = 1e300\n").expect_err("too large");
        assert!(
            e.to_string()
                .contains("camera.offset_ms = 1e300: must be finite and within ±3600000"),
            "{e}"
        );
    }

    fn spread(distribution: JitterDistribution, n: usize) -> (f64, f64) {
        let j = Jitter {
            distribution,
            scale_us: 100.0,
            dof: None,
            alpha: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v: Vec<f64> = (0..n).map(|_| jitter_us(&j, &mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let median = v[n / 2];
        let q = |p: f64| v[((n - 1) as f64 * p) as usize];
        (median, q(0.999) / q(0.75))
    }

    #[test]
    fn jitter_is_centred_and_tails_grow_heavier_in_the_documented_order() {
        let n = 200_000;
        let mut tails = Vec::new();
        for d in [
            JitterDistribution::Gaussian,
            JitterDistribution::Laplace,
            JitterDistribution::StudentT,
            JitterDistribution::Pareto,
        ] {
            let (median, tail) = spread(d, n);
            assert!(median.abs() < 3.0, "{d:?} median {median} µs");
            tails.push(tail);
        }
        // P99.9 / P75: gaussian ≈ 4.6, laplace ≈ 8.2, student t(3) ≈ 13, lomax(2.5) ≫
        assert!(tails.windows(2).all(|w| w[0] < w[1]), "{tails:?}");
        assert!((tails[0] - 4.58).abs() < 0.3, "gaussian {}", tails[0]);
    }

    #[test]
    fn the_same_seed_draws_the_same_faults_and_another_seed_does_not() {
        let f = plan(
            "[camera]\njitter = { distribution = \"gaussian\", scale_us = 50.0 }\n\
             drop_bursts = { probability = 0.05, length = 4 }\n",
        )
        .expect("plan")
        .camera;
        let draw = |seed| {
            let mut inj = SensorInjector::new(&f, seed, 0, 0);
            (0..500)
                .map(|i| (inj.time_error_ns(i * 1_000_000, None), inj.dropped(i)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        // bursts come in runs of the configured length
        let drops: Vec<bool> = draw(3).into_iter().map(|d| d.1).collect();
        let runs: Vec<usize> = drops
            .split(|d| !d)
            .map(<[bool]>::len)
            .filter(|l| *l > 0)
            .collect();
        assert!(
            !runs.is_empty() && runs.iter().all(|r| r % 4 == 0),
            "{runs:?}"
        );
    }

    #[test]
    fn offset_drift_temperature_and_steps_follow_their_formulas() {
        let f = plan(
            "[camera]\noffset_ms = 2.0\ndrift_ppm = 10.0\n\
             temperature = { ppm_per_c = 1.0, reference_c = 20.0 }\n\
             steps = [{ at_s = 5.0, step_ms = 3.0 }, { at_s = 8.0, step_ms = -1.0 }]\n",
        )
        .expect("plan")
        .camera;
        let start = 1_000_000_000;
        let mut inj = SensorInjector::new(&f, 0, 0, start);
        assert_eq!(inj.time_error_ns(start, Some(30.0)), 2_000_000);
        // 10 s later: drift 10 ppm × 10 s = 100 µs; temperature 1 ppm/°C × 10 °C × 10 s = 100 µs
        let e = inj.time_error_ns(start + 10_000_000_000, Some(30.0));
        assert_eq!(e, 2_000_000 + 100_000 + 100_000);
        assert_eq!(inj.device_step_ns(start + 4_999_999_999), 0);
        assert_eq!(inj.device_step_ns(start + 5_000_000_000), 3_000_000);
        assert_eq!(inj.device_step_ns(start + 9_000_000_000), 2_000_000);
    }

    #[test]
    fn a_queue_burst_releases_its_frames_together() {
        let f =
            plan("[radar]\nlatency_spikes = { probability = 1.0, delay_ms = 100.0, length = 3 }\n")
                .expect("plan")
                .radar;
        let mut inj = SensorInjector::new(&f, 0, 1, 0);
        let period = 50_000_000;
        let got: Vec<i64> = (0..6).map(|i| inj.delivery_ns(i * period)).collect();
        assert_eq!(
            got,
            vec![
                100_000_000,
                100_000_000,
                100_000_000,
                250_000_000,
                250_000_000,
                250_000_000
            ]
        );
    }

    #[test]
    fn an_extrinsic_yaw_rotates_about_the_radar_z_axis() {
        let e = ExtrinsicFault {
            yaw_deg: 90.0,
            ..ExtrinsicFault::default()
        };
        let p = e.delta() * nalgebra::Point3::new(1.0, 0.0, 0.0);
        assert!(
            (p - nalgebra::Point3::new(0.0, 1.0, 0.0)).norm() < 1e-12,
            "{p}"
        );
    }
}
