//! Sweeps: many replays of one recording under a grid or Monte Carlo set of fault plans, run
//! with rayon, and the tolerance search that bisects the largest fault every gate survives.
//!
//! Runs are independent and their results are collected by run index, so the output does not
//! depend on the number of threads. A run's seed comes from the base seed and its replicate
//! index only (replicate 0 uses the base seed itself), so every grid point sees the same
//! random draws and any row can be reproduced with `radcam replay --seed <seed>`.

use crate::faults::{FaultPlan, Jitter, JitterDistribution};
use crate::reader::CheckedRecording;
use crate::runner::{BandResult, ReplayConfig, ReplayOutput, replay_into};
use crate::{Error, Result};
use radcam_fusion::fused::{AssociationRecord, FrameRecord, FusedObject, FusionSink, TruthRecord};
use radcam_fusion::gates::{self, GateResult};
use radcam_fusion::shown::Shown;
use radcam_reports::{SweepRow, ToleranceRow};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fault parameter a sweep can vary: its `--grid` name and how it edits a plan.
struct Param {
    name: &'static str,
    help: &'static str,
    apply: fn(&mut FaultPlan, f64),
}

fn set_jitter(slot: &mut Option<Jitter>, scale_us: f64) {
    match slot {
        Some(j) => j.scale_us = scale_us,
        None => {
            *slot = Some(Jitter {
                distribution: JitterDistribution::Gaussian,
                scale_us,
                dof: None,
                alpha: None,
            });
        }
    }
}

fn set_drop_probability(f: &mut crate::faults::SensorFaults, p: f64) {
    let length = f.drop_bursts.as_ref().map_or(1, |b| b.length);
    f.drop_bursts = Some(crate::faults::Bursts {
        probability: p,
        length,
    });
}

fn set_spike_delay(f: &mut crate::faults::SensorFaults, delay_ms: f64) {
    let (probability, length) = f
        .latency_spikes
        .as_ref()
        .map_or((0.01, 1), |s| (s.probability, s.length));
    f.latency_spikes = Some(crate::faults::LatencySpikes {
        probability,
        delay_ms,
        length,
    });
}

/// Every parameter `--grid` knows.
const PARAMS: &[Param] = &[
    Param {
        name: "offset_ms",
        help: "camera time offset, ms",
        apply: |p, v| p.camera.offset_ms = v,
    },
    Param {
        name: "jitter_us",
        help: "camera time jitter scale, µs (the plan's distribution, else gaussian σ)",
        apply: |p, v| set_jitter(&mut p.camera.jitter, v),
    },
    Param {
        name: "drift_ppm",
        help: "camera time drift, ppm",
        apply: |p, v| p.camera.drift_ppm = v,
    },
    Param {
        name: "radar_offset_ms",
        help: "radar time offset, ms",
        apply: |p, v| p.radar.offset_ms = v,
    },
    Param {
        name: "radar_jitter_us",
        help: "radar time jitter scale, µs",
        apply: |p, v| set_jitter(&mut p.radar.jitter, v),
    },
    Param {
        name: "roll_deg",
        help: "extrinsic roll error, degrees",
        apply: |p, v| p.extrinsic.roll_deg = v,
    },
    Param {
        name: "pitch_deg",
        help: "extrinsic pitch error, degrees",
        apply: |p, v| p.extrinsic.pitch_deg = v,
    },
    Param {
        name: "yaw_deg",
        help: "extrinsic yaw error, degrees",
        apply: |p, v| p.extrinsic.yaw_deg = v,
    },
    Param {
        name: "focal_error_pct",
        help: "error of the calibration's focal lengths, %",
        apply: |p, v| p.intrinsic.focal_error_pct = v,
    },
    Param {
        name: "k1_error",
        help: "error of the calibration's radial distortion k1",
        apply: |p, v| p.intrinsic.k1_error = v,
    },
    Param {
        name: "drop_probability",
        help: "probability a camera drop burst starts at a frame",
        apply: |p, v| set_drop_probability(&mut p.camera, v),
    },
    Param {
        name: "radar_drop_probability",
        help: "probability a radar drop burst starts at a frame",
        apply: |p, v| set_drop_probability(&mut p.radar, v),
    },
    Param {
        name: "spike_delay_ms",
        help: "radar latency spike delay, ms (probability from the plan, else 0.01)",
        apply: |p, v| set_spike_delay(&mut p.radar, v),
    },
    Param {
        name: "video_streams",
        help: "video streams sharing the egress port (rounded to a whole number)",
        apply: |p, v| p.egress.video_streams = v.round().clamp(0.0, 64.0) as u32,
    },
    Param {
        name: "link_mbps",
        help: "egress link rate, Mbit/s",
        apply: |p, v| p.egress.link_mbps = v,
    },
    Param {
        name: "fusion_base_us",
        help: "modelled fusion time per frame, µs",
        apply: |p, v| p.node.fusion_base_us = v,
    },
    Param {
        name: "temperature_ppm_per_c",
        help: "camera time error per °C from 25 °C, ppm/°C",
        apply: |p, v| {
            let reference_c = p
                .camera
                .temperature
                .as_ref()
                .map_or(25.0, |t| t.reference_c);
            p.camera.temperature = Some(crate::faults::TemperatureDrift {
                ppm_per_c: v,
                reference_c,
            });
        },
    },
];

