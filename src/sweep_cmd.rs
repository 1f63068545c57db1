//! `radcam sweep`: argument checks, the worker pool, progress, and the tables written all or
//! nothing; the runs are `radcam_replay::sweep`'s.

use crate::{Show, interrupted, output_dir_for, progress_bar};
use anyhow::{Context, Result};
use radcam_replay::faults::FaultPlan;
use radcam_replay::{ReplayConfig, sweep};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// `radcam sweep`'s arguments.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// Recording.
    recording: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Grid: `offset_ms=0:12:4,jitter_us=0,800` (ranges start:stop:step, lists).
    #[arg(long, required_unless_present_any = ["monte_carlo", "tolerance"])]
    grid: Option<String>,
    /// Runs per grid point (or of the base plan), each with a seed derived from --seed.
    #[arg(long, conflicts_with = "tolerance")]
    monte_carlo: Option<u32>,
    /// Search the largest offset|jitter|drift at which every gate passes, per speed band.
    #[arg(long, conflicts_with = "grid", value_parser = ["offset", "jitter", "drift"])]
    tolerance: Option<String>,
    /// Largest magnitude the tolerance search tries (default: offset 200 ms, jitter
    /// 20000 µs, drift 2000 ppm).
    #[arg(long, requires = "tolerance")]
    max: Option<f64>,
    /// Speed band edges for the tolerance search, m/s.
    #[arg(
        long,
        requires = "tolerance",
        value_delimiter = ',',
        default_value = "0,2,5,10"
    )]
    bands: Vec<f64>,
    /// Base fault plan (TOML); the swept parameters override it.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Base seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Gates file (TOML); default: sync_p999, reprojection_p95, track_id_switch_rate, e2e_latency_p999 and association_fail_rate.
    #[arg(long)]
    gates: Option<PathBuf>,
    /// Camera clock estimator.
    #[arg(long, default_value = "bracket")]
    estimator: String,
    /// Worker threads; one per core when not given or 0.
    #[arg(long)]
    threads: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the sweep or tolerance search `args` asks for. Its tables go to a staging directory
/// inside `--out` and are moved into place together once all are written; `stop` (Ctrl-C,
/// SIGTERM) stops every run within a few thousand messages, and nothing is written: an
/// earlier sweep in `--out` stays as it was (exit 130 in `main`).
pub fn run(args: SweepArgs, stop: Arc<AtomicBool>, show: Show) -> Result<ExitCode> {
    let mut base = ReplayConfig {
        estimator: args.estimator,
        seed: args.seed,
        cancel: Some(stop),
        ..ReplayConfig::default()
    };
    if let Some(path) = &args.faults {
        base.faults = FaultPlan::load(path)?;
    }
    if let Some(path) = &args.gates {
        base.gates = radcam_replay::gates_file::load(path)?;
    }
    let grid = match &args.grid {
        Some(spec) => {
            Some(sweep::Grid::parse(spec).map_err(|e| anyhow::anyhow!("--grid {spec}: {e}"))?)
        }
        None => None,
    };
    if args.monte_carlo == Some(0) {
        anyhow::bail!("--monte-carlo 0: needs at least one run");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let out = args.out;
    output_dir_for(&args.recording, &out)?;
    let staged = radcam_reports::StagedDir::new(&out)
        .with_context(|| format!("{}: cannot write the sweep there", out.display()))?;
    let bar = progress_bar(show, true, "sweeping");
    let progress = |done: u64, total: u64| {
        bar.set_length(total.max(done));
        bar.set_position(done);
    };
    // the runs' error, said to have written nothing when a signal stopped them
    let stopped = |e: radcam_replay::Error| {
        bar.finish_and_clear();
        let e = anyhow::Error::from(e);
        if interrupted(&e) {
            e.context(format!("{}: no sweep was written", out.display()))
        } else {
            e
        }
    };
    // a table that cannot be written is named where it was going, not in the staging
    // directory (gone by the time the error is shown)
    let unwritten = |e: radcam_reports::Error| {
        anyhow::Error::from(e.moved(staged.path(), &out))
            .context(format!("{}: no sweep was written", out.display()))
    };
    match args.tolerance {
        Some(kind) => {
            let kind = sweep::ToleranceKind::parse(&kind)
                .ok_or_else(|| anyhow::anyhow!("--tolerance {kind}: unknown kind"))?;
            let req = sweep::ToleranceRequest {
                recording: args.recording,
                base,
                kind,
                max: args.max.unwrap_or(kind.default_max()),
                speed_bands_mps: args.bands,
            };
            let (rows, runs) = pool
                .install(|| sweep::tolerance(&req, &progress))
                .map_err(stopped)?;
            bar.finish_and_clear();
            radcam_reports::write_sweep(staged.path(), &runs.rows, &runs.metadata)
                .map_err(unwritten)?;
            radcam_reports::write_tolerance(staged.path(), &rows, &runs.metadata)
                .map_err(unwritten)?;
            commit(staged, &out)?;
            if show.json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&radcam_reports::tolerance_json(&rows))?
                );
            } else if !show.quiet {
                say!(
                    "tolerance to camera {} ({} replays):",
                    kind.as_str(),
                    runs.rows.len()
                );
                say_raw!("{}", radcam_reports::tolerance_table(&rows));
                say!(
                    "report: {} (and {})",
                    out.join(radcam_reports::TOLERANCE_FILE).display(),
                    radcam_reports::SWEEP_FILE
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let req = sweep::SweepRequest {
                recording: args.recording,
                base,
                grid: grid.unwrap_or_else(sweep::Grid::single),
                replicates: args.monte_carlo.unwrap_or(1),
            };
            let runs = pool
                .install(|| sweep::sweep(&req, &progress))
                .map_err(stopped)?;
            bar.finish_and_clear();
            radcam_reports::write_sweep(staged.path(), &runs.rows, &runs.metadata)
                .map_err(unwritten)?;
            commit(staged, &out)?;
            if show.json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&radcam_reports::sweep_json(&runs.rows))?
                );
            } else if !show.quiet {
                say_raw!("{}", radcam_reports::sweep_table(&runs.rows));
                let passed = runs.rows.iter().filter(|r| r.passed).count();
                say!(
                    "{passed} of {} runs passed every required gate (* a gate failed in some run{})",
                    runs.rows.len(),
                    if req.replicates > 1 {
                        "; a gate's value is the mean of the point's runs, each run is a row of sweep.parquet"
                    } else {
                        ""
                    }
                );
                say!("report: {}", out.join(radcam_reports::SWEEP_FILE).display());
            }
            Ok(if runs.rows.iter().all(|r| r.passed) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Moves the staged tables into `out`.
fn commit(staged: radcam_reports::StagedDir, out: &Path) -> Result<()> {
    staged
        .commit(&radcam_reports::SWEEP_FILES)
        .with_context(|| format!("{}: the sweep could not be moved into place", out.display()))
}
