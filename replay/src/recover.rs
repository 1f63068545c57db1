//! `radcam recover BROKEN.mcap --out FIXED.mcap`: rewrites what is intact of a damaged
//! recording (a killed recorder's `.part` file, a cut copy) as a complete, indexed MCAP.
//!
//! The broken file is scanned like `replay --salvage` does ([`crate::salvage::Salvaged`]): every
//! chunk whose CRC checks out is kept, every message in it is written again with its log time,
//! every metadata record is copied, and a `radcam.recovered` metadata record lists what was lost.
//! Channels outside the topic contract (a logger's own topics merged in) are written again
//! with their schema, encodings and metadata.

use crate::salvage::{Gap, Salvaged};
use crate::{Error, Result};
use radcam_recorder::McapSink;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metadata record a recovered file carries: `source`, `source_sha256`, `gaps` and one
/// `gap.N` entry per damaged region.
pub const RECOVERED_METADATA: &str = "radcam.recovered";

/// What a recovery kept and lost.
#[derive(Debug, Clone)]
pub struct RecoverSummary {
    /// The recovered file.
    pub path: PathBuf,
    /// Messages written, per topic.
    pub counts: BTreeMap<String, u64>,
    /// Damaged or missing regions of the broken file.
    pub gaps: Vec<Gap>,
    /// Messages on channels outside the topic contract (a logger's own topics merged in),
    /// kept with their channels' schemas, encodings and metadata.
    pub foreign_messages: u64,
}

/// Recovers `broken` into `out` (written as `out.part`, renamed when complete).
pub fn recover(broken: &Path, out: &Path) -> Result<RecoverSummary> {
    crate::out_path::check_output(out, &[(broken, "the broken file")])?;
    let mut salvaged = Salvaged::scan(broken)?;
    let all: Vec<String> = salvaged.counts.keys().cloned().collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();

    let part = radcam_recorder::sim_source::partial_path(out);
    let mut sink = McapSink::create(&part)?;
    for (name, entries) in &salvaged.metadata {
        sink.metadata(name, entries.clone())?;
    }
    let mut meta = BTreeMap::new();
    meta.insert("source".to_owned(), broken.display().to_string());
    meta.insert("source_sha256".to_owned(), salvaged.content_hash.clone());
    meta.insert("gaps".to_owned(), salvaged.gaps.len().to_string());
    for (i, g) in salvaged.gaps.iter().enumerate() {
        meta.insert(
            format!("gap.{i}"),
            format!(
                "offset {} log time {}..{} ns: {}",
                g.offset,
                g.start_ns.map_or("?".into(), |t| t.to_string()),
                g.end_ns.map_or("?".into(), |t| t.to_string()),
                g.reason
            ),
        );
    }
    sink.metadata(RECOVERED_METADATA, meta)?;

    // a channel outside the contract is written again like it was
    let mut foreign_ids: BTreeMap<u16, u16> = BTreeMap::new();
    for (id, channel) in salvaged.channels() {
        if sink.contract_topic(&channel.topic).is_none() {
            foreign_ids.insert(id, sink.add_foreign_channel(&channel)?);
        }
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut foreign = 0u64;
    salvaged.for_each_message(&all_refs, |m| {
        let t = i64::try_from(m.log_time_ns).map_err(|_| Error::Invalid {
            path: broken.to_owned(),
            problem: format!("{}: log time {} ns out of range", m.topic, m.log_time_ns),
        })?;
        match (sink.contract_topic(m.topic), foreign_ids.get(&m.channel_id)) {
            (Some(topic), _) => sink.write_encoded(topic, t, m.data)?,
            (None, Some(&id)) => {
                foreign += 1;
                sink.write_foreign(id, m.log_time_ns, m.data)?;
            }
            (None, None) => return Ok(()),
        }
        *counts.entry(m.topic.to_owned()).or_insert(0) += 1;
        Ok(())
    })?;
    sink.finish_into(&part, out)?;
    Ok(RecoverSummary {
        path: out.to_owned(),
        counts,
        gaps: salvaged.gaps.clone(),
        foreign_messages: foreign,
    })
}
