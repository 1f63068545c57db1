//! The HTML report of a `radcam sweep` directory: every run's verdicts, each gate's value
//! against the first swept parameter (e.g. association fail rate vs injected offset), and
//! for tolerance searches the tolerance envelope by target speed band.

use crate::html::{Series, Table, escape, line_plot, page_head, read_table};
use crate::{Result, SWEEP_FILE, TOLERANCE_FILE};
use arrow_array::{Array, BooleanArray, StringArray};
use plotters::style::RGBColor;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Rows of the run table shown at most.
const MAX_TABLE_ROWS: usize = 500;
/// Curves per plot at most (values of the second swept parameter).
const MAX_SERIES: usize = 6;

const COLOURS: [RGBColor; MAX_SERIES] = [
    RGBColor(30, 90, 200),
    RGBColor(200, 50, 50),
    RGBColor(40, 150, 80),
    RGBColor(230, 140, 30),
    RGBColor(120, 60, 170),
    RGBColor(90, 90, 90),
];

fn strings(t: &Table, name: &str) -> Result<Vec<Option<String>>> {
    t.column::<StringArray, _>(name, |c, i| (!c.is_null(i)).then(|| c.value(i).to_owned()))
}

/// Builds the HTML page of the sweep directory `dir`.
pub fn sweep_report(dir: &Path) -> Result<String> {
    let sweep = read_table(&dir.join(SWEEP_FILE), &[])?;
    let cols = sweep.names();
    let pos = |n: &str| cols.iter().position(|c| c == n);
    let params: Vec<String> = match (pos("seed"), pos("fault_plan")) {
        (Some(a), Some(b)) if a < b => cols[a + 1..b].to_vec(),
        _ => Vec::new(),
    };
    let gates: Vec<String> = cols
        .iter()
        .filter_map(|c| c.strip_suffix("_verdict").map(str::to_owned))
        .collect();
    let passed = sweep.column::<BooleanArray, _>("passed", |c, i| c.value(i))?;
    let param_values: Vec<Vec<f64>> = params
        .iter()
        .map(|p| {
            Ok(sweep
                .f64s(p)?
                .into_iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect())
        })
        .collect::<Result<_>>()?;
    let mut gate_values = Vec::new();
    let mut gate_verdicts = Vec::new();
    for g in &gates {
        gate_values.push(sweep.f64s(&format!("{g}_value"))?);
        gate_verdicts.push(strings(&sweep, &format!("{g}_verdict"))?);
    }
    let n = passed.len();
    let n_passed = passed.iter().filter(|p| **p).count();
    let mut html = page_head("radcam sweep report");
    let _ = write!(
        html,
        "<h1>radcam sweep report</h1>\n<p class=\"verdict {}\">{n_passed} of {n} runs passed every required gate</p>\n<dl>\n",
        if n_passed == n { "pass" } else { "fail" },
    );
    for (k, v) in sweep
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("ARROW:"))
    {
        let _ = writeln!(
            html,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            escape(k),
            escape(v)
        );
    }
    html.push_str("</dl>\n");
    // tolerance first: it is the answer of a tolerance search
    let tolerance_path = dir.join(TOLERANCE_FILE);
    if tolerance_path.exists() {
        html.push_str(&tolerance_section(&tolerance_path)?);
    }
    html.push_str("<h2>Gates against the swept fault</h2>\n");
    if let Some(x_name) = params.first() {
        for (g, name) in gates.iter().enumerate() {
            let series = curves(&param_values, &gate_values[g], &params);
            if series.iter().all(|s| s.2.is_empty()) {
                continue;
            }
            let refs: Vec<Series<'_>> = series
                .iter()
                .map(|(label, c, pts)| (label.as_str(), *c, pts.clone()))
                .collect();
            let svg = line_plot(
                &format!("{name} vs {x_name} (mean over replicates)"),
                x_name,
                name,
                &refs,
            )?;
            let _ = writeln!(html, "<figure>{svg}</figure>");
        }
    } else {
        html.push_str("<p>No parameter was swept (Monte Carlo of one plan).</p>\n");
    }
    let _ = write!(html, "<h2>Runs</h2>\n<table><tr><th>run</th>");
    for p in &params {
        let _ = write!(html, "<th>{}</th>", escape(p));
    }
    for g in &gates {
        let _ = write!(html, "<th>{}</th>", escape(g));
    }
    html.push_str("</tr>\n");
    for i in 0..n.min(MAX_TABLE_ROWS) {
        let _ = write!(html, "<tr><td>{i}</td>");
        for v in &param_values {
            let _ = write!(html, "<td>{}</td>", v[i]);
        }
        for g in 0..gates.len() {
            let verdict = gate_verdicts[g][i].as_deref().unwrap_or("");
            let value = gate_values[g][i].map_or_else(|| "-".into(), |v| format!("{v:.4}"));
            let _ = write!(
                html,
                "<td class=\"{}\">{value}</td>",
                verdict.to_ascii_lowercase()
            );
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    if n > MAX_TABLE_ROWS {
        let _ = writeln!(
            html,
            "<p>First {MAX_TABLE_ROWS} of {n} runs; every run is in sweep.parquet.</p>"
        );
    }
    html.push_str("</body></html>\n");
    Ok(html)
}

/// An owned curve: label, colour, points.
type Curve = (String, RGBColor, Vec<(f64, f64)>);

/// One curve per value of the second parameter (all runs in one curve without one): the mean
/// of `y` at each value of the first parameter.
fn curves(params: &[Vec<f64>], y: &[Option<f64>], names: &[String]) -> Vec<Curve> {
    let key = |v: f64| v.to_bits();
    let mut by_series: BTreeMap<u64, BTreeMap<u64, (f64, f64, u32)>> = BTreeMap::new();
    let mut order: Vec<(f64, u64)> = Vec::new();
    for (i, value) in y.iter().enumerate() {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            continue;
        };
        let s = params.get(1).map_or(0.0, |p| p[i]);
        if !order.iter().any(|o| o.1 == key(s)) {
            order.push((s, key(s)));
        }
        let x = params[0][i];
        let e = by_series
            .entry(key(s))
            .or_default()
            .entry(key(x))
            .or_insert((x, 0.0, 0));
        e.1 += value;
        e.2 += 1;
    }
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    order
        .iter()
        .take(MAX_SERIES)
        .enumerate()
        .map(|(k, (s, bits))| {
            let mut pts: Vec<(f64, f64)> = by_series[bits]
                .values()
                .map(|(x, sum, n)| (*x, sum / f64::from(*n)))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let label = match names.get(1) {
                Some(n) => format!("{n} = {s}"),
                None => "all runs".to_owned(),
            };
            (label, COLOURS[k], pts)
        })
        .collect()
}

