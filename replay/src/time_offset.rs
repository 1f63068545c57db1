//! Radar↔camera time-offset calibration from a recording.
//!
//! The offset that best aligns projected radar motion with camera motion: the recording is
//! replayed with candidate offsets, and each is scored by how far, on average, every camera
//! detection that has an object id lies from its nearest projected radar object (capped, so a
//! detection without one costs the cap). A coarse grid finds the basin, a fine grid the
//! minimum. The estimate is repeated on each half of the recording; their spread is the
//! confidence interval, and the cost's rise 50 ms either side says whether the recording had
//! enough lateral motion to tell.

use crate::runner::{ReplayConfig, replay_into};
use crate::{Error, Result};
use radcam_fusion::calib::CalibrationRecord;
use radcam_fusion::fused::{AssociationRecord, FrameRecord, FusedObject, FusionSink, TruthRecord};
use std::collections::BTreeMap;
use std::path::Path;

/// Residual charged to a detection with no projected radar object nearby, px.
const CAP_PX: f64 = 100.0;

/// Search grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// Coarse grid half-width around zero, ns.
    pub coarse_span_ns: i64,
    /// Coarse grid step, ns.
    pub coarse_step_ns: i64,
    /// Fine grid step around the coarse minimum (± one coarse step), ns.
    pub fine_step_ns: i64,
    /// Centre of the coarse grid, ns; `None`: the recording's calibrated offset.
    pub center_ns: Option<i64>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            coarse_span_ns: 200_000_000,
            coarse_step_ns: 25_000_000,
            fine_step_ns: 2_500_000,
            center_ns: None,
        }
    }
}

/// The estimate and the evidence for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeOffsetEstimate {
    /// Best offset, ns (the calibration's `radar_time_offset_ns`).
    pub offset_ns: i64,
    /// The recording's calibrated offset, ns.
    pub calibrated_ns: i64,
    /// Mean capped residual at the best offset, px.
    pub cost_px: f64,
    /// Mean capped residual 50 ms either side of the best (mean of both), px.
    pub cost_50ms_px: f64,
    /// Best offsets of the first and second half of the recording, ns.
    pub half_offsets_ns: [i64; 2],
    /// Detections scored.
    pub detections: u64,
    /// `high` when the halves agree within 10 ms and the cost rises ≥ 5 % 50 ms away; else
    /// `low` (too little lateral motion or too few detections to tell).
    pub confidence: &'static str,
    /// (offset ns, cost px) of every candidate evaluated, by offset.
    pub curve: Vec<(i64, f64)>,
}

/// Per-frame (sum of capped residuals, detections scored).
type FrameCosts = BTreeMap<u64, (f64, u64)>;

/// Scores association rows as a replay streams them: each detection with a camera object id
/// costs its smallest candidate residual (capped), or the cap without a candidate. Rows of one
/// frame arrive together, so only the current frame's detections are held.
#[derive(Default)]
struct CostSink {
    frames: FrameCosts,
    current: Option<u64>,
    detections: BTreeMap<u32, f64>,
}

impl CostSink {
    fn flush(&mut self) {
        if let Some(frame) = self.current.take() {
            let e = self.frames.entry(frame).or_default();
            for r in std::mem::take(&mut self.detections).into_values() {
                e.0 += r;
                e.1 += 1;
            }
        }
    }

    fn finish(mut self) -> FrameCosts {
        self.flush();
        self.frames
    }
}

impl FusionSink for CostSink {
    fn fused(&mut self, _: FusedObject) {}

    fn association(&mut self, a: AssociationRecord) {
        if a.camera_object_id.is_none() {
            return;
        }
        if self.current != Some(a.frame_id) {
            self.flush();
            self.current = Some(a.frame_id);
        }
        let r = a.residual_px.unwrap_or(CAP_PX).min(CAP_PX);
        let e = self.detections.entry(a.detection_index).or_insert(CAP_PX);
        *e = e.min(r);
    }

