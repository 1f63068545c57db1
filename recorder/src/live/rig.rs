//! The rig file (`radcam record --rig RIG.toml`): which devices to record and how.
//!
//! Every section is optional; a missing section means that source is not recorded. Unknown keys
//! are errors (a typo must not silently drop a setting). `rigs/example.toml` documents every key.

use radcam_scenarios::config::{MIN_CLOCK_HZ, MIN_RATE_HZ, hz_problem};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A rig file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    /// Rig identifier written into the recording's metadata.
    #[serde(default)]
    pub rig_id: Option<String>,
    /// The active calibration record (JSON, as `radcam calib` manages it), relative to the rig
    /// file; embedded in the recording so that it replays on its own.
    #[serde(default)]
    pub calibration: Option<PathBuf>,
    /// The calibration record, verified: (`cal_version`, canonical JSON). Filled by
    /// [`Rig::load`].
    #[serde(skip)]
    pub calibration_record: Option<(u64, String)>,
    /// The camera (needs the `aravis` feature).
    pub camera: Option<CameraConfig>,
    /// The TI mmWave radar.
    pub radar: Option<RadarConfig>,
    /// ptp4l's management socket.
    pub ptp: Option<PtpConfig>,
    /// Node health sampling.
    #[serde(default)]
    pub node: NodeConfig,
    /// Writer settings.
    #[serde(default)]
    pub output: OutputConfig,
}

/// What to do with camera images.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImagePolicy {
    /// Timing metadata only (the default: what replay needs).
    #[default]
    None,
    /// One raw image in `image_decimation` frames.
    Decimated,
    /// Every frame, JPEG-encoded (8-bit mono or RGB formats).
    Jpeg,
    /// Every frame, raw.
    Raw,
}

/// `[camera]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Aravis device id or address; `None` opens the first camera found.
    pub address: Option<String>,
    /// GenICam `PixelFormat` to set (e.g. "Mono8"); `None` keeps the camera's.
    pub pixel_format: Option<String>,
    /// `AcquisitionFrameRate` to set, Hz; `None` keeps the camera's.
    pub frame_rate_hz: Option<f64>,
    /// Image policy.
    #[serde(default)]
    pub image_policy: ImagePolicy,
    /// With `decimated`: keep one image in this many frames.
    #[serde(default = "default_decimation")]
    pub image_decimation: u32,
    /// JPEG quality 1–100 with `jpeg`.
    #[serde(default = "default_jpeg_quality")]
    pub jpeg_quality: u8,
    /// Stream buffers in the pool.
    #[serde(default = "default_buffers")]
    pub buffers: u32,
    /// Latch bursts per second, Hz (0 disables latching).
    #[serde(default = "default_latch_rate")]
    pub latch_rate_hz: f64,
    /// Latches per burst.
    #[serde(default = "default_latch_burst")]
    pub latch_burst: u32,
    /// Device tick frequency, Hz, used when the camera does not report one.
    #[serde(default = "default_tick_hz")]
    pub tick_hz: f64,
    /// Pause between reconnection attempts after the camera vanished, ms.
    #[serde(default = "default_reconnect_ms")]
    pub reconnect_interval_ms: u64,
    /// A frame missing for this long means the camera is gone, ms.
    #[serde(default = "default_frame_timeout_ms")]
    pub frame_timeout_ms: u64,
}

/// `[radar]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RadarConfig {
    /// Data (UART) port.
    pub data_port: PathBuf,
    /// Data port baud rate.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// CLI port, to send `config` on.
    pub cli_port: Option<PathBuf>,
    /// CLI port baud rate.
    #[serde(default = "default_cli_baud")]
    pub cli_baud: u32,
    /// Radar configuration file (the demo's `.cfg`) sent line by line on `cli_port`.
    pub config: Option<PathBuf>,
    /// How long to wait for each CLI command's `Done`, ms.
    #[serde(default = "default_cli_timeout_ms")]
    pub cli_timeout_ms: u64,
    /// Frequency of `timeCpuCycles`, Hz (IWR6843 R4F: 200 MHz).
    #[serde(default = "default_cpu_hz")]
    pub cpu_hz: f64,
    /// Largest accepted `totalPacketLen`, bytes.
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: usize,
    /// Pause between reopening attempts after the port vanished, ms.
    #[serde(default = "default_reconnect_ms")]
    pub reconnect_interval_ms: u64,
}

