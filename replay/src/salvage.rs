//! Salvage: reading what is intact of a damaged recording (`replay --salvage`).
//!
//! The index is not trusted (a killed recorder leaves none): the data section is scanned
//! record by record from the start. Every chunk whose CRC checks out is kept; a damaged chunk,
//! a record cut short at the end of the file, or bytes that no longer parse as records become
//! a [`Gap`] naming the byte offset and, where the chunk header survived, its log-time range.
//! Metadata records (calibration, recording info) are collected on the way.

use crate::reader::RawMessage;
use crate::{Error, Result};
use mcap::records::Record;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest record salvage reads, bytes (a larger length field is damage).
const MAX_RECORD: u64 = 1 << 30;

/// A part of the recording that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Byte offset of the damaged record.
    pub offset: u64,
    /// First log time the damaged chunk held, ns (when its header survived).
    pub start_ns: Option<u64>,
    /// Last log time it held, ns.
    pub end_ns: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, Copy)]
struct ChunkAt {
    offset: u64,
    body_len: u64,
    start_ns: u64,
}

/// The schema and channel records a scan met, by id: what a channel outside the topic
/// contract is written again with.
#[derive(Debug, Default)]
struct Definitions {
    schemas: BTreeMap<u16, (mcap::records::SchemaHeader, Vec<u8>)>,
    channels: BTreeMap<u16, mcap::records::Channel>,
}

impl Definitions {
    /// Keeps the record `body` of opcode `op` if it is a schema or a channel.
    fn note(&mut self, op: u8, body: &[u8]) {
        match mcap::parse_record(op, body) {
            Ok(Record::Schema { header, data }) => {
                self.schemas.insert(header.id, (header, data.into_owned()));
            }
            Ok(Record::Channel(c)) => {
                self.channels.insert(c.id, c);
            }
            _ => {}
        }
    }
}

/// The intact part of a recording, found by a linear scan.
#[derive(Debug)]
pub struct Salvaged {
    path: PathBuf,
    file: File,
    chunks: Vec<ChunkAt>,
    definitions: Definitions,
    /// Damaged or missing parts, in file order.
    pub gaps: Vec<Gap>,
    /// Metadata records, by name.
    pub metadata: BTreeMap<String, BTreeMap<String, String>>,
    /// Intact messages per topic.
    pub counts: BTreeMap<String, u64>,
    /// SHA-256 of the file as it is, hex.
    pub content_hash: String,
}

fn read_exact_at(file: &mut File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.read_exact(buf).map_err(io)
}

/// Decompresses a chunk record body and checks its CRC; returns its records.
fn open_chunk(body: &[u8]) -> std::result::Result<(mcap::records::ChunkHeader, Vec<u8>), String> {
    let Record::Chunk { header, data } =
        mcap::parse_record(0x06, body).map_err(|e| format!("chunk header: {e}"))?
    else {
        return Err("not a chunk".into());
    };
    if header.uncompressed_size > MAX_RECORD {
        return Err(format!(
            "uncompressed size {} is implausible",
            header.uncompressed_size
        ));
    }
    let mut records = Vec::new();
    crate::reader::chunk_records(
        header.compression.as_bytes(),
        &data,
        header.uncompressed_size,
        (header.uncompressed_crc != 0).then_some(header.uncompressed_crc),
        &mut None,
        &mut records,
    )?;
    Ok((header, records))
}

/// Calls `f(opcode, body)` for every record in `data`.
fn records(
    data: &[u8],
    mut f: impl FnMut(u8, &[u8]) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let mut pos = 0usize;
    while pos < data.len() {
        let head = data
            .get(pos..pos + 9)
            .ok_or_else(|| format!("record cut short at chunk byte {pos}"))?;
        let op = head[0];
        let len = u64::from_le_bytes(head[1..9].try_into().unwrap_or([0; 8]));
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| (pos + 9).checked_add(l))
            .filter(|e| *e <= data.len())
            .ok_or_else(|| format!("record at chunk byte {pos} runs past the chunk"))?;
        f(op, &data[pos + 9..end])?;
        pos = end;
    }
    Ok(())
}