fn tolerance_section(path: &Path) -> Result<String> {
    let t = read_table(path, &[])?;
    let kind = strings(&t, "kind")?;
    let band = strings(&t, "band")?;
    let min = t.f64s("band_min_mps")?;
    let max = t.f64s("band_max_mps")?;
    let det = t.u64s("detections")?;
    let tol = t.f64s("tolerance")?;
    let unit = strings(&t, "unit")?;
    let res = t.f64s("resolution")?;
    let status = strings(&t, "status")?;
    let gate = strings(&t, "limiting_gate")?;
    let kind = kind.first().cloned().flatten().unwrap_or_default();
    let unit = unit.first().cloned().flatten().unwrap_or_default();
    let mut html = format!(
        "<h2>Tolerance to camera {}</h2>\n<table><tr><th>band</th><th>detections</th><th>tolerance</th><th>resolution</th><th>status</th><th>limited by</th></tr>\n",
        escape(&kind)
    );
    let mut envelope = Vec::new();
    let mut overall = None;
    for i in 0..band.len() {
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3} {unit}"));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(band[i].as_deref().unwrap_or("")),
            det[i],
            fmt(tol[i]),
            fmt(res[i]),
            escape(status[i].as_deref().unwrap_or("")),
            escape(gate[i].as_deref().unwrap_or("-")),
        );
        match (min[i], tol[i]) {
            (None, Some(v)) => overall = Some(v),
            (Some(lo), Some(v)) => {
                let hi = max[i].unwrap_or(lo + 5.0);
                envelope.push((lo, v));
                envelope.push((hi, v));
            }
            _ => {}
        }
    }
    html.push_str("</table>\n");
    if !envelope.is_empty() {
        let mut series: Vec<Series<'_>> = vec![("per speed band", COLOURS[0], envelope.clone())];
        if let Some(v) = overall {
            let (x0, x1) = (envelope[0].0, envelope[envelope.len() - 1].0);
            series.push(("all targets", COLOURS[1], vec![(x0, v), (x1, v)]));
        }
        let svg = line_plot(
            &format!("Tolerance envelope: largest camera {kind} at which every gate passes"),
            "target speed, m/s",
            &unit,
            &series,
        )?;
        let _ = writeln!(html, "<figure>{svg}</figure>");
    }
    Ok(html)
}

/// Whether `dir` holds a sweep's tables rather than a replay report.
pub fn is_sweep_dir(dir: &Path) -> bool {
    !dir.join(crate::GATES_FILE).exists() && dir.join(SWEEP_FILE).exists()
}

/// A sweep directory in brief: runs, how many passed, and the tolerance rows if any; and
/// whether a grid or Monte Carlo run failed (a tolerance search never fails this way).
pub fn sweep_summary(dir: &Path) -> Result<(String, bool)> {
    let sweep = read_table(&dir.join(SWEEP_FILE), &["passed"])?;
    let passed = sweep.column::<BooleanArray, _>("passed", |c, i| c.value(i))?;
    let n_passed = passed.iter().filter(|p| **p).count();
    let mut text = format!(
        "sweep {}: {n_passed} of {} runs passed every required gate\n",
        dir.display(),
        passed.len()
    );
    let tolerance_path = dir.join(TOLERANCE_FILE);
    if !tolerance_path.exists() {
        return Ok((text, n_passed == passed.len()));
    }
    let t = read_table(&tolerance_path, &[])?;
    let band = strings(&t, "band")?;
    let tol = t.f64s("tolerance")?;
    let unit = strings(&t, "unit")?;
    let status = strings(&t, "status")?;
    let kind = strings(&t, "kind")?;
    let _ = writeln!(
        text,
        "tolerance to camera {}:",
        kind.first().cloned().flatten().unwrap_or_default()
    );
    for i in 0..band.len() {
        let _ = writeln!(
            text,
            "  {:<14} {:>10} {:<3} {}",
            band[i].as_deref().unwrap_or(""),
            tol[i].map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            unit[i].as_deref().unwrap_or(""),
            status[i].as_deref().unwrap_or("")
        );
    }
    Ok((text, true))
}
