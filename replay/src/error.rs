//! Errors of replay: every variant names the file.

use std::path::{Path, PathBuf};

/// Result of replay operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong reading or replaying a recording.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}")]
    Io {
        /// Recording path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The directory the metric samples wait in (`$TMPDIR`) cannot take them.
    #[error(
        "{dir}: cannot keep the replay's metric samples there (set TMPDIR to a writable directory with room: 16 bytes a sample)"
    )]
    Spill {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not an MCAP file at all.
    #[error("{path}: not an MCAP file: {detail}")]
    NotMcap {
        /// Recording path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A record is damaged or missing.
    #[error("{path}: corrupt {record} at byte offset {offset}: {detail}")]
    Corrupt {
        /// Recording path.
        path: PathBuf,
        /// Which record: `footer`, `summary`, `chunk`, `data section`, `metadata`.
        record: &'static str,
        /// Byte offset of the record in the file.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A message does not decode as its topic's type.
    #[error("{path}: message at log time {log_time_ns} ns")]
    Decode {
        /// Recording path.
        path: PathBuf,
        /// Log time of the message, ns.
        log_time_ns: u64,
        /// The decoder's error.
        source: radcam_schema::Error,
    },
    /// A gates or tolerance file that does not parse (the message names line and key).
    #[error("{path}: {message}")]
    Config {
        /// File path.
        path: PathBuf,
        /// The parser's message, or the field and what is wrong with it.
        message: String,
    },
    /// A CSV input line that does not parse.
    #[error("{path}:{line}: {detail}")]
    Csv {
        /// Input path.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong, naming the column.
        detail: String,
    },
    /// The recording lacks something the replay needs.
    #[error("{path}: {what}")]
    Missing {
        /// Recording path.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// The calibration record in the recording is invalid.
    #[error("{path}: calibration metadata")]
    Calibration {
        /// Recording path.
        path: PathBuf,
        /// Why it was rejected.
        source: radcam_fusion::Error,
    },
    /// A calibration record was not activated.
    #[error("{path}: calibration rejected")]
    CalibrationRejected {
        /// Candidate record path.
        path: PathBuf,
        /// Why.
        source: radcam_fusion::calib::Rejection,
    },
    /// An input or request that cannot be carried out.
    #[error("{path}: {problem}")]
    Invalid {
        /// The input concerned.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The replay was stopped (Ctrl-C or SIGTERM) before the end of the recording.
    #[error("{path}: interrupted before the end of the recording")]
    Interrupted {
        /// Recording path.
        path: PathBuf,
    },
    /// Writing a recording failed (`radcam recover`).
    #[error(transparent)]
    Recorder(#[from] radcam_recorder::Error),
    /// A configuration problem found by the fusion core (unknown estimator or metric).
    #[error(transparent)]
    Fusion(#[from] radcam_fusion::Error),
    /// Writing reports failed.
    #[error(transparent)]
    Report(#[from] radcam_reports::Error),
}

impl Error {
    /// This error with `to` for its path when that is `from`: an error met in a temporary
    /// copy of a recording (a window's slice), told of the recording it was copied from. A
    /// slice keeps its messages' log times, so a decoding error's log time still holds.
    pub(crate) fn for_path(mut self, from: &Path, to: &Path) -> Self {
        let path = match &mut self {
            Error::Io { path, .. }
            | Error::NotMcap { path, .. }
            | Error::Corrupt { path, .. }
            | Error::Decode { path, .. }
            | Error::Config { path, .. }
            | Error::Csv { path, .. }
            | Error::Missing { path, .. }
            | Error::Calibration { path, .. }
            | Error::CalibrationRejected { path, .. }
            | Error::Invalid { path, .. }
            | Error::Interrupted { path } => Some(path),
            Error::Spill { .. } | Error::Recorder(_) | Error::Fusion(_) | Error::Report(_) => None,
        };
        if let Some(path) = path
            && path == from
        {
            *path = to.to_owned();
        }
        self
    }
}