/// `name: help` of every grid parameter, one per line.
pub fn grid_parameters() -> String {
    PARAMS
        .iter()
        .map(|p| format!("  {:<24}{}\n", p.name, p.help))
        .collect()
}

fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

/// Largest number of runs one sweep may ask for.
pub const MAX_RUNS: usize = 100_000;

/// A parsed `--grid` spec: each axis a parameter and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    axes: Vec<(&'static str, Vec<f64>)>,
}

impl Grid {
    /// No axes: one point, the base plan.
    pub fn single() -> Self {
        Self { axes: Vec::new() }
    }

    /// Parses `offset_ms=0:12:4,jitter_us=0,800`: each `name=` starts an axis; its values
    /// are ranges `start:stop:step` (stop included) and single numbers, comma-separated.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut axes: Vec<(&'static str, Vec<f64>)> = Vec::new();
        for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let values = match token.split_once('=') {
                Some((name, values)) => {
                    let name = name.trim();
                    let p = param(name).ok_or_else(|| {
                        format!(
                            "unknown grid parameter '{name}'; known:\n{}",
                            grid_parameters()
                        )
                    })?;
                    if axes.iter().any(|a| a.0 == p.name) {
                        return Err(format!("grid parameter '{name}' given twice"));
                    }
                    axes.push((p.name, Vec::new()));
                    values
                }
                None => token,
            };
            let Some(axis) = axes.last_mut() else {
                return Err(format!("'{token}': a grid starts with name=values"));
            };
            axis.1
                .extend(parse_values(values.trim()).map_err(|e| format!("{}: {e}", axis.0))?);
        }
        if axes.is_empty() {
            return Err("empty grid".into());
        }
        let grid = Self { axes };
        if grid.points() > MAX_RUNS {
            return Err(format!("{} grid points; at most {MAX_RUNS}", grid.points()));
        }
        Ok(grid)
    }

    /// Number of grid points.
    pub fn points(&self) -> usize {
        self.axes
            .iter()
            .map(|a| a.1.len())
            .try_fold(1usize, usize::checked_mul)
            .unwrap_or(usize::MAX)
    }

    /// The parameter values of point `i` (first axis slowest).
    fn point(&self, mut i: usize) -> Vec<(String, f64)> {
        let mut out = vec![(String::new(), 0.0); self.axes.len()];
        for (k, (name, values)) in self.axes.iter().enumerate().rev() {
            out[k] = ((*name).to_owned(), values[i % values.len()]);
            i /= values.len();
        }
        out
    }
}