    fn truth(&mut self, _: TruthRecord) {}

    fn frame(&mut self, _: FrameRecord) {}

    fn sync(&mut self, _: radcam_fusion::sync::SyncRecord) {}
}

fn mean_cost(frames: &FrameCosts, keep: impl Fn(u64) -> bool) -> f64 {
    let (sum, n) = frames
        .iter()
        .filter(|(f, _)| keep(**f))
        .fold((0.0, 0), |(s, n), (_, (fs, fn_))| (s + fs, n + fn_));
    if n == 0 { CAP_PX } else { sum / n as f64 }
}

/// Estimates the radar↔camera time offset of the recording at `path`. `progress(done, total)`
/// is called after each candidate replay.
pub fn estimate(
    path: &Path,
    search: &SearchConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<(TimeOffsetEstimate, CalibrationRecord)> {
    if search.coarse_step_ns <= 0 || search.fine_step_ns <= 0 || search.coarse_span_ns < 0 {
        return Err(Error::Invalid {
            path: path.to_owned(),
            problem: "time-offset search steps must be positive".into(),
        });
    }
    let cal = crate::calib_file::load(path)?;
    // one whole-file check for the search's many replays
    let checked = std::sync::Arc::new(crate::reader::CheckedRecording::check(path)?);
    let mut runs: BTreeMap<i64, FrameCosts> = BTreeMap::new();
    let run = |offset: i64, runs: &mut BTreeMap<i64, FrameCosts>| -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(e) = runs.entry(offset) {
            let cfg = ReplayConfig {
                radar_time_offset_ns: Some(offset),
                gates: Vec::new(),
                checked: Some(checked.clone()),
                ..ReplayConfig::default()
            };
            let mut sink = CostSink::default();
            replay_into(path, &cfg, |_, _| {}, &mut sink)?;
            e.insert(sink.finish());
        }
        Ok(())
    };
    let coarse: Vec<i64> = (-search.coarse_span_ns..=search.coarse_span_ns)
        .step_by(usize::try_from(search.coarse_step_ns).unwrap_or(usize::MAX))
        .map(|d| search.center_ns.unwrap_or(cal.radar_time_offset_ns) + d)
        .collect();
    let fine_n = search.coarse_step_ns / search.fine_step_ns;
    let total = coarse.len() + 2 * usize::try_from(fine_n).unwrap_or(0) + 2;
    for (i, &o) in coarse.iter().enumerate() {
        run(o, &mut runs)?;
        progress(i + 1, total);
    }
    // on a tie (no detection scored tells the candidates apart) the offset nearest the
    // search's centre wins, the calibrated one by default: no evidence, no move
    let center = search.center_ns.unwrap_or(cal.radar_time_offset_ns);
    let argmin = |runs: &BTreeMap<i64, FrameCosts>, keep: &dyn Fn(u64) -> bool| {
        runs.iter()
            .map(|(o, f)| (*o, mean_cost(f, keep)))
            .min_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then((a.0 - center).abs().cmp(&(b.0 - center).abs()))
                    .then(a.0.cmp(&b.0))
            })
            .unwrap_or((center, CAP_PX))
    };
    let (coarse_best, _) = argmin(&runs, &|_| true);
    for k in -fine_n..=fine_n {
        run(coarse_best + k * search.fine_step_ns, &mut runs)?;
        progress(runs.len(), total);
    }
    let (best, cost_px) = argmin(&runs, &|_| true);
    for side in [-50_000_000, 50_000_000] {
        run(best + side, &mut runs)?;
    }
    progress(total, total);
    let all = &runs[&best];
    let detections = all.values().map(|v| v.1).sum();
    if detections == 0 {
        return Err(Error::Invalid {
            path: path.to_owned(),
            problem: "no camera detection was paired with a projected radar object at any \
                      candidate offset: nothing to estimate the offset from (the recording \
                      needs targets both sensors see)"
                .into(),
        });
    }
    let frames: Vec<u64> = all.keys().copied().collect();
    let mid = frames.get(frames.len() / 2).copied().unwrap_or(0);
    let fine: BTreeMap<i64, FrameCosts> = runs
        .iter()
        .filter(|(o, _)| (**o - coarse_best).abs() <= search.coarse_step_ns)
        .map(|(o, f)| (*o, f.clone()))
        .collect();
    let half_offsets_ns = [
        argmin(&fine, &|f| f < mid).0,
        argmin(&fine, &|f| f >= mid).0,
    ];
    let cost_50ms_px = (mean_cost(&runs[&(best - 50_000_000)], |_| true)
        + mean_cost(&runs[&(best + 50_000_000)], |_| true))
        / 2.0;
    let confidence = if (half_offsets_ns[0] - half_offsets_ns[1]).abs() <= 10_000_000
        && cost_50ms_px >= 1.05 * cost_px
    {
        "high"
    } else {
        "low"
    };
    let curve = runs
        .iter()
        .map(|(o, f)| (*o, mean_cost(f, |_| true)))
        .collect();
    let estimate = TimeOffsetEstimate {
        offset_ns: best,
        calibrated_ns: cal.radar_time_offset_ns,
        cost_px,
        cost_50ms_px,
        half_offsets_ns,
        detections,
        confidence,
        curve,
    };
    let mut proposed = cal.clone();
    proposed.radar_time_offset_ns = best;
    proposed.cal_version = cal.cal_version + 1;
    proposed.rollback_guard = cal.cal_version;
    proposed.active_slot = match cal.active_slot {
        radcam_fusion::calib::Slot::A => radcam_fusion::calib::Slot::B,
        radcam_fusion::calib::Slot::B => radcam_fusion::calib::Slot::A,
    };
    proposed.timestamp_source = "SW".into();
    Ok((estimate, proposed.seal()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use radcam_recorder::{RecordRequest, record_scenario};
    use radcam_scenarios::Scenario;

    #[test]
    fn recovers_the_true_offset_from_a_wrong_starting_point() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("cross.mcap");
        let scenario = Scenario::library("crossing").expect("library");
        // the simulated radar's measurement instant precedes its arrival envelope by the
        // minimum processing delay
        let truth_ns = -(scenario.radar.arrival_delay.min_us * 1e3).round() as i64;
        record_scenario(
            &RecordRequest {
                scenario,
                seed: 3,
                duration_s: 20.0,
                out: out.clone(),
            },
            |_| {},
        )
        .expect("record");
        let search = SearchConfig {
            center_ns: Some(truth_ns + 120_000_000),
            ..SearchConfig::default()
        };
        let (est, proposed) = estimate(&out, &search, |_, _| {}).expect("estimate");
        assert!(
            (est.offset_ns - truth_ns).abs() <= 5_000_000,
            "estimated {} ns, truth {truth_ns} ns; curve {:?}",
            est.offset_ns,
            est.curve
        );
        assert_eq!(est.confidence, "high", "{est:?}");
        assert!(est.cost_50ms_px > est.cost_px);
        // the proposal is a valid successor of the recording's record
        let active = crate::calib_file::load(&out).expect("record");
        radcam_fusion::calib::check_activation(&active, &proposed).expect("activatable");
        assert_eq!(proposed.radar_time_offset_ns, est.offset_ns);
    }

    #[test]
    fn no_scored_detection_is_no_estimate_and_no_proposal() {
        // 30 ms of the demo: one camera frame, no detection paired with a radar object
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("thin.mcap");
        record_scenario(
            &RecordRequest {
                scenario: Scenario::demo().expect("demo"),
                seed: 1,
                duration_s: 0.03,
                out: out.clone(),
            },
            |_| {},
        )
        .expect("record");
        let e = estimate(&out, &SearchConfig::default(), |_, _| {}).expect_err("no evidence");
        assert!(
            e.to_string().contains("thin.mcap") && e.to_string().contains("nothing to estimate"),
            "{e}"
        );
    }
}
