//! `radcam bench replay`: records the demo rig for H hours, then times a replay of it (in a
//! child process, so its peak memory is its own) on every CPU and pinned to one, against the
//! bare `mcap` read of the same channels, optionally the stock Python `mcap` reader decoding
//! them, and a sweep on one and two threads; and says which of issue 5's targets each
//! recording meets. The work itself is in the libraries; this only times and reports.

use anyhow::{Context, Result, bail};
use radcam_recorder::{RecordRequest, record_scenario};
use radcam_replay::McapFile;
use radcam_replay::runner::TOPICS;
use radcam_scenarios::Scenario;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What to benchmark.
pub struct ReplayBench {
    /// Recording lengths, h.
    pub hours: Vec<f64>,
    /// A Python interpreter with `mcap` and `mcap-protobuf-support`, to time.
    pub python: Option<PathBuf>,
    /// Runs of the sweep timed on one and two threads (0: no sweep).
    pub sweep_runs: u32,
    /// Length of the demo recording the sweep replays, min.
    pub sweep_minutes: f64,
    /// Times each reader and the replay this many times (≥ 1), in rounds, and reports the
    /// medians: a shared or virtual machine's speed drifts by tens of percent between runs.
    pub repeat: u32,
    /// Where to keep the recordings and reports (default: a temporary directory, removed).
    pub keep: Option<PathBuf>,
}

/// One recording length's numbers: each time is the median of the `repeat` rounds.
#[derive(Debug, serde::Serialize)]
struct Row {
    hours: f64,
    recording_mb: f64,
    record_s: f64,
    messages_read: u64,
    /// Rounds each time below is the median of.
    repeat: u32,
    bare_read_s: f64,
    /// radcam reading and decoding the same messages, nothing else (Python's job, in Rust).
    decode_s: f64,
    replay_wall_s: f64,
    /// The replay's wall time of every round, s, in round order.
    replay_wall_s_each: Vec<f64>,
    replay_cpu_s: f64,
    /// The replay's CPU time of every round, s, in round order.
    replay_cpu_s_each: Vec<f64>,
    /// The replay's wall time pinned to one CPU (the child process and every thread it
    /// starts), s.
    replay_one_cpu_s: f64,
    /// The one-CPU replay's wall time of every round, s, in round order.
    replay_one_cpu_s_each: Vec<f64>,
    /// The largest peak of the rounds, MB.
    replay_peak_rss_mb: f64,
    replay_over_bare_read: f64,
    python_decode_s: Option<f64>,
    python_over_replay: Option<f64>,
    python_over_decode: Option<f64>,
}

/// A row as `--json` prints it: its numbers and issue 5's targets judged on them.
#[derive(Debug, serde::Serialize)]
struct JudgedRow<'a> {
    #[serde(flatten)]
    row: &'a Row,
    targets: Vec<Target>,
}

/// One of issue 5's replay targets, scaled to a recording's length where it is per hour.
#[derive(Debug, serde::Serialize)]
struct Target {
    /// What is measured, and its bound.
    what: String,
    /// The measured value, in the bound's unit.
    value: f64,
    met: bool,
}

/// Issue 5's targets for a replay of `hours` of the demo rig: ≤ 3 s an hour on one CPU,
/// within 3× of the bare read, ≥ 20× faster than the Python reader (when it was timed), and a
/// peak RSS ≤ 150 MB. (That the 2 h peak is within 10 % of the 1 h one, and the sweep's
/// speedup, are printed beside.)
fn targets(r: &Row) -> Vec<Target> {
    let mut t = vec![
        Target {
            what: format!("replay on one CPU <= {:.2} s (3 s an hour)", 3.0 * r.hours),
            value: r.replay_one_cpu_s,
            met: r.replay_one_cpu_s <= 3.0 * r.hours,
        },
        Target {
            what: "replay <= 3x the bare read".into(),
            value: r.replay_over_bare_read,
            met: r.replay_over_bare_read <= 3.0,
        },
    ];
    if let Some(py) = r.python_over_replay {
        t.push(Target {
            what: "replay >= 20x faster than the Python reader".into(),
            value: py,
            met: py >= 20.0,
        });
    }
    t.push(Target {
        what: "peak RSS <= 150 MB".into(),
        value: r.replay_peak_rss_mb,
        met: r.replay_peak_rss_mb <= 150.0,
    });
    t
}

