//! Errors of recording.

use std::path::PathBuf;

/// Result of recorder operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong while recording.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The output could not be created, written or renamed.
    #[error("{path}")]
    Io {
        /// Output path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The MCAP writer failed.
    #[error("{path}: writing MCAP")]
    Mcap {
        /// Output path.
        path: PathBuf,
        /// The writer's error.
        source: mcap::McapError,
    },
    /// A message could not be encoded.
    #[error("encoding a message")]
    Schema(#[from] radcam_schema::Error),
    /// A topic that is not part of the contract.
    #[error("{topic} is not a contract topic")]
    UnknownTopic {
        /// The topic.
        topic: &'static str,
    },
    /// The build lacks what the request needs.
    #[error("{0}")]
    Unsupported(String),
    /// A source of a live recording panicked (a bug in radcam): the recording stopped, and what
    /// every source wrote until then was finalized.
    #[error(
        "the {source_name} source failed ({message}); the recording stopped, and what was \
         recorded until then is complete in {out}"
    )]
    SourceFailed {
        /// The source's name (`camera`, `radar`, `ptp`, `node`).
        source_name: &'static str,
        /// The panic's message.
        message: String,
        /// The finalized recording.
        out: PathBuf,
    },
    /// A live recording stopped on an error (a full disk); what it wrote is recoverable.
    #[error(
        "recording stopped; the complete chunks written so far are in {part} \
         (radcam recover {part} --out {out})"
    )]
    Stopped {
        /// The partial file.
        part: PathBuf,
        /// The requested output.
        out: PathBuf,
        /// What went wrong.
        source: Box<Error>,
    },
    /// A log time before the clock's epoch.
    #[error("{topic}: log time {log_time_ns} ns is negative")]
    NegativeTime {
        /// Topic.
        topic: &'static str,
        /// The offending time, ns.
        log_time_ns: i64,
    },
}
