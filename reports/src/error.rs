//! Errors of report writing.

use std::path::{Path, PathBuf};

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

impl Error {
    /// The same error, its path moved from under `from` to the same place under `to`: a file
    /// written in a staging directory named where it was going (see [`crate::StagedDir`]).
    #[must_use]
    pub fn moved(self, from: &Path, to: &Path) -> Self {
        let place = |path: PathBuf| match path.strip_prefix(from) {
            Ok(rest) => to.join(rest),
            Err(_) => path,
        };
        match self {
            Error::Io { path, source } => Error::Io {
                path: place(path),
                source,
            },
            Error::Parquet { path, detail } => Error::Parquet {
                path: place(path),
                detail,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_files_error_names_where_the_file_was_going() {
        let (staging, out) = (Path::new("/r/.radcam-partial-x"), Path::new("/r"));
        let e = Error::Parquet {
            path: staging.join("associations.parquet"),
            detail: "No space left on device".into(),
        };
        assert_eq!(
            e.moved(staging, out).to_string(),
            "/r/associations.parquet: Parquet: No space left on device"
        );
        // a path elsewhere stays as it is
        let e = Error::Io {
            path: "/tmp/spill".into(),
            source: std::io::Error::other("full"),
        };
        match e.moved(staging, out) {
            Error::Io { path, .. } => assert_eq!(path, Path::new("/tmp/spill")),
            other => panic!("{other}"),
        }
    }
}
