//! A `radcam sweep` directory read back: what the sweep printed with `--json`, from its
//! tables, so `radcam report DIR --json` gives a sweep's results as it gives a replay's.

use crate::html::{Table, read_table};
use crate::sweep_tables::{SweepRow, ToleranceRow, run_json, tolerance_json};
use crate::{Error, Result, SWEEP_FILE, TOLERANCE_FILE};
use arrow_array::{Array, BooleanArray, StringArray, UInt32Array, UInt64Array};
use std::path::Path;

/// The JSON `radcam sweep --json` printed for the sweep in `dir`: the tolerance rows of a
/// tolerance search (`tolerance.parquet`), else one object per run (`sweep.parquet`).
pub fn sweep_dir_json(dir: &Path) -> Result<serde_json::Value> {
    let tolerance = dir.join(TOLERANCE_FILE);
    if tolerance.exists() {
        return Ok(tolerance_json(&read_tolerance(&tolerance)?));
    }
    let t = read_table(&dir.join(SWEEP_FILE), &[])?;
    let columns = t.names();
    let position = |name: &str| columns.iter().position(|c| c == name);
    // the swept parameters sit between `seed` and `fault_plan`; each gate is a
    // `<gate>_value`, `<gate>_verdict` pair
    let params: Vec<&str> = match (position("seed"), position("fault_plan")) {
        (Some(a), Some(b)) if a < b => columns[a + 1..b].iter().map(String::as_str).collect(),
        _ => {
            return Err(Error::Parquet {
                path: t.path.clone(),
                detail: "no 'seed' column before a 'fault_plan' column: not a sweep table".into(),
            });
        }
    };
    let gates: Vec<&str> = columns
        .iter()
        .filter_map(|c| c.strip_suffix("_verdict"))
        .collect();
    let param_values = params
        .iter()
        .map(|p| t.f64s(p))
        .collect::<Result<Vec<_>>>()?;
    let gate_values = gates
        .iter()
        .map(|g| {
            Ok((
                t.f64s(&format!("{g}_value"))?,
                strings(&t, &format!("{g}_verdict"))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let run_index = t.column::<UInt32Array, _>("run_index", |c, i| c.value(i))?;
    let replicate = t.column::<UInt32Array, _>("replicate", |c, i| c.value(i))?;
    let seed = t.column::<UInt64Array, _>("seed", |c, i| c.value(i))?;
    let passed = t.column::<BooleanArray, _>("passed", |c, i| c.value(i))?;
    let stale = t.u64s("stale_fusions")?;
    let dropped_camera = t.u64s("dropped_camera_frames")?;
    let dropped_radar = t.u64s("dropped_radar_frames")?;
    let (mota, idf1) = (t.f64s("mota")?, t.f64s("idf1")?);
    let runs = (0..run_index.len())
        .map(|i| {
            let row = SweepRow {
                run_index: run_index[i],
                replicate: replicate[i],
                seed: seed[i],
                params: params
                    .iter()
                    .zip(&param_values)
                    .map(|(p, v)| ((*p).to_owned(), v[i].unwrap_or(f64::NAN)))
                    .collect(),
                fault_plan: String::new(),
                passed: passed[i],
                gates: Vec::new(),
                stale_fusions: stale[i],
                dropped_camera_frames: dropped_camera[i],
                dropped_radar_frames: dropped_radar[i],
                mota: mota[i],
                idf1: idf1[i],
            };
            run_json(
                &row,
                &row.params,
                gates
                    .iter()
                    .zip(&gate_values)
                    .map(|(g, (value, verdict))| (*g, value[i], verdict[i].as_str())),
            )
        })
        .collect();
    Ok(serde_json::Value::Array(runs))
}

/// `tolerance.parquet` back as its rows.
fn read_tolerance(path: &Path) -> Result<Vec<ToleranceRow>> {
    let t = read_table(path, &[])?;
    let (kind, band, unit, status) = (
        strings(&t, "kind")?,
        strings(&t, "band")?,
        strings(&t, "unit")?,
        strings(&t, "status")?,
    );
    let limiting_gate = t.column::<StringArray, _>("limiting_gate", |c, i| {
        (!c.is_null(i)).then(|| c.value(i).to_owned())
    })?;
    let (band_min, band_max, tolerance) = (
        t.f64s("band_min_mps")?,
        t.f64s("band_max_mps")?,
        t.f64s("tolerance")?,
    );
    let (resolution, searched_max, limiting_value) = (
        t.f64s("resolution")?,
        t.f64s("searched_max")?,
        t.f64s("limiting_value")?,
    );
    let detections = t.u64s("detections")?;
    Ok((0..kind.len())
        .map(|i| ToleranceRow {
            kind: kind[i].clone(),
            band: band[i].clone(),
            band_min_mps: band_min[i],
            band_max_mps: band_max[i],
            detections: detections[i],
            tolerance: tolerance[i],
            unit: unit[i].clone(),
            resolution: resolution[i].unwrap_or(f64::NAN),
            searched_max: searched_max[i].unwrap_or(f64::NAN),
            status: status[i].clone(),
            limiting_gate: limiting_gate[i].clone(),
            limiting_value: limiting_value[i],
        })
        .collect())
}

/// A non-null string column.
fn strings(t: &Table, name: &str) -> Result<Vec<String>> {
    t.column::<StringArray, _>(name, |c, i| c.value(i).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{write_sweep, write_tolerance};

    #[test]
    fn a_sweep_directory_reads_back_as_the_json_its_sweep_printed() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = |i: u32, offset: f64, mota: Option<f64>| SweepRow {
            run_index: i,
            replicate: i % 2,
            seed: 7 + u64::from(i),
            params: vec![("offset_ms".into(), offset), ("jitter_us".into(), 400.0)],
            fault_plan: "{}".into(),
            passed: i == 0,
            gates: crate::sample_results(),
            stale_fusions: 3,
            dropped_camera_frames: u64::from(i),
            dropped_radar_frames: 0,
            mota,
            idf1: mota.map(|m| m / 2.0),
        };
        let rows = [
            run(0, 0.0, Some(0.9)),
            run(1, 2.5, None),
            run(2, -1e-9, Some(-0.25)),
        ];
        write_sweep(dir.path(), &rows, &Default::default()).expect("write");
        let json = sweep_dir_json(dir.path()).expect("read");
        assert_eq!(json, crate::sweep_json(&rows));
        // a gate without samples reads back as a null value
        assert!(json[0]["gates"][1]["value"].is_null(), "{json}");
        // a tolerance search: its tolerance rows, not its probes
        let band = |band: &str, tolerance: Option<f64>, gate: Option<&str>| ToleranceRow {
            kind: "offset".into(),
            band: band.into(),
            band_min_mps: (band != "all").then_some(2.0),
            band_max_mps: None,
            detections: 40,
            tolerance,
            unit: "ms".into(),
            resolution: 0.78125,
            searched_max: 400.0,
            status: if tolerance.is_some() {
                "within"
            } else {
                "no_targets"
            }
            .into(),
            limiting_gate: gate.map(str::to_owned),
            limiting_value: gate.map(|_| 0.125),
        };
        let tolerance = [
            band("all", Some(12.5), Some("sync_p999")),
            band(">=2 m/s", None, None),
        ];
        write_tolerance(dir.path(), &tolerance, &Default::default()).expect("write");
        let json = sweep_dir_json(dir.path()).expect("read");
        assert_eq!(json, crate::tolerance_json(&tolerance));
    }

    #[test]
    fn a_table_that_is_no_sweep_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        crate::write_gates(dir.path(), &crate::sample_results(), &Default::default())
            .expect("write");
        std::fs::rename(
            dir.path().join(crate::GATES_FILE),
            dir.path().join(SWEEP_FILE),
        )
        .expect("rename");
        let e = sweep_dir_json(dir.path()).expect_err("not a sweep");
        assert!(e.to_string().contains("sweep.parquet"), "{e}");
    }
}
