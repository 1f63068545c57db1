//! `radcam extract REC.mcap --window A..B --out SLICE.mcap`: an incident slice that replays
//! and diagnoses on its own.
//!
//! The slice keeps every message of every channel logged inside the window, and carries in what
//! the window depends on from before it:
//! - every metadata record (calibration, recording info, rig or scenario), plus a
//!   `radcam.slice` record naming the source, its SHA-256 and the window;
//! - every `/audit` event before the window (the history of calibration and config versions);
//! - the camera latches and PTP status of a lead-in (default 10 s), so the clock estimator and
//!   the sync state are settled when the window opens;
//! - the last message of every other channel before the window (its last known state).
//!
//! Channels outside the topic contract (a logger's own topics merged into the recording) are
//! kept like the others, with their schema, encodings and metadata as they were.

use crate::reader::McapFile;
use crate::{Error, Result};
use radcam_recorder::McapSink;
use radcam_schema::topics;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Metadata record of a slice: `source`, `source_sha256`, `window_s`, `start_ns`, `end_ns`,
/// `lead_in_s`.
pub const SLICE_METADATA: &str = "radcam.slice";
/// Default lead-in of latches and PTP status before the window, s.
pub const DEFAULT_LEAD_IN_S: f64 = 10.0;

/// Latest time a window may name, s from the recording's first message (its nanoseconds
/// stay far inside every time type).
pub const MAX_WINDOW_S: f64 = 1e9;

/// A time window in seconds from the recording's first message: `A..B`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Start, s from the first message.
    pub start_s: f64,
    /// End, s from the first message.
    pub end_s: f64,
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("'{s}': a window is A..B, seconds from the recording start"))?;
        let num = |x: &str, what: &str| -> std::result::Result<f64, String> {
            let x = x.trim().trim_end_matches('s');
            let v = x
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("'{s}': {what} '{x}' is not a number of seconds ≥ 0"))?;
            if v > MAX_WINDOW_S {
                return Err(format!(
                    "'{s}': {what} '{x}' is more than {MAX_WINDOW_S:e} s (about 31 years) from the \
                     start: no recording is that long"
                ));
            }
            Ok(v)
        };
        let w = Window {
            start_s: num(a, "start")?,
            end_s: num(b, "end")?,
        };
        if w.end_s <= w.start_s {
            return Err(format!("'{s}': the end must come after the start"));
        }
        Ok(w)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start_s, self.end_s)
    }
}

/// What an extraction wrote.
#[derive(Debug, Clone)]
pub struct ExtractSummary {
    /// The slice.
    pub path: PathBuf,
    /// Messages written per topic (window and carried-in state).
    pub counts: BTreeMap<String, u64>,
    /// Messages from before the window (lead-in, audit history, last states).
    pub carried_in: u64,
    /// The window in log time, ns.
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
}

