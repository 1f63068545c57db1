//! Reading MCAP through its index, one chunk at a time, with every CRC checked.
//!
//! Opening verifies the magic, the footer and the summary CRC; [`McapFile::verify`] streams
//! the whole file once for the data-section CRC and the content hash; each chunk is
//! decompressed once, here, and its CRC checked before the `mcap` crate's indexed reader
//! orders its messages. Damage is reported as the record and byte offset.

use crate::{Error, Result};
use mcap::records::ChunkIndex;
use mcap::sans_io::indexed_reader::{
    IndexedReadEvent, IndexedReader, IndexedReaderOptions, ReadOrder,
};
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// MCAP magic bytes at both ends of a file.
const MAGIC: &[u8; 8] = b"\x89MCAP0\r\n";
/// Footer record (opcode, length, three fields) plus the trailing magic.
const FOOTER_AND_MAGIC: u64 = 1 + 8 + 8 + 8 + 4 + 8;
/// Read buffer of the whole-file passes, bytes: below glibc's initial mmap threshold
/// (128 KiB), because freeing a larger buffer raises that threshold for the rest of the
/// process, and the heap then fragments under a long replay's page-sized buffers.
const READ_BUF: usize = 64 << 10;
/// Largest chunk the reader accepts, bytes (compressed or not).
const MAX_CHUNK: u64 = 1 << 30;

/// One message as read: topic, log time (ns) and encoded bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawMessage<'a> {
    /// Channel topic.
    pub topic: &'a str,
    /// Log time, host ns.
    pub log_time_ns: u64,
    /// Encoded message.
    pub data: &'a [u8],
}

/// What [`McapFile::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// SHA-256 of the whole file, hex.
    pub content_hash: String,
    /// File size, bytes.
    pub bytes: u64,
}

/// The whole-file pass over an MCAP file, from [`McapFile::file_check`].
#[derive(Debug)]
pub struct FileCheck {
    path: PathBuf,
    file: File,
    len: u64,
    /// Offset of the DataEnd record: the data section's CRC covers the bytes before it.
    data_end: u64,
    saved_crc: u32,
}

/// What a [`FileCheck`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The content hash and size.
    pub verified: Verified,
    /// The data section's CRC as written (0: the writer did not compute one).
    pub saved_crc: u32,
    /// The data section's CRC as read.
    pub computed_crc: u32,
}

impl Checked {
    /// The data section is as written (or carries no CRC to tell).
    pub fn intact(&self) -> bool {
        self.saved_crc == 0 || self.saved_crc == self.computed_crc
    }
}

impl FileCheck {
    /// Reads the file once, hashing it and computing the data section's CRC.
    pub fn run(mut self) -> Result<Checked> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut sha = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut pos = 0u64;
        let mut buf = vec![0u8; READ_BUF];
        while pos < self.len {
            let n = self.file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            if pos < self.data_end {
                let take = ((self.data_end - pos) as usize).min(n);
                crc.update(&buf[..take]);
            }
            pos += n as u64;
        }
        Ok(Checked {
            verified: Verified {
                content_hash: sha.finalize().iter().map(|b| format!("{b:02x}")).collect(),
                bytes: self.len,
            },
            saved_crc: self.saved_crc,
            computed_crc: crc.finalize(),
        })
    }
}

/// An open MCAP file with its summary.
pub struct McapFile {
    path: PathBuf,
    file: File,
    len: u64,
    summary: mcap::Summary,
    summary_start: u64,
    /// The data section's CRC was checked by [`McapFile::verify`]: every chunk's bytes are
    /// known intact, so a chunk's own CRC need not be computed again.
    data_verified: bool,
}

