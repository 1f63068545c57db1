//! Scenario file format and the seeded world and sensor simulator.
//!
//! A scenario (TOML) describes targets on trajectories and the rig: a camera with its device
//! clock, latch round trips, frame latency and detector; a radar with its own clock and
//! clutter; a PTP offset process; a temperature profile. The [`Simulator`] turns it into the
//! exact message stream a recorder would capture, in log-time order, seeded with ChaCha8: the
//! same scenario and seed always give the same messages.

pub mod clock;
pub mod config;
pub mod error;
pub mod preview;
pub mod sim;
pub mod sync_bench;
pub mod world;

pub use config::Scenario;
pub use error::{Error, Result};
pub use sim::{SimEvent, SimMessage, Simulator};

/// The embedded default scenario: the demo and benchmark rig.
pub const DEMO_TOML: &str = include_str!("../library/demo.toml");

/// The embedded scenario library, by name (the files in `scenarios/library/`).
pub const LIBRARY: &[(&str, &str)] = &[
    ("demo", DEMO_TOML),
    ("separated", include_str!("../library/separated.toml")),
    ("crossing", include_str!("../library/crossing.toml")),
    ("close_pair", include_str!("../library/close_pair.toml")),
    ("multipath", include_str!("../library/multipath.toml")),
    (
        "dense_clutter",
        include_str!("../library/dense_clutter.toml"),
    ),
];
