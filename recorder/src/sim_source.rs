//! The simulator as a recording source.

use crate::{Error, McapSink, Result};
use radcam_scenarios::{Scenario, SimMessage, Simulator};
use radcam_schema::foxglove_topics::{self, CAMERA_ANNOTATIONS, CAMERA_IMAGE, RADAR_POINTS};
use radcam_schema::metadata::{self, keys};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed for every random draw.
    pub seed: u64,
    /// Simulated duration, s.
    pub duration_s: f64,
    /// Output MCAP path.
    pub out: PathBuf,
}

/// What a recording wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSummary {
    /// Messages per topic.
    pub counts: BTreeMap<&'static str, u64>,
    /// Output path.
    pub path: PathBuf,
}

/// The file a recording is written to until it is complete; renamed to the output at the end.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    out.with_file_name(name)
}

/// How a simulated recording runs against the wall clock.
#[derive(Debug, Clone, Default)]
pub struct RecordControl {
    /// Pace the simulator at this many simulated seconds per wall second (`None`: as fast as
    /// possible). Paced recordings flush a chunk every wall second, like a live one.
    pub realtime_factor: Option<f64>,
    /// Stop early (Ctrl-C): the file is finalized with what was simulated so far.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Metadata record written when a recording was stopped before its duration: key `at_ns`
/// (last log time written) and `reason`.
pub const STOPPED_METADATA: &str = "radcam.stopped";

/// Records the simulator into an MCAP file. `progress` is called with the fraction done.
pub fn record_scenario(req: &RecordRequest, progress: impl FnMut(f64)) -> Result<RecordSummary> {
    record_scenario_with(req, |_| {}, progress)
}

/// As [`record_scenario`], passing every simulated event through `edit` before it is written
/// (to damage inputs on purpose: NaN points, impossible boxes).
pub fn record_scenario_with(
    req: &RecordRequest,
    edit: impl FnMut(&mut radcam_scenarios::SimEvent),
    progress: impl FnMut(f64),
) -> Result<RecordSummary> {
    record_scenario_controlled(req, &RecordControl::default(), edit, progress)
}

/// As [`record_scenario_with`], paced and stoppable by `ctl`.
pub fn record_scenario_controlled(
    req: &RecordRequest,
    ctl: &RecordControl,
    edit: impl FnMut(&mut radcam_scenarios::SimEvent),
    mut progress: impl FnMut(f64),
) -> Result<RecordSummary> {
    let part = partial_path(&req.out);
    // a write that fails half way (a full disk) leaves the complete chunks in the .part file
    let counts = write_scenario(req, ctl, edit, &mut progress, &part).map_err(|e| match e {
        e @ (Error::Mcap { .. } | Error::Io { .. }) if part.exists() => Error::Stopped {
            part: part.clone(),
            out: req.out.clone(),
            source: Box::new(e),
        },
        e => e,
    })?;
    std::fs::rename(&part, &req.out).map_err(|source| Error::Io {
        path: req.out.clone(),
        source,
    })?;
    progress(1.0);
    Ok(RecordSummary {
        counts,
        path: req.out.clone(),
    })
}

fn write_scenario(
    req: &RecordRequest,
    ctl: &RecordControl,
    mut edit: impl FnMut(&mut radcam_scenarios::SimEvent),
    progress: &mut impl FnMut(f64),
    part: &Path,
) -> Result<BTreeMap<&'static str, u64>> {
    let mut sink = McapSink::create(part)?;
    let sim = Simulator::new(&req.scenario, req.seed, req.duration_s);
    let cal = sim.calibration().clone();
    let entries = crate::writer::entries;
    sink.metadata(
        metadata::RECORDING_METADATA,
        entries(&[
            (keys::TOOL_VERSION, env!("CARGO_PKG_VERSION").to_owned()),
            (keys::SOURCE, "sim".to_owned()),
            (keys::SCENARIO, req.scenario.name.clone()),
            (keys::SCENARIO_HASH, req.scenario.content_hash()),
            (keys::SEED, req.seed.to_string()),
            (keys::DURATION_S, req.duration_s.to_string()),
            (keys::CAL_VERSION, cal.cal_version.to_string()),
            (keys::CONFIG_VERSION, "1".to_owned()),
        ]),
    )?;
    sink.metadata(
        metadata::CALIBRATION_METADATA,
        entries(&[(metadata::CALIBRATION_JSON_KEY, cal.canonical_json())]),
    )?;
    sink.metadata(
        metadata::SCENARIO_METADATA,
        entries(&[(metadata::SCENARIO_TOML_KEY, req.scenario.canonical_toml())]),
    )?;
    let start = sim.start_ns();
    let span = (req.duration_s * 1e9).max(1.0);
    let mut last_report = 0.0;
    let wall0 = Instant::now();
    let mut last_flush = wall0;
    let mut stopped_at = None;
    let stopping = || ctl.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
    for mut ev in sim {
        edit(&mut ev);
        let t = ev.log_time_ns;
        if let Some(f) = ctl.realtime_factor {
            let due = wall0 + Duration::from_secs_f64(((t - start) as f64 / 1e9 / f).max(0.0));
            // pacing: wait for the event's wall time, waking to honour a stop request
            while Instant::now() < due && !stopping() {
                std::thread::sleep((due - Instant::now()).min(Duration::from_millis(20)));
            }
            if last_flush.elapsed() >= Duration::from_secs(1) {
                sink.flush_chunk()?;
                last_flush = Instant::now();
            }
        }
        if stopping() {
            stopped_at = Some(t);
            break;
        }
        match &ev.message {
            SimMessage::CameraFrame(m) => sink.write(t, m)?,
            SimMessage::CameraLatch(m) => sink.write(t, m)?,
            SimMessage::CameraDetections(m) => sink.write(t, m)?,
            SimMessage::RadarFrame(m) => sink.write(t, m)?,
            SimMessage::PtpStatus(m) => sink.write(t, m)?,
            SimMessage::NodeStats(m) => sink.write(t, m)?,
            SimMessage::Audit(m) => sink.write(t, m)?,
            SimMessage::TruthObjects(m) => sink.write(t, m)?,
            SimMessage::TruthClock(m) => sink.write(t, m)?,
            SimMessage::Image(m) => {
                sink.write_encoded(CAMERA_IMAGE, t, &foxglove_topics::encode(CAMERA_IMAGE, m)?)?
            }
            SimMessage::Annotations(m) => sink.write_encoded(
                CAMERA_ANNOTATIONS,
                t,
                &foxglove_topics::encode(CAMERA_ANNOTATIONS, m)?,
            )?,
            SimMessage::Points(m) => {
                sink.write_encoded(RADAR_POINTS, t, &foxglove_topics::encode(RADAR_POINTS, m)?)?
            }
        }
        let done = ((t - start) as f64 / span).clamp(0.0, 1.0);
        if done - last_report >= 0.01 {
            progress(done);
            last_report = done;
        }
    }
    if let Some(at) = stopped_at {
        sink.metadata(
            STOPPED_METADATA,
            entries(&[
                ("at_ns", at.to_string()),
                ("reason", "interrupted".to_owned()),
            ]),
        )?;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path, name: &str, seed: u64) -> (PathBuf, RecordSummary) {
        let out = dir.join(name);
        let req = RecordRequest {
            scenario: Scenario::demo().expect("demo"),
            seed,
            duration_s: 2.0,
            out: out.clone(),
        };
        let s = record_scenario(&req, |_| {}).expect("records");
        (out, s)
    }

