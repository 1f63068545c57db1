//! The scenario file format (TOML). Every key is documented here and in
//! `scenarios/library/demo.toml`; unknown keys are errors.

use crate::{Error, Result};
use radcam_fusion::shown::Shown;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Longest recording a scenario may ask for, s (about three years of simulated time: its
/// nanoseconds stay far inside the ±2^62 ns every time is held to).
pub const MAX_DURATION_S: f64 = 1e8;

/// Why a recording length `duration_s` cannot be recorded, if it cannot.
pub fn duration_problem(duration_s: f64) -> Option<String> {
    (!(duration_s.is_finite() && duration_s > 0.0 && duration_s <= MAX_DURATION_S)).then(|| {
        format!(
            "must be a positive number of seconds, at most {MAX_DURATION_S:e} (about three \
             years), got {}",
            Shown(duration_s)
        )
    })
}

/// Lowest rate above 0 that a scenario or a rig file may set for a periodic source (frames,
/// latches, PTP polls, node stats), Hz: one event in 1000 s. A period is `1 / rate`; from a
/// rate of 1e-300 Hz it overflows the nanoseconds it is counted in (the simulator then never
/// advanced its clock and filled memory; a live source's timer panicked).
pub const MIN_RATE_HZ: f64 = 1e-3;
/// Lowest clock frequency (a device tick, the radar's CPU) a scenario or rig file may set, Hz.
pub const MIN_CLOCK_HZ: f64 = 1.0;

/// Why `hz` is not a frequency within `[lo, hi]` Hz (or exactly 0 where `off` lets it switch a
/// source off), if it is not.
pub fn hz_problem(hz: f64, (lo, hi): (f64, f64), off: bool) -> Option<String> {
    if (lo..=hi).contains(&hz) || (off && hz == 0.0) {
        return None;
    }
    let range = format!("[{}, {}] Hz, got {}", Shown(lo), Shown(hi), Shown(hz));
    Some(if off {
        format!("must be 0 (off) or within {range}")
    } else {
        format!("must be within {range}")
    })
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Default recording length, s.
    pub duration_s: f64,
    /// Default seed.
    #[serde(default)]
    pub seed: u64,
    /// Rig identity and host clock start.
    pub rig: RigConfig,
    /// Temperature profile.
    pub temperature: TemperatureConfig,
    /// Camera.
    pub camera: CameraConfig,
    /// Radar.
    pub radar: RadarConfig,
    /// PTP offset process.
    pub ptp: PtpConfig,
    /// Node health and previews.
    #[serde(default)]
    pub node: NodeConfig,
    /// Targets.
    #[serde(rename = "target", default)]
    pub targets: Vec<TargetConfig>,
    /// What `radcam diagnose` should find in a recording of this scenario (the playbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectConfig>,
}

/// The domains `radcam diagnose` can name.
pub const DIAGNOSIS_DOMAINS: &[&str] = &[
    "time_sync",
    "latency",
    "extrinsic",
    "intrinsic",
    "association",
    "egress_qos",
    "calibration_change",
    "healthy",
];

/// `[expect]`: the scenario's expected diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectConfig {
    /// The domain `radcam diagnose` must name: `time_sync`, `latency`, `extrinsic`,
    /// `intrinsic`, `association`, `egress_qos`, `calibration_change` or `healthy`.
    pub diagnosis: String,
}

/// Rig identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigConfig {
    /// Rig id written into calibration records.
    pub rig_id: String,
    /// Host CLOCK_MONOTONIC_RAW at the start of the recording, ns.
    pub host_start_ns: i64,
}

/// Piecewise-linear temperature over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemperatureConfig {
    /// `[time_s, temperature_c]` breakpoints, times increasing; held constant outside.
    pub profile: Vec<[f64; 2]>,
}

/// A sensor mount in the rig frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountConfig {
    /// Position, m (rig: x forward, y left, z up).
    pub position_m: [f64; 3],
    /// Roll, pitch, yaw about the rig axes, degrees.
    pub rpy_deg: [f64; 3],
    /// Mechanical creep after calibration: roll, pitch, yaw change per hour, degrees (the
    /// calibration keeps the mount at t = 0). Radar mount only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creep_rpy_deg_per_h: Option<[f64; 3]>,
    /// Thermal flex: roll, pitch, yaw change per °C away from the temperature at t = 0,
    /// degrees. Radar mount only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creep_rpy_deg_per_c: Option<[f64; 3]>,
}