impl Salvaged {
    /// Scans `path` from the start, keeping every intact chunk and noting every gap.
    pub fn scan(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut magic = [0u8; 8];
        if len < 8 || read_exact_at(&mut file, path, 0, &mut magic).is_err() || magic != mcap::MAGIC
        {
            return Err(Error::NotMcap {
                path: path.to_owned(),
                detail: "no MCAP magic at the start: nothing to salvage".into(),
            });
        }
        let mut s = Self {
            path: path.to_owned(),
            file,
            chunks: Vec::new(),
            definitions: Definitions::default(),
            gaps: Vec::new(),
            metadata: BTreeMap::new(),
            counts: BTreeMap::new(),
            content_hash: String::new(),
        };
        let mut pos = 8u64;
        let mut body = Vec::new();
        loop {
            if pos == len {
                s.gaps.push(Gap {
                    offset: pos,
                    start_ns: None,
                    end_ns: None,
                    reason: "file ends without a summary (recorder stopped before finishing)"
                        .into(),
                });
                break;
            }
            let mut head = [0u8; 9];
            if pos + 9 > len {
                s.gaps.push(Gap {
                    offset: pos,
                    start_ns: None,
                    end_ns: None,
                    reason: format!("{} bytes of a record cut short at the end", len - pos),
                });
                break;
            }
            read_exact_at(&mut s.file, path, pos, &mut head)?;
            let op = head[0];
            let rlen = u64::from_le_bytes(head[1..9].try_into().unwrap_or([0; 8]));
            if !(0x01..=0x10).contains(&op) || rlen > MAX_RECORD {
                s.gaps.push(Gap {
                    offset: pos,
                    start_ns: None,
                    end_ns: None,
                    reason: format!(
                        "no record here (opcode {op:#04x}, length {rlen}): unreadable to the end"
                    ),
                });
                break;
            }
            let available = len - pos - 9;
            let take = rlen.min(available);
            body.resize(take as usize, 0);
            read_exact_at(&mut s.file, path, pos + 9, &mut body)?;
            let times = |b: &[u8]| {
                let t = |i: usize| {
                    b.get(i..i + 8)
                        .map(|x| u64::from_le_bytes(x.try_into().unwrap_or([0; 8])))
                };
                (t(0), t(8))
            };
            if rlen > available {
                let (start_ns, end_ns) = if op == 0x06 {
                    times(&body)
                } else {
                    (None, None)
                };
                s.gaps.push(Gap {
                    offset: pos,
                    start_ns,
                    end_ns,
                    reason: format!("record cut short at the end ({available} of {rlen} bytes)"),
                });
                break;
            }
            match op {
                0x06 => match open_chunk(&body) {
                    Ok((header, data)) => {
                        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                        let parsed = records(&data, |op, b| {
                            match op {
                                0x03 | 0x04 => s.definitions.note(op, b),
                                0x05 => {
                                    let id = b
                                        .get(0..2)
                                        .map(|x| u16::from_le_bytes([x[0], x[1]]))
                                        .ok_or("message record too short")?;
                                    if let Some(c) = s.definitions.channels.get(&id) {
                                        *counts.entry(c.topic.clone()).or_insert(0) += 1;
                                    }
                                }
                                _ => {}
                            }
                            Ok(())
                        });
                        match parsed {
                            // an empty chunk (a writer's flush) holds nothing to replay
                            Ok(()) if counts.is_empty() => {}
                            Ok(()) => {
                                for (t, n) in counts {
                                    *s.counts.entry(t).or_insert(0) += n;
                                }
                                s.chunks.push(ChunkAt {
                                    offset: pos,
                                    body_len: rlen,
                                    start_ns: header.message_start_time,
                                });
                            }
                            Err(reason) => s.gaps.push(Gap {
                                offset: pos,
                                start_ns: Some(header.message_start_time),
                                end_ns: Some(header.message_end_time),
                                reason,
                            }),
                        }
                    }
                    Err(reason) => {
                        let (start_ns, end_ns) = times(&body);
                        s.gaps.push(Gap {
                            offset: pos,
                            start_ns,
                            end_ns,
                            reason,
                        });
                    }
                },
                0x03 | 0x04 => s.definitions.note(op, &body),
                0x0C => match mcap::parse_record(op, &body) {
                    Ok(Record::Metadata(m)) => {
                        s.metadata.insert(m.name, m.metadata);
                    }
                    _ => s.gaps.push(Gap {
                        offset: pos,
                        start_ns: None,
                        end_ns: None,
                        reason: "damaged metadata record".into(),
                    }),
                },
                // DataEnd: the summary follows; everything in the data section was seen
                0x0F => break,
                _ => {}
            }
            pos += 9 + rlen;
        }
        s.chunks.sort_by_key(|c| c.start_ns);
        s.content_hash = hash_file(&mut s.file, path)?;
        Ok(s)
    }

