//! Calibration records: intrinsics, extrinsics and the radar time offset, with version,
//! rollback guard and a CRC over the payload.

use crate::geometry::{Intrinsics, RigidTransform};
use crate::{Error, Result};
use nalgebra::Isometry3;
use serde::{Deserialize, Serialize};

/// A/B slot of a calibration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slot {
    /// Slot A.
    A,
    /// Slot B.
    B,
}

/// One calibration record as it travels in recordings (MCAP metadata, canonical JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationRecord {
    /// Camera sensor id.
    pub sensor_id: String,
    /// Rig the record belongs to.
    pub rig_id: String,
    /// When the calibration was made, host realtime ns.
    pub cal_timestamp_ns: i64,
    /// Timestamp source of `cal_timestamp_ns` (`HW`, `PTP`, `SW`).
    pub timestamp_source: String,
    /// Monotonic calibration version.
    pub cal_version: u64,
    /// Slot this record occupies.
    pub active_slot: Slot,
    /// Versions at or below this are rejected.
    pub rollback_guard: u64,
    /// Camera intrinsics.
    pub intrinsics: Intrinsics,
    /// Radar to camera extrinsic.
    pub camera_from_radar: RigidTransform,
    /// Radar mount in the rig (for ground-plane outputs).
    pub rig_from_radar: RigidTransform,
    /// Added to a radar time mapped from its arrival envelope to get the radar measurement
    /// instant in host time, ns (negative: the measurement precedes the envelope).
    pub radar_time_offset_ns: i64,
    /// CRC-32 (IEEE) of the canonical JSON of this record with `crc32` set to 0.
    pub crc32: u32,
}

impl CalibrationRecord {
    /// CRC-32 over the canonical JSON payload (the record with `crc32` = 0).
    pub fn payload_crc(&self) -> u32 {
        let mut zeroed = self.clone();
        zeroed.crc32 = 0;
        crc32fast::hash(zeroed.canonical_json().as_bytes())
    }

    /// Sets `crc32` from the payload.
    pub fn seal(mut self) -> Self {
        self.crc32 = self.payload_crc();
        self
    }

    /// Canonical JSON (field order fixed by the struct, shortest round-trip floats).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and verifies a record: JSON shape, CRC, and sane intrinsics.
    pub fn from_json(text: &str) -> Result<Self> {
        let rec: Self =
            serde_json::from_str(text).map_err(|e| Error::CalibrationParse(e.to_string()))?;
        rec.verify()?;
        Ok(rec)
    }

    /// Checks the CRC and that the intrinsics describe a camera.
    pub fn verify(&self) -> Result<()> {
        let computed = self.payload_crc();
        if computed != self.crc32 {
            return Err(Error::BadCrc {
                saved: self.crc32,
                computed,
            });
        }
        let i = &self.intrinsics;
        for (field, v) in [("intrinsics.fx_px", i.fx_px), ("intrinsics.fy_px", i.fy_px)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::CalibrationField {
                    field,
                    problem: format!("must be a positive focal length, got {v}"),
                });
            }
        }
        if i.width_px == 0 || i.height_px == 0 {
            return Err(Error::CalibrationField {
                field: "intrinsics.width_px",
                problem: "image size must be non-zero".into(),
            });
        }
        Ok(())
    }

    /// The radar-to-camera isometry.
    pub fn camera_from_radar(&self) -> Isometry3<f64> {
        self.camera_from_radar.isometry()
    }

    /// The radar-to-rig isometry.
    pub fn rig_from_radar(&self) -> Isometry3<f64> {
        self.rig_from_radar.isometry()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geometry::{mount_pose, rig_from_optical_axes, rig_from_radar_axes};

    pub(crate) fn sample() -> CalibrationRecord {
        let cam = mount_pose([0.0, 0.0, 1.5], [0.0; 3], rig_from_optical_axes());
        let radar = mount_pose([0.0, 0.0, 1.0], [0.0; 3], rig_from_radar_axes());
        CalibrationRecord {
            sensor_id: "cam0".into(),
            rig_id: "rig0".into(),
            cal_timestamp_ns: 1,
            timestamp_source: "HW".into(),
            cal_version: 3,
            active_slot: Slot::A,
            rollback_guard: 2,
            intrinsics: Intrinsics {
                fx_px: 1000.0,
                fy_px: 1000.0,
                cx_px: 720.0,
                cy_px: 540.0,
                k1: -0.1,
                k2: 0.01,
                p1: 0.0,
                p2: 0.0,
                k3: 0.0,
                width_px: 1440,
                height_px: 1080,
            },
            camera_from_radar: RigidTransform::from_isometry(&(cam.inverse() * radar)),
            rig_from_radar: RigidTransform::from_isometry(&radar),
            radar_time_offset_ns: -5_000_000,
            crc32: 0,
        }
        .seal()
    }

    #[test]
    fn sealed_record_round_trips_and_verifies() {
        let rec = sample();
        let back = CalibrationRecord::from_json(&rec.canonical_json()).expect("verifies");
        assert_eq!(back, rec);
    }

    #[test]
    fn tampered_payload_fails_the_crc() {
        let mut rec = sample();
        rec.radar_time_offset_ns += 1;
        let err = CalibrationRecord::from_json(&rec.canonical_json()).expect_err("tampered");
        assert!(matches!(err, Error::BadCrc { .. }), "{err}");
    }
}
