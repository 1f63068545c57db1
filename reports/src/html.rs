//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched)
//! made from a report directory's Parquet tables: the gate table with each verdict's evidence
//! window, the tracking summary, and plots drawn with `plotters`' SVG backend.
//!
//! Plots: sync error over time with the estimator's own uncertainty, the sync error CDF, the
//! association fail rate per 10 s window, and the reprojection residual CDF. The same inputs
//! give the same bytes (nothing here reads a clock).

use crate::parquet_in::read_gates;
use crate::{Error, GATES_FILE, Result, SYNC_FILE};
use arrow_array::{
    Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use plotters::prelude::*;
use radcam_fusion::gates::{GateResult, Verdict};
use radcam_fusion::metrics::MotSummary;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Width and height of every plot, px.
const PLOT_SIZE: (u32, u32) = (720, 300);
/// Window of the fail-rate timeline, ns.
const WINDOW_NS: i64 = 10_000_000_000;
/// Points drawn per curve at most (longer series are thinned evenly).
const MAX_POINTS: usize = 2_000;

/// A table read whole, with its key-value metadata.
pub(crate) struct Table {
    pub(crate) path: std::path::PathBuf,
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) metadata: BTreeMap<String, String>,
}

/// The key-value metadata of a report table.
pub(crate) fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    Ok(read_table(path, &["gate"])?.metadata)
}

/// The one row of `tracking.parquet`.
pub(crate) fn read_tracking(path: &Path) -> Result<MotSummary> {
    let t = read_table(path, &[])?;
    let get = |n: &str| t.u64s(n).map(|v| v.first().copied().unwrap_or(0));
    let getf = |n: &str| {
        t.f64s(n)
            .map(|v| v.first().copied().flatten().unwrap_or(f64::NAN))
    };
    Ok(MotSummary {
        num_switches: get("num_switches")?,
        num_matches: get("num_matches")?,
        num_misses: get("num_misses")?,
        num_false_positives: get("num_false_positives")?,
        num_objects: get("num_objects")?,
        num_predictions: get("num_predictions")?,
        num_frames: get("num_frames")?,
        mota: getf("mota")?,
        idf1: getf("idf1")?,
        idtp: get("idtp")?,
        match_threshold_m: getf("match_threshold_m")?,
    })
}

/// Reads `columns` of a table (all of them when empty) with its key-value metadata.
pub(crate) fn read_table(path: &Path, columns: &[&str]) -> Result<Table> {
    let pq = |detail: String| Error::Parquet {
        path: path.to_owned(),
        detail,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| pq(e.to_string()))?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let builder = if columns.is_empty() {
        builder
    } else {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder.with_projection(mask)
    };
    let batches = builder
        .build()
        .map_err(|e| pq(e.to_string()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pq(e.to_string()))?;
    Ok(Table {
        path: path.to_owned(),
        batches,
        metadata,
    })
}

impl Table {
    /// The table's column names, in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.batches
            .first()
            .map(|b| {
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn column<T: Array + 'static, V>(
        &self,
        name: &str,
        get: impl Fn(&T, usize) -> V,
    ) -> Result<Vec<V>> {
        let mut out = Vec::new();
        for b in &self.batches {
            let c = b
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<T>())
                .ok_or_else(|| Error::Parquet {
                    path: self.path.clone(),
                    detail: format!("column '{name}' is missing or has the wrong type"),
                })?;
            out.extend((0..c.len()).map(|i| get(c, i)));
        }
        Ok(out)
    }

    pub(crate) fn i64s(&self, name: &str) -> Result<Vec<Option<i64>>> {
        self.column::<Int64Array, _>(name, |c, i| (!c.is_null(i)).then(|| c.value(i)))
    }

    pub(crate) fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        self.column::<Float64Array, _>(name, |c, i| (!c.is_null(i)).then(|| c.value(i)))
    }

    pub(crate) fn u64s(&self, name: &str) -> Result<Vec<u64>> {
        self.column::<UInt64Array, _>(name, |c, i| c.value(i))
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every `k`-th point so that at most [`MAX_POINTS`] remain (the last is kept).
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let k = points.len().div_ceil(MAX_POINTS).max(1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(k).copied().collect();
    if let Some(last) = points.last()
        && out.last() != Some(last)
    {
        out.push(*last);
    }
    out
}

/// The axis range of `values`, padded by 5 %; from zero when `from_zero` and all are ≥ 0.
fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    if from_zero && lo >= 0.0 {
        (0.0, hi + pad)
    } else {
        (lo - pad, hi + pad)
    }
}

/// A named curve: label, colour, (x, y) points.
pub(crate) type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// A line plot of one or more named series, as an SVG string.
/// CPU load band of a frame: 0 light (< 50 %), 1 full (≥ 50 %), 2 unknown.
fn load_band(load_pct: Option<f64>) -> usize {
    match load_pct {
        Some(l) if l < 50.0 => 0,
        Some(_) => 1,
        None => 2,
    }
}

/// One series per CPU load band that has points.
fn by_load(bands: [Vec<(f64, f64)>; 3]) -> Vec<Series<'static>> {
    let style = [
        ("light load (< 50 % CPU)", RGBColor(30, 90, 200)),
        ("full load (≥ 50 % CPU)", RGBColor(200, 50, 50)),
        ("load not recorded", RGBColor(120, 60, 170)),
    ];
    bands
        .into_iter()
        .zip(style)
        .filter(|(pts, _)| !pts.is_empty())
        .map(|(pts, (name, color))| (name, color, pts))
        .collect()
}

