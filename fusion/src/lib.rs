//! The pure fusion core: clock estimation, geometry, calibration records, association, tracking, metrics and gates.
//!
//! Nothing here does I/O, reads a clock, spawns a thread or holds global state: time comes in
//! as data, and every result is a function of the inputs. That is what makes replay
//! deterministic.

pub mod assignment;
pub mod associate;
pub mod audit;
pub mod calib;
pub mod camera_motion;
pub mod clock;
pub mod distance_gate;
pub mod error;
pub mod fused;
pub mod gates;
pub mod geometry;
pub mod metrics;
pub mod projection;
pub mod provenance;
pub mod radar;
pub mod shown;
pub mod sorted_map;
pub mod stats;
pub mod sync;
pub mod time;
pub mod timeline;
pub mod track;

pub use error::{Error, Result};
