//! The provenance tag every fused output and report row derived from one carries.

use crate::sync::SyncState;
use crate::time::TimestampSource;

/// Provenance of one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// Where the output's timestamp came from.
    pub timestamp_source: TimestampSource,
    /// Calibration version in force.
    pub cal_version: u64,
    /// Configuration version in force.
    pub config_version: u64,
    /// Sync state when the output was made.
    pub sync_state: SyncState,
    /// Which clock mapping produced the timestamp: `camera/<estimator>/epoch<N>`.
    pub clock_id: ClockId,
    /// The PTP offset magnitude bucket at the time (`none`, `<1us`, `<10us`, `<100us`, `<1ms`,
    /// `>=1ms`).
    pub ptp_offset_ns_bucket: &'static str,
    /// Monotonic output sequence number.
    pub event_seq: u64,
}

/// Bucket of a PTP offset magnitude (ns); `None` when there is no PTP data.
pub fn ptp_offset_bucket(offset_ns: Option<f64>) -> &'static str {
    match offset_ns.map(f64::abs) {
        None => "none",
        Some(v) if v < 1e3 => "<1us",
        Some(v) if v < 1e4 => "<10us",
        Some(v) if v < 1e5 => "<100us",
        Some(v) if v < 1e6 => "<1ms",
        Some(_) => ">=1ms",
    }
}

/// Which clock mapping produced a timestamp; written as `camera/<estimator>/epoch<N>`.
///
/// Kept as its parts rather than as text: every fused output and association row carries
/// one, so it is a plain copy, with no allocation or shared reference count per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClockId {
    /// The camera clock estimator's registered name.
    pub estimator: &'static str,
    /// Sync epoch: 0 until the first clock step, then one more per step.
    pub epoch: u64,
}

impl std::fmt::Display for ClockId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "camera/{}/epoch{}", self.estimator, self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_decades() {
        assert_eq!(ptp_offset_bucket(None), "none");
        assert_eq!(ptp_offset_bucket(Some(-999.0)), "<1us");
        assert_eq!(ptp_offset_bucket(Some(1_000.0)), "<10us");
        assert_eq!(ptp_offset_bucket(Some(5e6)), ">=1ms");
        let id = ClockId {
            estimator: "bracket",
            epoch: 2,
        };
        assert_eq!(id.to_string(), "camera/bracket/epoch2");
    }
}