/// `[ptp]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PtpConfig {
    /// ptp4l's `uds_address`.
    #[serde(default = "default_uds")]
    pub uds: PathBuf,
    /// PTP domain number.
    #[serde(default)]
    pub domain: u8,
    /// Polls per second, Hz.
    #[serde(default = "default_poll_hz")]
    pub poll_hz: f64,
    /// How long to wait for each answer, ms.
    #[serde(default = "default_ptp_timeout_ms")]
    pub timeout_ms: u64,
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// `/node/stats` samples per second, Hz (0 disables).
    #[serde(default = "default_stats_hz")]
    pub stats_hz: f64,
    /// Thermal zones to read (`thermal_zone0`, …); empty reads every zone.
    #[serde(default)]
    pub thermal_zones: Vec<String>,
    /// Root of the thermal zones (for tests and containers).
    #[serde(default = "default_thermal_root")]
    pub thermal_root: PathBuf,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            stats_hz: default_stats_hz(),
            thermal_zones: Vec::new(),
            thermal_root: default_thermal_root(),
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Messages the writer queue holds before sources start dropping.
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// Longest time between chunk flushes, ms: what a kill -9 can lose at most.
    #[serde(default = "default_flush_ms")]
    pub flush_interval_ms: u64,
    /// Progress line interval, ms.
    #[serde(default = "default_progress_ms")]
    pub progress_interval_ms: u64,
    /// Chunk compression.
    #[serde(default)]
    pub compression: ChunkCompression,
}

/// Chunk compression of a live recording.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChunkCompression {
    /// zstd (the default).
    #[default]
    Zstd,
    /// None (images are always in an uncompressed companion file; this is the timing file).
    None,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            queue_capacity: default_queue(),
            flush_interval_ms: default_flush_ms(),
            progress_interval_ms: default_progress_ms(),
            compression: ChunkCompression::default(),
        }
    }
}

fn default_decimation() -> u32 {
    10
}
fn default_jpeg_quality() -> u8 {
    85
}
fn default_buffers() -> u32 {
    16
}
fn default_latch_rate() -> f64 {
    1.0
}
fn default_latch_burst() -> u32 {
    5
}
fn default_tick_hz() -> f64 {
    1e9
}
fn default_reconnect_ms() -> u64 {
    1000
}
fn default_frame_timeout_ms() -> u64 {
    2000
}
fn default_baud() -> u32 {
    921_600
}
fn default_cli_baud() -> u32 {
    115_200
}
fn default_cli_timeout_ms() -> u64 {
    1000
}
fn default_cpu_hz() -> f64 {
    200e6
}
fn default_max_packet() -> usize {
    crate::mmwave::DEFAULT_MAX_PACKET_LEN
}
fn default_uds() -> PathBuf {
    PathBuf::from(crate::ptp_mgmt::DEFAULT_UDS)
}
fn default_poll_hz() -> f64 {
    4.0
}
fn default_ptp_timeout_ms() -> u64 {
    200
}
fn default_stats_hz() -> f64 {
    1.0
}
fn default_thermal_root() -> PathBuf {
    PathBuf::from("/sys/class/thermal")
}
fn default_queue() -> usize {
    4096
}
fn default_flush_ms() -> u64 {
    1000
}
fn default_progress_ms() -> u64 {
    1000
}

/// A rig file that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    /// Not readable.
    #[error("{path}: {error}")]
    Io {
        /// The rig file.
        path: PathBuf,
        /// The OS error (in the message, not a separate source: shown once).
        error: std::io::Error,
    },
    /// Not valid TOML or not a rig (names the key).
    #[error("{path}: {error}")]
    Toml {
        /// The rig file.
        path: PathBuf,
        /// The parser's message, with line and key (in the message, not a separate source).
        error: toml::de::Error,
    },
    /// A value out of range.
    #[error("{path}: {key}: {why}")]
    Invalid {
        /// The rig file.
        path: PathBuf,
        /// The offending key, `section.key`.
        key: &'static str,
        /// Why.
        why: String,
    },
}

