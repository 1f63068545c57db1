//! The MCAP writer: every contract channel registered up front, chunked, indexed, zstd.

use crate::{Error, Result};
use mcap::records::{MessageHeader, Metadata};
use radcam_schema::{ChannelSpec, TopicMessage, foxglove_topics, topics};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// Target uncompressed chunk size, bytes.
pub const CHUNK_SIZE: u64 = 4 * 1024 * 1024;
/// zstd level of compressed chunks: −1, zstd's fast mode, which leaves literals (most of a
/// radar frame's or detection's float bytes) uncoded instead of Huffman-coding them. On the
/// demo rig's timing chunks that is 9 % more bytes than the default level 3, for a third of
/// the recorder's compression time and a sixth of every replay's decompression time (which
/// was 15 % of the replay thread's instructions).
const ZSTD_LEVEL: i32 = -1;
/// View-only messages held back before they are written as chunks of their own, bytes.
const VIEW_ONLY_BATCH: usize = 1 << 20;
/// Log time the oldest held view-only message may wait before a chunk flush writes the
/// batch, ns: a batch a flush or a second would make the file's chunk index half again as
/// long (a recorder's and a replay's memory grows with it).
const VIEW_ONLY_HOLD_NS: u64 = 10_000_000_000;

/// An MCAP file being written, with every contract channel registered.
pub struct McapSink<W: Write + Seek> {
    path: PathBuf,
    writer: mcap::Writer<W>,
    channels: BTreeMap<&'static str, u16>,
    sequence: BTreeMap<u16, u32>,
    counts: BTreeMap<&'static str, u64>,
    /// View-only messages ([`foxglove_topics::VIEW_ONLY_TOPICS`]) not yet written: their
    /// headers with their ranges in `held_data`. Written once they reach
    /// [`VIEW_ONLY_BATCH`] bytes, at the first chunk flush [`VIEW_ONLY_HOLD_NS`] after the
    /// oldest, and at finish: a kill loses at most that much of them (they duplicate, for
    /// viewing, what the timing topics carry).
    held: Vec<(MessageHeader, std::ops::Range<usize>)>,
    held_data: Vec<u8>,
    /// Latest log time written or held, ns.
    latest_ns: u64,
}

impl McapSink<BufWriter<File>> {
    /// Creates `path` (truncating it).
    pub fn create(path: &Path) -> Result<Self> {
        Self::create_with(path, true)
    }

    /// Creates `path` with zstd chunks, or uncompressed ones (`compressed` false: raw image
    /// companions, where compression would cost more than the disk).
    pub fn create_with(path: &Path, compressed: bool) -> Result<Self> {
        let file = File::create(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::new_with(BufWriter::with_capacity(1 << 20, file), path, compressed)
    }
}

impl<W: Write + Seek> McapSink<W> {
    /// Wraps a writer; `path` names it in errors.
    pub fn new(w: W, path: &Path) -> Result<Self> {
        Self::new_with(w, path, true)
    }

    /// As [`McapSink::new`], with or without zstd.
    pub fn new_with(w: W, path: &Path, compressed: bool) -> Result<Self> {
        let mcap_err = |source| Error::Mcap {
            path: path.to_owned(),
            source,
        };
        let writer = mcap::WriteOptions::new()
            .compression(compressed.then_some(mcap::Compression::Zstd))
            // the mcap crate takes the level as u32 and hands it to zstd as i32: this is how
            // it spells a negative one (`zstd_chunks_use_the_fast_level` checks it arrives)
            .compression_level(ZSTD_LEVEL.cast_unsigned())
            .chunk_size(Some(CHUNK_SIZE))
            // single-threaded zstd: the same bytes on every machine
            .compression_threads(0)
            .profile("radcam")
            .create(w)
            .map_err(mcap_err)?;
        let mut sink = Self {
            path: path.to_owned(),
            writer,
            channels: BTreeMap::new(),
            sequence: BTreeMap::new(),
            counts: BTreeMap::new(),
            held: Vec::new(),
            held_data: Vec::with_capacity(VIEW_ONLY_BATCH),
            latest_ns: 0,
        };
        let mut specs = topics::radcam_channels();
        specs.extend(foxglove_topics::foxglove_channels()?);
        for spec in &specs {
            sink.add_channel(spec)?;
        }
        Ok(sink)
    }

    fn mcap_err(&self, source: mcap::McapError) -> Error {
        Error::Mcap {
            path: self.path.clone(),
            source,
        }
    }

    fn add_channel(&mut self, spec: &ChannelSpec) -> Result<()> {
        let schema = self
            .writer
            .add_schema(&spec.schema_name, spec.schema_encoding, &spec.schema_data)
            .map_err(|e| self.mcap_err(e))?;
        let id = self
            .writer
            .add_channel(schema, spec.topic, spec.message_encoding, &BTreeMap::new())
            .map_err(|e| self.mcap_err(e))?;
        self.channels.insert(spec.topic, id);
        Ok(())
    }