fn parse_values(text: &str) -> std::result::Result<Vec<f64>, String> {
    let num = |s: &str| -> std::result::Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("'{s}' is not a finite number"))
    };
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [v] => Ok(vec![num(v)?]),
        [start, stop, step] => {
            let (start, stop, step) = (num(start)?, num(stop)?, num(step)?);
            if step <= 0.0 || stop < start {
                return Err(format!(
                    "range {text}: needs start ≤ stop and a positive step"
                ));
            }
            // counted in f64: `0:1e12:1e-12` has 1e24 values, which no usize holds
            let n = ((stop - start) / step + 1e-9).floor() + 1.0;
            if n.is_nan() || n > MAX_RUNS as f64 {
                return Err(format!(
                    "range {text}: {} values; at most {MAX_RUNS}",
                    Shown(n)
                ));
            }
            let n = n as usize;
            // each value at the decimals its range was written with: `0:1:0.1` gives 0.3, not
            // the 0.30000000000000004 of `0 + 3 × 0.1`
            let decimals = decimals(parts[0])
                .zip(decimals(parts[2]))
                .map(|(a, b)| a.max(b));
            Ok((0..n)
                .map(|k| at_decimals(start + step * k as f64, decimals))
                .collect())
        }
        _ => Err(format!("'{text}': a value is a number or start:stop:step")),
    }
}

/// Most decimals a range's value is snapped to; a number written with more is left as computed.
const MAX_DECIMALS: u32 = 12;

/// Digits after the decimal point that `number` (a decimal, maybe with an exponent: `2.5e-3`
/// has four) was written with; `None` beyond [`MAX_DECIMALS`] or for an unreadable exponent.
fn decimals(number: &str) -> Option<u32> {
    let number = number.trim();
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(i) => (&number[..i], number[i + 1..].parse::<i64>().ok()?),
        None => (number, 0),
    };
    let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
    u32::try_from((fraction - exponent).max(0))
        .ok()
        .filter(|&d| d <= MAX_DECIMALS)
}

/// `value` rounded to `decimals` decimals (the nearest `f64` to that decimal), or as it is
/// when `decimals` is `None`. Zero is `0`, never `-0` (`-0.9 + 3 × 0.3` is a hair below it).
fn at_decimals(value: f64, decimals: Option<u32>) -> f64 {
    decimals.map_or(value, |d| {
        format!("{value:.*}", d as usize)
            .parse::<f64>()
            .map_or(value, |v| v + 0.0)
    })
}

