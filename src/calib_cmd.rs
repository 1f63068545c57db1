//! `radcam calib`: show, verify and activate calibration records; estimate the radar↔camera
//! time offset of a recording. Parsing here, the work in `radcam_replay::{calib_file,
//! time_offset}`.

use anyhow::{Context, Result};
use clap::Subcommand;
use radcam_fusion::calib::CalibrationRecord;
use radcam_replay::{calib_file, time_offset};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// The `calib` subcommands.
#[derive(Subcommand)]
pub enum CalibCommand {
    /// Print a record (a record JSON file or a recording's), with its CRC status.
    Show {
        /// Record file or recording (.mcap).
        file: PathBuf,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a record's CRC and fields; with --active, also whether it may replace that one
    /// (same rig, version above the rollback guard, the other A/B slot). Exit 2 if not.
    Verify {
        /// Record file or recording (.mcap).
        file: PathBuf,
        /// The active record file it would replace.
        #[arg(long)]
        active: Option<PathBuf>,
    },
    /// Replace the active record file with FILE if every check passes (atomically); else exit 2
    /// and leave the active record as it was. Prints the CAL_UPDATED audit event.
    Activate {
        /// Candidate record file.
        file: PathBuf,
        /// The active record file.
        #[arg(long)]
        active: PathBuf,
    },
    /// Estimate the radar↔camera time offset of a recording from how well projected radar
    /// motion lines up with camera detections; propose a new record.
    TimeOffset {
        /// Recording.
        recording: PathBuf,
        /// Write the proposed record (next version, other slot) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn show(rec: &CalibrationRecord) -> String {
    let crc = match rec.verify() {
        Ok(()) => format!("{:#010x} (ok)", rec.crc32),
        Err(e) => format!("{:#010x} — {e}", rec.crc32),
    };
    let i = &rec.intrinsics;
    let e = rec.camera_from_radar();
    let (r, p, y) = e.rotation.euler_angles();
    let t = e.translation.vector;
    format!(
        "sensor_id        {}\nrig_id           {}\ncal_version      {} (slot {:?}, rollback guard {})\n\
         cal_timestamp_ns {} ({})\ncrc32            {crc}\n\
         intrinsics       fx {:.2} fy {:.2} cx {:.2} cy {:.2} px, {}x{} px\n\
         distortion       k1 {} k2 {} p1 {} p2 {} k3 {}\n\
         camera_from_radar translation [{:.4}, {:.4}, {:.4}] m, rotation rpy [{:.4}, {:.4}, {:.4}] deg\n\
         radar_time_offset {:.3} ms",
        rec.sensor_id,
        rec.rig_id,
        rec.cal_version,
        rec.active_slot,
        rec.rollback_guard,
        rec.cal_timestamp_ns,
        rec.timestamp_source,
        i.fx_px,
        i.fy_px,
        i.cx_px,
        i.cy_px,
        i.width_px,
        i.height_px,
        i.k1,
        i.k2,
        i.p1,
        i.p2,
        i.k3,
        t.x,
        t.y,
        t.z,
        r.to_degrees(),
        p.to_degrees(),
        y.to_degrees(),
        rec.radar_time_offset_ns as f64 / 1e6,
    )
}

/// Runs a `calib` subcommand. Rejections are errors (exit 2) whose message says why.
pub fn run(cmd: CalibCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        CalibCommand::Show { file, json } => {
            let rec = calib_file::load_unverified(&file)?;
            if json {
                say!("{}", rec.canonical_json());
            } else if !quiet {
                say!("{}", show(&rec));
            }
            Ok(ExitCode::SUCCESS)
        }
        CalibCommand::Verify { file, active } => {
            let rec = calib_file::load(&file)?;
            if let Some(active) = &active {
                calib_file::check(&file, active)?;
            }
            if !quiet {
                say!(
                    "{}: ok (cal_version {}, slot {:?}, crc {:#010x}){}",
                    file.display(),
                    rec.cal_version,
                    rec.active_slot,
                    rec.crc32,
                    active.map_or(String::new(), |a| format!("; may replace {}", a.display()))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CalibCommand::Activate { file, active } => {
            let now_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            let (event, outcome) = calib_file::activate(&file, &active, now_ns)?;
            if !quiet {
                eprintln!(
                    "audit: {} {} -> {}: {}",
                    event.kind.as_str(),
                    event.old_state,
                    event.new_state,
                    event.detail
                );
            }
            outcome?;
            if !quiet {
                say!("{} is now {}", active.display(), event.new_state);
            }
            Ok(ExitCode::SUCCESS)
        }
        CalibCommand::TimeOffset {
            recording,
            out,
            json,
        } => {
            if let Some(path) = &out {
                radcam_replay::out_path::check_output(path, &[(&recording, "the recording")])?;
            }
            let tty = !quiet && !json && std::io::stderr().is_terminal();
            let (est, proposed) = time_offset::estimate(
                &recording,
                &time_offset::SearchConfig::default(),
                |done, total| {
                    if tty {
                        eprint!("\rtime-offset: {done}/{total} candidate replays");
                    }
                },
            )?;
            if tty {
                eprintln!();
            }
            if let Some(path) = &out {
                std::fs::write(path, proposed.canonical_json() + "\n").with_context(|| {
                    format!("{}: cannot write the proposed record", path.display())
                })?;
            }
            if json {
                let v = serde_json::json!({
                    "offset_ns": est.offset_ns,
                    "calibrated_ns": est.calibrated_ns,
                    "cost_px": est.cost_px,
                    "cost_50ms_px": est.cost_50ms_px,
                    "half_offsets_ns": est.half_offsets_ns,
                    "detections": est.detections,
                    "confidence": est.confidence,
                    "proposed_cal_version": proposed.cal_version,
                });
                say!("{}", serde_json::to_string_pretty(&v)?);
            } else if !quiet {
                say!(
                    "radar_time_offset: {:.1} ms (recording's calibration {:.1} ms); halves {:.1} / {:.1} ms; \
                     mean residual {:.2} px, {:.2} px 50 ms away; {} detections; confidence {}",
                    est.offset_ns as f64 / 1e6,
                    est.calibrated_ns as f64 / 1e6,
                    est.half_offsets_ns[0] as f64 / 1e6,
                    est.half_offsets_ns[1] as f64 / 1e6,
                    est.cost_px,
                    est.cost_50ms_px,
                    est.detections,
                    est.confidence
                );
                if let Some(path) = &out {
                    say!(
                        "proposed record: {} (cal_version {}, slot {:?})",
                        path.display(),
                        proposed.cal_version,
                        proposed.active_slot
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
