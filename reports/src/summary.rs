//! The report summary `radcam report` prints above the gate table: the verdict, what was
//! replayed (estimator, seed, fault plan, versions, recording hash), the gate tally, the
//! tracking summary and the worst gate window.

use crate::html::read_metadata;
use crate::parquet_in::read_gates;
use crate::{GATES_FILE, Result};
use radcam_fusion::gates::Verdict;
use std::fmt::Write as _;
use std::path::Path;

/// The log time (ns) of the first message of the recording the report in `dir` replayed, when
/// its `gates.parquet` names it (reports written before 2026-11-24 do not).
pub fn recording_start_of(dir: &Path) -> Result<Option<i64>> {
    Ok(crate::recording_start_ns(&read_metadata(
        &dir.join(GATES_FILE),
    )?))
}

/// The summary text of the report directory `dir`.
pub fn report_summary(dir: &Path) -> Result<String> {
    let gates = read_gates(dir)?;
    let meta = read_metadata(&dir.join(GATES_FILE))?;
    let get = |k: &str| meta.get(k).map_or("?", String::as_str);
    let count = |v: Verdict| gates.iter().filter(|g| g.verdict == v).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "verdict: {}",
        if crate::all_required_passed(&gates) {
            "PASS (every required gate passed)"
        } else {
            "FAIL (a required gate failed or was inconclusive)"
        }
    );
    let hash = get("recording_content_hash");
    let _ = writeln!(
        s,
        "replayed: recording {} (seed {}), estimator {}, seed {}, fault plan {}, cal_version {}, config_version {}",
        hash.get(..12).unwrap_or(hash),
        get("recording_seed"),
        get("estimator"),
        get("seed"),
        get("fault_plan"),
        get("cal_version"),
        get("config_version"),
    );
    let _ = writeln!(
        s,
        "gates: {} PASS, {} FAIL, {} INCONCLUSIVE",
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Inconclusive)
    );
    let tracking = dir.join(crate::fusion_tables::TRACKING_FILE);
    if tracking.exists() {
        let t = crate::html::read_tracking(&tracking)?;
        let _ = writeln!(
            s,
            "tracking vs truth ({} m): MOTA {:.4}, IDF1 {:.4}, {} switches, {} misses, {} false positives over {} frames",
            t.match_threshold_m,
            t.mota,
            t.idf1,
            t.num_switches,
            t.num_misses,
            t.num_false_positives,
            t.num_frames
        );
    }
    for g in gates.iter().filter(|g| g.verdict != Verdict::Pass) {
        let _ = writeln!(
            s,
            "{} {}: {} {} {} (value {})",
            g.verdict.as_str(),
            g.gate.name,
            g.gate.metric,
            g.gate.comparator.as_str(),
            g.gate.threshold,
            g.value
                .map_or_else(|| "none".to_owned(), |v| format!("{v:.4}")),
        );
    }
    Ok(s)
}