/// The seed of replicate `r` of a sweep with base seed `base`: `base` itself for replicate 0.
pub fn replicate_seed(base: u64, r: u32) -> u64 {
    if r == 0 {
        return base;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(base);
    rng.set_stream(u64::from(r));
    rng.next_u64()
}

/// A sink that drops every row: sweeps keep gate results only.
struct Discard;

impl FusionSink for Discard {
    fn fused(&mut self, _: FusedObject) {}
    fn association(&mut self, _: AssociationRecord) {}
    fn truth(&mut self, _: TruthRecord) {}
    fn frame(&mut self, _: FrameRecord) {}
    fn sync(&mut self, _: radcam_fusion::sync::SyncRecord) {}
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepRequest {
    /// The recording.
    pub recording: PathBuf,
    /// Gates, estimator, base fault plan and base seed of every run.
    pub base: ReplayConfig,
    /// The grid (or [`Grid::single`]).
    pub grid: Grid,
    /// Runs per grid point (Monte Carlo replicates), ≥ 1.
    pub replicates: u32,
}

/// A sweep's rows and the report metadata of its tables.
#[derive(Debug, Clone)]
pub struct SweepOutput {
    /// One row per run, in run order.
    pub rows: Vec<SweepRow>,
    /// Key-value metadata for the tables.
    pub metadata: BTreeMap<String, String>,
}

fn plan_at(base: &FaultPlan, params: &[(String, f64)]) -> FaultPlan {
    let mut plan = base.clone();
    for (name, v) in params {
        if let Some(p) = param(name) {
            (p.apply)(&mut plan, *v);
        }
    }
    plan
}

/// `base` with `recording` checked whole (content hash, data-section CRC) once, for every run
/// of a sweep: a damaged recording fails here, before the pool starts, and each run checks
/// only the chunks it reads.
fn checked_once(recording: &Path, base: &ReplayConfig) -> Result<ReplayConfig> {
    Ok(ReplayConfig {
        checked: Some(Arc::new(CheckedRecording::check(recording)?)),
        ..base.clone()
    })
}

fn one_run(
    recording: &Path,
    base: &ReplayConfig,
    plan: FaultPlan,
    seed: u64,
) -> Result<ReplayOutput> {
    plan.validate().map_err(|message| Error::Config {
        path: PathBuf::from("--grid"),
        message,
    })?;
    let cfg = ReplayConfig {
        faults: plan,
        seed,
        ..base.clone()
    };
    replay_into(recording, &cfg, |_, _| {}, &mut Discard)
}

fn row(
    run_index: u32,
    replicate: u32,
    seed: u64,
    params: Vec<(String, f64)>,
    out: &ReplayOutput,
) -> SweepRow {
    SweepRow {
        run_index,
        replicate,
        seed,
        params,
        fault_plan: out.report_metadata["fault_plan"].clone(),
        passed: out.passed(),
        gates: out.gates.clone(),
        stale_fusions: out.stale_fusions,
        dropped_camera_frames: out.dropped.camera_frames,
        dropped_radar_frames: out.dropped.radar_frames,
        mota: out.tracking.as_ref().map(|t| t.mota),
        idf1: out.tracking.as_ref().map(|t| t.idf1),
    }
}

fn metadata(first: &ReplayOutput, base: &ReplayConfig, what: String) -> BTreeMap<String, String> {
    let mut m = first.report_metadata.clone();
    m.insert("fault_plan".into(), base.faults.describe());
    m.insert("seed".into(), base.seed.to_string());
    m.insert("sweep".into(), what);
    m
}

/// Runs every grid point × replicate on the current rayon pool; `progress(done, total)` is
/// called from the worker threads as runs finish.
pub fn sweep(req: &SweepRequest, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<SweepOutput> {
    let replicates = req.replicates.max(1);
    let total = req.grid.points().saturating_mul(replicates as usize);
    if total > MAX_RUNS {
        return Err(Error::Config {
            path: PathBuf::from("--grid/--monte-carlo"),
            message: format!("{total} runs; at most {MAX_RUNS}"),
        });
    }
    // a broken recording or bad gates fail once, before the pool starts
    gates::validate(&req.base.gates, &crate::runner::known_metric_set())?;
    let base = checked_once(&req.recording, &req.base)?;
    let done = AtomicU64::new(0);
    let runs: Vec<(SweepRow, Option<ReplayOutput>)> = (0..total)
        .into_par_iter()
        .map(|i| {
            let point = i / replicates as usize;
            let replicate = (i % replicates as usize) as u32;
            let params = req.grid.point(point);
            let seed = replicate_seed(base.seed, replicate);
            let out = one_run(&req.recording, &base, plan_at(&base.faults, &params), seed)?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total as u64);
            let r = row(i as u32, replicate, seed, params, &out);
            Ok((r, (i == 0).then_some(out)))
        })
        .collect::<Result<_>>()?;
    let first = runs.first().and_then(|r| r.1.clone());
    let rows: Vec<SweepRow> = runs.into_iter().map(|r| r.0).collect();
    let what = format!(
        "grid {} × {replicates} replicate(s)",
        req.grid
            .axes
            .iter()
            .map(|(n, v)| format!("{n}={}", v.len()))
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(SweepOutput {
        metadata: first
            .map(|f| metadata(&f, &req.base, what))
            .unwrap_or_default(),
        rows,
    })
}

/// What a tolerance search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToleranceKind {
    /// Camera time offset, both signs, ms.
    Offset,
    /// Camera time jitter (the plan's distribution, else gaussian), µs.
    Jitter,
    /// Camera time drift, both signs, ppm.
    Drift,
}

impl ToleranceKind {
    /// Parses `offset`, `jitter` or `drift`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "offset" => Some(Self::Offset),
            "jitter" => Some(Self::Jitter),
            "drift" => Some(Self::Drift),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offset => "offset",
            Self::Jitter => "jitter",
            Self::Drift => "drift",
        }
    }

    fn param(self) -> &'static str {
        match self {
            Self::Offset => "offset_ms",
            Self::Jitter => "jitter_us",
            Self::Drift => "drift_ppm",
        }
    }

    /// Unit of the magnitude.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Offset => "ms",
            Self::Jitter => "us",
            Self::Drift => "ppm",
        }
    }

    /// Default largest magnitude searched.
    pub fn default_max(self) -> f64 {
        match self {
            Self::Offset => 200.0,
            Self::Jitter => 20_000.0,
            Self::Drift => 2_000.0,
        }
    }

    fn signs(self) -> &'static [f64] {
        match self {
            Self::Jitter => &[1.0],
            Self::Offset | Self::Drift => &[1.0, -1.0],
        }
    }
}

