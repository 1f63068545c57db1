//! MCAP reader and the deterministic replay runner.
//!
//! The reader goes through the MCAP index and reads only the channels a run needs, checking
//! every chunk's CRC; the runner feeds them in log-time order through the pure fusion core and
//! evaluates the gates. Nothing here reads a clock: the same recording and configuration give
//! the same results.

pub mod calib_file;
pub mod diagnose;
pub mod error;
pub mod extract;
pub mod faults;
pub mod gates_file;
pub mod inspect;
pub mod node_model;
pub mod out_path;
pub mod reader;
pub mod recover;
pub mod runner;
pub mod salvage;
pub mod spill;
pub mod sweep;
pub mod sync_csv;
pub mod time_limit;
pub mod time_offset;
pub mod tolerance_file;

pub use error::{Error, Result};
pub use reader::McapFile;
pub use runner::{ReplayConfig, ReplayOutput, replay, replay_into, replay_with_progress};

/// Reads a text input file, naming it in the error.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}
