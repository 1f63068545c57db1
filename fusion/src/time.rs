//! Where a timestamp came from. All times in radcam are `i64` nanoseconds in a named domain
//! (host CLOCK_MONOTONIC_RAW unless a name says otherwise).

use serde::{Deserialize, Serialize};

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
