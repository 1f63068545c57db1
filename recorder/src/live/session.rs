//! A live recording: every configured source on its own thread, one writer.
//!
//! Sources never block on the writer: they queue encoded messages on a bounded [`Bus`] and count
//! what a full queue makes them drop. The writer flushes a chunk at least every
//! `output.flush_interval_ms`, so a killed recorder loses at most that much (the `.part` file is
//! recoverable with `radcam recover`). A stop request (Ctrl-C, SIGTERM, `--duration`) stops the
//! sources, drains the queue and finalizes the file with its summary and index. A write error
//! (a full disk) stops recording cleanly and says how to recover what was written. A source
//! whose thread panics (a bug) stops the recording too: the file is finalized with what every
//! source wrote until then, and the error names the source and its panic.
//!
//! Images (any `image_policy` but `none`) go to an uncompressed companion, `REC.images.mcap`,
//! named in the main file's `radcam.recording` metadata (`images_file`): the timing file that
//! replay reads holds no image byte.

use super::bus::{Bus, Item, LiveStats, host_now_ns};
use super::rig::Rig;
use crate::sim_source::partial_path;
use crate::{Error, McapSink, Result};
use radcam_schema::foxglove_topics;
use radcam_schema::metadata::{self, keys};
use radcam_schema::topics::AUDIT;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Metadata record holding the rig file under key `toml`.
pub const RIG_METADATA: &str = "radcam.rig";

/// What to record from a rig.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    /// Output MCAP (written as `OUT.part` until finalized).
    pub out: PathBuf,
    /// Stop after this many seconds; `None` records until interrupted.
    pub duration_s: Option<f64>,
    /// The rig file's text, stored in the recording.
    pub rig_toml: String,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// What a live recording wrote.
#[derive(Debug, Clone)]
pub struct LiveSummary {
    /// Messages per topic.
    pub counts: BTreeMap<&'static str, u64>,
    /// The finalized file.
    pub path: PathBuf,
    /// Why it ended.
    pub reason: StopReason,
    /// Wall time recorded, s.
    pub elapsed_s: f64,
    /// The last progress snapshot (final counters).
    pub last: Progress,
}

/// One progress line's numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Wall time since the start, s.
    pub elapsed_s: f64,
    /// Whether a camera is configured.
    pub camera: bool,
    /// Camera frames per second over the last interval, Hz.
    pub camera_fps: f64,
    /// Camera frames written.
    pub camera_frames: u64,
    /// Camera frames lost.
    pub camera_drops: u64,
    /// Last latch round trip, µs (`None` without latching).
    pub latch_rtt_us: Option<f64>,
    /// Last device − host offset, ms.
    pub camera_offset_ms: f64,
    /// Camera link up.
    pub camera_up: bool,
    /// Whether a radar is configured.
    pub radar: bool,
    /// Radar frames per second over the last interval, Hz.
    pub radar_fps: f64,
    /// Radar frames written.
    pub radar_frames: u64,
    /// Radar frames missing from the sequence.
    pub radar_gaps: u64,
    /// Radar data port open.
    pub radar_up: bool,
    /// Cut or corrupt radar frames.
    pub radar_bad_frames: u64,
    /// Whether PTP is configured.
    pub ptp: bool,
    /// Last PTP master offset, ns.
    pub ptp_offset_ns: i64,
    /// Last PTP port state.
    pub ptp_state: String,
    /// Writer queue depth and drops.
    pub queue_depth: usize,
    /// Messages dropped on a full writer queue.
    pub queue_drops: u64,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>6.1} s", self.elapsed_s)?;
        if self.camera {
            write!(
                f,
                " | cam {:5.1} fps drops {}",
                self.camera_fps, self.camera_drops
            )?;
            match self.latch_rtt_us {
                Some(r) => write!(f, " latch rtt {r:.0} µs")?,
                None => write!(f, " passive")?,
            }
            write!(f, " offset {:+.3} ms", self.camera_offset_ms)?;
            if !self.camera_up {
                write!(f, " DOWN")?;
            }
        }
        if self.radar {
            write!(
                f,
                " | radar {:5.1} fps gaps {} bad {}",
                self.radar_fps, self.radar_gaps, self.radar_bad_frames
            )?;
            if !self.radar_up {
                write!(f, " DOWN")?;
            }
        }
        if self.ptp {
            write!(f, " | ptp {:+} ns {}", self.ptp_offset_ns, self.ptp_state)?;
        }
        write!(
            f,
            " | queue {} drops {}",
            self.queue_depth, self.queue_drops
        )
    }
}

