//! Calibration records: intrinsics, extrinsics and the radar time offset, with version,
//! rollback guard and a CRC over the payload.

use crate::audit::{AuditKind, AuditLog};
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
        let rec = Self::parse(text)?;
        rec.verify()?;
        Ok(rec)
    }

    /// Parses a record without verifying it (to show a damaged one).
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::CalibrationParse(e.to_string()))
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
        // a record whose CRC holds can still carry numbers no camera has, and a zero
        // quaternion normalises to NaN: every projection through it would be NaN
        let bounded = [
            ("intrinsics.fx_px", i.fx_px, 1e6),
            ("intrinsics.fy_px", i.fy_px, 1e6),
            ("intrinsics.cx_px", i.cx_px, 1e6),
            ("intrinsics.cy_px", i.cy_px, 1e6),
            ("intrinsics.k1", i.k1, 1e3),
            ("intrinsics.k2", i.k2, 1e3),
            ("intrinsics.p1", i.p1, 1e3),
            ("intrinsics.p2", i.p2, 1e3),
            ("intrinsics.k3", i.k3, 1e3),
        ];
        for (field, v, max) in bounded {
            if !(v.is_finite() && v.abs() <= max) {
                return Err(Error::CalibrationField {
                    field,
                    problem: format!("must be within ±{max}, got {}", crate::shown::Shown(v)),
                });
            }
        }
        for (name, t) in [
            ("camera_from_radar", &self.camera_from_radar),
            ("rig_from_radar", &self.rig_from_radar),
        ] {
            t.check()
                .map_err(|(part, problem)| Error::CalibrationField {
                    field: match (name, part) {
                        ("camera_from_radar", "translation_m") => "camera_from_radar.translation_m",
                        ("camera_from_radar", _) => "camera_from_radar.rotation_xyzw",
                        (_, "translation_m") => "rig_from_radar.translation_m",
                        _ => "rig_from_radar.rotation_xyzw",
                    },
                    problem,
                })?;
        }
        if self.radar_time_offset_ns.unsigned_abs() > MAX_RADAR_TIME_OFFSET_NS {
            return Err(Error::CalibrationField {
                field: "radar_time_offset_ns",
                problem: format!(
                    "must be within ±{MAX_RADAR_TIME_OFFSET_NS} ns (an hour), got {}",
                    self.radar_time_offset_ns
                ),
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

/// Largest radar time offset a record may carry, ns (an hour).
const MAX_RADAR_TIME_OFFSET_NS: u64 = 3_600_000_000_000;

/// Why a candidate calibration record was not activated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The CRC does not match the payload, or a field is impossible.
    #[error("record does not verify: {0}")]
    Invalid(String),
    /// The candidate's version is at or below the active record's rollback guard.
    #[error("cal_version {version} is at or below the rollback guard {guard}")]
    RolledBack {
        /// Candidate version.
        version: u64,
        /// Guard of the active record (or the candidate's own guard).
        guard: u64,
    },
    /// The candidate belongs to another rig.
    #[error("rig_id '{got}' is not this rig's '{expected}'")]
    WrongRig {
        /// This rig.
        expected: String,
        /// The candidate's rig.
        got: String,
    },
    /// The candidate targets the slot that is running.
    #[error("slot {0:?} is the active slot; an update writes the other slot")]
    ActiveSlot(Slot),
}

/// Checks whether `candidate` may replace `active`: it must verify (CRC, fields), belong to
/// the same rig, carry a version above the active record's rollback guard (and its own), and
/// target the inactive A/B slot.
pub fn check_activation(
    active: &CalibrationRecord,
    candidate: &CalibrationRecord,
) -> std::result::Result<(), Rejection> {
    candidate
        .verify()
        .map_err(|e| Rejection::Invalid(e.to_string()))?;
    if candidate.rig_id != active.rig_id {
        return Err(Rejection::WrongRig {
            expected: active.rig_id.clone(),
            got: candidate.rig_id.clone(),
        });
    }
    let guard = active.rollback_guard.max(candidate.rollback_guard);
    if candidate.cal_version <= guard {
        return Err(Rejection::RolledBack {
            version: candidate.cal_version,
            guard,
        });
    }
    if candidate.active_slot == active.active_slot {
        return Err(Rejection::ActiveSlot(candidate.active_slot));
    }
    Ok(())
}

/// Activates `candidate` in place of `*active` if [`check_activation`] allows it; either way
/// records a `CAL_UPDATED` audit event at `at_ns` (host ns) saying what happened. On rejection
/// the active record stays.
pub fn activate(
    active: &mut CalibrationRecord,
    candidate: CalibrationRecord,
    at_ns: i64,
    audit: &mut AuditLog,
) -> std::result::Result<(), Rejection> {
    let old = format!("v{} slot {:?}", active.cal_version, active.active_slot);
    match check_activation(active, &candidate) {
        Ok(()) => {
            let new = format!(
                "v{} slot {:?}",
                candidate.cal_version, candidate.active_slot
            );
            audit.cal_version = candidate.cal_version;
            *active = candidate;
            audit.push(at_ns, AuditKind::CalUpdated, &old, &new, "activated".into());
            Ok(())
        }
        Err(why) => {
            audit.push(
                at_ns,
                AuditKind::CalUpdated,
                &old,
                &old,
                format!("rejected v{}: {why}", candidate.cal_version),
            );
            Err(why)
        }
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

    #[test]
    fn a_sealed_record_with_numbers_no_rig_has_is_refused_naming_the_field() {
        type Edit = fn(&mut CalibrationRecord);
        let cases: [(Edit, &str); 6] = [
            (
                |r| r.camera_from_radar.rotation_xyzw = [0.0; 4],
                "camera_from_radar.rotation_xyzw",
            ),
            (
                |r| r.rig_from_radar.rotation_xyzw = [0.0, 0.0, 0.0, 30.0],
                "rig_from_radar.rotation_xyzw",
            ),
            (
                |r| r.rig_from_radar.translation_m[2] = 1e5,
                "rig_from_radar.translation_m",
            ),
            (|r| r.intrinsics.cx_px = 1e300, "intrinsics.cx_px"),
            (|r| r.intrinsics.k3 = -1e4, "intrinsics.k3"),
            (
                |r| r.radar_time_offset_ns = i64::MIN,
                "radar_time_offset_ns",
            ),
        ];
        for (edit, field) in cases {
            let mut rec = sample();
            edit(&mut rec);
            let text = rec.seal().canonical_json();
            let err = CalibrationRecord::from_json(&text).expect_err(field);
            assert!(
                matches!(&err, Error::CalibrationField { field: f, .. } if *f == field),
                "{field}: {err}"
            );
        }
        // a quaternion a calibration tool wrote to six digits still verifies
        let mut rec = sample();
        for q in &mut rec.camera_from_radar.rotation_xyzw {
            *q = (*q * 1e6).round() / 1e6;
        }
        CalibrationRecord::from_json(&rec.seal().canonical_json()).expect("verifies");
    }

    fn candidate(f: impl FnOnce(&mut CalibrationRecord)) -> CalibrationRecord {
        let mut c = sample();
        c.cal_version = 4;
        c.rollback_guard = 3;
        c.active_slot = Slot::B;
        f(&mut c);
        c.seal()
    }

    #[test]
    fn activation_accepts_a_newer_record_for_the_other_slot() {
        let mut active = sample();
        let mut audit = AuditLog::new(active.cal_version, 1);
        activate(&mut active, candidate(|_| {}), 7, &mut audit).expect("accepted");
        assert_eq!((active.cal_version, active.active_slot), (4, Slot::B));
        let e = &audit.events()[0];
        assert_eq!(
            (e.kind, e.new_state.as_str()),
            (AuditKind::CalUpdated, "v4 slot B")
        );
        assert_eq!(audit.cal_version, 4);
    }

    #[test]
    fn activation_rejects_and_keeps_the_active_record() {
        let active0 = sample();
        let cases = [
            (
                candidate(|c| {
                    c.cal_version = 2;
                    c.rollback_guard = 1;
                }),
                "rollback guard 2",
            ),
            (candidate(|c| c.rig_id = "other".into()), "rig_id 'other'"),
            (candidate(|c| c.active_slot = Slot::A), "active slot"),
            (
                {
                    let mut c = candidate(|_| {});
                    c.radar_time_offset_ns += 1;
                    c
                },
                "CRC mismatch",
            ),
        ];
        for (cand, why) in cases {
            let mut active = active0.clone();
            let mut audit = AuditLog::new(active.cal_version, 1);
            let err = activate(&mut active, cand, 7, &mut audit).expect_err("rejected");
            assert!(err.to_string().contains(why), "{err} lacks {why}");
            assert_eq!(active, active0);
            assert!(audit.events()[0].detail.starts_with("rejected"));
        }
    }
}