impl McapFile {
    /// Opens `path`, checking magic, footer and summary CRC, and reading the summary.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let not_mcap = |detail: String| Error::NotMcap {
            path: path.to_owned(),
            detail,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < 8 + FOOTER_AND_MAGIC {
            return Err(not_mcap(format!(
                "{len} bytes is too short (empty or cut before the first record)"
            )));
        }
        let mut head = [0u8; 8];
        file.read_exact(&mut head).map_err(io)?;
        if &head != MAGIC {
            return Err(not_mcap(
                "the file does not start with the MCAP magic".into(),
            ));
        }
        let mut tail = [0u8; FOOTER_AND_MAGIC as usize];
        file.seek(SeekFrom::Start(len - FOOTER_AND_MAGIC))
            .map_err(io)?;
        file.read_exact(&mut tail).map_err(io)?;
        let footer_at = len - FOOTER_AND_MAGIC;
        let corrupt = |record, offset, detail: String| Error::Corrupt {
            path: path.to_owned(),
            record,
            offset,
            detail,
        };
        if &tail[29..] != MAGIC || tail[0] != 0x02 {
            return Err(corrupt(
                "footer",
                footer_at,
                "no footer and closing magic: the recording was cut short or is still being written".into(),
            ));
        }
        let u64_at =
            |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let summary_start = u64_at(&tail, 9);
        let summary_crc = u32::from_le_bytes(tail[25..29].try_into().unwrap_or([0; 4]));
        if summary_start == 0 || summary_start >= footer_at {
            return Err(corrupt(
                "footer",
                footer_at,
                format!("no usable summary section (summary_start {summary_start})"),
            ));
        }
        if summary_crc != 0 {
            file.seek(SeekFrom::Start(summary_start)).map_err(io)?;
            let mut crc = crc32fast::Hasher::new();
            let mut part = (&mut file).take(len - 12 - summary_start);
            let mut buf = vec![0u8; READ_BUF];
            loop {
                let n = part.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                crc.update(&buf[..n]);
            }
            let computed = crc.finalize();
            if computed != summary_crc {
                return Err(corrupt(
                    "summary",
                    summary_start,
                    format!("CRC mismatch: saved {summary_crc:#010x}, computed {computed:#010x}"),
                ));
            }
        }
        let summary =
            read_summary(&mut file, len).map_err(|e| corrupt("summary", summary_start, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
            summary,
            summary_start,
            data_verified: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The summary: channels, schemas, statistics, indexes.
    pub fn summary(&self) -> &mcap::Summary {
        &self.summary
    }

    /// Messages on `topic` according to the summary statistics (`None` without statistics).
    pub fn message_count(&self, topic: &str) -> Option<u64> {
        let stats = self.summary.stats.as_ref()?;
        Some(
            self.summary
                .channels
                .iter()
                .filter(|(_, c)| c.topic == topic)
                .map(|(id, _)| stats.channel_message_counts.get(id).copied().unwrap_or(0))
                .sum(),
        )
    }

    fn corrupt(&self, record: &'static str, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            record,
            offset,
            detail: detail.into(),
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        self.file.read_exact(buf).map_err(io)
    }

    /// The whole-file pass of [`McapFile::verify`] (content hash and data-section CRC) on a
    /// file handle of its own, so that it can run beside a replay of this file. A replay
    /// that does not wait for it has every chunk's CRC checked as the chunk is read.
    pub fn file_check(&mut self) -> Result<FileCheck> {
        // The DataEnd record (opcode 0x0F, length 4, crc) sits right before the summary.
        let data_end = self
            .summary_start
            .checked_sub(13)
            .ok_or_else(|| self.corrupt("data section", 0, "no DataEnd record"))?;
        let mut rec = [0u8; 13];
        self.read_at(data_end, &mut rec)?;
        if rec[0] != 0x0F {
            return Err(self.corrupt(
                "data section",
                data_end,
                "no DataEnd record before the summary",
            ));
        }
        let file = File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(FileCheck {
            path: self.path.clone(),
            file,
            len: self.len,
            data_end,
            saved_crc: u32::from_le_bytes([rec[9], rec[10], rec[11], rec[12]]),
        })
    }

    /// Streams the whole file once: checks the data-section CRC and hashes the content.
    pub fn verify(&mut self) -> Result<Verified> {
        let checked = self.file_check()?.run()?;
        if !checked.intact() {
            self.locate_damaged_chunk()?;
            return Err(self.corrupt(
                "data section",
                0,
                format!(
                    "CRC mismatch: saved {:#010x}, computed {:#010x}",
                    checked.saved_crc, checked.computed_crc
                ),
            ));
        }
        self.data_verified = checked.saved_crc != 0;
        Ok(checked.verified)
    }

    /// Checks every chunk's CRC; the first damaged chunk is returned as the error.
    fn locate_damaged_chunk(&mut self) -> Result<()> {
        let mut bufs = ChunkBuffers::default();
        for c in self.summary.chunk_indexes.clone() {
            let at = ChunkAt::of(&c)
                .map_err(|e| self.corrupt("chunk", c.chunk_start_offset, e.to_string()))?;
            self.load_chunk(&at, &mut bufs)?;
        }
        Ok(())
    }

    /// Every metadata record, by name (a later record of the same name wins).
    pub fn metadata(&mut self) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        let mut out = BTreeMap::new();
        for idx in self.summary.metadata_indexes.clone() {
            if idx.length > MAX_CHUNK
                || idx.offset.saturating_add(idx.length) > self.len
                || idx.length < 9
            {
                return Err(self.corrupt("metadata", idx.offset, "index points outside the file"));
            }
            let mut buf = vec![0u8; idx.length as usize];
            self.read_at(idx.offset, &mut buf)?;
            match mcap::parse_record(buf[0], &buf[9..]) {
                Ok(mcap::records::Record::Metadata(m)) => {
                    out.insert(m.name, m.metadata);
                }
                Ok(_) => {
                    return Err(self.corrupt(
                        "metadata",
                        idx.offset,
                        "index does not point at a metadata record",
                    ));
                }
                Err(e) => return Err(self.corrupt("metadata", idx.offset, e.to_string())),
            }
        }
        Ok(out)
    }

    /// Calls `f` with every message on `topics`, in log-time order, reading only the chunks
    /// that hold them and checking each chunk's CRC first.
    pub fn for_each_message(
        &mut self,
        topics: &[&str],
        f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        self.each_message(topics, false, f)
    }

    /// [`McapFile::for_each_message`] for the last read of a file: its chunk index is freed
    /// once the chunks to read are picked, so a long recording's index (about 0.5 KB a
    /// chunk, a chunk a second) is not held through the whole read.
    pub fn into_each_message(
        mut self,
        topics: &[&str],
        f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        self.each_message(topics, true, f)
    }

    fn each_message(
        &mut self,
        topics: &[&str],
        release_index: bool,
        mut f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        let options = IndexedReaderOptions::new()
            .include_topics(topics.iter().map(|t| (*t).to_owned()))
            .with_order(ReadOrder::LogTime)
            .with_record_length_limit(MAX_CHUNK as usize);
        let wanted: BTreeSet<u16> = self
            .summary
            .channels
            .iter()
            .filter(|(_, c)| topics.contains(&c.topic.as_str()))
            .map(|(id, _)| *id)
            .collect();
        let topics_by_id: BTreeMap<u16, String> = self
            .summary
            .channels
            .iter()
            .filter(|(id, _)| wanted.contains(id))
            .map(|(id, c)| (*id, c.topic.clone()))
            .collect();
        // the chunks holding a wanted channel (or without per-channel offsets: those may
        // hold anything), handed to the reader without their per-channel offsets, which
        // it only uses to pick chunks, so its copy of the index stays small. Each chunk is
        // decompressed here once, for its CRC, and the reader is handed the decompressed
        // records, so its index describes every chunk as uncompressed.
        let mut picked = Vec::new();
        // the reader's data offset of each picked chunk → where the chunk is in the file
        let mut chunk_at: Vec<(u64, ChunkAt)> = Vec::new();
        for c in self.summary.chunk_indexes.iter().filter(|c| {
            c.message_index_offsets.is_empty()
                || c.message_index_offsets.keys().any(|k| wanted.contains(k))
        }) {
            let as_read = ChunkIndex {
                message_index_offsets: BTreeMap::new(),
                compression: String::new(),
                compressed_size: c.uncompressed_size,
                ..*c
            };
            if let (Ok(at), Ok(offset)) = (ChunkAt::of(c), as_read.compressed_data_offset()) {
                chunk_at.push((offset, at));
            }
            picked.push(as_read);
        }
        chunk_at.sort_unstable_by_key(|c| c.0);
        let for_reader = mcap::Summary {
            channels: self.summary.channels.clone(),
            schemas: self.summary.schemas.clone(),
            chunk_indexes: picked,
            ..Default::default()
        };
        let mut reader = IndexedReader::new_with_options(&for_reader, options).map_err(|e| {
            self.corrupt("summary", self.summary_start, format!("chunk index: {e}"))
        })?;
        drop(for_reader);
        if release_index {
            self.summary.chunk_indexes = Vec::new();
        }
        let mut bufs = ChunkBuffers::default();
        while let Some(event) = reader.next_event() {
            match event {
                Err(e) => return Err(self.corrupt("chunk", 0, e.to_string())),
                Ok(IndexedReadEvent::ReadChunkRequest { offset, .. }) => {
                    let at = chunk_at
                        .binary_search_by_key(&offset, |c| c.0)
                        .map(|i| chunk_at[i].1)
                        .map_err(|_| {
                            self.corrupt("chunk", offset, "the reader asked for no known chunk")
                        })?;
                    self.load_chunk(&at, &mut bufs)?;
                    reader
                        .insert_chunk_record_data(offset, &bufs.records)
                        .map_err(|e| self.corrupt("chunk", at.start, e.to_string()))?;
                }
                Ok(IndexedReadEvent::Message { header, data }) => {
                    let topic = topics_by_id
                        .get(&header.channel_id)
                        .map_or("", String::as_str);
                    f(RawMessage {
                        topic,
                        log_time_ns: header.log_time,
                        data,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// What the stock Python reader does with `topics`, in Rust: every message read through
    /// the index in log-time order (CRCs checked) and decoded into its protobuf type; nothing
    /// else. The like-for-like baseline `radcam bench replay` compares Python's decoding
    /// with. Returns the messages decoded.
    pub fn decoded_read(&mut self, topics: &[&str]) -> Result<u64> {
        use radcam_schema::{TopicMessage, decode, proto};
        fn one<T: TopicMessage>(m: &RawMessage<'_>) -> radcam_schema::Result<()> {
            decode::<T>(m.data).map(drop)
        }
        let path = self.path.clone();
        let mut n = 0u64;
        self.for_each_message(topics, |m| {
            n += 1;
            match m.topic {
                proto::PtpStatus::TOPIC => one::<proto::PtpStatus>(&m),
                proto::NodeStats::TOPIC => one::<proto::NodeStats>(&m),
                proto::CameraLatch::TOPIC => one::<proto::CameraLatch>(&m),
                proto::CameraFrame::TOPIC => one::<proto::CameraFrame>(&m),
                proto::CameraDetections::TOPIC => one::<proto::CameraDetections>(&m),
                proto::RadarFrame::TOPIC => one::<proto::RadarFrame>(&m),
                proto::TruthClock::TOPIC => one::<proto::TruthClock>(&m),
                proto::TruthObjects::TOPIC => one::<proto::TruthObjects>(&m),
                _ => Ok(()),
            }
            .map_err(|source| Error::Decode {
                path: path.clone(),
                log_time_ns: m.log_time_ns,
                source,
            })
        })?;
        Ok(n)
    }

    /// The bare `mcap` crate read of `topics` through the index, in log-time order: chunks
    /// read and decompressed by the crate's indexed reader, no CRC check, no decoding. The
    /// baseline `radcam bench replay` compares a replay with. Returns (messages, payload bytes).
    pub fn bare_read(&mut self, topics: &[&str]) -> Result<(u64, u64)> {
        let options = IndexedReaderOptions::new()
            .include_topics(topics.iter().map(|t| (*t).to_owned()))
            .with_order(ReadOrder::LogTime);
        let mut reader = IndexedReader::new_with_options(&self.summary, options).map_err(|e| {
            self.corrupt("summary", self.summary_start, format!("chunk index: {e}"))
        })?;
        let (mut messages, mut bytes) = (0u64, 0u64);
        let mut buf = Vec::new();
        while let Some(event) = reader.next_event() {
            match event.map_err(|e| self.corrupt("chunk", 0, e.to_string()))? {
                IndexedReadEvent::ReadChunkRequest { offset, length } => {
                    buf.resize(length, 0);
                    self.read_at(offset, &mut buf)?;
                    reader
                        .insert_chunk_record_data(offset, &buf)
                        .map_err(|e| self.corrupt("chunk", offset, e.to_string()))?;
                }
                IndexedReadEvent::Message { data, .. } => {
                    messages += 1;
                    bytes += data.len() as u64;
                }
            }
        }
        Ok((messages, bytes))
    }

    /// Reads the chunk record at `at` into `bufs.record`, its records (decompressed) into
    /// `bufs.records`, and checks the chunk's CRC over them.
    fn load_chunk(&mut self, at: &ChunkAt, bufs: &mut ChunkBuffers) -> Result<()> {
        let start = at.start;
        let end = at.data_offset.saturating_add(at.length);
        if at.length > MAX_CHUNK || at.uncompressed_size > MAX_CHUNK {
            return Err(self.corrupt(
                "chunk",
                start,
                format!(
                    "chunk of {} bytes ({} decompressed) is over the {MAX_CHUNK}-byte limit",
                    at.length, at.uncompressed_size
                ),
            ));
        }
        if end > self.len || start >= at.data_offset {
            return Err(self.corrupt(
                "chunk",
                start,
                format!(
                    "chunk of {} bytes does not fit in the file ({} bytes): cut short?",
                    at.length, self.len
                ),
            ));
        }
        let buf = &mut bufs.record;
        buf.resize((end - start) as usize, 0);
        self.read_at(start, buf)?;
        let buf = &bufs.record;
        // opcode, record length, start time, end time, uncompressed size, CRC, compression
        if buf[0] != 0x06 || buf.len() < 41 {
            return Err(self.corrupt("chunk", start, "index does not point at a chunk record"));
        }
        let rd64 = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap_or([0; 8]));
        if rd64(25) != at.uncompressed_size {
            return Err(self.corrupt(
                "chunk",
                start,
                "uncompressed size disagrees with the chunk index",
            ));
        }
        let saved = u32::from_le_bytes(buf[33..37].try_into().unwrap_or([0; 4]));
        let comp_len = u32::from_le_bytes(buf[37..41].try_into().unwrap_or([0; 4])) as usize;
        let compression = buf.get(41..41 + comp_len).unwrap_or_default();
        let data = &buf[(at.data_offset - start) as usize..];
        // no CRC saved, or the whole-file check already covered every chunk's bytes
        let crc = (saved != 0 && !self.data_verified).then_some(saved);
        chunk_records(
            compression,
            data,
            at.uncompressed_size,
            crc,
            &mut bufs.zstd,
            &mut bufs.records,
        )
        .map_err(|detail| self.corrupt("chunk", start, detail))
    }
}

/// A chunk's records from its data: copied, or decompressed with `zstd` (the context made
/// on first need), into `out`; their length checked against the header's
/// `uncompressed_size` and, given one, their CRC against `crc`. The error is what is wrong
/// with the chunk.
pub(crate) fn chunk_records(
    compression: &[u8],
    data: &[u8],
    uncompressed_size: u64,
    crc: Option<u32>,
    zstd: &mut Option<zstd::bulk::Decompressor<'static>>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    out.clear();
    match compression {
        b"" => out.extend_from_slice(data),
        b"zstd" => {
            out.reserve(uncompressed_size as usize);
            let zstd = match zstd {
                Some(d) => d,
                empty => {
                    empty.insert(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?)
                }
            };
            zstd.decompress_to_buffer(data, out)
                .map_err(|e| format!("zstd: {e}"))?;
        }
        other => {
            return Err(format!(
                "unsupported compression '{}'",
                String::from_utf8_lossy(other)
            ));
        }
    }
    if out.len() as u64 != uncompressed_size {
        return Err("decompressed size disagrees with the chunk header".into());
    }
    if let Some(saved) = crc {
        let computed = crc32fast::hash(out);
        if computed != saved {
            return Err(format!(
                "CRC mismatch: saved {saved:#010x}, computed {computed:#010x}"
            ));
        }
    }
    Ok(())
}

/// Where a chunk record and its (compressed) data are in the file, from its index entry.
#[derive(Debug, Clone, Copy)]
struct ChunkAt {
    /// Offset of the chunk record, bytes.
    start: u64,
    /// Offset of the chunk's (compressed) data, bytes.
    data_offset: u64,
    /// Length of that data, bytes.
    length: u64,
    /// Length of the chunk's records once decompressed, bytes.
    uncompressed_size: u64,
}

impl ChunkAt {
    fn of(c: &ChunkIndex) -> mcap::McapResult<Self> {
        Ok(Self {
            start: c.chunk_start_offset,
            data_offset: c.compressed_data_offset()?,
            length: c.compressed_size,
            uncompressed_size: c.uncompressed_size,
        })
    }
}

/// Buffers reused from one chunk to the next.
#[derive(Default)]
struct ChunkBuffers {
    /// The chunk record as read from the file.
    record: Vec<u8>,
    /// The chunk's records, decompressed.
    records: Vec<u8>,
    /// One zstd context for every chunk.
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

fn read_summary(file: &mut File, len: u64) -> std::result::Result<mcap::Summary, String> {
    let mut reader = SummaryReader::new_with_options(
        mcap::sans_io::summary_reader::SummaryReaderOptions::default()
            .with_file_size(len)
            .with_record_length_limit(MAX_CHUNK as usize),
    );
    while let Some(event) = reader.next_event() {
        match event.map_err(|e| e.to_string())? {
            SummaryReadEvent::ReadRequest(need) => {
                let n = file.read(reader.insert(need)).map_err(|e| e.to_string())?;
                reader.notify_read(n);
            }
            SummaryReadEvent::SeekRequest(to) => {
                let pos = file.seek(to).map_err(|e| e.to_string())?;
                reader.notify_seeked(pos);
            }
        }
    }
    reader
        .finish()
        .ok_or_else(|| "no summary section".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (topic, log time ns, payload) of every message written.
    type Written = Vec<(String, u64, Vec<u8>)>;

    /// An MCAP of three channels, interleaved, in chunks of a few messages each, with or
    /// without zstd. Returns the path and the messages of `/a` and `/b` in log-time order.
    fn write(dir: &Path, name: &str, zstd: bool) -> (PathBuf, Written) {
        let path = dir.join(name);
        let mut w = mcap::WriteOptions::new()
            .compression(zstd.then_some(mcap::Compression::Zstd))
            .chunk_size(Some(600))
            .create(std::io::BufWriter::new(
                File::create(&path).expect("create"),
            ))
            .expect("writer");
        let mut ids = BTreeMap::new();
        for topic in ["/a", "/b", "/skipped"] {
            let id = w
                .add_channel(0, topic, "raw", &BTreeMap::new())
                .expect("channel");
            ids.insert(topic, id);
        }
        let mut wanted = Vec::new();
        for i in 0..200u64 {
            let topic = ["/a", "/b", "/skipped"][(i % 3) as usize];
            // compressible and not: a run of one byte, then the index's bytes
            let mut data = vec![(i % 7) as u8; 20];
            data.extend_from_slice(&(i * 2_654_435_761).to_le_bytes());
            let header = mcap::records::MessageHeader {
                channel_id: ids[topic],
                sequence: i as u32,
                log_time: 1_000 + i * 10,
                publish_time: 1_000 + i * 10,
            };
            w.write_to_known_channel(&header, &data).expect("message");
            if topic != "/skipped" {
                wanted.push((topic.to_owned(), header.log_time, data));
            }
        }
        w.finish().expect("finish");
        (path, wanted)
    }

    fn read(path: &Path) -> Result<Written> {
        let mut got = Vec::new();
        McapFile::open(path)?.for_each_message(&["/a", "/b"], |m| {
            got.push((m.topic.to_owned(), m.log_time_ns, m.data.to_vec()));
            Ok(())
        })?;
        Ok(got)
    }

    #[test]
    fn zstd_and_uncompressed_chunks_read_back_every_wanted_message_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for zstd in [false, true] {
            let (path, wanted) = write(dir.path(), &format!("{zstd}.mcap"), zstd);
            let f = McapFile::open(&path).expect("open");
            assert!(f.summary.chunk_indexes.len() > 10, "several chunks");
            assert!(
                f.summary
                    .chunk_indexes
                    .iter()
                    .all(|c| c.compression == if zstd { "zstd" } else { "" })
            );
            assert_eq!(read(&path).expect("read"), wanted, "zstd: {zstd}");
        }
    }

    #[test]
    fn an_index_claiming_a_chunk_over_the_limit_is_refused_before_reading_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = write(dir.path(), "big.mcap", true);
        let mut f = McapFile::open(&path).expect("open");
        let real = ChunkAt::of(&f.summary.chunk_indexes[0]).expect("chunk");
        for at in [
            ChunkAt {
                length: MAX_CHUNK + 1,
                ..real
            },
            ChunkAt {
                uncompressed_size: MAX_CHUNK + 1,
                ..real
            },
        ] {
            match f.load_chunk(&at, &mut ChunkBuffers::default()) {
                Err(Error::Corrupt { offset, detail, .. }) => {
                    assert_eq!(offset, real.start);
                    assert!(detail.contains("limit"), "{detail}");
                }
                other => panic!("expected the limit, got {other:?}"),
            }
        }
        f.load_chunk(&real, &mut ChunkBuffers::default())
            .expect("the real chunk loads");
    }

    #[test]
    fn a_flipped_bit_in_a_chunk_is_named_with_the_chunk_offset_compressed_or_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        for zstd in [false, true] {
            let (path, _) = write(dir.path(), &format!("{zstd}.mcap"), zstd);
            let chunk = McapFile::open(&path).expect("open").summary.chunk_indexes[3].clone();
            let mut bytes = std::fs::read(&path).expect("read");
            let at = chunk.compressed_data_offset().expect("offset") + chunk.compressed_size / 2;
            bytes[at as usize] ^= 0x10;
            std::fs::write(&path, &bytes).expect("write");
            match read(&path) {
                Err(Error::Corrupt { record, offset, .. }) => {
                    assert_eq!(record, "chunk", "zstd: {zstd}");
                    assert_eq!(offset, chunk.chunk_start_offset, "zstd: {zstd}");
                }
                other => panic!("zstd: {zstd}: expected a corrupt chunk, got {other:?}"),
            }
        }
    }
}