fn snapshot(rig: &Rig, s: &LiveStats, elapsed_s: f64, prev: &Progress, dt_s: f64) -> Progress {
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let camera_frames = ld(&s.camera_frames);
    let radar_frames = ld(&s.radar_frames);
    let rate = |now: u64, before: u64| {
        if dt_s > 0.0 {
            now.saturating_sub(before) as f64 / dt_s
        } else {
            0.0
        }
    };
    let rtt = s.latch_rtt_ns.load(Ordering::Relaxed);
    Progress {
        elapsed_s,
        camera: rig.camera.is_some(),
        camera_fps: rate(camera_frames, prev.camera_frames),
        camera_frames,
        camera_drops: ld(&s.camera_drops),
        latch_rtt_us: (rtt >= 0).then_some(rtt as f64 / 1e3),
        camera_offset_ms: s.camera_offset_ns.load(Ordering::Relaxed) as f64 / 1e6,
        camera_up: s.camera_up.load(Ordering::Relaxed),
        radar: rig.radar.is_some(),
        radar_fps: rate(radar_frames, prev.radar_frames),
        radar_frames,
        radar_gaps: ld(&s.radar_gaps),
        radar_up: s.radar_up.load(Ordering::Relaxed),
        radar_bad_frames: ld(&s.radar_bad_frames),
        ptp: rig.ptp.is_some(),
        ptp_offset_ns: s.ptp_offset_ns.load(Ordering::Relaxed),
        ptp_state: s.ptp_state.lock().map(|x| x.clone()).unwrap_or_default(),
        queue_depth: s.queue_depth.load(Ordering::Relaxed),
        queue_drops: ld(&s.queue_drops),
    }
}

/// The first source whose thread panicked: its name and the panic's message. `failed` is set
/// with it, for the writer's loop to read without taking the lock.
#[derive(Debug, Default)]
struct SourceFailures {
    failed: AtomicBool,
    first: Mutex<Option<(&'static str, String)>>,
}

impl SourceFailures {
    /// Runs source `name`'s body, keeping its panic (if any) instead of letting the thread end
    /// unnoticed.
    fn run(&self, name: &'static str, body: impl FnOnce()) {
        let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) else {
            return;
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|m| (*m).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert((name, message));
        self.failed.store(true, Ordering::Relaxed);
    }

