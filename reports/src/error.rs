//! Errors of report writing.

use std::path::PathBuf;

/// Result of report operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong writing a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The output could not be created or written.
    #[error("{path}")]
    Io {
        /// Output path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Arrow or Parquet rejected the table (writing) or the file (reading).
    #[error("{path}: Parquet: {detail}")]
    Parquet {
        /// Output path.
        path: PathBuf,
        /// The library's message.
        detail: String,
    },
}
