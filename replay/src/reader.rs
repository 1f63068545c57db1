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
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    /// Channel id in the file (a file may hold several channels on one topic).
    pub channel_id: u16,
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

/// A recording checked whole once ([`McapFile::verify`]) for many replays of it, as a sweep's
/// runs are: its content hash, and the size and modification time it had then, by which each
/// replay knows the file is still the one checked. Such a replay checks each chunk's own CRC
/// as it reads the chunk instead of the whole file again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRecording {
    /// What the check found.
    pub verified: Verified,
    /// The file's modification time when checked (`None` where the file system keeps none).
    modified: Option<std::time::SystemTime>,
}

impl CheckedRecording {
    /// Checks `path` whole: the data section's CRC and the content hash.
    pub fn check(path: &Path) -> Result<Self> {
        let (_, modified) = Self::identity(path)?;
        let checked = Self {
            verified: McapFile::open(path)?.verify()?,
            modified,
        };
        // written to while it was read: what was hashed may be neither version
        checked.still(path)?;
        Ok(checked)
    }

    /// Whether `path` is still the file checked: an error naming it if not.
    pub fn still(&self, path: &Path) -> Result<()> {
        let (len, modified) = Self::identity(path)?;
        if len != self.verified.bytes || modified != self.modified {
            return Err(Error::Invalid {
                path: path.to_owned(),
                problem: format!(
                    "the recording changed while it was being replayed ({} bytes when checked, {len} now, or a new modification time)",
                    self.verified.bytes
                ),
            });
        }
        Ok(())
    }

