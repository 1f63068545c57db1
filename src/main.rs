//! Record-and-replay evaluation harness for radar-camera fusion nodes: the command line.
//!
//! This binary only parses arguments, calls the libraries and maps the outcome to an exit
//! code: 0 every gate passed, 1 a gate failed or was inconclusive, 2 bad input or usage.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use radcam_recorder::{RecordControl, RecordRequest, record_scenario_controlled};
use radcam_replay::faults::FaultPlan;
use radcam_replay::{ReplayConfig, ReplayOutput, diagnose, inspect, replay_into, sweep};
use radcam_reports::{GATES_FILE, gate_table, write_audit, write_gates};
use radcam_scenarios::Scenario;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// With the `jemalloc` feature, jemalloc serves every allocation (see Cargo.toml).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator this binary was built with, as `radcam bench` reports it beside its
/// timings: `jemalloc` with that feature, else `system` (glibc's `malloc` on Linux).
const ALLOCATOR: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else {
    "system"
};

/// `println!` that tolerates a closed stdout (`radcam ... | head`): output just stops.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that tolerates a closed stdout.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod bench_cmd;
mod bench_record;
mod calib_cmd;
mod cpu_level;
mod record_cmd;
mod sweep_cmd;

#[derive(Parser)]
#[command(
    name = "radcam",
    version,
    about = "Record-and-replay evaluation harness for radar-camera fusion nodes"
)]
struct Cli {
    /// Print nothing but errors (and the JSON --json asks for); the exit code tells the outcome.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// How results are shown.
#[derive(Clone, Copy)]
struct Show {
    quiet: bool,
    json: bool,
}

/// Work this large takes longer than a second on a small machine: only then is a progress
/// bar worth drawing (decided from the work, not from a clock).
const PROGRESS_MIN_MESSAGES: u64 = 100_000;
/// Simulated seconds above which a recording shows a progress bar.
const PROGRESS_MIN_RECORD_S: f64 = 600.0;

/// A progress bar on stderr, for terminals and large work only.
fn progress_bar(show: Show, large: bool, label: &str) -> indicatif::ProgressBar {
    if show.quiet || !large || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(1000);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    bar
}

/// Recordings at least this large (about eleven minutes of the demo rig) get a spinner while
/// a command without a measure of its progress (diagnose, extract, recover) works, bytes.
const SPINNER_MIN_BYTES: u64 = 100_000_000;

/// A spinner with the elapsed time on a terminal while `label` runs over `input`, when the
/// input is large and the command is not quiet; hidden otherwise. It ticks on its own thread.
fn spinner(show: Show, input: &Path, label: &str) -> indicatif::ProgressBar {
    let large = std::fs::metadata(input).is_ok_and(|m| m.len() >= SPINNER_MIN_BYTES);
    if show.quiet || !large || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(format!("{label} {}", input.display()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `radcam sweep --help`'s list of grid parameters and examples.
fn sweep_help() -> String {
    format!(
        "Grid parameters (each overrides the base --faults plan):\n{}\nExamples:\n  \
         radcam sweep rec.mcap --out sw --grid 'offset_ms=0:12:4,jitter_us=0,800'\n  \
         radcam sweep rec.mcap --out mc --faults plan.toml --monte-carlo 50 --seed 7\n  \
         radcam sweep rec.mcap --out tol --tolerance offset --gates assoc.toml",
        sweep::grid_parameters()
    )
}

#[derive(Subcommand)]
enum Command {
    /// Record the embedded demo rig, replay it and print the gate table.
    Demo {
        /// Output directory for demo.mcap and the report.
        #[arg(long, default_value = "radcam-demo")]
        out: PathBuf,
        /// Print the gate results as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulated duration, s (default: the scenario's).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Record a scenario (simulator) or a rig (real devices) into MCAP. Ctrl-C or SIGTERM
    /// finalize the file; a killed recorder leaves OUT.part for `radcam recover`.
    Record {
        /// Scenario TOML file or library name.
        #[arg(long, required_unless_present = "rig", conflicts_with = "rig")]
        scenario: Option<PathBuf>,
        /// Rig TOML file naming the camera, radar and ptp4l to record (rigs/example.toml).
        #[arg(long)]
        rig: Option<PathBuf>,
        /// Output MCAP file.
        #[arg(long)]
        out: PathBuf,
        /// Duration, s (scenario: simulated, default the scenario's; rig: wall time, default
        /// until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
        /// Seed (default: the scenario's).
        #[arg(long, conflicts_with = "rig")]
        seed: Option<u64>,
        /// Pace the simulator at F simulated seconds per wall second (demos, and tests that
        /// interrupt a recording).
        #[arg(long, value_name = "F", conflicts_with = "rig")]
        realtime_factor: Option<f64>,
    },
    /// The field playbook: evidence → discriminator → suspected domain → first fix, for the
    /// whole recording or a symptom window. Exit 0 healthy, 1 a suspected fault or inconclusive.
    Diagnose {
        /// Recording.
        recording: PathBuf,
        /// The symptom window, seconds from the recording's first message: A..B.
        #[arg(long, value_name = "A..B")]
        window: Option<radcam_replay::extract::Window>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cut an incident slice that replays and diagnoses on its own: every channel in the
    /// window, plus metadata, the audit history, a lead-in of latches and PTP status, and each
    /// other channel's last message before the window.
    Extract {
        /// Recording.
        recording: PathBuf,
        /// The window, seconds from the recording's first message: A..B.
        #[arg(long, value_name = "A..B")]
        window: radcam_replay::extract::Window,
        /// Seconds of latches and PTP status kept before the window.
        #[arg(long, default_value_t = radcam_replay::extract::DEFAULT_LEAD_IN_S)]
        lead_in: f64,
        /// The slice.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rewrite every intact chunk of a damaged or unfinished recording (a killed recorder's
    /// OUT.part) as a complete, indexed MCAP.
    Recover {
        /// The broken recording.
        broken: PathBuf,
        /// The recovered file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay a recording through the fusion core and evaluate the gates.
    Replay {
        /// Recording.
        recording: PathBuf,
        /// Report directory.
        #[arg(long)]
        out: PathBuf,
        /// Camera clock estimator.
        #[arg(long, default_value = "bracket")]
        estimator: String,
        /// Seed for injected randomness.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fault plan (TOML: per-sensor offset, jitter, drift, temperature, steps, dropouts,
        /// latency spikes; extrinsic perturbation; PTP loss windows).
        #[arg(long, conflicts_with_all = ["offset_ms", "jitter_us", "drift_ppm"])]
        faults: Option<PathBuf>,
        /// Quick fault: a constant offset of every camera time, ms.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        offset_ms: f64,
        /// Quick fault: gaussian jitter of every camera time, σ in µs.
        #[arg(long, default_value_t = 0.0)]
        jitter_us: f64,
        /// Quick fault: drift of every camera time, ppm of elapsed time.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        drift_ppm: f64,
        /// Replay twice and compare the reports' content hashes (exit 1 if they differ).
        #[arg(long)]
        verify: bool,
        /// Replay what is intact of a damaged recording (bad CRC, cut chunk, no summary);
        /// every skipped part is listed and becomes a RECORDING_GAP audit event.
        #[arg(long)]
        salvage: bool,
        /// Gates file (TOML); default: sync_p999, reprojection_p95, track_id_switch_rate, e2e_latency_p999 and association_fail_rate.
        #[arg(long)]
        gates: Option<PathBuf>,
        /// A previous report directory: exit 1 if any gate metric got worse beyond tolerance.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Tolerance file (TOML) for --baseline; default: 10 % worse is a regression.
        #[arg(long, requires = "baseline")]
        tolerance: Option<PathBuf>,
        /// Print the gate results as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replay a recording many times under a grid or Monte Carlo set of fault plans, or search
    /// the largest fault every gate survives; writes sweep.parquet (and tolerance.parquet).
    /// Exit 1 if a grid or Monte Carlo run failed a gate.
    #[command(after_help = sweep_help())]
    Sweep(sweep_cmd::SweepArgs),
    /// Print a report directory's gate table; write JUnit XML. Exit 1 if a required gate failed.
    Report {
        /// Report directory (as written by replay or demo), or a sweep's directory.
        dir: PathBuf,
        /// Write JUnit XML here: one testcase per gate.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a self-contained HTML report (gate table, tracking summary, plots) here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print the gate results as JSON instead of a table (for a sweep's directory, what
        /// `radcam sweep --json` printed: its runs, or its tolerance rows).
        #[arg(long)]
        json: bool,
    },
    /// Map device times to host time from your own latch (and arrival) logs, causally.
    Sync {
        /// Latch log CSV: host_before_ns,device_ns,host_after_ns,host_after_read_ns.
        #[arg(long)]
        latches: PathBuf,
        /// Frame arrival CSV: device_ns,host_arrival_ns.
        #[arg(long)]
        arrivals: Option<PathBuf>,
        /// Query CSV: device_ns.
        #[arg(long)]
        query: PathBuf,
        /// Clock estimator: bracket, kalman, seed-polyfit, passive.
        #[arg(long)]
        estimator: String,
        /// Output CSV: device_ns,host_ns,uncertainty_ns,sync_state.
        #[arg(long)]
        out: PathBuf,
    },
    /// Calibration records: show, verify, activate; estimate the radar time offset.
    Calib {
        #[command(subcommand)]
        which: calib_cmd::CalibCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Show a recording's channels, counts, time span, rates and metadata.
    Inspect {
        /// Recording.
        recording: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Every clock estimator on the built-in latch profiles against truth, with ratios to the
    /// seed method.
    Sync {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Seed of the simulated profiles.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Record the demo rig for H hours and time its replay (child process: its own peak
    /// memory), on every CPU and pinned to one, against the bare mcap read of the same
    /// channels; optionally the stock Python mcap reader; and a sweep on one and two threads.
    /// Judges each recording against the replay targets (issue 5).
    Replay {
        /// Recording lengths, h (comma-separated: 1,2 also compares peak memory).
        #[arg(long, value_delimiter = ',', default_value = "1")]
        hours: Vec<f64>,
        /// Python interpreter with the `mcap` and `mcap-protobuf-support` packages to time.
        #[arg(long)]
        python: Option<PathBuf>,
        /// Runs of the timed sweep (0: no sweep).
        #[arg(long, default_value_t = 8)]
        sweep_runs: u32,
        /// Length of the demo recording the sweep replays, min (each of its runs replays it).
        /// The 1.8x target is judged on whatever length is given: on shorter recordings the
        /// sweep's fixed costs (reading the summary, checking the file once) weigh more.
        #[arg(long, default_value_t = 10.0)]
        sweep_minutes: f64,
        /// Time each reader, the replay and the sweep this many times, in rounds, and report
        /// the medians (and the replay's and the sweep's ranges): a virtual machine's speed
        /// drifts between runs.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
        repeat: u32,
        /// Keep recordings and reports in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Raw camera frames through the recorder's MCAP writer (uncompressed and zstd) against
    /// dd's sequential write throughput on the same disk; target: raw >= 80% of dd.
    Record {
        /// Payload to write per run, MiB.
        #[arg(long, default_value_t = 1024)]
        mib: u64,
        /// A directory on the disk to measure (default: the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One replay into a report, then this process's peak memory and CPU time as JSON (used by
    /// `bench replay`).
    #[command(hide = true)]
    ReplayChild {
        /// Recording.
        recording: PathBuf,
        /// Report directory.
        #[arg(long)]
        out: PathBuf,
        /// Pin the process, before it starts any thread, to one CPU.
        #[arg(long)]
        one_cpu: bool,
    },
}

fn main() -> ExitCode {
    if let Err(why) = cpu_level::check() {
        eprintln!("radcam: error: {why}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let salvage_offered = matches!(cli.command, Command::Replay { salvage: false, .. });
    let recovering = matches!(cli.command, Command::Recover { .. });
    match run(cli) {
        Ok(code) => code,
        Err(e) if interrupted(&e) => {
            eprintln!("radcam: {e:#}");
            // the shell's code for a process ended by Ctrl-C
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("radcam: error: {e:#}");
            if let Some(path) = damaged_recording(&e).filter(|_| !recovering) {
                eprintln!("radcam: hint: {}", damaged_hint(path, salvage_offered));
            }
            ExitCode::from(2)
        }
    }
}

/// The recording `e` found damaged (a bad CRC, a cut chunk, a missing footer), if any.
fn damaged_recording(e: &anyhow::Error) -> Option<&Path> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<radcam_replay::Error>() {
            Some(radcam_replay::Error::Corrupt { path, .. }) => Some(path.as_path()),
            _ => None,
        })
}

/// `text` as one shell word: as it is when it is plain, else in single quotes.
fn shell_quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What to run on the damaged recording `path`: `radcam recover` rewrites its intact chunks
/// as a complete recording every command reads; a replay can also `--salvage` it directly.
fn damaged_hint(path: &Path, salvage_offered: bool) -> String {
    let recover = format!(
        "`radcam recover {} --out FIXED.mcap` rewrites every intact chunk as a complete recording",
        shell_quoted(&path.to_string_lossy())
    );
    if salvage_offered {
        format!("`radcam replay --salvage` replays what is intact; {recover}")
    } else {
        recover
    }
}

/// Whether `e` is a replay stopped by Ctrl-C or SIGTERM.
fn interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<radcam_replay::Error>(),
            Some(radcam_replay::Error::Interrupted { .. })
        )
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let quiet = cli.quiet;
    let show = |json: bool| Show { quiet, json };
    match cli.command {
        Command::Demo {
            out,
            json,
            seed,
            duration,
        } => {
            let scenario = Scenario::demo()?;
            create_dir(&out)?;
            let rec = out.join("demo.mcap");
            record(&scenario, seed, duration, &rec, show(json))?;
            replay_and_report(&rec, &out, &ReplayConfig::default(), show(json))
        }
        Command::Record {
            scenario,
            rig,
            out,
            duration,
            seed,
            realtime_factor,
        } => {
            let inputs: Vec<(&Path, &str)> =
                [(&rig, "the rig file"), (&scenario, "the scenario file")]
                    .into_iter()
                    .filter_map(|(input, what)| Some((input.as_deref()?, what)))
                    .collect();
            radcam_replay::out_path::check_output(&out, &inputs)?;
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_dir(parent)?;
            }
            let stop = stop_on_signals()?;
            if let Some(rig) = rig {
                return record_cmd::record_rig(&rig, &out, duration, stop, show(false));
            }
            let Some(scenario) = scenario else {
                anyhow::bail!("record: --scenario or --rig is required");
            };
            let scenario = Scenario::from_path_or_library(&scenario)?;
            if let Some(f) = realtime_factor
                && !(f.is_finite() && f > 0.0)
            {
                anyhow::bail!("--realtime-factor: must be a positive number, got {f}");
            }
            let ctl = RecordControl {
                realtime_factor,
                stop: Some(stop),
            };
            record_controlled(&scenario, seed, duration, &out, &ctl, show(false))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Recover { broken, out } => record_cmd::recover(&broken, &out, show(false)),
        Command::Diagnose {
            recording,
            window,
            json,
        } => {
            let busy = spinner(show(json), &recording, "diagnosing");
            let d = radcam_replay::diagnose::diagnose(&recording, window);
            busy.finish_and_clear();
            let d = d?;
            if json {
                say!("{}", serde_json::to_string_pretty(&d)?);
            } else if !quiet {
                say_raw!("{}", diagnosis_text(&d));
            }
            Ok(if d.domain == "healthy" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Extract {
            recording,
            window,
            lead_in,
            out,
        } => {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_dir(parent)?;
            }
            let busy = spinner(show(false), &recording, "extracting from");
            let s = radcam_replay::extract::extract(&recording, window, lead_in, &out);
            busy.finish_and_clear();
            let s = s?;
            if !quiet {
                let total: u64 = s.counts.values().sum();
                eprintln!(
                    "extracted {window} s of {} to {}: {total} messages ({} carried in from \
                     before the window)",
                    recording.display(),
                    out.display(),
                    s.carried_in
                );
                for (topic, n) in &s.counts {
                    eprintln!("  {topic:<26} {n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            recording,
            out,
            estimator,
            seed,
            faults,
            offset_ms,
            jitter_us,
            drift_ppm,
            verify,
            salvage,
            gates,
            baseline,
            tolerance,
            json,
        } => {
            let faults = match faults {
                Some(path) => FaultPlan::load(&path)?,
                None => FaultPlan::camera_only(offset_ms, jitter_us, drift_ppm)
                    .map_err(|e| anyhow::anyhow!("--offset-ms / --jitter-us / --drift-ppm: {e}"))?,
            };
            let mut cfg = ReplayConfig {
                estimator,
                seed,
                faults,
                salvage,
                ..ReplayConfig::default()
            };
            if let Some(path) = gates {
                cfg.gates = radcam_replay::gates_file::load(&path)?;
            }
            // read the baseline first: a bad baseline or tolerance file fails before any work
            let baseline = match &baseline {
                Some(dir) => Some((
                    radcam_reports::read_gates(dir)?,
                    match &tolerance {
                        Some(t) => radcam_replay::tolerance_file::load(t)?,
                        None => Default::default(),
                    },
                )),
                None => None,
            };
            output_dir_for(&recording, &out)?;
            let code = replay_and_report(&recording, &out, &cfg, show(json))?;
            if verify && !verify_replay(&recording, &out, &cfg, show(json))? {
                return Ok(ExitCode::from(1));
            }
            let Some((old, tol)) = baseline else {
                return Ok(code);
            };
            let new = radcam_reports::read_gates(&out)?;
            let rows = radcam_reports::compare_to_baseline(&old, &new, |m| tol.of(m));
            let regressed = rows.iter().any(|r| r.regressed);
            if !quiet && !json {
                say!("\nagainst the baseline:");
                say_raw!("{}", radcam_reports::baseline_table(&rows));
                if regressed {
                    say!("regression against the baseline");
                }
            }
            if regressed {
                return Ok(ExitCode::from(1));
            }
            Ok(code)
        }
        Command::Report {
            dir,
            junit,
            html,
            json,
        } => {
            if radcam_reports::sweep_html::is_sweep_dir(&dir) {
                if junit.is_some() {
                    anyhow::bail!(
                        "{}: --junit needs a replay report; a sweep's verdict is its exit code",
                        dir.display()
                    );
                }
                let (text, passed) = radcam_reports::sweep_html::sweep_summary(&dir)?;
                if json {
                    say!(
                        "{}",
                        serde_json::to_string_pretty(&radcam_reports::sweep_dir_json(&dir)?)?
                    );
                } else if !quiet {
                    say_raw!("{text}");
                }
                if let Some(path) = html {
                    let page = radcam_reports::html_report(&dir)?;
                    std::fs::write(&path, page).with_context(|| {
                        format!("{}: cannot write the HTML report", path.display())
                    })?;
                    if !quiet {
                        eprintln!("html: {}", path.display());
                    }
                }
                return Ok(if passed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            let results = radcam_reports::read_gates(&dir)?;
            if !quiet && !json {
                say_raw!("{}", radcam_reports::report_summary(&dir)?);
            }
            let origin_ns = radcam_reports::summary::recording_start_of(&dir)?;
            print_gates(&results, origin_ns, show(json))?;
            if let Some(path) = html {
                let page = radcam_reports::html_report(&dir)?;
                std::fs::write(&path, page)
                    .with_context(|| format!("{}: cannot write the HTML report", path.display()))?;
                if !quiet {
                    eprintln!("html: {}", path.display());
                }
            }
            if let Some(path) = junit {
                let suite = dir.display().to_string();
                std::fs::write(&path, radcam_reports::junit_xml(&suite, &results))
                    .with_context(|| format!("{}: cannot write JUnit XML", path.display()))?;
                if !quiet {
                    eprintln!("junit: {}", path.display());
                }
            }
            Ok(if radcam_reports::all_required_passed(&results) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Sync {
            latches,
            arrivals,
            query,
            estimator,
            out,
        } => {
            let outcome = radcam_replay::sync_csv::run(&radcam_replay::sync_csv::SyncCsvRequest {
                latches: latches.clone(),
                arrivals,
                query,
                estimator,
                out: out.clone(),
            })?;
            if quiet {
                return Ok(ExitCode::SUCCESS);
            }
            let answers = &outcome.answers;
            let mapped = answers.iter().filter(|a| a.host_ns.is_some()).count();
            eprintln!(
                "mapped {mapped} of {} queries to {}",
                answers.len(),
                out.display()
            );
            if let Some(line) = outcome.first_backwards_line {
                eprintln!(
                    "radcam: warning: {}: {} of {} latches skipped: host_after_ns before \
                     host_before_ns, first at line {line} (a monotonic host clock never runs \
                     back: check the logger's columns and clock)",
                    latches.display(),
                    outcome.backwards_latches,
                    outcome.latches
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calib { which } => calib_cmd::run(which, quiet),
        Command::Sweep(args) => {
            let show = show(args.json);
            sweep_cmd::run(args, stop_on_signals()?, show)
        }
        Command::Bench {
            which: BenchCommand::Sync { json, seed },
        } => {
            let rows = radcam_scenarios::sync_bench::run(seed);
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&radcam_scenarios::sync_bench::json(&rows))?
                );
            } else if !quiet {
                say_raw!("{}", radcam_scenarios::sync_bench::table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchCommand::Replay {
                    hours,
                    python,
                    sweep_runs,
                    sweep_minutes,
                    repeat,
                    keep,
                    json,
                },
        } => {
            bench_cmd::run(
                &bench_cmd::ReplayBench {
                    hours,
                    python,
                    sweep_runs,
                    sweep_minutes,
                    repeat,
                    keep,
                },
                json,
                quiet,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which: BenchCommand::Record { mib, dir, json },
        } => {
            let r = bench_record::run(&bench_record::RecordBench { mib, dir })?;
            if json {
                say!("{}", serde_json::to_string_pretty(&r)?);
            } else if !quiet {
                say!(
                    "raw frames ({} mono8), {} MiB per run, fsync'd\n  dd bs=4M            {:8.1} MB/s\n  \
                     MCAP uncompressed   {:8.1} MB/s  ({:.0}% of dd; target >= 80%: {})\n  \
                     MCAP zstd           {:8.1} MB/s",
                    r.frame_px,
                    r.mib,
                    r.dd_mb_s,
                    r.raw_mcap_mb_s,
                    100.0 * r.raw_over_dd,
                    if r.meets_target { "met" } else { "NOT met" },
                    r.zstd_mcap_mb_s
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchCommand::ReplayChild {
                    recording,
                    out,
                    one_cpu,
                },
        } => {
            let pinned_cpu = one_cpu.then(bench_cmd::pin_to_one_cpu).transpose()?;
            create_dir(&out)?;
            let quiet = Show {
                quiet: true,
                json: false,
            };
            replay_and_report(&recording, &out, &ReplayConfig::default(), quiet)?;
            let usage = bench_cmd::Usage {
                pinned_cpu,
                ..bench_cmd::self_usage()?
            };
            say!("{}", serde_json::to_string(&usage)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { recording, json } => {
            let i = inspect::inspect(&recording)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&i.to_json())?);
            } else if !quiet {
                say_raw!("{}", i.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create directory", dir.display()))
}

/// Creates the output directory `out` of a command that reads `recording`, once the recording
/// opens: a mistyped recording path leaves no empty output directory behind.
fn output_dir_for(recording: &Path, out: &Path) -> Result<()> {
    std::fs::File::open(recording).with_context(|| recording.display().to_string())?;
    create_dir(out)
}

/// Prints the gate table (nothing when quiet), or JSON (also when quiet: it was asked for);
/// `origin_ns`, the recording's first message's log time,
/// puts the failed gates' worst windows in seconds from it.
fn print_gates(
    results: &[radcam_reports::GateResult],
    origin_ns: Option<i64>,
    show: Show,
) -> Result<()> {
    if show.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&radcam_reports::gates_json(results, origin_ns))?
        );
    } else if !show.quiet {
        let table = gate_table(results, origin_ns);
        if std::io::stdout().is_terminal() {
            say_raw!("{}", colour_verdicts(&table));
        } else {
            say_raw!("{table}");
        }
    }
    Ok(())
}

/// Colours the verdict column of a gate table for a terminal (green, red, yellow).
fn colour_verdicts(table: &str) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |word: &str, colour: AnsiColor| {
        let style = Style::new().fg_color(Some(colour.into())).bold();
        format!("{style}{word}{style:#}")
    };
    table
        .lines()
        .map(|line| {
            for (word, colour) in [
                ("INCONCLUSIVE", AnsiColor::Yellow),
                ("PASS", AnsiColor::Green),
                ("FAIL", AnsiColor::Red),
            ] {
                if let Some(stem) = line.strip_suffix(word) {
                    return format!("{stem}{}\n", paint(word, colour));
                }
            }
            format!("{line}\n")
        })
        .collect()
}

/// The diagnosis as text: verdict, why, first fix, the evidence table and the snapshots.
fn diagnosis_text(d: &radcam_replay::diagnose::Diagnosis) -> String {
    use std::fmt::Write as _;
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| diagnose::stated(Some(v)));
    let mut s = String::new();
    let _ = writeln!(s, "diagnosis: {}", d.domain);
    let _ = writeln!(s, "  why:       {}", d.discriminator);
    let _ = writeln!(s, "  first fix: {}", d.first_fix);
    let _ = writeln!(
        s,
        "evidence (window {:.1}..{:.1} s):",
        d.window_s[0], d.window_s[1]
    );
    let _ = writeln!(s, "  {:<26} {:>12} {:>10}  ", "signal", "value", "limit");
    for e in &d.evidence {
        let _ = writeln!(
            s,
            "  {:<26} {:>12} {:>10}  {}{}",
            e.name,
            opt(e.value),
            e.threshold,
            if e.flagged { "! " } else { "  " },
            e.about
        );
    }
    let _ = writeln!(
        s,
        "snapshots:\n  {:<7} {:>15} {:>12} {:>12} {:>12} {:>12}",
        "", "span s", "reproj p95", "assoc fail", "radar p99ms", "ptp p99 us"
    );
    for n in &d.snapshots {
        let _ = writeln!(
            s,
            "  {:<7} {:>15} {:>12} {:>12} {:>12} {:>12}",
            n.label,
            format!("{:.1}..{:.1}", n.start_s, n.end_s),
            opt(n.reprojection_p95_px),
            opt(n.association_fail_rate),
            opt(n.radar_arrival_p99_ms),
            opt(n.ptp_offset_p99_us)
        );
    }
    s
}

/// The flag SIGINT or SIGTERM set: recordings stop and finalize their file, replays stop
/// without a report. One flag for the process, its handlers installed on first use: a stop
/// asked for between `--verify`'s two replays still stops the second.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(stop) = STOP.get() {
        return Ok(stop.clone());
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .with_context(|| format!("cannot handle signal {sig}"))?;
    }
    Ok(STOP.get_or_init(|| stop).clone())
}

fn record(
    scenario: &Scenario,
    seed: Option<u64>,
    duration: Option<f64>,
    out: &Path,
    show: Show,
) -> Result<()> {
    record_controlled(
        scenario,
        seed,
        duration,
        out,
        &RecordControl::default(),
        show,
    )
}

fn record_controlled(
    scenario: &Scenario,
    seed: Option<u64>,
    duration: Option<f64>,
    out: &Path,
    ctl: &RecordControl,
    show: Show,
) -> Result<()> {
    let duration_s = duration.unwrap_or(scenario.duration_s);
    if let Some(problem) = radcam_scenarios::config::duration_problem(duration_s) {
        anyhow::bail!("--duration: {problem}");
    }
    let req = RecordRequest {
        scenario: scenario.clone(),
        seed: seed.unwrap_or(scenario.seed),
        duration_s,
        out: out.to_owned(),
    };
    let bar = progress_bar(
        show,
        duration_s > PROGRESS_MIN_RECORD_S,
        &format!("recording {}", req.scenario.name),
    );
    let summary = record_scenario_controlled(
        &req,
        ctl,
        |_| {},
        |done| bar.set_position((done * 1000.0) as u64),
    )?;
    let interrupted = ctl.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
    bar.finish_and_clear();
    if show.quiet || show.json {
        return Ok(());
    }
    let total: u64 = summary.counts.values().sum();
    if interrupted {
        eprintln!("interrupted: the recording ends where it stopped");
    }
    eprintln!(
        "recorded {} messages ({} s of '{}', seed {}) to {}",
        total,
        radcam_fusion::shown::Shown(duration_s),
        req.scenario.name,
        req.seed,
        out.display()
    );
    Ok(())
}

/// Replays `rec` again into a scratch directory inside `out` and compares every report
/// table's SHA-256 with the first run's; prints the verdict. Returns whether all matched.
fn verify_replay(rec: &Path, out: &Path, cfg: &ReplayConfig, show: Show) -> Result<bool> {
    let again = out.join(".verify");
    create_dir(&again)?;
    let quiet = Show {
        quiet: true,
        json: false,
    };
    if let Err(e) = replay_and_report(rec, &again, cfg, quiet) {
        // best effort: the error says what went wrong, an empty leftover would not
        let _ = std::fs::remove_dir_all(&again);
        return Err(e.context("--verify's second replay"));
    }
    let first = radcam_reports::table_hashes(out)?;
    let second = radcam_reports::table_hashes(&again)?;
    std::fs::remove_dir_all(&again)
        .with_context(|| format!("{}: cannot remove", again.display()))?;
    let differing: Vec<&str> = first
        .keys()
        .chain(second.keys())
        .filter(|k| first.get(*k) != second.get(*k))
        .map(String::as_str)
        .collect();
    if !differing.is_empty() {
        eprintln!(
            "verify: FAILED, a second replay wrote different {}",
            differing.join(", ")
        );
        return Ok(false);
    }
    if !show.quiet {
        eprintln!(
            "verify: identical, {} tables, content hash {}",
            first.len(),
            radcam_reports::combined_hash(&first)
        );
    }
    Ok(true)
}

/// Replays `rec` into the report directory `out`, all or nothing: the report's files are
/// written into a staging directory in `out` and moved into place once all are complete, so a
/// replay that fails or is stopped (Ctrl-C, SIGTERM) leaves `out` as it was.
fn replay_and_report(rec: &Path, out: &Path, cfg: &ReplayConfig, show: Show) -> Result<ExitCode> {
    let stop = stop_on_signals()?;
    let cfg = &ReplayConfig {
        cancel: Some(stop.clone()),
        ..cfg.clone()
    };
    let staged = radcam_reports::StagedDir::new(out)
        .with_context(|| format!("{}: cannot write the report there", out.display()))?;
    let no_report = |e: anyhow::Error| {
        if interrupted(&e) {
            e.context(format!("{}: no report was written", out.display()))
        } else {
            e
        }
    };
    // a table that cannot be written is named where it was going, not in the staging
    // directory (which is gone by the time the error is shown)
    let unwritten = |e: radcam_reports::Error| {
        anyhow::Error::from(e.moved(staged.path(), out))
            .context(format!("{}: no report was written", out.display()))
    };
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut tables =
        radcam_reports::FusionTablesWriter::new(staged.path(), cfg.spill_dir.as_deref());
    let result: ReplayOutput = replay_into(
        rec,
        cfg,
        |done, total| {
            let bar = bar.get_or_insert_with(|| {
                let b = progress_bar(show, total > PROGRESS_MIN_MESSAGES, "replaying");
                b.set_length(total.max(1));
                b
            });
            bar.set_position(done);
        },
        &mut tables,
    )
    .map_err(|e| no_report(e.into()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    write_gates(staged.path(), &result.gates, &result.report_metadata).map_err(unwritten)?;
    write_audit(staged.path(), &result.audit, &result.report_metadata).map_err(unwritten)?;
    let fusion_files = tables
        .finish(&result.report_metadata, result.tracking.as_ref())
        .map_err(unwritten)?;
    // a stop asked for while the tables were being closed is still a stop
    if stop.load(Ordering::Relaxed) {
        return Err(no_report(
            radcam_replay::Error::Interrupted {
                path: rec.to_owned(),
            }
            .into(),
        ));
    }
    staged.commit(&radcam_reports::REPORT_FILES)?;
    let code = if result.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let origin_ns = radcam_reports::recording_start_ns(&result.report_metadata);
    if show.quiet || show.json {
        print_gates(&result.gates, origin_ns, show)?;
        return Ok(code);
    }
    say!(
        "replayed {}: {} camera frames ({} mapped by '{}'), {} radar frames, {} audit events",
        rec.display(),
        result.camera_frames,
        result.camera_frames_mapped,
        result.estimator_used,
        result.radar_frames,
        result.audit.len()
    );
    if cfg.salvage {
        say!("salvaged: {} unreadable part(s) skipped", result.gaps.len());
        for g in &result.gaps {
            let span = match (g.start_ns, g.end_ns) {
                (Some(a), Some(b)) => {
                    let from_start = origin_ns.map_or_else(String::new, |t0| {
                        let ns = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
                        let s = radcam_reports::span_from_start(ns(a), ns(b), t0);
                        format!(" ({s} s from the start)")
                    });
                    format!(", log time {a}..{b} ns{from_start}")
                }
                _ => String::new(),
            };
            say!("  byte offset {}{span}: {}", g.offset, g.reason);
        }
    }
    if !cfg.faults.is_none() {
        say!(
            "faults injected (seed {}): {}",
            cfg.seed,
            result.report_metadata["fault_plan"]
        );
        say!(
            "  frames dropped: {} camera, {} radar; fused with stale radar: {}",
            result.dropped.camera_frames,
            result.dropped.radar_frames,
            result.stale_fusions
        );
    }
    if result.rejected != Default::default() {
        say!(
            "rejected as non-finite or out of range: {} radar points, {} detections, {} messages (impossible times)",
            result.rejected.radar_points,
            result.rejected.detections,
            result.rejected.messages
        );
    }
    if let Some(t) = &result.tracking {
        say!(
            "tracking vs truth (match threshold {} m): MOTA {:.4}, IDF1 {:.4}, {} switches, {} misses, {} false positives",
            t.match_threshold_m,
            t.mota,
            t.idf1,
            t.num_switches,
            t.num_misses,
            t.num_false_positives
        );
    }
    print_gates(&result.gates, origin_ns, show)?;
    // the worst window of the first gate that failed, as the playbook takes it (an
    // inconclusive gate had too few samples, and its window would be too thin to diagnose);
    // not under injected faults, which are in the replay and not in the recording diagnose
    // reads
    let worst = result
        .gates
        .iter()
        .filter(|g| g.verdict == radcam_reports::Verdict::Fail)
        .find_map(|g| Some((&g.gate.name, g.evidence?)));
    if let (Some(t0), Some((gate, e)), true) = (origin_ns, worst, cfg.faults.is_none()) {
        say!(
            "look closer at {gate}'s worst window: radcam diagnose {} --window {}",
            rec.display(),
            radcam_reports::window_from_start(&e, t0)
        );
    }
    say!(
        "report: {} (and audit.parquet, windows.parquet, {})",
        out.join(GATES_FILE).display(),
        fusion_files.join(", ")
    );
    Ok(code)
}
