//! `radcam inspect`: what a recording holds.

use crate::{Error, McapFile, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One channel of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    /// Topic.
    pub topic: String,
    /// Schema name.
    pub schema: String,
    /// Message encoding.
    pub encoding: String,
    /// Messages on it.
    pub messages: u64,
    /// Mean rate over the recording, Hz.
    pub rate_hz: f64,
}

/// A recording's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// File path.
    pub path: PathBuf,
    /// File size, bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub content_hash: String,
    /// First and last message log time, ns.
    pub start_ns: u64,
    /// Last message log time, ns.
    pub end_ns: u64,
    /// Channels, sorted by topic.
    pub channels: Vec<ChannelInfo>,
    /// Chunks in the file.
    pub chunks: u64,
    /// Metadata records (large values elided to their length).
    pub metadata: BTreeMap<String, BTreeMap<String, String>>,
}

impl Inspection {
    /// Span between first and last message, s.
    pub fn duration_s(&self) -> f64 {
        (self.end_ns.saturating_sub(self.start_ns)) as f64 * 1e-9
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path.display().to_string(),
            "bytes": self.bytes,
            "content_hash": self.content_hash,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_s": self.duration_s(),
            "chunks": self.chunks,
            "channels": self.channels.iter().map(|c| serde_json::json!({
                "topic": c.topic, "schema": c.schema, "encoding": c.encoding,
                "messages": c.messages, "rate_hz": c.rate_hz,
            })).collect::<Vec<_>>(),
            "metadata": self.metadata,
        })
    }

    /// As a human-readable table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  ({} bytes, {} chunks)",
            self.path.display(),
            self.bytes,
            self.chunks
        );
        let _ = writeln!(s, "sha256   {}", self.content_hash);
        let _ = writeln!(
            s,
            "span     {:.3} s  (log time {} .. {} ns)",
            self.duration_s(),
            self.start_ns,
            self.end_ns
        );
        // columns as wide as their longest entry (`/camera/image/compressed`, a foreign
        // channel's name), at least as wide as the contract's usual ones
        let width = |f: fn(&ChannelInfo) -> usize, min: usize| {
            self.channels.iter().map(f).fold(min, usize::max)
        };
        let (tw, sw) = (
            width(|c| c.topic.chars().count(), 22),
            width(|c| c.schema.chars().count(), 28),
        );
        let _ = writeln!(
            s,
            "\n{:<tw$} {:<sw$} {:>10} {:>9}",
            "topic", "schema", "messages", "rate Hz"
        );
        for c in &self.channels {
            let _ = writeln!(
                s,
                "{:<tw$} {:<sw$} {:>10} {:>9.2}",
                c.topic, c.schema, c.messages, c.rate_hz
            );
        }
        for (name, kv) in &self.metadata {
            let _ = writeln!(s, "\nmetadata {name}");
            for (k, v) in kv {
                let _ = writeln!(s, "  {k:<16} {v}");
            }
        }
        s
    }
}

/// Inspects a recording, verifying every CRC on the way.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let mut file = McapFile::open(path)?;
    let verified = file.verify()?;
    let metadata = file
        .metadata()?
        .into_iter()
        .map(|(name, kv)| {
            let kv = kv
                .into_iter()
                .map(|(k, v)| {
                    let v = if v.len() > 120 {
                        format!("<{} bytes>", v.len())
                    } else {
                        v
                    };
                    (k, v)
                })
                .collect();
            (name, kv)
        })
        .collect();
    let summary = file.summary();
    let stats = summary.stats.as_ref().ok_or_else(|| Error::Missing {
        path: path.to_owned(),
        what: "no statistics record in the summary".into(),
    })?;
    let span_s = (stats
        .message_end_time
        .saturating_sub(stats.message_start_time)) as f64
        * 1e-9;
    let mut channels: Vec<ChannelInfo> = summary
        .channels
        .iter()
        .map(|(id, c)| {
            let messages = stats.channel_message_counts.get(id).copied().unwrap_or(0);
            ChannelInfo {
                topic: c.topic.clone(),
                schema: c.schema.as_ref().map_or(String::new(), |s| s.name.clone()),
                encoding: c.message_encoding.clone(),
                messages,
                rate_hz: if span_s > 0.0 {
                    messages as f64 / span_s
                } else {
                    0.0
                },
            }
        })
        .collect();
    channels.sort_by(|a, b| a.topic.cmp(&b.topic));
    Ok(Inspection {
        path: path.to_owned(),
        bytes: verified.bytes,
        content_hash: verified.content_hash,
        start_ns: stats.message_start_time,
        end_ns: stats.message_end_time,
        channels,
        chunks: u64::from(stats.chunk_count),
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_table_is_as_wide_as_its_longest_topic() {
        let channel = |topic: &str, schema: &str, messages| ChannelInfo {
            topic: topic.into(),
            schema: schema.into(),
            encoding: "protobuf".into(),
            messages,
            rate_hz: 1.0,
        };
        let i = Inspection {
            path: "rec.mcap".into(),
            bytes: 1,
            content_hash: "00".into(),
            start_ns: 0,
            end_ns: 1_000_000_000,
            channels: vec![
                channel("/camera/image", "foxglove.RawImage", 30),
                channel("/camera/image/compressed", "foxglove.CompressedImage", 0),
                channel(
                    "/vendor/a/very/long/topic/name",
                    "vendor.SchemaWithALongName",
                    7,
                ),
            ],
            chunks: 1,
            metadata: BTreeMap::new(),
        };
        let text = i.to_text();
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("topic"))
            .take(4)
            .collect();
        assert_eq!(rows.len(), 4, "{text}");
        // fixed-width columns line up when every row, the header's too, is as long
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{text}");
        assert!(rows[0].ends_with("messages   rate Hz"), "{text}");
    }
}