/// The targets judged across recordings and runs: the longest recording's peak RSS within
/// 10 % of the shortest's (when there are two lengths), and the sweep on two threads ≥ 1.8×
/// faster than on one with identical output (when a sweep was timed).
fn run_targets(rows: &[Row], sweep: Option<&SweepTiming>) -> Vec<Target> {
    let mut t = Vec::new();
    if let [lo, .., hi] = rows {
        let ratio = hi.replay_peak_rss_mb / lo.replay_peak_rss_mb.max(1e-9);
        t.push(Target {
            what: format!(
                "peak RSS at {} h within 10 % of {} h (ratio)",
                hi.hours, lo.hours
            ),
            value: ratio,
            met: (ratio - 1.0).abs() <= 0.10,
        });
    }
    if let Some(sw) = sweep {
        t.push(Target {
            what: "sweep on 2 threads >= 1.8x faster than on 1, identical output".into(),
            value: sw.speedup,
            met: sw.speedup >= 1.8 && sw.identical_output,
        });
    }
    t
}

/// `targets` as one line: each with its value and verdict.
fn verdicts(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| {
            let verdict = if t.met { "met" } else { "NOT met" };
            format!("{}: {:.2} {verdict}", t.what, t.value)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One recording length's timings, a value per round.
#[derive(Debug, Default)]
struct Times {
    bare_read_s: Vec<f64>,
    decode_s: Vec<f64>,
    replay_wall_s: Vec<f64>,
    replay_cpu_s: Vec<f64>,
    replay_one_cpu_s: Vec<f64>,
    python_decode_s: Vec<f64>,
    /// The largest peak of the rounds, MB.
    peak_rss_mb: f64,
}

/// The smallest and largest of `values`, s, as `lo–hi` with three decimals.
fn range(values: &[f64]) -> String {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    format!("{lo:.3}–{hi:.3}")
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    radcam_fusion::stats::quantile_sorted(&sorted, 0.5).unwrap_or(0.0)
}

/// The sweep's numbers: each time the median of the `repeat` rounds, the speedup their ratio.
#[derive(Debug, serde::Serialize)]
struct SweepTiming {
    runs: u32,
    recording_minutes: f64,
    repeat: u32,
    one_thread_s: f64,
    two_threads_s: f64,
    /// Each round's time on one thread, s.
    one_thread_s_each: Vec<f64>,
    /// Each round's time on two threads, s.
    two_threads_s_each: Vec<f64>,
    speedup: f64,
    /// Whether every run, on either thread count, wrote the same `sweep.parquet`.
    identical_output: bool,
}

/// A child process's own peak memory and CPU time, as `bench replay-child` reports it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Peak resident set size (VmHWM), MB.
    pub peak_rss_mb: f64,
    /// User + system CPU time, s.
    pub cpu_s: f64,
    /// The one CPU the replay was pinned to, if it was.
    pub pinned_cpu: Option<usize>,
}

/// Pins this process's calling thread, and so every thread it starts afterwards (the
/// replay's table encoder, rayon's pool, which then has one thread), to one CPU: the first
/// this process may run on. Returns that CPU's number. Call it before any thread is started.
pub fn pin_to_one_cpu() -> Result<usize> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let allowed = sched_getaffinity(Pid::from_raw(0)).context("cannot read the CPU affinity")?;
    let cpu = (0..CpuSet::count())
        .find(|&c| allowed.is_set(c).unwrap_or(false))
        .context("no CPU in this process's affinity mask")?;
    let mut one = CpuSet::new();
    one.set(cpu).context("cannot build a CPU set")?;
    sched_setaffinity(Pid::from_raw(0), &one)
        .with_context(|| format!("cannot pin this process to CPU {cpu}"))?;
    Ok(cpu)
}

