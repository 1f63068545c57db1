//! `radcam record --rig` and `radcam recover`: argument checks, progress and summaries; the
//! work is in `radcam_recorder::live` and `radcam_replay::recover`.

use crate::Show;
use anyhow::{Context, Result};
use radcam_recorder::live::{LiveRequest, StopReason, load_rig, record_rig as record_live};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Records the devices a rig file names until `--duration` or Ctrl-C/SIGTERM.
pub fn record_rig(
    rig_path: &Path,
    out: &Path,
    duration: Option<f64>,
    stop: Arc<AtomicBool>,
    show: Show,
) -> Result<ExitCode> {
    if let Some(problem) = duration.and_then(radcam_scenarios::config::duration_problem) {
        anyhow::bail!("--duration: {problem}");
    }
    let (rig, rig_toml) = load_rig(rig_path)?;
    let req = LiveRequest {
        out: out.to_owned(),
        duration_s: duration,
        rig_toml,
    };
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    if !show.quiet {
        eprintln!(
            "recording {} to {} ({}); Ctrl-C stops and finalizes",
            rig_path.display(),
            out.display(),
            duration.map_or("until stopped".into(), |d| format!("{d} s"))
        );
    }
    let summary = record_live(&rig, &req, stop, |p| {
        if show.quiet || show.json {
            return;
        }
        if tty {
            eprint!("\r{p}\x1b[K");
            let _ = std::io::stderr().flush();
        } else if last_line.elapsed() >= Duration::from_secs(10) {
            last_line = Instant::now();
            eprintln!("{p}");
        }
    })
    .with_context(|| format!("recording {}", rig_path.display()))?;
    if !show.quiet {
        if tty {
            eprintln!();
        }
        let total: u64 = summary.counts.values().sum();
        let why = match summary.reason {
            StopReason::Duration => "duration reached",
            StopReason::Interrupted => "stopped by signal",
        };
        eprintln!(
            "recorded {total} messages in {:.1} s to {} ({why})\n{}",
            summary.elapsed_s,
            summary.path.display(),
            summary.last
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Recovers the intact chunks of `broken` into `out`.
pub fn recover(broken: &Path, out: &Path, show: Show) -> Result<ExitCode> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let busy = crate::spinner(show, broken, "recovering");
    let s = radcam_replay::recover::recover(broken, out);
    busy.finish_and_clear();
    let s = s?;
    let total: u64 = s.counts.values().sum();
    if total == 0 {
        anyhow::bail!(
            "{}: no intact chunk to recover ({} damaged regions)",
            broken.display(),
            s.gaps.len()
        );
    }
    if !show.quiet {
        eprintln!(
            "recovered {total} messages from {} to {}",
            broken.display(),
            out.display()
        );
        for (topic, n) in &s.counts {
            eprintln!("  {topic:<22} {n}");
        }
        for g in &s.gaps {
            eprintln!(
                "  lost at byte {}: {}{}",
                g.offset,
                g.reason,
                match (g.start_ns, g.end_ns) {
                    (Some(a), Some(b)) => format!(" (log time {a}..{b} ns)"),
                    _ => String::new(),
                }
            );
        }
        if s.foreign_messages > 0 {
            eprintln!(
                "  ({} of them on channels outside radcam's topic contract, kept as they were)",
                s.foreign_messages
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
