//! Recording real devices: the rig file, the sources (camera, radar, PTP, node health) and the
//! session that runs them into one crash-safe MCAP.

pub mod bus;
#[cfg(feature = "aravis")]
pub mod camera;
pub mod node;
pub mod ptp;
pub mod radar;
pub mod rig;
pub mod session;

pub use rig::{Rig, RigError};
pub use session::{LiveRequest, LiveSummary, Progress, StopReason, load_rig, record_rig};