/// Default speed band edges of a tolerance search, m/s: pedestrians, cyclists, slow and fast
/// vehicles.
pub const DEFAULT_SPEED_BANDS_MPS: [f64; 4] = [0.0, 2.0, 5.0, 10.0];

/// A tolerance search.
#[derive(Debug, Clone)]
pub struct ToleranceRequest {
    /// The recording.
    pub recording: PathBuf,
    /// Gates, estimator, base fault plan (the searched field is overridden) and seed.
    pub base: ReplayConfig,
    /// What to vary.
    pub kind: ToleranceKind,
    /// Largest magnitude searched.
    pub max: f64,
    /// Speed band edges, m/s (`base.speed_bands_mps` is replaced by these).
    pub speed_bands_mps: Vec<f64>,
}

/// Halvings of the largest magnitude on the tolerance search's coarse grid: it probes 0 and
/// max / 2^k for k = 12 down to 0, so wherever a tolerance above max / 4096 lies, the bracket
/// holding it is a factor of two wide (a grid in equal steps left a tolerance of 0.48 ms
/// between 0 and 25 ms of a 200 ms search, and the bisection found it to ±0.39 ms).
const COARSE_HALVINGS: i32 = 12;
/// Bisection rounds in the bracket: a resolution of 1/64 of its lower end, under 1.6 % of
/// the tolerance (max / 4096 / 64 when even max / 4096 fails).
const BISECTIONS: usize = 6;

/// The first failing required gate: its name and value.
type Failing = Option<(String, Option<f64>)>;
/// Per band at one magnitude: passed, and the first failing required gate.
type Verdicts = Vec<(bool, Failing)>;

fn verdicts(out: &ReplayOutput) -> Verdicts {
    let judge = |g: &[GateResult]| {
        let failing = g
            .iter()
            .find(|r| r.gate.required && r.verdict != gates::Verdict::Pass);
        (
            failing.is_none(),
            failing.map(|r| (r.gate.name.clone(), r.value)),
        )
    };
    std::iter::once(judge(&out.gates))
        .chain(out.bands.iter().map(|b: &BandResult| judge(&b.gates)))
        .collect()
}

/// A band's search state: (last passing magnitude, first failing magnitude and its gate).
struct Search {
    lo: f64,
    hi: Option<(f64, Failing)>,
}

