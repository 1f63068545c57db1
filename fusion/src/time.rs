//! Time domains and mapped timestamps. All times are `i64` nanoseconds in a named domain.

use serde::{Deserialize, Serialize};

/// The clock a timestamp was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimeDomain {
    /// Host CLOCK_MONOTONIC_RAW.
    HostMonoRaw,
    /// Host CLOCK_REALTIME.
    HostRealtime,
    /// Camera device clock (ticks scaled to ns with the device's tick frequency).
    CameraTicks,
    /// Radar device clock (CPU cycle counter, unwrapped and scaled to ns).
    RadarFrame,
    /// PTP time (TAI).
    Ptp,
}

/// Where a mapped timestamp's information came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimestampSource {
    /// A device hardware clock, mapped by an estimator.
    Hw,
    /// A PTP-disciplined clock.
    Ptp,
    /// A software (host arrival) stamp.
    Sw,
}

impl TimestampSource {
    /// Upper-case name as written in reports (`HW`, `PTP`, `SW`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hw => "HW",
            Self::Ptp => "PTP",
            Self::Sw => "SW",
        }
    }
}

/// A device timestamp mapped into the host's CLOCK_MONOTONIC_RAW domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MappedTime {
    /// Host CLOCK_MONOTONIC_RAW, ns.
    pub host_ns: i64,
    /// One-sigma uncertainty of `host_ns`, ns.
    pub uncertainty_ns: f64,
    /// Where the mapping's information came from.
    pub source: TimestampSource,
}