/// A device oscillator relative to the host clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Device clock minus host clock at the start, ns.
    pub offset_ns: i64,
    /// Rate error at the reference temperature, ppm (positive: device runs fast).
    pub drift_ppm: f64,
    /// Rate change per degree from the reference temperature, ppm/°C.
    #[serde(default)]
    pub temp_coeff_ppm_per_c: f64,
    /// Reference temperature, °C.
    #[serde(default = "default_reference_c")]
    pub reference_c: f64,
    /// Steps of the device clock: `[time_s, jump_ns]` (a camera reset jumps back to ~0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<[f64; 2]>,
}

fn default_reference_c() -> f64 {
    25.0
}

/// A heavy-tailed delay: `min_us + scale_us·(P − 1)` with P Pareto(1, `tail_alpha`), plus an
/// optional uniform `[0, uniform_us)` term (interrupt moderation) and rare spikes, capped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayConfig {
    /// Smallest possible delay, µs.
    pub min_us: f64,
    /// Scale of the excess, µs.
    pub scale_us: f64,
    /// Pareto tail index (smaller: heavier tail), > 0.
    pub tail_alpha: f64,
    /// Largest delay, µs.
    #[serde(default = "default_cap_us")]
    pub cap_us: f64,
    /// Width of a uniform extra delay, µs (e.g. xHCI interrupt moderation); 0 for none.
    #[serde(default)]
    pub uniform_us: f64,
    /// Probability of a spike.
    #[serde(default)]
    pub spike_probability: f64,
    /// A spike adds a uniform `[0, spike_us)`, µs.
    #[serde(default)]
    pub spike_us: f64,
}

fn default_cap_us() -> f64 {
    100_000.0
}

/// Camera, its clock, latches and detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Sensor id.
    pub sensor_id: String,
    /// Frame rate, Hz.
    pub fps: f64,
    /// Device tick frequency, Hz.
    pub tick_hz: f64,
    /// Exposure, µs.
    pub exposure_us: f64,
    /// Image size, px.
    pub width_px: u32,
    /// Image height, px.
    pub height_px: u32,
    /// Focal lengths and principal point, px.
    pub fx_px: f64,
    /// Focal length y, px.
    pub fy_px: f64,
    /// Principal point x, px.
    pub cx_px: f64,
    /// Principal point y, px.
    pub cy_px: f64,
    /// Brown-Conrady coefficients `[k1, k2, p1, p2, k3]`.
    #[serde(default)]
    pub distortion: [f64; 5],
    /// What the calibration record says of the lens where it differs from the real one
    /// above; none when the calibration is right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_lens: Option<CalibratedLensConfig>,
    /// Mount.
    pub mount: MountConfig,
    /// Device clock.
    pub clock: ClockConfig,
    /// Delay from the end of exposure to the frame reaching the host.
    pub arrival_delay: DelayConfig,
    /// Latch pairs.
    pub latch: LatchConfig,
    /// Detector.
    pub detector: DetectorConfig,
}

/// The lens model a calibration record holds when it is not the real lens's: a lens swapped
/// or refocused after calibration, or a datasheet model in place of a calibrated one. Each key
/// left out is the real lens's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibratedLensConfig {
    /// Focal length x, px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx_px: Option<f64>,
    /// Focal length y, px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fy_px: Option<f64>,
    /// Principal point x, px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cx_px: Option<f64>,
    /// Principal point y, px.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cy_px: Option<f64>,
    /// Brown-Conrady coefficients `[k1, k2, p1, p2, k3]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distortion: Option<[f64; 5]>,
}

/// Latch bursts and the delays of their legs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatchConfig {
    /// Bursts per second, Hz; 0 for a camera without a latch feature.
    pub rate_hz: f64,
    /// Latches per burst.
    pub burst: u32,
    /// Host-side delay before the latch takes effect (command outgoing leg).
    pub outgoing: DelayConfig,
    /// Delay from the latch to the command's completion reaching the host (return leg).
    pub return_leg: DelayConfig,
    /// Round trip of reading the latched value back.
    pub read: DelayConfig,
}