/// Where a channel of the source goes in the slice.
enum Output {
    /// Its contract channel.
    Contract(&'static str),
    /// A channel like it, outside the contract: this id in the slice.
    Foreign(u16),
}

/// Topics whose lead-in before the window is kept whole.
const LEAD_IN_TOPICS: &[&str] = &[topics::CAMERA_LATCH, topics::PTP_STATUS];

/// Extracts `window` of `rec` into `out` (written as `out.part`, renamed when complete).
pub fn extract(rec: &Path, window: Window, lead_in_s: f64, out: &Path) -> Result<ExtractSummary> {
    crate::out_path::check_output(out, &[(rec, "the recording")])?;
    if !(lead_in_s.is_finite() && lead_in_s >= 0.0) {
        return Err(Error::Invalid {
            path: rec.to_owned(),
            problem: format!("--lead-in: {lead_in_s} is not a number of seconds ≥ 0"),
        });
    }
    let mut file = McapFile::open(rec)?;
    let verified = file.verify()?;
    let metadata = file.metadata()?;
    let (first, last) = file
        .summary()
        .stats
        .as_ref()
        .map(|s| (s.message_start_time, s.message_end_time))
        .unwrap_or((0, 0));
    let span_s = last.saturating_sub(first) as f64 / 1e9;
    if window.start_s >= span_s {
        return Err(Error::Invalid {
            path: rec.to_owned(),
            problem: format!(
                "--window {window}: starts after the recording ends ({span_s:.3} s of messages)"
            ),
        });
    }
    let ns = |s: f64| first.saturating_add((s * 1e9).round() as u64);
    let (t0, t1) = (ns(window.start_s), ns(window.end_s).min(last));
    let lead_from = t0.saturating_sub((lead_in_s * 1e9).round() as u64);

    let part = radcam_recorder::sim_source::partial_path(out);
    let mut sink = McapSink::create(&part)?;
    // every channel of the file: a contract topic goes to its contract channel, any other (a
    // merged recording's own topics) to a channel like it, schema and metadata as they were
    let mut outputs: BTreeMap<u16, Output> = BTreeMap::new();
    for (&id, channel) in &file.summary().channels {
        let output = match sink.contract_topic(&channel.topic) {
            Some(topic) => Output::Contract(topic),
            None => Output::Foreign(sink.add_foreign_channel(channel)?),
        };
        outputs.insert(id, output);
    }
    let all: BTreeSet<String> = file
        .summary()
        .channels
        .values()
        .map(|c| c.topic.clone())
        .collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    for (name, entries) in &metadata {
        if name != SLICE_METADATA {
            sink.metadata(name, entries.clone())?;
        }
    }
    let mut slice = BTreeMap::new();
    slice.insert("source".to_owned(), rec.display().to_string());
    slice.insert("source_sha256".to_owned(), verified.content_hash.clone());
    slice.insert("window_s".to_owned(), window.to_string());
    slice.insert("start_ns".to_owned(), t0.to_string());
    slice.insert("end_ns".to_owned(), t1.to_string());
    slice.insert("lead_in_s".to_owned(), lead_in_s.to_string());
    sink.metadata(SLICE_METADATA, slice)?;

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut carried_in = 0u64;
    // the last message before the window of each channel: (log time, topic, bytes)
    let mut held: BTreeMap<u16, (u64, String, Vec<u8>)> = BTreeMap::new();
    let mut released = false;
    let mut write = |sink: &mut McapSink<_>, id: u16, topic: &str, t: u64, data: &[u8]| {
        *counts.entry(topic.to_owned()).or_insert(0) += 1;
        match outputs.get(&id) {
            Some(Output::Contract(topic)) => sink.write_encoded(topic, t as i64, data),
            Some(Output::Foreign(out_id)) => sink.write_foreign(*out_id, t, data),
            None => Ok(()),
        }
    };
    file.for_each_message(&all_refs, |m| {
        let (id, topic, t) = (m.channel_id, m.topic, m.log_time_ns);
        let lead_in = LEAD_IN_TOPICS.contains(&topic);
        if t < t0 {
            if topic == topics::AUDIT || (lead_in && t >= lead_from) {
                carried_in += 1;
                write(&mut sink, id, topic, t, m.data)?;
            } else if !lead_in {
                held.insert(id, (t, topic.to_owned(), m.data.to_vec()));
            }
            return Ok(());
        }
        if !released {
            released = true;
            let mut last: Vec<_> = std::mem::take(&mut held).into_iter().collect();
            last.sort_by(|(a_id, (a_t, a_topic, _)), (b_id, (b_t, b_topic, _))| {
                (a_t, a_topic, a_id).cmp(&(b_t, b_topic, b_id))
            });
            for (id, (t, topic, data)) in last {
                carried_in += 1;
                write(&mut sink, id, &topic, t, &data)?;
            }
        }
        if t <= t1 {
            write(&mut sink, id, topic, t, m.data)?;
        }
        Ok(())
    })?;
    sink.finish_into(&part, out)?;
    Ok(ExtractSummary {
        path: out.to_owned(),
        counts,
        carried_in,
        start_ns: t0,
        end_ns: t1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_refuse_nonsense() {
        let w: Window = "20..40".parse().expect("window");
        assert_eq!((w.start_s, w.end_s), (20.0, 40.0));
        let w: Window = "1.5s..2s".parse().expect("window with units");
        assert_eq!((w.start_s, w.end_s), (1.5, 2.0));
        for bad in ["40..20", "20", "a..b", "-1..3", "5..5", "nan..3"] {
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
        // a window past any recording is refused: its nanoseconds would wrap
        let w: Window = "0..1e9".parse().expect("the latest window");
        assert_eq!(w.end_s, MAX_WINDOW_S);
        for (bad, named) in [("1..1e300", "end '1e300'"), ("2e9..3e9", "start '2e9'")] {
            let e = bad.parse::<Window>().expect_err(bad);
            assert!(e.contains(named) && e.contains("more than 1e9 s"), "{e}");
        }
    }

    #[test]
    fn a_window_running_past_the_recording_ends_with_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = dir.path().join("rec.mcap");
        radcam_recorder::record_scenario(
            &radcam_recorder::RecordRequest {
                scenario: radcam_scenarios::Scenario::demo().expect("demo"),
                seed: 1,
                duration_s: 3.0,
                out: rec.clone(),
            },
            |_| {},
        )
        .expect("record");
        let slice = |window: &str, name: &str| {
            let out = dir.path().join(name);
            extract(&rec, window.parse().expect("window"), 0.0, &out).expect("extract")
        };
        let (to_end, far) = (slice("1..3", "a.mcap"), slice("1..1e9", "b.mcap"));
        assert_eq!(far.counts, to_end.counts);
        assert_eq!(far.end_ns, to_end.end_ns);
        assert!(far.counts["/camera/frame"] > 30, "{:?}", far.counts);
    }
}