    /// The contract topic named `topic` (every contract channel is registered), `None` for a
    /// topic outside the contract.
    pub fn contract_topic(&self, topic: &str) -> Option<&'static str> {
        self.channels.get_key_value(topic).map(|(t, _)| *t)
    }

    /// Writes one contract message logged at `log_time_ns` (host CLOCK_MONOTONIC_RAW).
    pub fn write<T: TopicMessage>(&mut self, log_time_ns: i64, msg: &T) -> Result<()> {
        self.write_encoded(T::TOPIC, log_time_ns, &msg.encode_to_vec())
    }

    /// Writes already encoded bytes on `topic` (which must be a contract topic).
    pub fn write_encoded(
        &mut self,
        topic: &'static str,
        log_time_ns: i64,
        data: &[u8],
    ) -> Result<()> {
        let log_time =
            u64::try_from(log_time_ns).map_err(|_| Error::NegativeTime { topic, log_time_ns })?;
        let channel_id = *self
            .channels
            .get(topic)
            .ok_or(Error::UnknownTopic { topic })?;
        let seq = self.sequence.entry(channel_id).or_insert(0);
        *seq = seq.wrapping_add(1);
        let header = MessageHeader {
            channel_id,
            sequence: *seq,
            log_time,
            publish_time: log_time,
        };
        *self.counts.entry(topic).or_insert(0) += 1;
        self.latest_ns = self.latest_ns.max(log_time);
        if foxglove_topics::VIEW_ONLY_TOPICS.contains(&topic) {
            // a full batch goes out before it would outgrow its buffer
            if !self.held.is_empty() && self.held_data.len() + data.len() > VIEW_ONLY_BATCH {
                self.write_held()?;
            }
            let at = self.held_data.len();
            self.held_data.extend_from_slice(data);
            self.held.push((header, at..self.held_data.len()));
            return Ok(());
        }
        // bulky messages (images) get chunks of their own: a replay skips them unread
        let bulk = foxglove_topics::BULK_TOPICS.contains(&topic);
        if bulk {
            self.writer.flush().map_err(|e| self.mcap_err(e))?;
        }
        self.writer
            .write_to_known_channel(&header, data)
            .map_err(|e| self.mcap_err(e))?;
        if bulk {
            self.writer.flush().map_err(|e| self.mcap_err(e))?;
        }
        Ok(())
    }

    /// Ends the open chunk, then writes the held view-only messages as chunks of their own.
    fn write_held(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| self.mcap_err(e))?;
        if self.held.is_empty() {
            return Ok(());
        }
        for (header, range) in std::mem::take(&mut self.held) {
            self.writer
                .write_to_known_channel(&header, &self.held_data[range])
                .map_err(|e| self.mcap_err(e))?;
        }
        self.held_data.clear();
        self.writer.flush().map_err(|e| self.mcap_err(e))
    }

    /// Registers a channel outside the topic contract (a merged recording's own topics) with
    /// its schema (or none), encodings and metadata as they were; returns the id
    /// [`McapSink::write_foreign`] writes to.
    pub fn add_foreign_channel(&mut self, channel: &mcap::Channel<'_>) -> Result<u16> {
        let schema_id = match &channel.schema {
            Some(s) => self
                .writer
                .add_schema(&s.name, &s.encoding, &s.data)
                .map_err(|e| self.mcap_err(e))?,
            None => 0,
        };
        self.writer
            .add_channel(
                schema_id,
                &channel.topic,
                &channel.message_encoding,
                &channel.metadata,
            )
            .map_err(|e| self.mcap_err(e))
    }

    /// Writes already encoded bytes, logged at `log_time_ns`, to a channel
    /// [`McapSink::add_foreign_channel`] registered.
    pub fn write_foreign(&mut self, channel_id: u16, log_time_ns: u64, data: &[u8]) -> Result<()> {
        let seq = self.sequence.entry(channel_id).or_insert(0);
        *seq = seq.wrapping_add(1);
        let header = MessageHeader {
            channel_id,
            sequence: *seq,
            log_time: log_time_ns,
            publish_time: log_time_ns,
        };
        self.latest_ns = self.latest_ns.max(log_time_ns);
        self.writer
            .write_to_known_channel(&header, data)
            .map_err(|e| self.mcap_err(e))
    }

    /// Writes a metadata record.
    pub fn metadata(&mut self, name: &str, entries: BTreeMap<String, String>) -> Result<()> {
        let m = Metadata {
            name: name.to_owned(),
            metadata: entries,
        };
        self.writer.write_metadata(&m).map_err(|e| self.mcap_err(e))
    }

    /// Ends the current chunk and flushes it to the file: everything written so far survives a
    /// killed process (`radcam recover`), but for the view-only messages still held (see
    /// [`VIEW_ONLY_HOLD_NS`]).
    pub fn flush_chunk(&mut self) -> Result<()> {
        let oldest_held = self.held.first().map(|(h, _)| h.log_time);
        if oldest_held.is_some_and(|t| self.latest_ns.saturating_sub(t) >= VIEW_ONLY_HOLD_NS) {
            self.write_held()
        } else {
            self.writer.flush().map_err(|e| self.mcap_err(e))
        }
    }

    /// Messages written so far, per topic.
    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }

    /// Writes the summary and index, then renames the finished `part` file to `out`.
    pub fn finish_into(self, part: &Path, out: &Path) -> Result<BTreeMap<&'static str, u64>> {
        let counts = self.finish()?;
        std::fs::rename(part, out).map_err(|source| Error::Io {
            path: out.to_owned(),
            source,
        })?;
        Ok(counts)
    }

    /// Writes the summary and index and flushes.
    pub fn finish(mut self) -> Result<BTreeMap<&'static str, u64>> {
        self.write_held()?;
        self.writer.finish().map_err(|e| self.mcap_err(e))?;
        Ok(self.counts)
    }
}