pub(crate) fn line_plot(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series<'_>],
) -> Result<String> {
    plot(title, x_desc, y_desc, series, false, false)
}

/// A chamber curve: one series per CPU load band, always with its legend (the load band is
/// the annotation, even when the run had only one).
fn load_plot(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    bands: [Vec<(f64, f64)>; 3],
    points_only: bool,
) -> Result<String> {
    plot(title, x_desc, y_desc, &by_load(bands), points_only, true)
}

fn plot(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series<'_>],
    points_only: bool,
    always_legend: bool,
) -> Result<String> {
    let mut svg = String::new();
    let err = |e: &dyn std::fmt::Display| Error::Parquet {
        path: "report.html".into(),
        detail: format!("plot '{title}': {e}"),
    };
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let xs = range(series.iter().flat_map(|s| s.2.iter().map(|p| p.0)), false);
        let ys = range(series.iter().flat_map(|s| s.2.iter().map(|p| p.1)), true);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(&e))?;
        for (name, color, points) in series {
            let color = *color;
            let drawn = if points_only {
                chart.draw_series(
                    thin(points)
                        .into_iter()
                        .map(|p| Circle::new(p, 1, color.filled())),
                )
            } else {
                chart.draw_series(LineSeries::new(thin(points), color.stroke_width(1)))
            };
            drawn
                .map_err(|e| err(&e))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        if series.len() > 1 || (always_legend && !series.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// The page's doctype, head and inline style, up to and including `<body>`.
pub(crate) fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\nbody{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f2f2f2}}.pass{{background:#d8f0d8}}.fail{{background:#f6d0d0}}.inconclusive{{background:#f6ecc8}}.verdict{{font-size:20px;font-weight:bold}}figure{{margin:0 0 16px}}dl{{display:grid;grid-template-columns:max-content auto;gap:2px 12px}}dt{{color:#666}}\n</style></head><body>\n",
        escape(title)
    )
}

/// The empirical CDF of `values`: (value, fraction ≤ value).
fn cdf(mut values: Vec<f64>) -> Vec<(f64, f64)> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, (i + 1) as f64 / n))
        .collect()
}

fn gate_rows(gates: &[GateResult], t0_ns: i64) -> String {
    let mut s = String::new();
    for g in gates {
        let class = match g.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        };
        let value = g
            .value
            .map_or_else(|| "—".to_owned(), |v| format!("{v:.4}"));
        let evidence = g.evidence.map_or_else(
            || "—".to_owned(),
            |e| {
                format!(
                    "{:.4} in [{}, {}) ns (t = {} s)",
                    e.value,
                    e.start_ns,
                    e.end_ns,
                    crate::window_from_start(&e, t0_ns)
                )
            },
        );
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td>{} {}</td><td>{value}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
            escape(&g.gate.name),
            escape(&g.gate.metric),
            escape(g.gate.comparator.as_str()),
            g.gate.threshold,
            g.samples,
            g.verdict.as_str(),
            escape(&evidence),
        );
    }
    s
}

