//! Recording sources (simulator, camera, radar, PTP, node health) and the MCAP writer.
//!
//! Sources produce contract messages; [`writer::McapSink`] writes them as a chunked, indexed,
//! zstd-compressed MCAP. The simulator source never sleeps: an hour of rig records in seconds.

pub mod error;
pub mod live;
pub mod mmwave;
pub mod ptp_mgmt;
pub mod sim_source;
pub mod writer;

pub use error::{Error, Result};
pub use sim_source::{
    RecordControl, RecordRequest, RecordSummary, record_scenario, record_scenario_controlled,
    record_scenario_with,
};
pub use writer::McapSink;