    /// The first failure, once a source has failed.
    fn first(&self) -> Option<(&'static str, String)> {
        if !self.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.first.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Starts every source the rig names. The camera needs the `aravis` feature.
fn spawn_sources(
    rig: &Rig,
    bus: &Bus,
    failures: &Arc<SourceFailures>,
) -> Result<Vec<std::thread::JoinHandle<()>>> {
    let mut handles = Vec::new();
    let spawn = |name: &'static str, f: Box<dyn FnOnce() + Send>| {
        let failures = failures.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || failures.run(name, f))
            .map_err(|source| Error::Io {
                path: PathBuf::from(name),
                source,
            })
    };
    if let Some(c) = rig.camera.clone() {
        #[cfg(feature = "aravis")]
        {
            let b = bus.clone();
            handles.push(spawn("camera", Box::new(move || super::camera::run(c, b)))?);
        }
        #[cfg(not(feature = "aravis"))]
        {
            let _ = c;
            return Err(Error::Unsupported(
                "the rig has a [camera] but this radcam was built without the `aravis` feature \
                 (cargo build --release --features aravis; needs libaravis-dev)"
                    .into(),
            ));
        }
    }
    if let Some(r) = rig.radar.clone() {
        let b = bus.clone();
        handles.push(spawn("radar", Box::new(move || super::radar::run(r, b)))?);
    }
    if let Some(p) = rig.ptp.clone() {
        let b = bus.clone();
        handles.push(spawn("ptp", Box::new(move || super::ptp::run(p, b)))?);
    }
    let n = rig.node.clone();
    let b = bus.clone();
    handles.push(spawn("node", Box::new(move || super::node::run(n, b)))?);
    Ok(handles)
}

type FileSink = McapSink<std::io::BufWriter<std::fs::File>>;

struct Writer {
    sink: FileSink,
    /// The image companion (`OUT.images.mcap`), when the rig records images.
    images: Option<FileSink>,
    next_audit_id: u64,
}

impl Writer {
    fn write(&mut self, item: Item, stats: &LiveStats) -> Result<()> {
        stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
        match item {
            Item::Message {
                topic,
                log_time_ns,
                data,
            } => match &mut self.images {
                Some(images) if foxglove_topics::BULK_TOPICS.contains(&topic) => {
                    images.write_encoded(topic, log_time_ns, &data)
                }
                _ => self.sink.write_encoded(topic, log_time_ns, &data),
            },
            Item::Audit(mut ev) => {
                self.next_audit_id += 1;
                ev.event_id = self.next_audit_id;
                self.sink
                    .write_encoded(AUDIT, ev.event_ts_ns, &prost::Message::encode_to_vec(&ev))
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.sink.flush_chunk()?;
        if let Some(images) = &mut self.images {
            images.flush_chunk()?;
        }
        Ok(())
    }
}

/// The image companion of a live recording: `REC.mcap` → `REC.images.mcap`.
pub fn images_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}.images.mcap"))
}

/// Metadata key (in `radcam.recording`) naming the image companion file.
pub const IMAGES_FILE_KEY: &str = "images_file";

/// Records the rig until `interrupt` is set or the duration elapses. `progress` gets a
/// snapshot every `output.progress_interval_ms`.
pub fn record_rig(
    rig: &Rig,
    req: &LiveRequest,
    interrupt: Arc<AtomicBool>,
    mut progress: impl FnMut(&Progress),
) -> Result<LiveSummary> {
    let part = partial_path(&req.out);
    let compressed = rig.output.compression == super::rig::ChunkCompression::Zstd;
    let records_images = rig
        .camera
        .as_ref()
        .is_some_and(|c| c.image_policy != super::rig::ImagePolicy::None);
    let images_part = partial_path(&images_path(&req.out));
    let mut sink = McapSink::create_with(&part, compressed)?;
    let entries = crate::writer::entries;
    sink.metadata(
        metadata::RECORDING_METADATA,
        entries(&[
            (keys::TOOL_VERSION, env!("CARGO_PKG_VERSION").to_owned()),
            (keys::SOURCE, "rig".to_owned()),
            ("rig_id", rig.rig_id.clone().unwrap_or_default()),
            (
                keys::DURATION_S,
                req.duration_s
                    .map_or("until stopped".into(), |d| d.to_string()),
            ),
            (keys::CONFIG_VERSION, "1".to_owned()),
            (
                keys::CAL_VERSION,
                rig.calibration_record
                    .as_ref()
                    .map_or("0".into(), |(v, _)| v.to_string()),
            ),
            ("host_start_ns", host_now_ns().to_string()),
            (
                IMAGES_FILE_KEY,
                if records_images {
                    images_path(&req.out)
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                } else {
                    String::new()
                },
            ),
        ]),
    )?;
    sink.metadata(RIG_METADATA, entries(&[("toml", req.rig_toml.clone())]))?;
    if let Some((_, json)) = &rig.calibration_record {
        sink.metadata(
            metadata::CALIBRATION_METADATA,
            entries(&[(metadata::CALIBRATION_JSON_KEY, json.clone())]),
        )?;
    }
    sink.flush_chunk()?;
    // images go to an uncompressed companion: the timing file stays small, a replay never reads
    // an image byte, and raw frames are written at disk speed (radcam bench record)
    let images = if records_images {
        let mut s = McapSink::create_with(&images_part, false)?;
        s.metadata(RIG_METADATA, entries(&[("toml", req.rig_toml.clone())]))?;
        Some(s)
    } else {
        None
    };

    let stop = Arc::new(AtomicBool::new(false));
    let (bus, rx) = Bus::new(rig.output.queue_capacity, stop.clone());
    let stats = bus.stats.clone();
    let failures = Arc::new(SourceFailures::default());
    let handles = spawn_sources(rig, &bus, &failures)?;
    drop(bus);
    let mut w = Writer {
        sink,
        images,
        next_audit_id: 0,
    };

    let started = Instant::now();
    let flush_every = Duration::from_millis(rig.output.flush_interval_ms);
    let progress_every = Duration::from_millis(rig.output.progress_interval_ms);
    let (mut last_flush, mut last_progress) = (started, started);
    let mut prev = Progress::default();
    // a length no clock can reach (the CLI refuses those) records until stopped
    let deadline = req.duration_s.and_then(|d| {
        Duration::try_from_secs_f64(d.max(0.0))
            .ok()
            .and_then(|d| started.checked_add(d))
    });
    let mut failure: Option<Error> = None;
    let reason = loop {
        if interrupt.load(Ordering::Relaxed) {
            break StopReason::Interrupted;
        }
        if failures.failed.load(Ordering::Relaxed) {
            // stopped as by a signal; the failure is the result once the file is finalized
            break StopReason::Interrupted;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break StopReason::Duration;
        }
        let wait = deadline.map_or(Duration::from_millis(50), |d| {
            d.saturating_duration_since(now)
                .min(Duration::from_millis(50))
        });
        let step = match rx.recv_timeout(wait) {
            Ok(item) => w.write(item, &stats),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Ok(()),
        };
        let step = step.and_then(|()| {
            if last_flush.elapsed() >= flush_every {
                last_flush = Instant::now();
                w.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = step {
            failure = Some(e);
            break StopReason::Interrupted;
        }
        if last_progress.elapsed() >= progress_every {
            let dt = last_progress.elapsed().as_secs_f64();
            last_progress = Instant::now();
            prev = snapshot(rig, &stats, started.elapsed().as_secs_f64(), &prev, dt);
            progress(&prev);
        }
    };
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let stopped = |e: Error| Error::Stopped {
        part: part.clone(),
        out: req.out.clone(),
        source: Box::new(e),
    };
    if let Some(e) = failure {
        return Err(stopped(e));
    }
    // what the sources queued before they stopped
    while let Ok(item) = rx.try_recv() {
        w.write(item, &stats).map_err(stopped)?;
    }
    // the final counters, after every source stopped
    let fin = super::node::sample_stats(&stats, &rig.node, 0.0);
    w.sink.write(fin.host_ns, &fin).map_err(stopped)?;
    let dt = last_progress.elapsed().as_secs_f64();
    let last = snapshot(rig, &stats, started.elapsed().as_secs_f64(), &prev, dt);
    let mut counts = w.sink.finish().map_err(stopped)?;
    if let Some(images) = w.images {
        let image_counts = images.finish().map_err(stopped)?;
        for (topic, n) in image_counts {
            *counts.entry(topic).or_insert(0) += n;
        }
        let out = images_path(&req.out);
        std::fs::rename(&images_part, &out).map_err(|source| Error::Io { path: out, source })?;
    }
    std::fs::rename(&part, &req.out).map_err(|source| Error::Io {
        path: req.out.clone(),
        source,
    })?;
    // a source may also have failed while the others were being stopped
    if let Some((source, message)) = failures.first() {
        return Err(Error::SourceFailed {
            source_name: source,
            message,
            out: req.out.clone(),
        });
    }
    Ok(LiveSummary {
        counts,
        path: req.out.clone(),
        reason,
        elapsed_s: started.elapsed().as_secs_f64(),
        last,
    })
}

/// Loads a rig file for [`record_rig`]: the parsed rig and its text.
pub fn load_rig(path: &Path) -> std::result::Result<(Rig, String), super::rig::RigError> {
    let text = std::fs::read_to_string(path).map_err(|error| super::rig::RigError::Io {
        path: path.to_owned(),
        error,
    })?;
    Ok((Rig::parse(&text, path)?, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_panics_is_kept_not_lost() {
        let failures = Arc::new(SourceFailures::default());
        failures.run("node", || {});
        assert_eq!(
            failures.first(),
            None,
            "a source that returns is no failure"
        );
        let f = failures.clone();
        std::thread::spawn(move || f.run("ptp", || panic!("period of {} s", 1 << 20)))
            .join()
            .expect("the panic stays inside run");
        assert_eq!(
            failures.first(),
            Some(("ptp", "period of 1048576 s".to_owned()))
        );
        // a later one does not replace the first; a `&str` payload is kept as well
        failures.run("radar", || panic!("second"));
        assert_eq!(failures.first().map(|f| f.0), Some("ptp"));
        let other = SourceFailures::default();
        other.run("camera", || std::panic::panic_any("plain"));
        assert_eq!(other.first(), Some(("camera", "plain".to_owned())));
        let e = Error::SourceFailed {
            source_name: "ptp",
            message: "boom".into(),
            out: PathBuf::from("rec.mcap"),
        };
        assert_eq!(
            e.to_string(),
            "the ptp source failed (boom); the recording stopped, and what was recorded until \
             then is complete in rec.mcap"
        );
    }
}
