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

use crate::reader::McapFile;
use crate::{Error, Result};
use radcam_recorder::McapSink;
use radcam_schema::topics;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metadata record of a slice: `source`, `source_sha256`, `window_s`, `start_ns`, `end_ns`,
/// `lead_in_s`.
pub const SLICE_METADATA: &str = "radcam.slice";
/// Default lead-in of latches and PTP status before the window, s.
pub const DEFAULT_LEAD_IN_S: f64 = 10.0;

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
            x.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("'{s}': {what} '{x}' is not a number of seconds ≥ 0"))
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

/// Topics whose lead-in before the window is kept whole.
const LEAD_IN_TOPICS: &[&str] = &[topics::CAMERA_LATCH, topics::PTP_STATUS];

/// Extracts `window` of `rec` into `out` (written as `out.part`, renamed when complete).
pub fn extract(rec: &Path, window: Window, lead_in_s: f64, out: &Path) -> Result<ExtractSummary> {
    if rec == out {
        return Err(Error::Invalid {
            path: out.to_owned(),
            problem: "--out must differ from the recording".into(),
        });
    }
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
    let ns = |s: f64| first + (s * 1e9).round() as u64;
    let (t0, t1) = (ns(window.start_s), ns(window.end_s).min(last));
    let lead_from = t0.saturating_sub((lead_in_s * 1e9).round() as u64);

    let part = radcam_recorder::sim_source::partial_path(out);
    let mut sink = McapSink::create(&part)?;
    let all: Vec<String> = file
        .summary()
        .channels
        .values()
        .map(|c| c.topic.clone())
        .filter(|t| sink.contract_topic(t).is_some())
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
    let mut held: BTreeMap<&'static str, (u64, Vec<u8>)> = BTreeMap::new();
    let mut released = false;
    let mut write = |sink: &mut McapSink<_>, topic: &'static str, t: u64, data: &[u8]| {
        *counts.entry(topic.to_owned()).or_insert(0) += 1;
        sink.write_encoded(topic, t as i64, data)
    };
    file.for_each_message(&all_refs, |m| {
        let Some(topic) = sink.contract_topic(m.topic) else {
            return Ok(());
        };
        let t = m.log_time_ns;
        if t < t0 {
            let whole =
                topic == topics::AUDIT || (LEAD_IN_TOPICS.contains(&topic) && t >= lead_from);
            if whole {
                carried_in += 1;
                write(&mut sink, topic, t, m.data)?;
            } else if !LEAD_IN_TOPICS.contains(&topic) {
                held.insert(topic, (t, m.data.to_vec()));
            }
            return Ok(());
        }
        if !released {
            released = true;
            let mut last: Vec<_> = std::mem::take(&mut held).into_iter().collect();
            last.sort_by_key(|(_, (t, _))| *t);
            for (topic, (t, data)) in last {
                carried_in += 1;
                write(&mut sink, topic, t, &data)?;
            }
        }
        if t <= t1 {
            write(&mut sink, topic, t, m.data)?;
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
    }
}