/// Detector noise, misses, false positives and latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// One-sigma noise of each box edge, px.
    pub box_noise_px: f64,
    /// Probability a visible target is missed.
    pub miss_probability: f64,
    /// Mean false positives per frame.
    pub false_positives_per_frame: f64,
    /// Delay from frame arrival to detections, µs.
    pub latency: DelayConfig,
}

/// Radar, its clock, field of view, noise and clutter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadarConfig {
    /// Frame rate, Hz.
    pub fps: f64,
    /// CPU cycle counter frequency, Hz.
    pub cpu_hz: f64,
    /// Half field of view in azimuth and elevation, degrees.
    pub fov_azimuth_deg: f64,
    /// Half field of view in elevation, degrees.
    pub fov_elevation_deg: f64,
    /// Maximum range, m.
    pub max_range_m: f64,
    /// Detections per target per frame.
    pub points_per_target: u32,
    /// Clutter detections per frame.
    pub clutter_points: u32,
    /// One-sigma noise: range m, azimuth and elevation degrees, doppler m/s.
    pub range_noise_m: f64,
    /// Azimuth noise, degrees.
    pub azimuth_noise_deg: f64,
    /// Elevation noise, degrees.
    pub elevation_noise_deg: f64,
    /// Doppler noise, m/s.
    pub doppler_noise_mps: f64,
    /// Mount.
    pub mount: MountConfig,
    /// Device clock.
    pub clock: ClockConfig,
    /// Delay from the frame's start to its last byte reaching the host (processing + UART).
    pub arrival_delay: DelayConfig,
    /// Reflective wall that makes multipath ghosts; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipath: Option<MultipathConfig>,
    /// Extra delay before frames reach the host that the calibration does not know about, ms
    /// (a misaligned radar time offset: every CRC clean, the time wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated_delay_ms: Option<f64>,
    /// Extra delay per °C away from the temperature at t = 0, ms/°C (a time offset that drifts
    /// with temperature, unknown to the calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated_delay_ms_per_c: Option<f64>,
    /// A firmware update part way through the recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_update: Option<FirmwareUpdateConfig>,
}

/// A radar firmware update during the recording: from `at_s` on, frames reach the host
/// `added_delay_ms` later, and the node logs `CONFIG_UPDATED` (config version 1 → 2) with no
/// new calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareUpdateConfig {
    /// When, s from the start.
    pub at_s: f64,
    /// Added delay, ms.
    pub added_delay_ms: f64,
}

/// A reflective wall parallel to the rig's x axis: each target, with some probability per
/// radar frame, also appears mirrored behind it (a ghost with mirrored velocity, weaker).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipathConfig {
    /// The wall's y in the rig frame, m.
    pub wall_y_m: f64,
    /// Chance per target per radar frame that its ghost is detected, in [0, 1].
    pub probability: f64,
    /// SNR lost by the reflection, dB.
    pub snr_loss_db: f64,
}

/// PTP offset process as ptp4l would report it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtpConfig {
    /// Polls per second, Hz.
    pub rate_hz: f64,
    /// White noise of the offset, ns.
    pub offset_sigma_ns: f64,
    /// Random walk of the offset, ns per √s.
    pub random_walk_ns_per_sqrt_s: f64,
    /// Mean path delay, ns.
    pub path_delay_ns: f64,
}

/// Node health and Foxglove previews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// `/node/stats` rate, Hz.
    pub stats_rate_hz: f64,
    /// Publish a preview image and annotations every N camera frames (0: never).
    pub preview_every_n_frames: u32,
    /// Preview downscale factor.
    pub preview_scale: u32,
    /// CPU load profile: `[time_s, percent]` points, linear between them (default: 35–45 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_load_pct: Option<Vec<[f64; 2]>>,
    /// Scheduling delays under load: camera and radar frames reach the host late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingConfig>,
    /// The node's egress port (video streams and metadata on one link) → `/node/stats`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressSimConfig>,
}

/// Scheduling delays: above `above_pct` CPU load, a frame is late with probability
/// (load − above) / (100 − above), by a uniform `[0, spike_us)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingConfig {
    /// Load above which frames start being late, %.
    pub above_pct: f64,
    /// Largest extra delay, µs.
    pub spike_us: f64,
}

