//! The same sweep in rayon pools of 1, 2 and 8 threads gives byte-identical Parquet (in the
//! style of rapier's `thread_count_determinism.rs`), and a tolerance search finds the limit a
//! single replay confirms.

use radcam_recorder::{RecordRequest, record_scenario};
use radcam_replay::faults::FaultPlan;
use radcam_replay::sweep::{self, Grid, SweepRequest, ToleranceKind, ToleranceRequest};
use radcam_replay::{ReplayConfig, replay};
use radcam_scenarios::Scenario;
use std::path::{Path, PathBuf};

fn recording(dir: &Path) -> PathBuf {
    let out = dir.join("r.mcap");
    record_scenario(
        &RecordRequest {
            scenario: Scenario::library("crossing").expect("library"),
            seed: 4,
            duration_s: 15.0,
            out: out.clone(),
        },
        |_| {},
    )
    .expect("record");
    out
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

#[test]
fn a_sweep_is_byte_identical_for_1_2_and_8_threads_and_the_seed_matters() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = recording(dir.path());
    // random faults in every run: jitter, drop bursts and latency spikes
    let base = ReplayConfig {
        faults: FaultPlan::parse(
            "[camera]\njitter = { distribution = \"laplace\", scale_us = 300.0 }\n\
             drop_bursts = { probability = 0.01, length = 4 }\n\
             [radar]\nlatency_spikes = { probability = 0.02, delay_ms = 150.0 }\n",
            Path::new("plan.toml"),
        )
        .expect("plan"),
        seed: 21,
        ..ReplayConfig::default()
    };
    let req = SweepRequest {
        recording: rec,
        base,
        grid: Grid::parse("offset_ms=0,40,yaw_deg=0,0.5").expect("grid"),
        replicates: 3,
    };
    let run = |threads: usize| {
        let out = in_pool(threads, || sweep::sweep(&req, &|_, _| {})).expect("sweep");
        let d = dir.path().join(format!("t{threads}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        radcam_reports::write_sweep(&d, &out.rows, &out.metadata).expect("write");
        (
            out.rows,
            std::fs::read(d.join("sweep.parquet")).expect("read"),
            radcam_reports::combined_hash(&radcam_reports::table_hashes(&d).expect("hash")),
        )
    };
    let (rows1, bytes1, hash1) = run(1);
    assert_eq!(rows1.len(), 12);
    for threads in [2, 8] {
        let (rows, bytes, hash) = run(threads);
        assert_eq!(rows, rows1, "{threads} threads");
        assert!(bytes == bytes1, "{threads} threads: sweep.parquet differs");
        assert_eq!(hash, hash1, "{threads} threads");
    }
    // replicates differ (their seeds do), grid points share replicate seeds
    assert_ne!(rows1[0].gates, rows1[1].gates);
    assert_eq!(rows1[0].seed, 21);
    assert_eq!(rows1[0].seed, rows1[3].seed);
    // another base seed changes the output
    let other = SweepRequest {
        base: ReplayConfig {
            seed: 22,
            ..req.base.clone()
        },
        ..req.clone()
    };
    let rows2 = in_pool(2, || sweep::sweep(&other, &|_, _| {}))
        .expect("sweep")
        .rows;
    assert_ne!(rows2, rows1);
    // a row replays alone to the same verdicts
    let row = &rows1[5];
    let mut plan = req.base.faults.clone();
    plan.camera.offset_ms = row.params[0].1;
    plan.extrinsic.yaw_deg = row.params[1].1;
    let alone = replay(
        &req.recording,
        &ReplayConfig {
            faults: plan,
            seed: row.seed,
            ..ReplayConfig::default()
        },
    )
    .expect("replay");
    assert_eq!(alone.gates, row.gates);
}

#[test]
fn the_offset_tolerance_is_where_a_single_replay_starts_to_fail() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = recording(dir.path());
    let gates_file = dir.path().join("gates.toml");
    std::fs::write(
        &gates_file,
        "[[gate]]\nname = \"association_fail_rate\"\nmetric = \"association_fail_rate\"\n\
         comparator = \"<=\"\nthreshold = 0.2\n",
    )
    .expect("write");
    let base = ReplayConfig {
        gates: radcam_replay::gates_file::load(&gates_file).expect("gates"),
        ..ReplayConfig::default()
    };
    let req = ToleranceRequest {
        recording: rec.clone(),
        base: base.clone(),
        kind: ToleranceKind::Offset,
        max: 800.0,
        speed_bands_mps: vec![0.0, 3.0],
    };
    let (rows, runs) = in_pool(2, || sweep::tolerance(&req, &|_, _| {})).expect("tolerance");
    let (rows8, runs8) = in_pool(8, || sweep::tolerance(&req, &|_, _| {})).expect("tolerance");
    assert_eq!((&rows, &runs.rows), (&rows8, &runs8.rows));
    assert_eq!(
        rows.iter().map(|r| r.band.as_str()).collect::<Vec<_>>(),
        vec!["all", "0-3 m/s", ">=3 m/s"]
    );
    let all = &rows[0];
    assert_eq!(all.status, "within", "{all:?}");
    let tol = all.tolerance.expect("tolerance");
    // the search's bracket is a factor of two wide wherever the tolerance lies: 1/64 of it,
    assert!(tol > 800.0 / 4096.0, "{all:?}");
    assert!(
        all.resolution > 0.0 && all.resolution <= tol / 64.0,
        "{all:?}"
    );
    // a hundred times the maximum finds the same limit as finely
    let wide = ToleranceRequest {
        max: 80_000.0,
        ..req.clone()
    };
    let (wide, _) = in_pool(2, || sweep::tolerance(&wide, &|_, _| {})).expect("tolerance");
    let far = &wide[0];
    let far_tol = far.tolerance.expect("tolerance");
    assert!(
        far.resolution > 0.0 && far.resolution <= far_tol / 64.0,
        "{far:?}"
    );
    assert!(
        (far_tol - tol).abs() <= far.resolution.max(all.resolution),
        "{far:?} against {all:?}"
    );
    assert_eq!(all.limiting_gate.as_deref(), Some("association_fail_rate"));
    // confirm with single replays on both sides of the answer, both signs
    let passes = |offset_ms: f64| {
        let mut plan = FaultPlan::default();
        plan.camera.offset_ms = offset_ms;
        let out = replay(
            &rec,
            &ReplayConfig {
                faults: plan,
                ..base.clone()
            },
        )
        .expect("replay");
        out.passed()
    };
    assert!(passes(tol) && passes(-tol), "passes at ±{tol} ms");
    let above = tol + all.resolution;
    assert!(!passes(above) || !passes(-above), "fails at ±{above} ms");
    // every band found its own limit, each set by the gate going over its threshold
    for band in &rows[1..] {
        assert!(band.detections > 0, "{band:?}");
        assert_eq!(band.status, "within", "{band:?}");
        assert!(band.limiting_value.expect("value") > 0.2, "{band:?}");
    }
}