/// Builds the HTML report of the report directory `dir`.
pub fn html_report(dir: &Path) -> Result<String> {
    if !dir.join(GATES_FILE).exists() && dir.join(crate::SWEEP_FILE).exists() {
        return crate::sweep_html::sweep_report(dir);
    }
    let gates = read_gates(dir)?;
    let meta = read_metadata(&dir.join(GATES_FILE))?;
    let sync = read_table(
        &dir.join(SYNC_FILE),
        &[
            "frame_id",
            "host_ns",
            "device_ns",
            "true_error_ns",
            "uncertainty_ns",
        ],
    )?;
    let host = sync.i64s("host_ns")?;
    let truth_err = sync.i64s("true_error_ns")?;
    let uncertainty = sync.f64s("uncertainty_ns")?;
    // seconds from the recording's first message, as fault plans and `--window` count them;
    // from the first synchronised frame in a report that does not name it
    let (t0_ns, since) = match crate::recording_start_ns(&meta) {
        Some(t0) => (t0, "time since the recording's first message, s"),
        None => (
            host.iter().flatten().copied().min().unwrap_or(0),
            "time since the first mapped frame, s",
        ),
    };
    let secs = |t: i64| (t - t0_ns) as f64 / 1e9;
    let err_series: Vec<(f64, f64)> = host
        .iter()
        .zip(&truth_err)
        .filter_map(|(h, e)| Some((secs((*h)?), (*e)?.unsigned_abs() as f64 / 1e3)))
        .collect();
    let unc_series: Vec<(f64, f64)> = host
        .iter()
        .zip(&uncertainty)
        .filter_map(|(h, u)| Some((secs((*h)?), (*u)? / 1e3)))
        .filter(|p| p.1.is_finite())
        .collect();
    let mut plots = Vec::new();
    let mut sync_series = vec![("uncertainty (1σ)", RGBColor(230, 140, 30), unc_series)];
    if !err_series.is_empty() {
        sync_series.insert(
            0,
            (
                "|error| vs truth",
                RGBColor(30, 90, 200),
                err_series.clone(),
            ),
        );
        plots.push(line_plot(
            "Camera sync error over time",
            since,
            "µs",
            &sync_series,
        )?);
        plots.push(line_plot(
            "Camera sync error CDF",
            "|error|, µs",
            "fraction of frames",
            &[(
                "|error|",
                RGBColor(30, 90, 200),
                cdf(err_series.iter().map(|p| p.1).collect()),
            )],
        )?);
    } else {
        plots.push(line_plot(
            "Camera clock uncertainty over time (no truth in this recording)",
            since,
            "µs",
            &sync_series,
        )?);
    }
    let frames_path = dir.join(crate::fusion_tables::FRAMES_FILE);
    // per frame: temperature and CPU load band, for the chamber curves
    let mut temp_of: BTreeMap<u64, f64> = BTreeMap::new();
    let mut band_of: BTreeMap<u64, usize> = BTreeMap::new();
    if frames_path.exists() {
        let f = read_table(
            &frames_path,
            &[
                "frame_id",
                "temperature_c",
                "latency_camera_ms",
                "latency_detector_ms",
                "latency_e2e_ms",
                "cpu_load_pct",
            ],
        )?;
        let ids = f.u64s("frame_id")?;
        let temp = f.f64s("temperature_c")?;
        let load = f.f64s("cpu_load_pct")?;
        for (id, l) in ids.iter().zip(&load) {
            band_of.insert(*id, load_band(*l));
        }
        let mut segments = Vec::new();
        for (name, col, color) in [
            (
                "exposure → host memory",
                "latency_camera_ms",
                RGBColor(30, 90, 200),
            ),
            (
                "host memory → detections",
                "latency_detector_ms",
                RGBColor(230, 140, 30),
            ),
            (
                "exposure → fused output (end to end)",
                "latency_e2e_ms",
                RGBColor(200, 50, 50),
            ),
        ] {
            segments.push((
                name,
                color,
                cdf(f.f64s(col)?.into_iter().flatten().collect()),
            ));
        }
        plots.push(line_plot(
            "Latency CDF per segment",
            "latency, ms",
            "fraction of frames",
            &segments,
        )?);
        // the chamber curves: clock offset and sync error against temperature, in time order,
        // one series per CPU load band (the load annotates the curve)
        temp_of = ids
            .iter()
            .zip(&temp)
            .filter_map(|(id, t)| Some((*id, (*t)?)))
            .collect();
        if !temp_of.is_empty() {
            let frame = sync.u64s("frame_id")?;
            let device = sync.i64s("device_ns")?;
            let mut offset: [Vec<(f64, f64)>; 3] = Default::default();
            let mut error: [Vec<(f64, f64)>; 3] = Default::default();
            let mut first: Option<i64> = None;
            for i in 0..frame.len() {
                let (Some(t), Some(h), Some(d)) = (temp_of.get(&frame[i]), host[i], device[i])
                else {
                    continue;
                };
                let b = band_of.get(&frame[i]).copied().unwrap_or(2);
                let o = h - d;
                let base = *first.get_or_insert(o);
                offset[b].push((*t, (o - base) as f64 / 1e3));
                if let Some(e) = truth_err[i] {
                    error[b].push((*t, e.unsigned_abs() as f64 / 1e3));
                }
            }
            plots.push(load_plot(
                "Camera clock offset against temperature (change since the first frame), by CPU load",
                "temperature, °C",
                "host − device offset change, µs",
                offset,
                false,
            )?);
            if error.iter().any(|e| !e.is_empty()) {
                plots.push(load_plot(
                    "Sync error against temperature, by CPU load",
                    "temperature, °C",
                    "|error| vs truth, µs",
                    error,
                    false,
                )?);
            }
        }
    }
    let assoc_path = dir.join(crate::fusion_tables::ASSOCIATIONS_FILE);
    if assoc_path.exists() {
        // only the columns plotted: the table is ~130 MB an hour
        let a = read_table(
            &assoc_path,
            &[
                "t_ns",
                "frame_id",
                "detection_index",
                "outcome",
                "residual_px",
            ],
        )?;
        let t = a.i64s("t_ns")?;
        let frame = a.u64s("frame_id")?;
        let det = a.column::<UInt32Array, _>("detection_index", |c, i| c.value(i))?;
        let assigned_row =
            a.column::<StringArray, _>("outcome", |c, i| c.value(i) == "assigned")?;
        let residual = a.f64s("residual_px")?;
        // per detection: assigned or not; per window: failed / all
        let mut detections: BTreeMap<(u64, u32), (i64, bool)> = BTreeMap::new();
        let mut residuals = Vec::new();
        let mut per_frame: BTreeMap<u64, (f64, u32)> = BTreeMap::new();
        for i in 0..t.len() {
            let assigned = assigned_row[i];
            let e = detections
                .entry((frame[i], det[i]))
                .or_insert((t[i].unwrap_or(0), false));
            e.1 |= assigned;
            if assigned && let Some(r) = residual[i] {
                residuals.push(r);
                let f = per_frame.entry(frame[i]).or_default();
                f.0 += r;
                f.1 += 1;
            }
        }
        if !temp_of.is_empty() {
            // the residual chamber curve: each frame's mean residual at its temperature
            let mut res_t: [Vec<(f64, f64)>; 3] = Default::default();
            for (id, (sum, n)) in &per_frame {
                if let Some(tc) = temp_of.get(id) {
                    let b = band_of.get(id).copied().unwrap_or(2);
                    res_t[b].push((*tc, sum / f64::from(*n)));
                }
            }
            plots.push(load_plot(
                "Reprojection residual against temperature (mean per frame), by CPU load",
                "temperature, °C",
                "residual, px",
                res_t,
                true,
            )?);
        }
        let mut windows: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for (t, assigned) in detections.values() {
            let w = windows
                .entry((t - t0_ns).div_euclid(WINDOW_NS))
                .or_default();
            w.0 += u64::from(!assigned);
            w.1 += 1;
        }
        let rate: Vec<(f64, f64)> = windows
            .iter()
            .map(|(w, (f, n))| {
                (
                    (*w as f64 + 0.5) * WINDOW_NS as f64 / 1e9,
                    *f as f64 / *n as f64,
                )
            })
            .collect();
        plots.push(line_plot(
            "Association fail rate per 10 s window",
            "time, s",
            "unmatched detections / detections",
            &[("fail rate", RGBColor(200, 50, 50), rate)],
        )?);
        plots.push(line_plot(
            "Reprojection residual CDF (assigned pairs)",
            "projected radar centroid to box centre, px",
            "fraction of pairs",
            &[("residual", RGBColor(40, 150, 80), cdf(residuals))],
        )?);
    }
    let tracking_path = dir.join(crate::fusion_tables::TRACKING_FILE);
    let tracking = if tracking_path.exists() {
        let t = read_tracking(&tracking_path)?;
        format!(
            "<h2>Tracking against truth</h2>\n<table><tr><th>MOTA</th><th>IDF1</th><th>switches</th><th>matches</th><th>misses</th><th>false positives</th><th>objects</th><th>match threshold</th></tr>\n<tr><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} m</td></tr></table>\n",
            t.mota,
            t.idf1,
            t.num_switches,
            t.num_matches,
            t.num_misses,
            t.num_false_positives,
            t.num_objects,
            t.match_threshold_m,
        )
    } else {
        String::new()
    };
    let passed = crate::all_required_passed(&gates);
    let mut html = String::new();
    let _ = write!(
        html,
        "{}<h1>radcam report</h1>\n<p class=\"verdict {}\">{}</p>\n<dl>\n",
        page_head("radcam report"),
        if passed { "pass" } else { "fail" },
        if passed {
            "Every required gate passed"
        } else {
            "A required gate failed or was inconclusive"
        },
    );
    // ARROW:schema (in reports written before 2026-11-24) is the writer's own serialised
    // schema, not report metadata
    for (k, v) in meta.iter().filter(|(k, _)| !k.starts_with("ARROW:")) {
        let _ = writeln!(
            html,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            escape(k),
            escape(v)
        );
    }
    let _ = write!(
        html,
        "</dl>\n<h2>Gates</h2>\n<table><tr><th>gate</th><th>metric</th><th>limit</th><th>value</th><th>samples</th><th>verdict</th><th>worst 10 s window (MCAP log time)</th></tr>\n{}</table>\n{tracking}<h2>Plots</h2>\n",
        gate_rows(&gates, t0_ns)
    );
    for svg in plots {
        let _ = writeln!(html, "<figure>{svg}</figure>");
    }
    html.push_str("<p>Association fail rate against injected faults and the tolerance envelope are in the HTML of a <code>radcam sweep</code> directory.</p>\n</body></html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends_and_bounds_the_count() {
        let pts: Vec<(f64, f64)> = (0..10_001).map(|i| (f64::from(i), 0.0)).collect();
        let t = thin(&pts);
        assert!(t.len() <= MAX_POINTS + 1);
        assert_eq!(t.first(), pts.first());
        assert_eq!(t.last(), pts.last());
    }

    #[test]
    fn cdf_is_sorted_and_ends_at_one() {
        let c = cdf(vec![3.0, 1.0, f64::NAN, 2.0]);
        assert_eq!(c, vec![(1.0, 1.0 / 3.0), (2.0, 2.0 / 3.0), (3.0, 1.0)]);
    }

    #[test]
    fn a_missing_directory_names_the_file() {
        let err = html_report(Path::new("/nonexistent/report")).expect_err("missing");
        assert!(err.to_string().contains("gates.parquet"), "{err}");
    }
}