/// This process's peak RSS and CPU time, from `/proc/self`.
pub fn self_usage() -> Result<Usage> {
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    let hwm_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("/proc/self/status: no VmHWM")?;
    let stat = std::fs::read_to_string("/proc/self/stat").context("/proc/self/stat")?;
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let (utime, stime) = (ticks(11), ticks(12));
    let (Some(utime), Some(stime)) = (utime, stime) else {
        bail!("/proc/self/stat: no utime/stime");
    };
    // USER_HZ is 100 on every Linux ABI radcam runs on
    Ok(Usage {
        peak_rss_mb: hwm_kb / 1024.0,
        cpu_s: (utime + stime) / 100.0,
        pinned_cpu: None,
    })
}

/// Reads `path` once, untimed, so that every timed reader starts with the recording in the
/// page cache: a host that reclaims cache between steps (as this project's VM does) otherwise
/// makes whichever reader comes after the reclaim look slow.
fn warm(path: &Path) -> Result<()> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    std::io::copy(&mut f, &mut std::io::sink())
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(())
}

fn record(dir: &Path, name: &str, duration_s: f64) -> Result<(PathBuf, f64)> {
    let out = dir.join(name);
    let scenario = Scenario::demo()?;
    let t = Instant::now();
    record_scenario(
        &RecordRequest {
            seed: scenario.seed,
            scenario,
            duration_s,
            out: out.clone(),
        },
        |_| {},
    )?;
    Ok((out, t.elapsed().as_secs_f64()))
}

