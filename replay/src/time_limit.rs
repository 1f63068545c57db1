//! Which times a recorded message can carry: a message with a time beyond [`TIME_LIMIT_NS`]
//! is garbage and is left out whole, by the replay and by the diagnosis alike.

use radcam_schema::fusion_views::FusionDetections;
use radcam_schema::proto;

/// Magnitude from which a message's time is impossible, ns: 2^62, about 146 years. A
/// sender's clock reads less than that from any epoch it counts from (boot, 1970, the
/// device's power-up), so a message carrying such a time is garbage (a corrupt field, a
/// driver's sentinel such as -1 as `u64` or `i64::MAX`). Every time the replay then adds
/// or subtracts stays within `i64`.
pub const TIME_LIMIT_NS: i64 = 1 << 62;

/// Whether every one of `times_ns` is below [`TIME_LIMIT_NS`] in magnitude.
pub fn possible_times(times_ns: &[i64]) -> bool {
    times_ns
        .iter()
        .all(|t| t.unsigned_abs() < TIME_LIMIT_NS.unsigned_abs())
}

/// Whether a message's log time (ns, as MCAP stores it) is below [`TIME_LIMIT_NS`].
pub fn possible_log_time(log_time_ns: u64) -> bool {
    log_time_ns < TIME_LIMIT_NS.unsigned_abs()
}

/// `time_ns` with `corrections_ns` added, if the sum is a possible time.
pub fn mapped_time(time_ns: i64, corrections_ns: &[i64]) -> Option<i64> {
    corrections_ns
        .iter()
        .try_fold(time_ns, |t, c| t.checked_add(*c))
        .filter(|t| possible_times(&[*t]))
}

/// The host and device times a message carries, ns (unused places 0).
pub trait MessageTimes {
    /// Its times, ns.
    fn times_ns(&self) -> [i64; 4];

    /// Whether all of them are possible times.
    fn possible(&self) -> bool {
        possible_times(&self.times_ns())
    }
}

impl MessageTimes for proto::PtpStatus {
    fn times_ns(&self) -> [i64; 4] {
        [self.host_query_ns, 0, 0, 0]
    }
}

impl MessageTimes for proto::CameraLatch {
    fn times_ns(&self) -> [i64; 4] {
        [
            self.host_before_ns,
            self.device_ns,
            self.host_after_ns,
            self.host_after_read_ns,
        ]
    }
}

impl MessageTimes for proto::CameraFrame {
    fn times_ns(&self) -> [i64; 4] {
        [
            self.device_ns,
            self.host_arrival_ns,
            self.aravis_system_ns,
            0,
        ]
    }
}

impl MessageTimes for FusionDetections {
    fn times_ns(&self) -> [i64; 4] {
        [self.device_ns, self.host_ns, 0, 0]
    }
}

impl MessageTimes for proto::NodeStats {
    fn times_ns(&self) -> [i64; 4] {
        [self.host_ns, 0, 0, 0]
    }
}

impl MessageTimes for proto::RadarFrame {
    fn times_ns(&self) -> [i64; 4] {
        [self.device_ns, self.host_arrival_ns, 0, 0]
    }
}

impl MessageTimes for proto::TruthClock {
    fn times_ns(&self) -> [i64; 4] {
        [
            self.host_ns,
            self.camera_device_ns,
            self.radar_device_ns,
            self.camera_offset_ns,
        ]
    }
}

impl MessageTimes for proto::TruthObjects {
    fn times_ns(&self) -> [i64; 4] {
        [self.host_ns, 0, 0, 0]
    }
}

impl MessageTimes for proto::AuditEvent {
    fn times_ns(&self) -> [i64; 4] {
        [self.event_ts_ns, 0, 0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_exclusive_on_both_sides() {
        assert!(possible_times(&[
            0,
            1,
            -1,
            TIME_LIMIT_NS - 1,
            -TIME_LIMIT_NS + 1
        ]));
        for t in [TIME_LIMIT_NS, -TIME_LIMIT_NS, i64::MAX, i64::MIN] {
            assert!(!possible_times(&[0, t]), "{t}");
        }
        assert!(possible_log_time(TIME_LIMIT_NS.unsigned_abs() - 1));
        assert!(!possible_log_time(TIME_LIMIT_NS.unsigned_abs()));
        assert!(!possible_log_time(u64::MAX));
    }

    #[test]
    fn mapped_times_never_overflow_and_stay_possible() {
        assert_eq!(mapped_time(5, &[-2, 10]), Some(13));
        assert_eq!(mapped_time(TIME_LIMIT_NS - 1, &[1]), None);
        assert_eq!(mapped_time(i64::MAX, &[i64::MAX]), None);
        assert_eq!(mapped_time(i64::MIN, &[1]), None);
        // a correction may bring a wild mapping back in range
        assert_eq!(mapped_time(TIME_LIMIT_NS, &[-1]), Some(TIME_LIMIT_NS - 1));
    }

    #[test]
    fn a_message_is_judged_by_every_time_it_carries() {
        let mut f = proto::CameraFrame {
            device_ns: 1,
            host_arrival_ns: 2,
            ..Default::default()
        };
        assert!(f.possible());
        f.aravis_system_ns = -TIME_LIMIT_NS;
        assert!(!f.possible());
        let l = proto::CameraLatch {
            host_after_read_ns: i64::MAX,
            ..Default::default()
        };
        assert!(!l.possible());
    }
}
