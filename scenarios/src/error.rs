//! Errors of scenario loading and simulation.

use std::path::PathBuf;

/// Result of scenario operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong loading a scenario; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: cannot read scenario")]
    Io {
        /// Scenario path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a scenario (message names line, column and key).
    #[error("{path}: {message}")]
    Toml {
        /// Scenario path.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of its valid range.
    #[error("{path}: field '{field}': {problem}")]
    Invalid {
        /// Scenario path.
        path: PathBuf,
        /// Dotted field name.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// No file of that name and no library scenario either.
    #[error(
        "no scenario named '{name}' in the library (known: {known}); give a file path or one of those"
    )]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// Library scenario names.
        known: String,
    },
}
