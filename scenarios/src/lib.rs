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
    ("ptp_holdover", include_str!("../library/ptp_holdover.toml")),
    (
        "extrinsic_creep",
        include_str!("../library/extrinsic_creep.toml"),
    ),
    (
        "latency_jitter",
        include_str!("../library/latency_jitter.toml"),
    ),
    ("radar_stall", include_str!("../library/radar_stall.toml")),
    (
        "radar_clock_reference",
        include_str!("../library/radar_clock_reference.toml"),
    ),
    (
        "thermal_mechanics",
        include_str!("../library/thermal_mechanics.toml"),
    ),
    (
        "thermal_time_offset",
        include_str!("../library/thermal_time_offset.toml"),
    ),
    (
        "misaligned_time",
        include_str!("../library/misaligned_time.toml"),
    ),
    (
        "lens_model_mismatch",
        include_str!("../library/lens_model_mismatch.toml"),
    ),
    (
        "firmware_update",
        include_str!("../library/firmware_update.toml"),
    ),
    (
        "reflective_ghosts",
        include_str!("../library/reflective_ghosts.toml"),
    ),
    (
        "video_streams",
        include_str!("../library/video_streams.toml"),
    ),
    (
        "network_queue_jitter",
        include_str!("../library/network_queue_jitter.toml"),
    ),
    (
        "cpu_scheduling_jitter",
        include_str!("../library/cpu_scheduling_jitter.toml"),
    ),
    (
        "software_timestamps_load",
        include_str!("../library/software_timestamps_load.toml"),
    ),
    (
        "chamber_ramp_soak",
        include_str!("../library/chamber_ramp_soak.toml"),
    ),
    (
        "dense_clutter",
        include_str!("../library/dense_clutter.toml"),
    ),
];