/// Bisects, per speed band, the largest magnitude of `kind` at which every required gate
/// passes; returns one tolerance row per band (`all` first) and every probe as a sweep row.
pub fn tolerance(
    req: &ToleranceRequest,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(Vec<ToleranceRow>, SweepOutput)> {
    if !(req.max.is_finite() && req.max > 0.0) {
        return Err(Error::Config {
            path: PathBuf::from("--max"),
            message: format!("{}: must be a positive number", Shown(req.max)),
        });
    }
    if req.speed_bands_mps.windows(2).any(|w| w[0] >= w[1])
        || req
            .speed_bands_mps
            .iter()
            .any(|e| !e.is_finite() || *e < 0.0)
    {
        return Err(Error::Config {
            path: PathBuf::from("--bands"),
            message: "speed band edges must be finite, ≥ 0 and ascending".into(),
        });
    }
    // the largest magnitude, either sign, must make a plan: found now, not after the first
    // probes (and named as --max, not as a grid)
    for sign in req.kind.signs() {
        let params = [(req.kind.param().to_owned(), sign * req.max)];
        plan_at(&req.base.faults, &params)
            .validate()
            .map_err(|message| Error::Config {
                path: PathBuf::from("--max"),
                message: format!(
                    "{}: the largest fault searched is no valid plan: {message}",
                    req.max
                ),
            })?;
    }
    gates::validate(&req.base.gates, &crate::runner::known_metric_set())?;
    let base = ReplayConfig {
        speed_bands_mps: req.speed_bands_mps.clone(),
        ..checked_once(&req.recording, &req.base)?
    };
    let signs = req.kind.signs();
    let estimated = ((COARSE_HALVINGS as usize + 2) + BISECTIONS * (req.speed_bands_mps.len() + 1))
        * signs.len();
    let done = AtomicU64::new(0);
    let mut rows: Vec<SweepRow> = Vec::new();
    let mut first: Option<ReplayOutput> = None;
    // probes magnitudes in parallel; a magnitude passes a band iff every sign passes
    let mut probe = |magnitudes: &[f64], rows: &mut Vec<SweepRow>| -> Result<Vec<Verdicts>> {
        let jobs: Vec<(f64, f64)> = magnitudes
            .iter()
            .flat_map(|m| signs.iter().map(move |s| (*m, s * m)))
            .collect();
        let outs: Vec<ReplayOutput> = jobs
            .par_iter()
            .map(|(_, v)| {
                let params = [(req.kind.param().to_owned(), *v)];
                let out = one_run(
                    &req.recording,
                    &base,
                    plan_at(&base.faults, &params),
                    base.seed,
                )?;
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, estimated as u64);
                Ok(out)
            })
            .collect::<Result<_>>()?;
        let mut per_magnitude: Vec<Verdicts> = Vec::new();
        for ((_, v), out) in jobs.iter().zip(&outs) {
            let params = vec![(req.kind.param().to_owned(), *v)];
            rows.push(row(rows.len() as u32, 0, base.seed, params, out));
        }
        for chunk in outs.chunks(signs.len()) {
            let mut merged = verdicts(&chunk[0]);
            for other in &chunk[1..] {
                for (m, o) in merged.iter_mut().zip(verdicts(other)) {
                    if m.0 && !o.0 {
                        *m = o;
                    }
                }
            }
            per_magnitude.push(merged);
        }
        if first.is_none() {
            first = outs.into_iter().next();
        }
        Ok(per_magnitude)
    };
    // ascending: 0, max / 4096, …, max / 2, max (dividing by a power of two is exact)
    let coarse: Vec<f64> = std::iter::once(0.0)
        .chain((0..=COARSE_HALVINGS).rev().map(|k| req.max / 2f64.powi(k)))
        .collect();
    let coarse_verdicts = probe(&coarse, &mut rows)?;
    let bands = coarse_verdicts.first().map_or(0, Vec::len);
    let mut searches: Vec<Search> = (0..bands)
        .map(|b| {
            let fail = coarse_verdicts.iter().position(|v| !v[b].0);
            match fail {
                None => Search {
                    lo: req.max,
                    hi: None,
                },
                Some(k) => Search {
                    lo: if k == 0 { 0.0 } else { coarse[k - 1] },
                    hi: Some((coarse[k], coarse_verdicts[k][b].1.clone())),
                },
            }
        })
        .collect();
    for _ in 0..BISECTIONS {
        let mut mids: Vec<f64> = searches
            .iter()
            .filter_map(|s| match &s.hi {
                Some((hi, _)) if *hi > 0.0 => Some(0.5 * (s.lo + hi)),
                _ => None,
            })
            .collect();
        mids.sort_by(f64::total_cmp);
        mids.dedup();
        if mids.is_empty() {
            break;
        }
        let got = probe(&mids, &mut rows)?;
        for (b, s) in searches.iter_mut().enumerate() {
            let Some((hi, _)) = &s.hi else { continue };
            let mid = 0.5 * (s.lo + hi);
            if *hi == 0.0 {
                continue;
            }
            let Some(k) = mids.iter().position(|m| *m == mid) else {
                continue;
            };
            if got[k][b].0 {
                s.lo = mid;
            } else {
                s.hi = Some((mid, got[k][b].1.clone()));
            }
        }
    }
    let first = first.ok_or_else(|| Error::Config {
        path: req.recording.clone(),
        message: "tolerance search ran no replay".into(),
    })?;
    let unit = req.kind.unit().to_owned();
    let tolerance_rows = searches
        .iter()
        .enumerate()
        .map(|(b, s)| {
            let (band, min, max, detections) = if b == 0 {
                let judged = match first.metrics.metrics.get("association_fail_rate") {
                    Some(radcam_fusion::gates::Metric::Ratio { denominator, .. }) => *denominator,
                    _ => 0,
                };
                ("all".to_owned(), None, None, judged)
            } else {
                let r = &first.bands[b - 1];
                (r.label(), Some(r.min_mps), r.max_mps, r.detections)
            };
            let (status, resolution, limiting) = match &s.hi {
                _ if detections == 0 => ("no_targets", 0.0, None),
                None => ("passes_at_max", 0.0, None),
                Some((hi, gate)) if *hi == 0.0 => ("fails_without_faults", 0.0, gate.clone()),
                Some((hi, gate)) => ("within", hi - s.lo, gate.clone()),
            };
            ToleranceRow {
                kind: req.kind.as_str().to_owned(),
                band,
                band_min_mps: min,
                band_max_mps: max,
                detections,
                tolerance: (detections > 0).then_some(s.lo),
                unit: unit.clone(),
                resolution,
                searched_max: req.max,
                status: status.to_owned(),
                limiting_gate: limiting.as_ref().map(|l| l.0.clone()),
                limiting_value: limiting.and_then(|l| l.1),
            }
        })
        .collect();
    let what = format!(
        "tolerance {} up to {} {}",
        req.kind.as_str(),
        req.max,
        req.kind.unit()
    );
    Ok((
        tolerance_rows,
        SweepOutput {
            metadata: metadata(&first, &req.base, what),
            rows,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_ranges_and_lists_and_reject_the_unknown() {
        let g = Grid::parse("offset_ms=0:12:4,jitter_us=0,800").expect("grid");
        assert_eq!(g.points(), 8);
        assert_eq!(
            g.point(0),
            vec![("offset_ms".to_owned(), 0.0), ("jitter_us".to_owned(), 0.0)]
        );
        assert_eq!(
            g.point(7),
            vec![
                ("offset_ms".to_owned(), 12.0),
                ("jitter_us".to_owned(), 800.0)
            ]
        );
        assert_eq!(
            g.point(3),
            vec![
                ("offset_ms".to_owned(), 4.0),
                ("jitter_us".to_owned(), 800.0)
            ]
        );
        // a step that does not divide the range stops before stop
        assert_eq!(parse_values("0:1:0.3").expect("range").len(), 4);
        for (bad, says) in [
            ("ofset_ms=1", "unknown grid parameter 'ofset_ms'"),
            ("offset_ms=1:0:1", "start ≤ stop"),
            ("offset_ms=0:1:0", "positive step"),
            ("offset_ms=x", "'x' is not a finite number"),
            ("1,2", "a grid starts with name=values"),
            ("offset_ms=1,offset_ms=2", "given twice"),
            ("offset_ms=0:1e9:1", "1000000001 values; at most"),
            // more values than a usize holds: refused, not wrapped round to an empty grid
            ("offset_ms=0:1e12:1e-12", "1e24 values; at most"),
        ] {
            let e = Grid::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn range_values_are_the_decimals_they_were_written_with() {
        for (range, expected) in [
            ("0:1:0.1", "0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1"),
            ("-0.3:0.3:0.1", "-0.3 -0.2 -0.1 0 0.1 0.2 0.3"),
            ("0.05:0.25:0.05", "0.05 0.1 0.15 0.2 0.25"),
            ("1e-3:5e-3:1e-3", "0.001 0.002 0.003 0.004 0.005"),
            ("0:3e2:1.5e2", "0 150 300"),
            ("2.5:3.5:0.25", "2.5 2.75 3 3.25 3.5"),
        ] {
            let expected: Vec<f64> = expected
                .split(' ')
                .map(|v| v.parse().expect("number"))
                .collect();
            assert_eq!(parse_values(range).expect(range), expected, "{range}");
        }
        // a zero reached from below is 0, not -0 (which the table would print as "-0")
        let zero = parse_values("-0.9:0.9:0.3").expect("range")[3];
        assert!(zero == 0.0 && zero.is_sign_positive(), "{zero}");
        // more decimals than snapping keeps: the computed values, untouched
        let fine = parse_values("0:3e-13:1e-13").expect("range");
        assert_eq!(
            fine,
            (0..4).map(|k| 1e-13 * f64::from(k)).collect::<Vec<_>>()
        );
        assert_eq!(decimals("1.25"), Some(2));
        assert_eq!(decimals("125e-1"), Some(1));
        assert_eq!(decimals("1.5E2"), Some(0));
        assert_eq!(decimals("1e-20"), None);
    }

    /// `units / 10^decimals` written as a decimal.
    fn decimal(units: i64, decimals: u32) -> String {
        let scale = 10i64.pow(decimals);
        let sign = if units < 0 { "-" } else { "" };
        let (whole, fraction) = (units.abs() / scale, units.abs() % scale);
        if decimals == 0 {
            format!("{sign}{whole}")
        } else {
            format!(
                "{sign}{whole}.{fraction:0width$}",
                width = decimals as usize
            )
        }
    }

    proptest::proptest! {
        /// Any range written in decimals gives exactly the decimals of `start + k × step`, as
        /// if each had been typed, and stops at the last one not past `stop`.
        #[test]
        fn a_decimal_range_gives_its_decimal_values(
            start in -1_000_000i64..1_000_000,
            step in 1i64..1_000_000,
            count in 1i64..60,
            beyond in 0i64..1_000_000,
            decimals in 0u32..=6,
        ) {
            let stop = start + step * (count - 1) + beyond % step;
            let range = format!(
                "{}:{}:{}",
                decimal(start, decimals),
                decimal(stop, decimals),
                decimal(step, decimals)
            );
            let expected: Vec<f64> = (0..count)
                .map(|k| decimal(start + step * k, decimals).parse().expect("number"))
                .collect();
            proptest::prop_assert_eq!(parse_values(&range).expect("range"), expected, "{}", range);
        }
    }

    #[test]
    fn replicate_seeds_are_distinct_and_reproducible() {
        assert_eq!(replicate_seed(5, 0), 5);
        let seeds: Vec<u64> = (0..100).map(|r| replicate_seed(5, r)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 100);
        assert_eq!(
            seeds,
            (0..100).map(|r| replicate_seed(5, r)).collect::<Vec<_>>()
        );
        assert_ne!(replicate_seed(6, 1), replicate_seed(5, 1));
    }
}