    /// `path`'s size (bytes) and modification time.
    fn identity(path: &Path) -> Result<(u64, Option<std::time::SystemTime>)> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok((meta.len(), meta.modified().ok()))
    }
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
    pub fn run(self) -> Result<Checked> {
        self.run_until(&|| false)
    }

    /// [`FileCheck::run`], giving up with [`Error::Interrupted`] as soon as `stop` says so
    /// (asked before every block read).
    pub fn run_until(mut self, stop: &dyn Fn() -> bool) -> Result<Checked> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut sha = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut pos = 0u64;
        let mut buf = vec![0u8; READ_BUF];
        while pos < self.len {
            if stop() {
                return Err(Error::Interrupted {
                    path: self.path.clone(),
                });
            }
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
    /// The summary without its chunk indexes: those are in `chunks`.
    summary: mcap::Summary,
    /// The summary's chunk indexes, compactly, in summary order, once something needed them
    /// all (see [`McapFile::chunks`]); a read streams them from the summary instead.
    chunks: Option<Vec<ChunkEntry>>,
    /// The summary's chunk indexes that a read loads before one listed ahead of them (see
    /// [`LateChunks`]: a slow channel's chunk, closed after faster channels' chunks), in
    /// reading order. A read streams the others from the summary, which lists them in
    /// reading order, and merges these in, so it holds these few instead of the whole index
    /// (a day of the demo rig is some 180,000 chunks, 13 MB; about 3,000 of them are late).
    late_chunks: Vec<ChunkEntry>,
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
        // every chunk index is checked now (a damaged one is reported at open), and only
        // the late ones are kept
        let mut order = LateChunks::default();
        let mut late_chunks = Vec::new();
        let summary = read_summary(&mut file, len, summary_start, &mut |c| {
            if order.is_late(&c) {
                late_chunks.push(c);
            }
            Ok(())
        })
        .map_err(|e| corrupt("summary", summary_start, e))?;
        late_chunks.sort_unstable_by_key(reading_order);
        late_chunks.shrink_to_fit();
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
            summary,
            chunks: None,
            late_chunks,
            summary_start,
            data_verified: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The summary: channels, schemas, statistics, metadata and attachment indexes. Its
    /// chunk indexes are empty: they are [`McapFile::chunks`].
    pub fn summary(&self) -> &mcap::Summary {
        &self.summary
    }

    /// The summary's chunk indexes, in summary order (read from the summary on first call,
    /// then kept).
    pub fn chunks(&mut self) -> Result<&[ChunkEntry]> {
        if self.chunks.is_none() {
            let mut chunks = Vec::new();
            read_summary(&mut self.file, self.len, self.summary_start, &mut |c| {
                chunks.push(c);
                Ok(())
            })
            .map_err(|e| self.corrupt("summary", self.summary_start, e))?;
            chunks.shrink_to_fit();
            self.chunks = Some(chunks);
        }
        Ok(self.chunks.as_deref().unwrap_or_default())
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

    /// Fills `buf` from `offset`: one positioned read (`pread`), where a seek and a read took
    /// two system calls for every chunk.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })
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
        let chunks = self.chunks()?.to_vec();
        let mut bufs = ChunkBuffers::default();
        for c in &chunks {
            self.load_chunk(c, &mut bufs)?;
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
    /// once the chunks to read are picked.
    pub fn into_each_message(
        mut self,
        topics: &[&str],
        f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        self.each_message(topics, true, f)
    }

    /// The ids of the channels on `topics`.
    fn channel_ids(&self, topics: &[&str]) -> BTreeMap<u16, String> {
        self.summary
            .channels
            .iter()
            .filter(|(_, c)| topics.contains(&c.topic.as_str()))
            .map(|(id, c)| (*id, c.topic.clone()))
            .collect()
    }

    /// The chunks that may hold a channel of `ids` (taken out of the file's index with
    /// `release_index`), in the order of their first message's log time, then of their
    /// place in the file: the order the `mcap` crate's indexed reader loads them in.
    fn pick(
        &mut self,
        ids: &BTreeMap<u16, String>,
        release_index: bool,
    ) -> Result<Vec<ChunkEntry>> {
        let holds = |c: &ChunkEntry| ids.keys().any(|&id| c.may_hold(id));
        self.chunks()?;
        let mut picked: Vec<ChunkEntry> = if release_index {
            self.chunks
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(holds)
                .collect()
        } else {
            self.chunks()?
                .iter()
                .filter(|c| holds(c))
                .cloned()
                .collect()
        };
        picked.sort_unstable_by_key(reading_order);
        Ok(picked)
    }

    fn each_message(
        &mut self,
        topics: &[&str],
        release_index: bool,
        f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        self.each_message_grouped(topics, release_index, GROUP_CHUNKS, f)
    }

    /// [`McapFile::each_message`] with groups of at least `group_chunks` chunks.
    fn each_message_grouped(
        &mut self,
        topics: &[&str],
        release_index: bool,
        group_chunks: usize,
        mut f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        let options = IndexedReaderOptions::new()
            .include_topics(topics.iter().map(|t| (*t).to_owned()))
            .with_order(ReadOrder::LogTime)
            .with_record_length_limit(MAX_CHUNK as usize);
        let topics_by_id = self.channel_ids(topics);
        let mut bufs = ChunkBuffers::default();
        if self.chunks.is_none() {
            return self.stream_groups(&options, &topics_by_id, group_chunks, &mut bufs, &mut f);
        }
        // The picked chunks go to the `mcap` crate's indexed reader a group at a time (see
        // `Groups`), so the reader's copy of the index is a group's, not the recording's.
        let mut groups = Groups::new(group_chunks);
        for c in self.pick(&topics_by_id, release_index)? {
            if let Some(group) = groups.push(c) {
                self.read_group(&group, &options, &topics_by_id, &mut bufs, &mut f)?;
            }
        }
        if let Some(group) = groups.finish() {
            self.read_group(&group, &options, &topics_by_id, &mut bufs, &mut f)?;
        }
        Ok(())
    }

    /// [`McapFile::each_message_grouped`] without the whole chunk index: the summary's chunk
    /// indexes are read (on a handle of their own) as the groups are read, the late ones
    /// merged in from `late_chunks`, so the chunks come in the order [`McapFile::pick`] sorts
    /// them in and are cut into the same groups, while only a group's index entries and the
    /// late ones are ever held.
    fn stream_groups(
        &mut self,
        options: &IndexedReaderOptions,
        topics_by_id: &BTreeMap<u16, String>,
        group_chunks: usize,
        bufs: &mut ChunkBuffers,
        f: &mut impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut summary = File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let holds = |c: &ChunkEntry| topics_by_id.keys().any(|&id| c.may_hold(id));
        let late: Vec<ChunkEntry> = self
            .late_chunks
            .iter()
            .filter(|c| holds(c))
            .cloned()
            .collect();
        let mut late = late.into_iter().peekable();
        let mut order = LateChunks::default();
        let mut groups = Groups::new(group_chunks);
        // an error of the read itself (not of the summary), kept while the summary reader stops
        let mut failed: Option<Error> = None;
        let (len, summary_start) = (self.len, self.summary_start);
        let read = read_summary(&mut summary, len, summary_start, &mut |c| {
            if order.is_late(&c) {
                return Ok(());
            }
            let key = reading_order(&c);
            let due = std::iter::from_fn(|| late.next_if(|l| reading_order(l) < key));
            for next in due.chain(holds(&c).then_some(c)) {
                if let Some(group) = groups.push(next)
                    && let Err(e) = self.read_group(&group, options, topics_by_id, bufs, f)
                {
                    failed = Some(e);
                    return Err("read stopped".into());
                }
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| self.corrupt("summary", summary_start, e))?;
        for next in late {
            if let Some(group) = groups.push(next) {
                self.read_group(&group, options, topics_by_id, bufs, f)?;
            }
        }
        if let Some(group) = groups.finish() {
            self.read_group(&group, options, topics_by_id, bufs, f)?;
        }
        Ok(())
    }

    /// Hands every message of `group` on the channels of `topics_by_id` to `f`, in log-time
    /// order, through one `mcap` indexed reader. Each chunk is decompressed here once, for its
    /// CRC, and the reader is handed the decompressed records, so its index describes every
    /// chunk as uncompressed (and without per-channel offsets, which it only uses to pick
    /// chunks: they are picked already).
    fn read_group(
        &mut self,
        group: &[ChunkEntry],
        options: &IndexedReaderOptions,
        topics_by_id: &BTreeMap<u16, String>,
        bufs: &mut ChunkBuffers,
        f: &mut impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        // the reader's data offset of each chunk → the chunk
        let mut chunk_at: Vec<(u64, &ChunkEntry)> = Vec::with_capacity(group.len());
        let mut indexes = Vec::with_capacity(group.len());
        for c in group {
            let as_read = c.index(true);
            let offset = as_read
                .compressed_data_offset()
                .map_err(|e| self.corrupt("chunk", c.chunk_start_offset, e.to_string()))?;
            chunk_at.push((offset, c));
            indexes.push(as_read);
        }
        chunk_at.sort_unstable_by_key(|c| c.0);
        let for_reader = mcap::Summary {
            channels: self.summary.channels.clone(),
            schemas: self.summary.schemas.clone(),
            chunk_indexes: indexes,
            ..Default::default()
        };
        let mut reader =
            IndexedReader::new_with_options(&for_reader, options.clone()).map_err(|e| {
                self.corrupt("summary", self.summary_start, format!("chunk index: {e}"))
            })?;
        drop(for_reader);
        while let Some(event) = reader.next_event() {
            match event {
                Err(e) => return Err(self.corrupt("chunk", 0, e.to_string())),
                Ok(IndexedReadEvent::ReadChunkRequest { offset, .. }) => {
                    let c = chunk_at
                        .binary_search_by_key(&offset, |c| c.0)
                        .map(|i| chunk_at[i].1)
                        .map_err(|_| {
                            self.corrupt("chunk", offset, "the reader asked for no known chunk")
                        })?;
                    self.load_chunk(c, bufs)?;
                    reader
                        .insert_chunk_record_data(offset, &bufs.records)
                        .map_err(|e| self.corrupt("chunk", c.chunk_start_offset, e.to_string()))?;
                }
                Ok(IndexedReadEvent::Message { header, data }) => {
                    let topic = topics_by_id
                        .get(&header.channel_id)
                        .map_or("", String::as_str);
                    f(RawMessage {
                        channel_id: header.channel_id,
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
        let ids = self.channel_ids(topics);
        let whole = mcap::Summary {
            channels: self.summary.channels.clone(),
            schemas: self.summary.schemas.clone(),
            chunk_indexes: self
                .pick(&ids, false)?
                .iter()
                .map(|c| c.index(false))
                .collect(),
            ..Default::default()
        };
        let mut reader = IndexedReader::new_with_options(&whole, options).map_err(|e| {
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

    /// Reads the chunk record of `at` into `bufs.record`, its records (decompressed) into
    /// `bufs.records`, and checks the chunk's CRC over them.
    fn load_chunk(&mut self, at: &ChunkEntry, bufs: &mut ChunkBuffers) -> Result<()> {
        let start = at.chunk_start_offset;
        let end = at.data_offset.saturating_add(at.compressed_size);
        if at.compressed_size > MAX_CHUNK || at.uncompressed_size > MAX_CHUNK {
            return Err(self.corrupt(
                "chunk",
                start,
                format!(
                    "chunk of {} bytes ({} decompressed) is over the {MAX_CHUNK}-byte limit",
                    at.compressed_size, at.uncompressed_size
                ),
            ));
        }
        if end > self.len || start >= at.data_offset {
            return Err(self.corrupt(
                "chunk",
                start,
                format!(
                    "chunk of {} bytes does not fit in the file ({} bytes): cut short?",
                    at.compressed_size, self.len
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

/// Chunks handed to one `mcap` indexed reader, at least (see [`Groups`]).
const GROUP_CHUNKS: usize = 256;

/// The order a read loads chunks in, as the `mcap` crate's indexed reader does: by their
/// first message's log time, then by their place in the file.
fn reading_order(c: &ChunkEntry) -> (u64, u64) {
    (c.message_start_time, c.chunk_start_offset)
}

/// Goes through a summary's chunk indexes in the order it lists them and tells which are
/// late: ordered before one listed ahead of them (see [`reading_order`]). The others then
/// come in reading order, and merging the late ones, sorted, into them gives every chunk in
/// reading order.
#[derive(Debug, Default)]
struct LateChunks {
    /// The reading-order key of the last chunk not late.
    ahead: Option<(u64, u64)>,
}

impl LateChunks {
    /// Whether `c`, the next chunk in summary order, is late.
    fn is_late(&mut self, c: &ChunkEntry) -> bool {
        let key = reading_order(c);
        if self.ahead.is_some_and(|a| key < a) {
            return true;
        }
        self.ahead = Some(key);
        false
    }
}

/// Cuts chunks, given in reading order, into the groups handed to one `mcap` indexed reader
/// each: at least `min` chunks (or all), and then up to the first chunk that starts after
/// every message before it, so that no message of a later group is due before one of this
/// group. The readers then yield every message in the same order as one reader of every
/// chunk would (log time, then place in the file), and each holds the index entries of a
/// group instead of a whole recording's (a chunk every half second or so).
#[derive(Debug)]
struct Groups {
    min: usize,
    group: Vec<ChunkEntry>,
    /// The latest message end of the group, log time ns.
    end: u64,
}

impl Groups {
    fn new(min: usize) -> Self {
        Self {
            min: min.max(1),
            group: Vec::new(),
            end: 0,
        }
    }

    /// Adds the next chunk; returns the group it closes when it starts a new one.
    fn push(&mut self, c: ChunkEntry) -> Option<Vec<ChunkEntry>> {
        let closed = (self.group.len() >= self.min && c.message_start_time > self.end)
            .then(|| std::mem::take(&mut self.group));
        if closed.is_some() {
            self.end = 0;
        }
        self.end = self.end.max(c.message_end_time);
        self.group.push(c);
        closed
    }

    /// The last group, if any chunk is left.
    fn finish(self) -> Option<Vec<ChunkEntry>> {
        (!self.group.is_empty()).then_some(self.group)
    }
}

/// Which channels a chunk holds, as its index lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChannelSet {
    /// Bit `id`: the chunk holds channel `id`, for ids below 64.
    low: u64,
    /// The chunk holds a channel of id 64 or above (which ones is not kept).
    high: bool,
    /// The index lists no channel: the chunk may hold any.
    unlisted: bool,
}

impl ChannelSet {
    fn of(offsets: &BTreeMap<u16, u64>) -> Self {
        let mut set = Self {
            low: 0,
            high: false,
            unlisted: offsets.is_empty(),
        };
        for &id in offsets.keys() {
            match 1u64.checked_shl(u32::from(id)) {
                Some(bit) => set.low |= bit,
                None => set.high = true,
            }
        }
        set
    }

    fn may_hold(&self, id: u16) -> bool {
        self.unlisted
            || match 1u64.checked_shl(u32::from(id)) {
                Some(bit) => self.low & bit != 0,
                None => self.high,
            }
    }
}

/// A chunk's compression, as its index names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCompression {
    /// Not compressed.
    None,
    /// zstd.
    Zstd,
    /// lz4 (the `mcap` crate's reader knows it; radcam's chunk check refuses it).
    Lz4,
    /// A compression MCAP does not define (reading the chunk is refused).
    Other,
}

impl ChunkCompression {
    fn of(name: &str) -> Self {
        match name {
            "" => Self::None,
            "zstd" => Self::Zstd,
            "lz4" => Self::Lz4,
            _ => Self::Other,
        }
    }

    /// The name the MCAP index gives it; `None` for one MCAP does not define.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::None => Some(""),
            Self::Zstd => Some("zstd"),
            Self::Lz4 => Some("lz4"),
            Self::Other => None,
        }
    }
}

/// One chunk of the summary's chunk index, in the 72 bytes a read needs: the `mcap` crate's
/// `ChunkIndex`, with a map of per-channel offsets, took about 400, and a day-long recording
/// has some 180,000 chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkEntry {
    /// Log time of the chunk's first message, ns.
    pub message_start_time: u64,
    /// Log time of its last message, ns.
    pub message_end_time: u64,
    /// Offset of the chunk record, bytes.
    pub chunk_start_offset: u64,
    /// Offset of the chunk's (compressed) records, bytes.
    pub data_offset: u64,
    /// Length of those records as stored, bytes.
    pub compressed_size: u64,
    /// Length of the records decompressed, bytes.
    pub uncompressed_size: u64,
    /// The chunk's compression.
    pub compression: ChunkCompression,
    channels: ChannelSet,
}

impl ChunkEntry {
    fn of(c: &ChunkIndex) -> mcap::McapResult<Self> {
        Ok(Self {
            message_start_time: c.message_start_time,
            message_end_time: c.message_end_time,
            chunk_start_offset: c.chunk_start_offset,
            data_offset: c.compressed_data_offset()?,
            compressed_size: c.compressed_size,
            uncompressed_size: c.uncompressed_size,
            compression: ChunkCompression::of(&c.compression),
            channels: ChannelSet::of(&c.message_index_offsets),
        })
    }

    /// Whether the chunk may hold messages of channel `id`: its index lists the channel, or
    /// lists no channel at all.
    pub fn may_hold(&self, id: u16) -> bool {
        self.channels.may_hold(id)
    }

    /// The index entry an `mcap` indexed reader is handed for this chunk: as stored, or
    /// (`decompressed`) describing records handed to it already decompressed. Without
    /// per-channel offsets either way: the chunk is picked already.
    fn index(&self, decompressed: bool) -> ChunkIndex {
        let (compression, compressed_size) = if decompressed {
            (String::new(), self.uncompressed_size)
        } else {
            // an undefined compression by a name the reader refuses, as it would the real one
            let name = self.compression.name().unwrap_or("unknown");
            (name.to_owned(), self.compressed_size)
        };
        ChunkIndex {
            message_start_time: self.message_start_time,
            message_end_time: self.message_end_time,
            chunk_start_offset: self.chunk_start_offset,
            chunk_length: 0,
            message_index_offsets: BTreeMap::new(),
            message_index_length: 0,
            compression,
            compressed_size,
            uncompressed_size: self.uncompressed_size,
        }
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

/// Reads the summary section at `summary_start` record by record: each chunk index becomes a
/// [`ChunkEntry`] handed to `on_chunk` as it is read (never a whole recording's worth of
/// `ChunkIndex`; an error from `on_chunk` stops the read and is returned), the rest an
/// `mcap::Summary` as the `mcap` crate's summary reader would make it.
fn read_summary(
    file: &mut File,
    len: u64,
    summary_start: u64,
    on_chunk: &mut dyn FnMut(ChunkEntry) -> std::result::Result<(), String>,
) -> std::result::Result<mcap::Summary, String> {
    use mcap::records::Record;
    file.seek(SeekFrom::Start(summary_start))
        .map_err(|e| e.to_string())?;
    // the reader asks for a record's header, then its body: a few dozen bytes a request,
    // two system calls a chunk index (about 15,000 an hour of the demo rig) without a buffer
    let mut file = std::io::BufReader::with_capacity(READ_BUF, file);
    let limit = MAX_CHUNK.min(len.saturating_sub(summary_start)) as usize;
    let mut reader = LinearReader::new_with_options(
        LinearReaderOptions::default()
            .with_skip_start_magic(true)
            .with_record_length_limit(limit),
    );
    let mut summary = mcap::Summary::default();
    let mut channels = mcap::read::ChannelAccumulator::default();
    while let Some(event) = reader.next_event() {
        match event.map_err(|e| e.to_string())? {
            LinearReadEvent::ReadRequest(need) => {
                let n = file.read(reader.insert(need)).map_err(|e| e.to_string())?;
                reader.notify_read(n);
            }
            LinearReadEvent::Record { opcode, data } => {
                match mcap::parse_record(opcode, data)
                    .map_err(|e| e.to_string())?
                    .into_owned()
                {
                    Record::ChunkIndex(c) => {
                        on_chunk(ChunkEntry::of(&c).map_err(|e| {
                            format!("chunk index at {}: {e}", c.chunk_start_offset)
                        })?)?;
                    }
                    Record::Schema { header, data } => {
                        let schema = mcap::Schema {
                            id: header.id,
                            name: header.name.clone(),
                            encoding: header.encoding.clone(),
                            data: data.clone(),
                        };
                        channels
                            .add_schema(header, data)
                            .map_err(|e| e.to_string())?;
                        summary
                            .schemas
                            .entry(schema.id)
                            .or_insert_with(|| std::sync::Arc::new(schema));
                    }
                    Record::Channel(c) => {
                        let id = c.id;
                        channels.add_channel(c).map_err(|e| e.to_string())?;
                        if let Some(c) = channels.get(id) {
                            summary.channels.entry(id).or_insert(c);
                        }
                    }
                    Record::Statistics(stats) => summary.stats = Some(stats),
                    Record::MetadataIndex(i) => summary.metadata_indexes.push(i),
                    Record::AttachmentIndex(i) => summary.attachment_indexes.push(i),
                    _ => {}
                }
            }
        }
    }
    Ok(summary)
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

    /// An MCAP of `/a` and `/b` whose messages come out of log-time order (so chunks overlap
    /// in time, and some messages share a log time), in chunks of a few messages; returns
    /// the path and the messages in the order an indexed read must yield them: by log time,
    /// then by place in the file.
    fn write_shuffled(dir: &Path) -> (PathBuf, Written) {
        let path = dir.join("shuffled.mcap");
        let mut w = mcap::WriteOptions::new()
            .compression(Some(mcap::Compression::Zstd))
            .chunk_size(Some(300))
            .create(std::io::BufWriter::new(
                File::create(&path).expect("create"),
            ))
            .expect("writer");
        let ids: Vec<u16> = ["/a", "/b"]
            .iter()
            .map(|t| {
                w.add_channel(0, t, "raw", &BTreeMap::new())
                    .expect("channel")
            })
            .collect();
        let mut written = Vec::new();
        for i in 0..600u64 {
            let topic = ["/a", "/b"][(i % 2) as usize];
            // mostly rising, every fifth message late by up to five others' worth, and those
            // whose index leaves an odd remainder by 7 sharing the log time of the one before
            let log_time = 1_000 + (i - i % 7 % 2) * 10 - (i % 5 == 0) as u64 * (i % 50);
            let data = i.to_le_bytes().to_vec();
            let header = mcap::records::MessageHeader {
                channel_id: ids[(i % 2) as usize],
                sequence: i as u32,
                log_time,
                publish_time: log_time,
            };
            w.write_to_known_channel(&header, &data).expect("message");
            written.push((topic.to_owned(), log_time, data));
        }
        w.finish().expect("finish");
        // a stable sort keeps file order among equal log times
        written.sort_by_key(|m| m.1);
        (path, written)
    }

    #[test]
    fn reading_a_group_of_chunks_at_a_time_yields_what_one_reader_of_all_would() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, want) = write_shuffled(dir.path());
        let mut f = McapFile::open(&path).expect("open");
        let ids = f.channel_ids(&["/a", "/b"]);
        // chunks that overlap but start in order: none is late
        assert!(f.late_chunks.is_empty());
        let picked = f.pick(&ids, false).expect("pick");
        assert!(picked.len() > 40, "{} chunks", picked.len());
        assert!(
            picked
                .windows(2)
                .any(|w| w[1].message_start_time <= w[0].message_end_time),
            "some chunks overlap in time"
        );
        for min in [1, 2, 3, 8, GROUP_CHUNKS] {
            // the groups cut where no later message is due before an earlier one
            let mut cut = Groups::new(min);
            let mut groups: Vec<Vec<ChunkEntry>> =
                picked.iter().filter_map(|c| cut.push(c.clone())).collect();
            groups.extend(cut.finish());
            assert_eq!(groups.concat(), picked, "min {min}: every chunk, in order");
            for (i, g) in groups.iter().enumerate() {
                assert!(g.len() >= min || i + 1 == groups.len(), "min {min}");
                let end = g.iter().map(|c| c.message_end_time).max();
                if let (Some(end), Some(next)) = (end, groups.get(i + 1)) {
                    assert!(next[0].message_start_time > end, "min {min}");
                }
            }
            let n = groups.len();
            assert_eq!(n > 1, min < GROUP_CHUNKS, "min {min}: {n} groups");
            let mut got = Vec::new();
            McapFile::open(&path)
                .expect("open")
                .each_message_grouped(&["/a", "/b"], true, min, |m| {
                    got.push((m.topic.to_owned(), m.log_time_ns, m.data.to_vec()));
                    Ok(())
                })
                .expect("read");
            assert_eq!(got, want, "groups of at least {min}");
        }
    }

    /// A read streams the chunk index from the summary, holding only the late chunks, and
    /// yields exactly what a read of the whole index does, for any group size: whether the
    /// summary lists the chunks in reading order or blocks of them come late.
    #[test]
    fn a_streamed_index_reads_what_the_whole_index_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let collect = |f: &mut McapFile, release: bool, min: usize| {
            let mut got = Vec::new();
            f.each_message_grouped(&["/a", "/b"], release, min, |m| {
                got.push((m.topic.to_owned(), m.log_time_ns, m.data.to_vec()));
                Ok(())
            })
            .expect("read");
            got
        };
        let mut files = vec![
            write(dir.path(), "in-order.mcap", true),
            write_shuffled(dir.path()),
        ];
        // blocks of messages written late, each a chunk of its own starting before the one
        // before it
        let path = dir.path().join("late-blocks.mcap");
        let mut w = mcap::WriteOptions::new()
            .compression(None)
            .chunk_size(Some(1))
            .create(std::io::BufWriter::new(
                File::create(&path).expect("create"),
            ))
            .expect("writer");
        let ids = [("/a", 0), ("/b", 0)].map(|(topic, schema)| {
            w.add_channel(schema, topic, "raw", &BTreeMap::new())
                .expect("channel")
        });
        let mut want = Vec::new();
        for i in 0..90u64 {
            let log_time = 1_000 + (i % 10) * 100 + (i / 10) * 3;
            let (topic, id) = if i % 4 == 0 {
                ("/b", ids[1])
            } else {
                ("/a", ids[0])
            };
            let header = mcap::records::MessageHeader {
                channel_id: id,
                sequence: i as u32,
                log_time,
                publish_time: log_time,
            };
            let data = i.to_le_bytes().to_vec();
            w.write_to_known_channel(&header, &data).expect("message");
            want.push((topic.to_owned(), log_time, data));
        }
        w.finish().expect("finish");
        want.sort_by_key(|m| m.1);
        files.push((path, want));
        for (i, (path, want)) in files.iter().enumerate() {
            let late = McapFile::open(path).expect("open").late_chunks.len();
            assert_eq!(late > 0, i == 2, "late chunks in file {i}: {late}");
            for min in [1, 2, 5, GROUP_CHUNKS] {
                let mut streamed = McapFile::open(path).expect("open");
                let got = collect(&mut streamed, true, min);
                assert!(
                    streamed.chunks.is_none(),
                    "the index was streamed, not loaded"
                );
                assert_eq!(&got, want, "file {i} streamed, groups of at least {min}");
                let mut whole = McapFile::open(path).expect("open");
                assert!(whole.chunks().expect("index").len() > 10);
                assert_eq!(
                    &collect(&mut whole, false, min),
                    want,
                    "file {i} whole, {min}"
                );
            }
        }
        let path = dir.path().join("in-order.mcap");
        // an error of the reader's callback stops the read and is the read's error
        let mut f = McapFile::open(&path).expect("open");
        let mut seen = 0;
        let err = f
            .each_message_grouped(&["/a", "/b"], true, 1, |m| {
                seen += 1;
                if seen == 20 {
                    return Err(Error::Missing {
                        path: PathBuf::from("cb"),
                        what: format!("{}", m.log_time_ns),
                    });
                }
                Ok(())
            })
            .expect_err("stopped");
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert_eq!(seen, 20);
    }

    #[test]
    fn zstd_and_uncompressed_chunks_read_back_every_wanted_message_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for zstd in [false, true] {
            let (path, wanted) = write(dir.path(), &format!("{zstd}.mcap"), zstd);
            let mut f = McapFile::open(&path).expect("open");
            assert!(f.chunks().expect("index").len() > 10, "several chunks");
            // what a day-long recording's index costs a chunk (some 180,000 of them)
            assert!(std::mem::size_of::<ChunkEntry>() <= 72);
            assert!(f.chunks().expect("index").iter().all(|c| c.compression
                == if zstd {
                    ChunkCompression::Zstd
                } else {
                    ChunkCompression::None
                }));
            assert_eq!(read(&path).expect("read"), wanted, "zstd: {zstd}");
        }
    }

    #[test]
    fn a_file_check_asked_to_stop_gives_up_as_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = write(dir.path(), "f.mcap", true);
        let mut f = McapFile::open(&path).expect("open");
        let asked = std::cell::Cell::new(0);
        let err = f
            .file_check()
            .expect("check")
            .run_until(&|| {
                asked.set(asked.get() + 1);
                true
            })
            .expect_err("stopped");
        assert!(
            matches!(&err, Error::Interrupted { path: p } if *p == path),
            "{err}"
        );
        assert_eq!(asked.get(), 1, "asked before the first block");
        let whole = f.file_check().expect("check").run_until(&|| false);
        assert_eq!(
            whole.expect("ran"),
            f.file_check().expect("check").run().expect("ran")
        );
    }

    #[test]
    fn an_index_claiming_a_chunk_over_the_limit_is_refused_before_reading_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = write(dir.path(), "big.mcap", true);
        let mut f = McapFile::open(&path).expect("open");
        let real = f.chunks().expect("index")[0].clone();
        for at in [
            ChunkEntry {
                compressed_size: MAX_CHUNK + 1,
                ..real.clone()
            },
            ChunkEntry {
                uncompressed_size: MAX_CHUNK + 1,
                ..real.clone()
            },
        ] {
            match f.load_chunk(&at, &mut ChunkBuffers::default()) {
                Err(Error::Corrupt { offset, detail, .. }) => {
                    assert_eq!(offset, real.chunk_start_offset);
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
            let chunk = McapFile::open(&path)
                .expect("open")
                .chunks()
                .expect("index")[3]
                .clone();
            let mut bytes = std::fs::read(&path).expect("read");
            let at = chunk.data_offset + chunk.compressed_size / 2;
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