    /// The ids of the channels the scan met, each with its channel as the file defined it
    /// (its schema when the scan met that too).
    pub fn channels(&self) -> Vec<(u16, mcap::Channel<'static>)> {
        let d = &self.definitions;
        d.channels
            .values()
            .map(|c| {
                let schema = d.schemas.get(&c.schema_id).map(|(h, data)| {
                    std::sync::Arc::new(mcap::Schema {
                        id: h.id,
                        name: h.name.clone(),
                        encoding: h.encoding.clone(),
                        data: std::borrow::Cow::Owned(data.clone()),
                    })
                });
                let channel = mcap::Channel {
                    id: c.id,
                    topic: c.topic.clone(),
                    schema,
                    message_encoding: c.message_encoding.clone(),
                    metadata: c.metadata.clone(),
                };
                (c.id, channel)
            })
            .collect()
    }

    /// The first log time of the intact messages, ns.
    pub fn start_ns(&self) -> u64 {
        self.chunks.first().map_or(0, |c| c.start_ns)
    }

    /// Calls `f` with every intact message on `topics`: chunk by chunk in time order, in
    /// log-time order within each chunk.
    pub fn for_each_message(
        &mut self,
        topics: &[&str],
        mut f: impl FnMut(RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut body = Vec::new();
        let mut channels: BTreeMap<u16, String> = self
            .definitions
            .channels
            .iter()
            .map(|(id, c)| (*id, c.topic.clone()))
            .collect();
        for c in self.chunks.clone() {
            body.resize(c.body_len as usize, 0);
            read_exact_at(&mut self.file, &self.path, c.offset + 9, &mut body)?;
            let corrupt = |detail: String| Error::Corrupt {
                path: self.path.clone(),
                record: "chunk",
                offset: c.offset,
                detail,
            };
            // the file changed since the scan if this fails
            let (_, data) = open_chunk(&body).map_err(corrupt)?;
            let mut found: Vec<(u64, u16, std::ops::Range<usize>)> = Vec::new();
            let base = data.as_ptr() as usize;
            records(&data, |op, b| {
                match op {
                    0x04 => {
                        if let Ok(Record::Channel(ch)) = mcap::parse_record(op, b) {
                            channels.insert(ch.id, ch.topic);
                        }
                    }
                    0x05 if b.len() >= 22 => {
                        let id = u16::from_le_bytes([b[0], b[1]]);
                        let log_time = u64::from_le_bytes(b[6..14].try_into().unwrap_or([0; 8]));
                        let start = b.as_ptr() as usize - base + 22;
                        found.push((log_time, id, start..start + b.len() - 22));
                    }
                    _ => {}
                }
                Ok(())
            })
            .map_err(corrupt)?;
            found.sort_by_key(|m| m.0);
            for (log_time_ns, id, range) in found {
                let Some(topic) = channels.get(&id) else {
                    continue;
                };
                if !topics.contains(&topic.as_str()) {
                    continue;
                }
                f(RawMessage {
                    channel_id: id,
                    topic,
                    log_time_ns,
                    data: &data[range],
                })?;
            }
        }
        Ok(())
    }
}

fn hash_file(file: &mut File, path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(sha.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