    #[test]
    fn same_seed_gives_byte_identical_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, sa) = record(dir.path(), "a.mcap", 5);
        let (b, _) = record(dir.path(), "b.mcap", 5);
        let (c, _) = record(dir.path(), "c.mcap", 6);
        let read = |p: &Path| std::fs::read(p).expect("read");
        assert_eq!(read(&a), read(&b));
        assert_ne!(read(&a), read(&c));
        assert!(!partial_path(&a).exists());
        assert_eq!(sa.counts.get(radcam_schema::topics::TRUTH_CLOCK), Some(&60));
    }

    #[test]
    fn view_only_and_bulk_topics_never_share_a_chunk_with_the_replayed_topics() {
        use radcam_schema::foxglove_topics::{BULK_TOPICS, VIEW_ONLY_TOPICS};
        let dir = tempfile::tempdir().expect("tmp");
        // long enough for many images, and a few view-only batches of 1 MiB between them
        let out = dir.path().join("r.mcap");
        let req = RecordRequest {
            scenario: Scenario::demo().expect("demo"),
            seed: 3,
            duration_s: 80.0,
            out: out.clone(),
        };
        let summary = record_scenario(&req, |_| {}).expect("records");
        let bytes = std::fs::read(&out).expect("read");
        let s = mcap::Summary::read(&bytes)
            .expect("summary")
            .expect("a summary");
        let topic = |id: &u16| s.channels[id].topic.as_str();
        let group = |t: &str| {
            if VIEW_ONLY_TOPICS.contains(&t) {
                "view-only"
            } else if BULK_TOPICS.contains(&t) {
                "bulk"
            } else {
                "replayed"
            }
        };
        let mut groups_seen = std::collections::BTreeSet::new();
        let mut view_only_chunks = 0;
        for c in &s.chunk_indexes {
            let groups: std::collections::BTreeSet<&str> = c
                .message_index_offsets
                .keys()
                .map(|id| group(topic(id)))
                .collect();
            // (a chunk with no message holds the schema and channel records)
            assert!(
                groups.len() <= 1,
                "chunk at {} mixes {groups:?}",
                c.chunk_start_offset
            );
            view_only_chunks += usize::from(groups.contains("view-only"));
            groups_seen.extend(groups);
        }
        assert_eq!(groups_seen.len(), 3, "{groups_seen:?}");
        // batched: a few chunks in all, not one per image or flush
        assert!((2..=8).contains(&view_only_chunks), "{view_only_chunks}");
        // nothing held back is lost: every message written is in the file, in order per topic
        let mut read = std::collections::BTreeMap::<String, Vec<u32>>::new();
        for m in mcap::MessageStream::new(&bytes).expect("stream") {
            let m = m.expect("message");
            read.entry(m.channel.topic.clone())
                .or_default()
                .push(m.sequence);
        }
        for (t, n) in &summary.counts {
            let seqs = read.get(*t).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(seqs.len() as u64, *n, "{t}");
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{t}: out of order");
        }
    }
}