/// Longest interval or timeout a rig file may name, ms (a day): longer ones overflow the
/// deadlines they are added to.
const MAX_INTERVAL_MS: u64 = 86_400_000;
/// Largest radar packet a rig file may allow, bytes.
const MAX_PACKET_BYTES: usize = 64 << 20;
/// Largest recorder queue, messages (it is allocated up front).
const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// `hz` within `[lo, hi]` (or exactly 0 when `off` lets a source be switched off), else the
/// error `bad` makes for `key`.
fn rate(
    bad: &impl Fn(&'static str, String) -> RigError,
    key: &'static str,
    hz: f64,
    range: (f64, f64),
    off: bool,
) -> Result<(), RigError> {
    match hz_problem(hz, range, off) {
        Some(problem) => Err(bad(key, problem)),
        None => Ok(()),
    }
}

/// `ms` within [`MAX_INTERVAL_MS`], else the error `bad` makes for `key`.
fn interval(
    bad: &impl Fn(&'static str, String) -> RigError,
    key: &'static str,
    ms: u64,
) -> Result<(), RigError> {
    if ms <= MAX_INTERVAL_MS {
        Ok(())
    } else {
        Err(bad(
            key,
            format!("must be at most {MAX_INTERVAL_MS} ms (a day), got {ms}"),
        ))
    }
}

impl Rig {
    /// Reads and checks a rig file.
    pub fn load(path: &Path) -> Result<Self, RigError> {
        let text = std::fs::read_to_string(path).map_err(|error| RigError::Io {
            path: path.to_owned(),
            error,
        })?;
        Self::parse(&text, path)
    }

    /// Parses rig TOML; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, RigError> {
        let mut rig: Rig = toml::from_str(text).map_err(|error| RigError::Toml {
            path: path.to_owned(),
            error,
        })?;
        let bad = |key: &'static str, why: String| RigError::Invalid {
            path: path.to_owned(),
            key,
            why,
        };
        if rig.camera.is_none() && rig.radar.is_none() && rig.ptp.is_none() {
            return Err(bad(
                "camera/radar/ptp",
                "no source to record: add a [camera], [radar] or [ptp] section".into(),
            ));
        }
        if let Some(c) = &rig.camera {
            rate(
                &bad,
                "camera.latch_rate_hz",
                c.latch_rate_hz,
                (MIN_RATE_HZ, 100.0),
                true,
            )?;
            if c.latch_burst == 0 {
                return Err(bad("camera.latch_burst", "must be at least 1".into()));
            }
            if c.buffers < 2 {
                return Err(bad("camera.buffers", "must be at least 2".into()));
            }
            if c.image_decimation == 0 {
                return Err(bad("camera.image_decimation", "must be at least 1".into()));
            }
            if !(1..=100).contains(&c.jpeg_quality) {
                return Err(bad("camera.jpeg_quality", "must be in 1..=100".into()));
            }
            rate(
                &bad,
                "camera.tick_hz",
                c.tick_hz,
                (MIN_CLOCK_HZ, 1e12),
                false,
            )?;
            if let Some(r) = c.frame_rate_hz {
                rate(
                    &bad,
                    "camera.frame_rate_hz",
                    r,
                    (MIN_RATE_HZ, 1000.0),
                    false,
                )?;
            }
            if c.buffers > 256 {
                return Err(bad("camera.buffers", "must be at most 256".into()));
            }
            if c.image_decimation > 1000 {
                return Err(bad(
                    "camera.image_decimation",
                    "must be at most 1000".into(),
                ));
            }
            if c.latch_burst > 1000 {
                return Err(bad("camera.latch_burst", "must be at most 1000".into()));
            }
            interval(
                &bad,
                "camera.reconnect_interval_ms",
                c.reconnect_interval_ms,
            )?;
            interval(&bad, "camera.frame_timeout_ms", c.frame_timeout_ms)?;
        }
        if let Some(r) = &rig.radar {
            if r.baud == 0 || r.cli_baud == 0 {
                return Err(bad("radar.baud", "must be positive".into()));
            }
            rate(&bad, "radar.cpu_hz", r.cpu_hz, (MIN_CLOCK_HZ, 1e12), false)?;
            interval(&bad, "radar.cli_timeout_ms", r.cli_timeout_ms)?;
            interval(&bad, "radar.reconnect_interval_ms", r.reconnect_interval_ms)?;
            if r.config.is_some() && r.cli_port.is_none() {
                return Err(bad(
                    "radar.config",
                    "needs radar.cli_port to be sent on".into(),
                ));
            }
            if r.max_packet_bytes < crate::mmwave::HEADER_LEN {
                return Err(bad(
                    "radar.max_packet_bytes",
                    "shorter than a header".into(),
                ));
            }
            if r.max_packet_bytes > MAX_PACKET_BYTES {
                return Err(bad(
                    "radar.max_packet_bytes",
                    format!("must be at most {MAX_PACKET_BYTES} (64 MiB)"),
                ));
            }
        }
        if let Some(p) = &rig.ptp {
            rate(&bad, "ptp.poll_hz", p.poll_hz, (MIN_RATE_HZ, 100.0), false)?;
            interval(&bad, "ptp.timeout_ms", p.timeout_ms)?;
        }
        rate(
            &bad,
            "node.stats_hz",
            rig.node.stats_hz,
            (MIN_RATE_HZ, 100.0),
            true,
        )?;
        if !(1..=MAX_QUEUE_CAPACITY).contains(&rig.output.queue_capacity) {
            return Err(bad(
                "output.queue_capacity",
                format!("must be in 1..={MAX_QUEUE_CAPACITY}"),
            ));
        }
        if rig.output.flush_interval_ms == 0 {
            return Err(bad("output.flush_interval_ms", "must be at least 1".into()));
        }
        interval(
            &bad,
            "output.flush_interval_ms",
            rig.output.flush_interval_ms,
        )?;
        interval(
            &bad,
            "output.progress_interval_ms",
            rig.output.progress_interval_ms,
        )?;
        if let Some(c) = &rig.calibration {
            let file = path.parent().map_or_else(|| c.clone(), |d| d.join(c));
            let text = std::fs::read_to_string(&file)
                .map_err(|e| bad("calibration", format!("{}: {e}", file.display())))?;
            let rec = radcam_fusion::calib::CalibrationRecord::from_json(&text)
                .map_err(|e| bad("calibration", format!("{}: {e}", file.display())))?;
            rig.calibration_record = Some((rec.cal_version, rec.canonical_json()));
        }
        Ok(rig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses_with_every_key() {
        let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rigs/example.toml"));
        let rig = Rig::load(p).expect("example rig");
        let cam = rig.camera.expect("camera");
        assert_eq!(cam.address.as_deref(), Some("127.0.0.1"));
        assert_eq!(rig.radar.expect("radar").baud, 921_600);
        assert_eq!(rig.ptp.expect("ptp").uds, PathBuf::from("/var/run/ptp4l"));
    }

    #[test]
    fn minimal_sections_take_defaults() {
        let rig = Rig::parse(
            "[radar]\ndata_port = \"/dev/ttyACM1\"\n",
            Path::new("r.toml"),
        )
        .expect("parses");
        let r = rig.radar.expect("radar");
        assert_eq!(r.baud, 921_600);
        assert_eq!(r.cpu_hz, 200e6);
        assert_eq!(rig.output.flush_interval_ms, 1000);
    }

    #[test]
    fn calibration_is_verified_and_embedded_relative_to_the_rig_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let sc = radcam_scenarios::Scenario::demo().expect("demo");
        let cal = radcam_scenarios::Simulator::new(&sc, 1, 1.0)
            .calibration()
            .clone();
        std::fs::write(dir.path().join("cal.json"), cal.canonical_json()).expect("write");
        let rig_path = dir.path().join("rig.toml");
        let text = "calibration = \"cal.json\"\n[ptp]\n";
        let rig = Rig::parse(text, &rig_path).expect("rig");
        let (v, json) = rig.calibration_record.expect("embedded");
        assert_eq!(v, cal.cal_version);
        assert_eq!(json, cal.canonical_json());
        // one changed digit: the CRC no longer matches
        let bad = cal
            .canonical_json()
            .replacen("\"fx_px\":", "\"fx_px\":1", 1);
        std::fs::write(dir.path().join("cal.json"), bad).expect("write");
        let e = Rig::parse(text, &rig_path).expect_err("bad CRC");
        let m = e.to_string();
        assert!(m.contains("calibration") && m.contains("cal.json"), "{m}");
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e =
            Rig::parse("[radar]\ndata_prot = \"x\"\n", Path::new("rig.toml")).expect_err("typo");
        let m = e.to_string();
        assert!(m.contains("rig.toml") && m.contains("data_prot"), "{m}");
        // the parser's message is part of this error's, not a source to be printed again
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(m.matches("TOML parse error").count(), 1, "{m}");
        let e = Rig::parse("[ptp]\npoll_hz = 0\n", Path::new("rig.toml")).expect_err("zero");
        assert!(e.to_string().contains("ptp.poll_hz"), "{e}");
        let e = Rig::parse("[node]\nstats_hz = 1\n", Path::new("rig.toml")).expect_err("none");
        assert!(e.to_string().contains("no source"), "{e}");
    }

    #[test]
    fn values_that_would_overflow_a_deadline_or_an_allocation_are_named() {
        let ptp = "[ptp]\nuds = \"/var/run/ptp4l\"\n";
        for (text, key) in [
            ("[camera]\ntick_hz = inf\n", "camera.tick_hz"),
            ("[camera]\nframe_rate_hz = 1e300\n", "camera.frame_rate_hz"),
            ("[camera]\nbuffers = 4000000000\n", "camera.buffers"),
            (
                "[camera]\nframe_timeout_ms = 9223372036854775807\n",
                "camera.frame_timeout_ms",
            ),
            (
                "[camera]\nreconnect_interval_ms = 86400001\n",
                "camera.reconnect_interval_ms",
            ),
            (
                "[radar]\ndata_port = \"/dev/ttyACM1\"\ncpu_hz = inf\n",
                "radar.cpu_hz",
            ),
            (
                "[radar]\ndata_port = \"/dev/ttyACM1\"\ncli_timeout_ms = 9223372036854775807\n",
                "radar.cli_timeout_ms",
            ),
            (
                "[radar]\ndata_port = \"/dev/ttyACM1\"\nmax_packet_bytes = 9223372036854775807\n",
                "radar.max_packet_bytes",
            ),
            (
                &format!("{ptp}timeout_ms = 9223372036854775807\n"),
                "ptp.timeout_ms",
            ),
            (
                &format!("{ptp}[output]\nqueue_capacity = 9223372036854775807\n"),
                "output.queue_capacity",
            ),
            (
                &format!("{ptp}[output]\nprogress_interval_ms = 9223372036854775807\n"),
                "output.progress_interval_ms",
            ),
        ] {
            let e = Rig::parse(text, Path::new("rig.toml"))
                .expect_err(key)
                .to_string();
            assert!(
                e.contains("rig.toml") && e.contains(&format!("{key}: must be")),
                "{key}: {e}"
            );
        }
        // the largest allowed values load
        let ok = format!("{ptp}timeout_ms = 86400000\n[output]\nqueue_capacity = 1048576\n");
        Rig::parse(&ok, Path::new("rig.toml")).expect("at the bounds");
    }

    #[test]
    fn rates_too_small_for_their_period_are_named() {
        // a period is 1 / rate: from 1e-300 Hz it overflowed a `Duration` and killed the
        // source's thread after the recording had started
        let ptp = "[ptp]\nuds = \"/var/run/ptp4l\"\n";
        let radar = "[radar]\ndata_port = \"/dev/ttyACM1\"\n";
        for (text, key, range) in [
            (
                "[ptp]\npoll_hz = 1e-300\n".to_owned(),
                "ptp.poll_hz",
                "must be within [0.001, 100] Hz, got 1e-300",
            ),
            (
                format!("{ptp}[node]\nstats_hz = 1e-300\n"),
                "node.stats_hz",
                "must be 0 (off) or within [0.001, 100] Hz",
            ),
            (
                "[camera]\nlatch_rate_hz = 1e-300\n".to_owned(),
                "camera.latch_rate_hz",
                "must be 0 (off) or within [0.001, 100] Hz",
            ),
            (
                "[camera]\nframe_rate_hz = 1e-300\n".to_owned(),
                "camera.frame_rate_hz",
                "must be within [0.001, 1000] Hz",
            ),
            (
                "[camera]\ntick_hz = 0.5\n".to_owned(),
                "camera.tick_hz",
                "must be within [1, 1000000000000] Hz, got 0.5",
            ),
            (
                format!("{radar}cpu_hz = 1e-300\n"),
                "radar.cpu_hz",
                "must be within [1, 1000000000000] Hz",
            ),
            (
                format!("{ptp}[node]\nstats_hz = nan\n"),
                "node.stats_hz",
                "must be 0 (off) or within [0.001, 100] Hz, got NaN",
            ),
        ] {
            let e = Rig::parse(&text, Path::new("rig.toml"))
                .expect_err(key)
                .to_string();
            assert!(e.contains(&format!("{key}: {range}")), "{key}: {e}");
        }
        // the lowest rates, and 0 where it switches a source off, load
        let ok = "[ptp]\npoll_hz = 0.001\n[node]\nstats_hz = 0\n\
                  [camera]\nlatch_rate_hz = 0\nframe_rate_hz = 0.001\ntick_hz = 1\n";
        Rig::parse(ok, Path::new("rig.toml")).expect("at the lower bounds");
        let ok = format!("{ptp}[node]\nstats_hz = 0.001\n");
        Rig::parse(&ok, Path::new("rig.toml")).expect("the lowest stats rate");
    }
}