/// The egress port: `video_streams` of `video_mbps` plus 2 Mbit/s of metadata on a
/// `link_mbps` link with a `queue_packets` FIFO (1,500-byte packets). Its depth and drops go to
/// `/node/stats` (queue `egress`, drops `egress_video` and `egress_metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSimConfig {
    /// Video streams.
    pub video_streams: u32,
    /// Bit rate of one stream, Mbit/s.
    pub video_mbps: f64,
    /// Link rate, Mbit/s.
    pub link_mbps: f64,
    /// Queue capacity, packets.
    pub queue_packets: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            stats_rate_hz: 1.0,
            preview_every_n_frames: 30,
            preview_scale: 4,
            cpu_load_pct: None,
            scheduling: None,
            egress: None,
        }
    }
}

/// A target moving back and forth (or around, when `closed`) along a polyline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Object id (ground truth and the camera's object id).
    pub id: u64,
    /// Class name.
    pub class: String,
    /// Length, width, height, m.
    pub size_m: [f64; 3],
    /// Polyline on the ground plane, `[x, y]` m, at least two points.
    pub path_m: Vec<[f64; 2]>,
    /// Speed along the path, m/s.
    pub speed_mps: f64,
    /// Distance along the path at t = 0, m.
    #[serde(default)]
    pub start_offset_m: f64,
    /// Loop around the closed polygon instead of going back and forth.
    #[serde(default)]
    pub closed: bool,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates scenario TOML; `path` names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let s: Self = toml::from_str(text).map_err(|e| Error::Toml {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        s.validate(path)?;
        Ok(s)
    }

    /// The embedded demo scenario.
    pub fn demo() -> Result<Self> {
        Self::library("demo")
    }

    /// A scenario of the embedded library by name (see [`crate::LIBRARY`]).
    pub fn library(name: &str) -> Result<Self> {
        let (_, text) = crate::LIBRARY
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::UnknownScenario {
                name: name.to_owned(),
                known: crate::LIBRARY
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Self::from_toml(text, Path::new(&format!("<library {name}.toml>")))
    }

    /// A scenario file, or if no such file exists, the library scenario of that name.
    pub fn from_path_or_library(path: &Path) -> Result<Self> {
        match path.to_str() {
            // a bare name (no directory, no extension) that is not a file: the library's
            Some(name) if !path.exists() && !name.contains(['/', '\\', '.']) => Self::library(name),
            _ => Self::from_path(path),
        }
    }

    /// Canonical TOML of this scenario (what is hashed and stored in recordings).
    pub fn canonical_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of [`Scenario::canonical_toml`], hex.
    pub fn content_hash(&self) -> String {
        let digest = Sha256::digest(self.canonical_toml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let mut v = Checks { problem: None };
        self.check(&mut v);
        match v.problem {
            Some((field, problem)) => Err(Error::Invalid {
                path: path.to_owned(),
                field,
                problem,
            }),
            None => Ok(()),
        }
    }

    /// Every field within what the simulator can compute with: rates that finish, times whose
    /// nanoseconds fit, sizes that allocate. The bounds are generous; they are there so a typo
    /// (`fps = 3e10`) is an error naming the field, never a hang, a wrap or a panic.
    fn check(&self, v: &mut Checks) {
        if let Some(problem) = duration_problem(self.duration_s) {
            v.fail("duration_s", problem);
        }
        v.int("rig.host_start_ns", self.rig.host_start_ns, 0, MAX_TIME_NS);
        if self.temperature.profile.is_empty()
            || self
                .temperature
                .profile
                .windows(2)
                .any(|w| w[1][0] <= w[0][0])
        {
            v.fail(
                "temperature.profile",
                "needs at least one [time_s, temperature_c] point, times strictly increasing"
                    .into(),
            );
        }
        for (i, [t, c]) in self.temperature.profile.iter().enumerate() {
            v.within(
                &format!("temperature.profile[{i}] time_s"),
                *t,
                0.0,
                MAX_TIME_S,
            );
            v.within(
                &format!("temperature.profile[{i}] temperature_c"),
                *c,
                -273.15,
                1e3,
            );
        }

        let c = &self.camera;
        v.hz("camera.fps", c.fps, (MIN_RATE_HZ, MAX_RATE_HZ), false);
        v.hz("camera.tick_hz", c.tick_hz, (MIN_CLOCK_HZ, 1e12), false);
        v.within("camera.exposure_us", c.exposure_us, 0.0, 1e6);
        for (field, px) in [
            ("camera.width_px", c.width_px),
            ("camera.height_px", c.height_px),
        ] {
            v.int(field, px, 1, MAX_IMAGE_PX);
        }
        // the real lens, every key given, then the calibration's where it differs
        v.lens(
            "camera",
            &CalibratedLensConfig {
                fx_px: Some(c.fx_px),
                fy_px: Some(c.fy_px),
                cx_px: Some(c.cx_px),
                cy_px: Some(c.cy_px),
                distortion: Some(c.distortion),
            },
        );
        if let Some(lens) = &c.calibrated_lens {
            v.lens("camera.calibrated_lens", lens);
        }
        v.mount("camera.mount", &c.mount);
        v.clock("camera.clock", &c.clock);
        v.delay("camera.arrival_delay", &c.arrival_delay);
        v.hz(
            "camera.latch.rate_hz",
            c.latch.rate_hz,
            (MIN_RATE_HZ, MAX_RATE_HZ),
            true,
        );
        if c.latch.rate_hz > 0.0 {
            v.int("camera.latch.burst", c.latch.burst, 1, 1000);
        }
        v.delay("camera.latch.outgoing", &c.latch.outgoing);
        v.delay("camera.latch.return_leg", &c.latch.return_leg);
        v.delay("camera.latch.read", &c.latch.read);
        let d = &c.detector;
        v.within("camera.detector.box_noise_px", d.box_noise_px, 0.0, 1e4);
        v.within(
            "camera.detector.miss_probability",
            d.miss_probability,
            0.0,
            1.0,
        );
        v.within(
            "camera.detector.false_positives_per_frame",
            d.false_positives_per_frame,
            0.0,
            1e3,
        );
        v.delay("camera.detector.latency", &d.latency);

        let r = &self.radar;
        v.hz("radar.fps", r.fps, (MIN_RATE_HZ, MAX_RATE_HZ), false);
        v.hz("radar.cpu_hz", r.cpu_hz, (MIN_CLOCK_HZ, 1e12), false);
        v.rate("radar.fov_azimuth_deg", r.fov_azimuth_deg, 360.0);
        v.rate("radar.fov_elevation_deg", r.fov_elevation_deg, 180.0);
        v.rate("radar.max_range_m", r.max_range_m, 1e4);
        v.int("radar.points_per_target", r.points_per_target, 0, 10_000);
        v.int("radar.clutter_points", r.clutter_points, 0, 100_000);
        v.within("radar.range_noise_m", r.range_noise_m, 0.0, 1e3);
        v.within("radar.azimuth_noise_deg", r.azimuth_noise_deg, 0.0, 360.0);
        v.within(
            "radar.elevation_noise_deg",
            r.elevation_noise_deg,
            0.0,
            180.0,
        );
        v.within("radar.doppler_noise_mps", r.doppler_noise_mps, 0.0, 1e3);
        v.mount("radar.mount", &r.mount);
        v.clock("radar.clock", &r.clock);
        v.delay("radar.arrival_delay", &r.arrival_delay);
        if let Some(m) = &r.multipath {
            v.within("radar.multipath.probability", m.probability, 0.0, 1.0);
            v.within("radar.multipath.wall_y_m", m.wall_y_m, -1e4, 1e4);
            v.within("radar.multipath.snr_loss_db", m.snr_loss_db, -1e3, 1e3);
        }
        if let Some(ms) = r.uncalibrated_delay_ms {
            v.within(
                "radar.uncalibrated_delay_ms",
                ms,
                -MAX_DELAY_MS,
                MAX_DELAY_MS,
            );
        }
        if let Some(k) = r.uncalibrated_delay_ms_per_c {
            v.within("radar.uncalibrated_delay_ms_per_c", k, -1e4, 1e4);
        }
        if let Some(fw) = &r.firmware_update {
            v.within("radar.firmware_update.at_s", fw.at_s, 0.0, MAX_TIME_S);
            v.within(
                "radar.firmware_update.added_delay_ms",
                fw.added_delay_ms,
                -MAX_DELAY_MS,
                MAX_DELAY_MS,
            );
        }

        let p = &self.ptp;
        v.hz("ptp.rate_hz", p.rate_hz, (MIN_RATE_HZ, MAX_RATE_HZ), false);
        v.within("ptp.offset_sigma_ns", p.offset_sigma_ns, 0.0, 1e12);
        v.within(
            "ptp.random_walk_ns_per_sqrt_s",
            p.random_walk_ns_per_sqrt_s,
            0.0,
            1e12,
        );
        v.within("ptp.path_delay_ns", p.path_delay_ns, 0.0, 1e12);

        let n = &self.node;
        v.hz(
            "node.stats_rate_hz",
            n.stats_rate_hz,
            (MIN_RATE_HZ, MAX_RATE_HZ),
            false,
        );
        v.int("node.preview_scale", n.preview_scale, 1, MAX_IMAGE_PX);
        for (i, [t, pct]) in n.cpu_load_pct.iter().flatten().enumerate() {
            v.within(
                &format!("node.cpu_load_pct[{i}] time_s"),
                *t,
                0.0,
                MAX_TIME_S,
            );
            v.within(&format!("node.cpu_load_pct[{i}] percent"), *pct, 0.0, 100.0);
        }
        if let Some(sch) = &n.scheduling {
            v.within("node.scheduling.above_pct", sch.above_pct, 0.0, 100.0);
            v.within("node.scheduling.spike_us", sch.spike_us, 0.0, 1e8);
        }
        if let Some(e) = &n.egress {
            v.int("node.egress.video_streams", e.video_streams, 0, 1000);
            v.within("node.egress.video_mbps", e.video_mbps, 0.0, 1e6);
            v.rate("node.egress.link_mbps", e.link_mbps, 1e6);
            v.int("node.egress.queue_packets", e.queue_packets, 0, 10_000_000);
        }

        let mut ids = std::collections::BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let f = |k: &str| format!("target[{i}].{k}");
            if !ids.insert(t.id) {
                v.fail(&f("id"), format!("duplicate target id {}", t.id));
            }
            if t.path_m.len() < 2 {
                v.fail(&f("path_m"), "needs at least two points".into());
            }
            for (j, xy) in t.path_m.iter().enumerate() {
                for (axis, c) in ["x", "y"].iter().zip(xy) {
                    v.within(&f(&format!("path_m[{j}] {axis}")), *c, -1e5, 1e5);
                }
            }
            v.within(&f("speed_mps"), t.speed_mps, 0.0, 1e3);
            v.within(&f("start_offset_m"), t.start_offset_m, -1e7, 1e7);
            for (k, size) in t.size_m.iter().enumerate() {
                v.rate(&f(&format!("size_m[{k}]")), *size, 1e3);
            }
        }
        if let Some(e) = &self.expect
            && !DIAGNOSIS_DOMAINS.contains(&e.diagnosis.as_str())
        {
            v.fail(
                "expect.diagnosis",
                format!("'{}' is not one of {DIAGNOSIS_DOMAINS:?}", e.diagnosis),
            );
        }
    }
}

/// Highest rate a scenario may ask for, Hz (frames, latches, PTP, node stats).
const MAX_RATE_HZ: f64 = 1e3;

/// Largest image side, px.
const MAX_IMAGE_PX: u32 = 16_384;
/// Latest time a scenario may name, s (as [`MAX_DURATION_S`]).
const MAX_TIME_S: f64 = MAX_DURATION_S;
/// Largest host start or clock offset, ns (about 31 years).
const MAX_TIME_NS: i64 = 1_000_000_000_000_000_000;
/// Largest delay a scenario may name, ms (one hour).
const MAX_DELAY_MS: f64 = 3_600_000.0;

/// The checks of one scenario file; the first problem found is kept.
struct Checks {
    problem: Option<(String, String)>,
}

impl Checks {
    fn fail(&mut self, field: &str, problem: String) {
        self.problem.get_or_insert((field.to_owned(), problem));
    }

    /// `v` finite and within `[lo, hi]`.
    fn within(&mut self, field: &str, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && (lo..=hi).contains(&v)) {
            self.fail(
                field,
                format!("must be within [{lo}, {hi}], got {}", Shown(v)),
            );
        }
    }

    /// `v` positive, finite and at most `hi`.
    fn rate(&mut self, field: &str, v: f64, hi: f64) {
        if !(v.is_finite() && v > 0.0 && v <= hi) {
            self.fail(
                field,
                format!("must be a positive number, at most {hi}, got {}", Shown(v)),
            );
        }
    }

    /// `v` a frequency within `[lo, hi]` Hz, or exactly 0 where `off` lets it switch a source
    /// off.
    fn hz(&mut self, field: &str, v: f64, range: (f64, f64), off: bool) {
        if let Some(problem) = hz_problem(v, range, off) {
            self.fail(field, problem);
        }
    }

    /// An integer within `[lo, hi]`.
    fn int<T: PartialOrd + std::fmt::Display>(&mut self, field: &str, v: T, lo: T, hi: T) {
        if !(lo <= v && v <= hi) {
            self.fail(field, format!("must be within [{lo}, {hi}], got {v}"));
        }
    }

    /// The keys of a lens model that are given: focal lengths positive, principal point and
    /// distortion coefficients within generous bounds.
    fn lens(&mut self, field: &str, l: &CalibratedLensConfig) {
        for (name, f) in [("fx_px", l.fx_px), ("fy_px", l.fy_px)] {
            if let Some(f) = f {
                self.rate(&format!("{field}.{name}"), f, 1e6);
            }
        }
        for (name, p) in [("cx_px", l.cx_px), ("cy_px", l.cy_px)] {
            if let Some(p) = p {
                self.within(&format!("{field}.{name}"), p, -1e6, 1e6);
            }
        }
        for (i, k) in l.distortion.iter().flatten().enumerate() {
            self.within(&format!("{field}.distortion[{i}]"), *k, -1e3, 1e3);
        }
    }

    fn mount(&mut self, field: &str, m: &MountConfig) {
        for (i, p) in m.position_m.iter().enumerate() {
            self.within(&format!("{field}.position_m[{i}]"), *p, -1e3, 1e3);
        }
        let rpy = [
            Some(m.rpy_deg),
            m.creep_rpy_deg_per_h,
            m.creep_rpy_deg_per_c,
        ];
        for (name, angles) in ["rpy_deg", "creep_rpy_deg_per_h", "creep_rpy_deg_per_c"]
            .iter()
            .zip(rpy)
        {
            for (i, a) in angles.iter().flatten().enumerate() {
                self.within(&format!("{field}.{name}[{i}]"), *a, -360.0, 360.0);
            }
        }
    }

    fn clock(&mut self, field: &str, c: &ClockConfig) {
        self.int(
            &format!("{field}.offset_ns"),
            c.offset_ns,
            -MAX_TIME_NS,
            MAX_TIME_NS,
        );
        self.within(&format!("{field}.drift_ppm"), c.drift_ppm, -1e5, 1e5);
        self.within(
            &format!("{field}.temp_coeff_ppm_per_c"),
            c.temp_coeff_ppm_per_c,
            -1e3,
            1e3,
        );
        self.within(&format!("{field}.reference_c"), c.reference_c, -273.15, 1e3);
        let max_jump_ns = MAX_TIME_NS as f64;
        for (i, [at_s, jump_ns]) in c.steps.iter().enumerate() {
            self.within(
                &format!("{field}.steps[{i}] time_s"),
                *at_s,
                0.0,
                MAX_TIME_S,
            );
            self.within(
                &format!("{field}.steps[{i}] jump_ns"),
                *jump_ns,
                -max_jump_ns,
                max_jump_ns,
            );
        }
    }

    fn delay(&mut self, field: &str, d: &DelayConfig) {
        let us = MAX_DELAY_MS * 1e3;
        for (name, value) in [
            ("min_us", d.min_us),
            ("scale_us", d.scale_us),
            ("cap_us", d.cap_us),
            ("uniform_us", d.uniform_us),
            ("spike_us", d.spike_us),
        ] {
            self.within(&format!("{field}.{name}"), value, 0.0, us);
        }
        self.rate(&format!("{field}.tail_alpha"), d.tail_alpha, 1e3);
        self.within(
            &format!("{field}.spike_probability"),
            d.spike_probability,
            0.0,
            1.0,
        );
        if d.cap_us < d.min_us {
            self.fail(
                &format!("{field}.cap_us"),
                format!("must be at least min_us ({}), got {}", d.min_us, d.cap_us),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_parses_and_hashes_stably() {
        let a = Scenario::demo().expect("demo parses");
        let b = Scenario::demo().expect("demo parses");
        assert_eq!(a.content_hash(), b.content_hash());
        assert!(a.targets.len() >= 8);
        let again =
            Scenario::from_toml(&a.canonical_toml(), Path::new("x")).expect("canonical parses");
        assert_eq!(again, a);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = Scenario::from_toml("name = \"x\"\nduration_s = = 3\n", Path::new("bad.toml"))
            .expect_err("broken");
        let msg = err.to_string();
        assert!(
            msg.starts_with("bad.toml:") && msg.contains("line 2"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let text = crate::DEMO_TOML.replace("fps = 30.0", "fps = 30.0\nfsp = 1");
        let msg = Scenario::from_toml(&text, Path::new("s.toml"))
            .expect_err("unknown")
            .to_string();
        assert!(msg.contains("fsp"), "{msg}");
        let text = crate::DEMO_TOML.replace("fps = 30.0", "fps = -1.0");
        let msg = Scenario::from_toml(&text, Path::new("s.toml"))
            .expect_err("neg")
            .to_string();
        assert!(msg.contains("camera.fps"), "{msg}");
    }

    #[test]
    fn rates_too_small_for_their_period_are_named() {
        // from 1e-300 Hz a period overflowed its nanoseconds: the simulator never advanced its
        // clock and filled memory until the OOM killer stopped it
        for (from, to, field, says) in [
            (
                "fps = 30.0",
                "fps = 1e-300",
                "camera.fps",
                "within [0.001, 1000] Hz, got 1e-300",
            ),
            (
                "fps = 20.0",
                "fps = 1e-4",
                "radar.fps",
                "within [0.001, 1000] Hz, got 0.0001",
            ),
            (
                "rate_hz = 2.0",
                "rate_hz = 1e-300",
                "camera.latch.rate_hz",
                "0 (off) or within",
            ),
            (
                "rate_hz = 1.0",
                "rate_hz = 1e-300",
                "ptp.rate_hz",
                "within [0.001, 1000] Hz",
            ),
            (
                "stats_rate_hz = 1.0",
                "stats_rate_hz = 0",
                "node.stats_rate_hz",
                "got 0",
            ),
            (
                "tick_hz = 1e9",
                "tick_hz = 1e-300",
                "camera.tick_hz",
                "within [1, 1000000000000] Hz",
            ),
            (
                "cpu_hz = 200e6",
                "cpu_hz = 0.5",
                "radar.cpu_hz",
                "within [1, 1000000000000] Hz, got 0.5",
            ),
        ] {
            assert!(crate::DEMO_TOML.contains(from), "{from}");
            let text = crate::DEMO_TOML.replacen(from, to, 1);
            let msg = Scenario::from_toml(&text, Path::new("s.toml"))
                .expect_err(to)
                .to_string();
            assert!(msg.contains(field) && msg.contains(says), "{to}: {msg}");
        }
        // the lowest rates, and no latching at all, are fine
        let text = crate::DEMO_TOML
            .replacen("fps = 30.0", "fps = 0.001", 1)
            .replacen("rate_hz = 2.0", "rate_hz = 0", 1);
        Scenario::from_toml(&text, Path::new("s.toml")).expect("the lowest rates");
    }

    #[test]
    fn a_recording_length_past_three_years_is_refused_not_wrapped() {
        assert_eq!(duration_problem(MAX_DURATION_S), None);
        assert_eq!(duration_problem(0.5), None);
        for (d, got) in [
            (0.0, "got 0"),
            (-1.0, "got -1"),
            (1.000_1e8, "got 100010000"),
            (1e300, "got 1e300"),
            (f64::NAN, "got NaN"),
            (f64::INFINITY, "got inf"),
        ] {
            let problem = duration_problem(d).expect("refused");
            assert!(
                problem.contains("at most 1e8") && problem.ends_with(got),
                "{problem}"
            );
        }
        let text = crate::DEMO_TOML.replacen("duration_s = 60.0", "duration_s = 1e12", 1);
        let msg = Scenario::from_toml(&text, Path::new("s.toml"))
            .expect_err("too long")
            .to_string();
        assert!(
            msg.contains("duration_s") && msg.contains("at most 1e8"),
            "{msg}"
        );
    }
}