fn radcam(args: &[&str]) -> Result<std::process::Output> {
    let exe = std::env::current_exe().context("cannot find the radcam executable")?;
    let out = Command::new(exe)
        .args(args)
        .output()
        .context("cannot run radcam")?;
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "radcam {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

fn s(p: &Path) -> Result<&str> {
    p.to_str().context("paths must be UTF-8")
}

const PYTHON_DECODE: &str = "import sys
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory
n = 0
with open(sys.argv[1], 'rb') as f:
    r = make_reader(f, decoder_factories=[DecoderFactory()])
    for _ in r.iter_decoded_messages(topics=sys.argv[2:], log_time_order=True):
        n += 1
print(n)
";

/// Runs the benchmark; prints a table, or JSON with `json`.
pub fn run(bench: &ReplayBench, json: bool, quiet: bool) -> Result<()> {
    if bench
        .hours
        .iter()
        .any(|h| !(h.is_finite() && *h > 0.0 && *h <= 24.0))
    {
        bail!("--hours: each length must be within (0, 24] h");
    }
    let minutes = bench.sweep_minutes;
    if !(minutes.is_finite() && minutes > 0.0 && minutes <= 600.0) {
        bail!("--sweep-minutes: the sweep's recording must be within (0, 600] min");
    }
    let scratch = match &bench.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("radcam-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("{}: cannot create", scratch.display()))?;
    let note = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let mut rows = Vec::new();
    for &hours in &bench.hours {
        note(format!("bench: recording {hours} h of the demo rig"));
        let (rec, record_s) = record(&scratch, &format!("demo-{hours}h.mcap"), hours * 3600.0)?;
        let recording_mb = std::fs::metadata(&rec)?.len() as f64 / 1e6;
        let mut times = Times::default();
        let mut messages_read = 0;
        for round in 1..=bench.repeat {
            let of = if bench.repeat > 1 {
                format!(" (round {round} of {})", bench.repeat)
            } else {
                String::new()
            };
            note(format!(
                "bench: bare mcap read of the replay's channels{of}"
            ));
            warm(&rec)?;
            let t = Instant::now();
            messages_read = McapFile::open(&rec)?.bare_read(&TOPICS)?.0;
            times.bare_read_s.push(t.elapsed().as_secs_f64());
            note(format!("bench: radcam decoding the same channels{of}"));
            warm(&rec)?;
            let t = Instant::now();
            McapFile::open(&rec)?.decoded_read(&TOPICS)?;
            times.decode_s.push(t.elapsed().as_secs_f64());
            note(format!("bench: replay (child process){of}"));
            let out_dir = scratch.join(format!("report-{hours}h"));
            warm(&rec)?;
            let t = Instant::now();
            let child = radcam(&["bench", "replay-child", s(&rec)?, "--out", s(&out_dir)?])?;
            times.replay_wall_s.push(t.elapsed().as_secs_f64());
            let usage: Usage = serde_json::from_slice(&child.stdout)
                .context("replay-child did not report its usage")?;
            times.replay_cpu_s.push(usage.cpu_s);
            times.peak_rss_mb = times.peak_rss_mb.max(usage.peak_rss_mb);
            note(format!("bench: replay on one CPU (child process){of}"));
            warm(&rec)?;
            let t = Instant::now();
            let child = radcam(&[
                "bench",
                "replay-child",
                s(&rec)?,
                "--out",
                s(&scratch.join(format!("report-{hours}h-one-cpu")))?,
                "--one-cpu",
            ])?;
            times.replay_one_cpu_s.push(t.elapsed().as_secs_f64());
            let usage: Usage = serde_json::from_slice(&child.stdout)
                .context("replay-child did not report its usage")?;
            if usage.pinned_cpu.is_none() {
                bail!("replay-child --one-cpu did not pin itself");
            }
            if let Some(py) = &bench.python {
                note(format!(
                    "bench: stock Python mcap reader decoding the same channels{of}"
                ));
                warm(&rec)?;
                let t = Instant::now();
                let out = Command::new(py)
                    .arg("-c")
                    .arg(PYTHON_DECODE)
                    .arg(&rec)
                    .args(TOPICS)
                    .output()
                    .with_context(|| format!("cannot run {}", py.display()))?;
                if !out.status.success() {
                    bail!(
                        "{}: the Python mcap reader failed: {}",
                        py.display(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                times.python_decode_s.push(t.elapsed().as_secs_f64());
            }
        }
        let bare_read_s = median(&times.bare_read_s);
        let decode_s = median(&times.decode_s);
        let replay_wall_s = median(&times.replay_wall_s);
        let python_decode_s =
            (!times.python_decode_s.is_empty()).then(|| median(&times.python_decode_s));
        rows.push(Row {
            hours,
            recording_mb,
            record_s,
            messages_read,
            repeat: bench.repeat,
            bare_read_s,
            decode_s,
            replay_wall_s,
            replay_cpu_s: median(&times.replay_cpu_s),
            replay_wall_s_each: times.replay_wall_s,
            replay_cpu_s_each: times.replay_cpu_s,
            replay_one_cpu_s: median(&times.replay_one_cpu_s),
            replay_one_cpu_s_each: times.replay_one_cpu_s,
            replay_peak_rss_mb: times.peak_rss_mb,
            replay_over_bare_read: replay_wall_s / bare_read_s.max(1e-9),
            python_decode_s,
            python_over_replay: python_decode_s.map(|p| p / replay_wall_s.max(1e-9)),
            python_over_decode: python_decode_s.map(|p| p / decode_s.max(1e-9)),
        });
    }
    let sweep = if bench.sweep_runs > 0 {
        note(format!(
            "bench: recording {minutes} min of the demo rig for the sweep"
        ));
        let (rec, _) = record(&scratch, "demo-sweep.mcap", minutes * 60.0)?;
        let grid = format!("offset_ms=0:{}:1", bench.sweep_runs.saturating_sub(1));
        // in rounds, one thread then two, as the replay is timed: this VM's speed drifts, and
        // one pair of runs put the ratio anywhere in 1.81–1.95× on the same build
        let (mut each, mut outputs) = ([Vec::new(), Vec::new()], Vec::new());
        for round in 1..=bench.repeat {
            for (i, threads) in ["1", "2"].into_iter().enumerate() {
                if bench.repeat > 1 {
                    note(format!(
                        "bench: sweep on {threads} thread(s) (round {round} of {})",
                        bench.repeat
                    ));
                }
                let out = scratch.join(format!("sweep-{threads}"));
                warm(&rec)?;
                let t = Instant::now();
                radcam(&[
                    "--quiet",
                    "sweep",
                    s(&rec)?,
                    "--out",
                    s(&out)?,
                    "--grid",
                    &grid,
                    "--threads",
                    threads,
                ])?;
                each[i].push(t.elapsed().as_secs_f64());
                outputs.push(std::fs::read(out.join("sweep.parquet"))?);
            }
        }
        let [one_thread_s_each, two_threads_s_each] = each;
        let (one, two) = (median(&one_thread_s_each), median(&two_threads_s_each));
        Some(SweepTiming {
            runs: bench.sweep_runs,
            recording_minutes: minutes,
            repeat: bench.repeat,
            one_thread_s: one,
            two_threads_s: two,
            one_thread_s_each,
            two_threads_s_each,
            speedup: one / two.max(1e-9),
            identical_output: outputs.windows(2).all(|w| w[0] == w[1]),
        })
    } else {
        None
    };
    if bench.keep.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let overall = run_targets(&rows, sweep.as_ref());
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "cores": cores,
                "allocator": crate::ALLOCATOR,
                "target_cpu": crate::cpu_level::LEVEL,
                "replays": rows
                    .iter()
                    .map(|row| JudgedRow {
                        row,
                        targets: targets(row),
                    })
                    .collect::<Vec<_>>(),
                "sweep": sweep,
                "targets": overall,
            }))?
        );
        return Ok(());
    }
    if quiet {
        return Ok(());
    }
    say!(
        "machine: {cores} cores; built for {}; allocator: {}; replay of the demo rig (30 fps, 20 Hz radar) into a report",
        crate::cpu_level::LEVEL,
        crate::ALLOCATOR
    );
    say!(
        "{:>6} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>10} {:>10}",
        "hours",
        "file MB",
        "messages",
        "bare s",
        "decode s",
        "replay s",
        "cpu s",
        "1-cpu s",
        "peak MB",
        "×bare",
        "python s",
        "py/replay",
        "py/decode"
    );
    for r in &rows {
        let opt = |v: Option<f64>, p: usize| v.map_or_else(|| "-".into(), |v| format!("{v:.p$}"));
        say!(
            "{:>6} {:>9.1} {:>9} {:>8.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.1} {:>7.2} {:>9} {:>10} {:>10}",
            r.hours,
            r.recording_mb,
            r.messages_read,
            r.bare_read_s,
            r.decode_s,
            r.replay_wall_s,
            r.replay_cpu_s,
            r.replay_one_cpu_s,
            r.replay_peak_rss_mb,
            r.replay_over_bare_read,
            opt(r.python_decode_s, 2),
            opt(r.python_over_replay, 2),
            opt(r.python_over_decode, 1),
        );
    }
    for r in rows.iter().filter(|r| r.repeat > 1) {
        say!(
            "{} h: medians of {} rounds; replay wall {} s, cpu {} s, on one CPU {} s",
            r.hours,
            r.repeat,
            range(&r.replay_wall_s_each),
            range(&r.replay_cpu_s_each),
            range(&r.replay_one_cpu_s_each)
        );
    }
    for r in &rows {
        say!("{} h targets: {}", r.hours, verdicts(&targets(r)));
    }
    if let Some(sw) = sweep {
        say!(
            "sweep of {} runs on {} min: 1 thread {:.2} s, 2 threads {:.2} s, speedup {:.2}×, output {}",
            sw.runs,
            sw.recording_minutes,
            sw.one_thread_s,
            sw.two_threads_s,
            sw.speedup,
            if sw.identical_output {
                "identical"
            } else {
                "DIFFERENT"
            }
        );
        if sw.repeat > 1 {
            say!(
                "sweep: medians of {} rounds; 1 thread {} s, 2 threads {} s",
                sw.repeat,
                range(&sw.one_thread_s_each),
                range(&sw.two_threads_s_each)
            );
        }
    }
    if !overall.is_empty() {
        say!("targets: {}", verdicts(&overall));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hours: f64, peak_mb: f64) -> Row {
        Row {
            hours,
            recording_mb: 0.0,
            record_s: 0.0,
            messages_read: 0,
            repeat: 1,
            bare_read_s: 0.0,
            decode_s: 0.0,
            replay_wall_s: 0.0,
            replay_wall_s_each: Vec::new(),
            replay_cpu_s: 0.0,
            replay_cpu_s_each: Vec::new(),
            replay_one_cpu_s: 0.0,
            replay_one_cpu_s_each: Vec::new(),
            replay_peak_rss_mb: peak_mb,
            replay_over_bare_read: 0.0,
            python_decode_s: None,
            python_over_replay: None,
            python_over_decode: None,
        }
    }

    fn sweep(speedup: f64, identical_output: bool) -> SweepTiming {
        SweepTiming {
            runs: 8,
            recording_minutes: 10.0,
            repeat: 1,
            one_thread_s: 2.0 * speedup,
            two_threads_s: 2.0,
            one_thread_s_each: vec![2.0 * speedup],
            two_threads_s_each: vec![2.0],
            speedup,
            identical_output,
        }
    }

    #[test]
    fn the_run_targets_judge_the_peak_ratio_and_the_sweep() {
        assert!(run_targets(&[row(1.0, 36.0)], None).is_empty());
        let met = |rows: &[Row], sw: Option<&SweepTiming>| -> Vec<bool> {
            run_targets(rows, sw).iter().map(|t| t.met).collect()
        };
        let flat = [row(1.0, 36.4), row(2.0, 34.4)];
        assert_eq!(met(&flat, Some(&sweep(1.89, true))), [true, true]);
        let t = run_targets(&flat, None);
        assert!((t[0].value - 34.4 / 36.4).abs() < 1e-12, "{t:?}");
        assert!(
            t[0].what.contains("at 2 h") && t[0].what.contains("of 1 h"),
            "{t:?}"
        );
        let growing = [row(1.0, 36.0), row(2.0, 40.0)];
        assert_eq!(met(&growing, None), [false], "11 % more");
        assert_eq!(met(&[], Some(&sweep(1.7, true))), [false], "too slow");
        assert_eq!(
            met(&[], Some(&sweep(2.0, false))),
            [false],
            "output differs"
        );
    }

    #[test]
    fn a_pinned_thread_and_the_threads_it_starts_see_one_cpu() {
        std::thread::spawn(|| {
            let cpu = pin_to_one_cpu().expect("pins");
            let mask = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).expect("mask");
            assert!(mask.is_set(cpu).expect("in range"));
            let set = (0..nix::sched::CpuSet::count())
                .filter(|&c| mask.is_set(c).unwrap_or(false))
                .count();
            assert_eq!(set, 1);
            let child = std::thread::spawn(std::thread::available_parallelism)
                .join()
                .expect("joins")
                .expect("parallelism");
            assert_eq!(
                child.get(),
                1,
                "a thread started afterwards inherits the pin"
            );
        })
        .join()
        .expect("the pinned thread");
    }
}
