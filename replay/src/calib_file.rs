//! Calibration records on disk: a record file (canonical JSON) or the record a recording
//! carries, and the activation of a candidate in place of an active record file.

use crate::{Error, McapFile, Result};
use radcam_fusion::audit::{AuditEvent, AuditLog};
use radcam_fusion::calib::{self, CalibrationRecord};
use radcam_schema::metadata;
use std::path::Path;

/// Whether `path` is an MCAP file (by its magic).
fn is_mcap(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic.starts_with(b"\x89MCAP"))
}

/// The record text of `path`: a record file, or the calibration metadata of a recording.
pub fn load_text(path: &Path) -> Result<String> {
    if !is_mcap(path) {
        return crate::read_text(path);
    }
    let mut file = McapFile::open(path)?;
    file.metadata()?
        .get(metadata::CALIBRATION_METADATA)
        .and_then(|m| m.get(metadata::CALIBRATION_JSON_KEY))
        .cloned()
        .ok_or_else(|| Error::Missing {
            path: path.to_owned(),
            what: "no calibration record (metadata 'radcam.calibration')".into(),
        })
}

/// Parses the record of `path` without verifying it (for `calib show`).
pub fn load_unverified(path: &Path) -> Result<CalibrationRecord> {
    CalibrationRecord::parse(&load_text(path)?).map_err(|source| Error::Calibration {
        path: path.to_owned(),
        source,
    })
}

/// Loads and verifies (CRC, fields) the record of `path`.
pub fn load(path: &Path) -> Result<CalibrationRecord> {
    CalibrationRecord::from_json(&load_text(path)?).map_err(|source| Error::Calibration {
        path: path.to_owned(),
        source,
    })
}

/// Checks whether the record at `candidate` may replace the one at `active`.
pub fn check(candidate: &Path, active: &Path) -> Result<()> {
    let active_rec = load(active)?;
    let cand = load_unverified(candidate)?;
    calib::check_activation(&active_rec, &cand).map_err(|source| Error::CalibrationRejected {
        path: candidate.to_owned(),
        source,
    })
}

/// Activates the record at `candidate` in place of the record file `active` (written
/// atomically: temporary file, then rename) if it passes every check. Returns the audit event
/// either way; on rejection the active file is untouched and the error says why.
pub fn activate(
    candidate: &Path,
    active: &Path,
    at_ns: i64,
) -> Result<(AuditEvent, std::result::Result<(), Error>)> {
    let mut active_rec = load(active)?;
    let cand = load_unverified(candidate)?;
    let mut audit = AuditLog::new(active_rec.cal_version, 0);
    let outcome = calib::activate(&mut active_rec, cand, at_ns, &mut audit);
    let event = audit.events()[0].clone();
    if let Err(source) = outcome {
        return Ok((
            event,
            Err(Error::CalibrationRejected {
                path: candidate.to_owned(),
                source,
            }),
        ));
    }
    let mut tmp = active.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    let io = |source| Error::Io {
        path: active.to_owned(),
        source,
    };
    std::fs::write(&tmp, active_rec.canonical_json() + "\n").map_err(io)?;
    std::fs::rename(&tmp, active).map_err(io)?;
    Ok((event, Ok(())))
}