/// Metadata entries from (key, value) pairs.
pub fn entries(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use radcam_schema::foxglove_topics::RADAR_POINTS;

    #[test]
    fn held_view_only_messages_go_out_at_the_first_flush_ten_seconds_after_the_oldest() {
        let mut sink =
            McapSink::new(std::io::Cursor::new(Vec::new()), Path::new("mem.mcap")).expect("sink");
        let second = 1_000_000_000i64;
        for s in 0..=12 {
            sink.write_encoded(RADAR_POINTS, s * second, &[1, 2, 3])
                .expect("held");
            sink.flush_chunk().expect("flush");
            if s < 10 {
                assert_eq!(sink.held.len() as i64, s + 1, "held at {s} s");
            } else if s == 10 {
                assert!(sink.held.is_empty(), "written at the 10 s flush");
            }
        }
        assert_eq!(sink.held.len(), 2);
        assert_eq!(sink.finish().expect("finish")[RADAR_POINTS], 13);
    }

    #[test]
    fn a_view_only_message_over_the_batch_with_nothing_held_does_not_split_a_timing_chunk() {
        let mut sink =
            McapSink::new(std::io::Cursor::new(Vec::new()), Path::new("mem.mcap")).expect("sink");
        let frame = radcam_schema::topics::CAMERA_FRAME;
        sink.write_encoded(frame, 1, &[1]).expect("frame");
        sink.write_encoded(RADAR_POINTS, 2, &vec![0; VIEW_ONLY_BATCH + 1])
            .expect("points");
        sink.write_encoded(frame, 3, &[2]).expect("frame");
        let cursor = {
            sink.write_held().expect("held");
            sink.writer.finish().expect("finish");
            sink.writer.into_inner()
        };
        let bytes = cursor.into_inner();
        let s = mcap::Summary::read(&bytes)
            .expect("summary")
            .expect("a summary");
        let frame_id = s
            .channels
            .iter()
            .find(|(_, c)| c.topic == frame)
            .map(|(id, _)| *id);
        let with_frames = s
            .chunk_indexes
            .iter()
            .filter(|c| frame_id.is_some_and(|id| c.message_index_offsets.contains_key(&id)))
            .count();
        assert_eq!(with_frames, 1, "both frames in one chunk");
    }

    #[test]
    fn zstd_chunks_use_the_fast_level() {
        let mut sink =
            McapSink::new(std::io::Cursor::new(Vec::new()), Path::new("mem.mcap")).expect("sink");
        // float-like payloads: varied low bytes, repeated high bytes, as in radar frames
        let mut x = 0x9e37_79b9_u32;
        for t in 0..2000 {
            let payload: Vec<u8> = (0..64)
                .flat_map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let v = 10.0 + f64::from(x % 4096) / 1024.0;
                    v.to_le_bytes()
                })
                .collect();
            sink.write_encoded(radcam_schema::topics::CAMERA_FRAME, t, &payload)
                .expect("frame");
        }
        let bytes = {
            sink.write_held().expect("held");
            sink.writer.finish().expect("finish");
            sink.writer.into_inner().into_inner()
        };
        let mut chunks = 0;
        for record in mcap::read::LinearReader::new(&bytes).expect("reader") {
            let mcap::records::Record::Chunk { header, data } = record.expect("record") else {
                continue;
            };
            assert_eq!(header.compression, "zstd");
            let raw = zstd::bulk::decompress(&data, header.uncompressed_size as usize)
                .expect("decompress");
            let size_at = |level| zstd::bulk::compress(&raw, level).expect("compress").len();
            let (fast, default) = (size_at(ZSTD_LEVEL), size_at(3));
            assert!(
                fast > default + 1000,
                "levels distinguishable: {fast} vs {default}"
            );
            // the streaming encoder splits blocks a little differently from the bulk one
            assert!(
                data.len().abs_diff(fast) < fast.abs_diff(default) / 10,
                "chunk {} bytes; level {ZSTD_LEVEL} {fast}, level 3 {default}",
                data.len()
            );
            chunks += 1;
        }
        assert!(chunks > 0);
    }
}
