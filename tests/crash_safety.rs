//! Crash safety of `radcam record`, end to end on the real binary: Ctrl-C (SIGINT) finalizes
//! the file; kill -9 leaves `OUT.part`, from which `radcam recover` rebuilds a complete,
//! indexed recording losing at most the chunk being written. And of `radcam replay` and
//! `radcam sweep`: Ctrl-C or SIGTERM stops them without touching the output directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn radcam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_radcam"))
}

/// `radcam record` of ten minutes of the demo rig; `--out` and the rest to be added.
fn ten_minute_demo() -> Command {
    let mut c = radcam();
    c.args([
        "--quiet",
        "record",
        "--scenario",
        "demo",
        "--duration",
        "600",
    ]);
    c
}

fn paced_recording(out: &Path) -> Child {
    ten_minute_demo()
        .args(["--realtime-factor", "4", "--out"])
        .arg(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("radcam starts")
}

/// Waits (polling the file system, at most a minute) until `done` holds, `child` still
/// running; `what` names the awaited state in a failure.
fn wait_until(child: &mut Child, what: &str, done: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            child.try_wait().expect("child status").is_none(),
            "radcam exited before {what}"
        );
        assert!(Instant::now() < end, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` holds at least `bytes`.
fn wait_for_size(path: &Path, bytes: u64, child: &mut Child) {
    let what = format!("{} reached {bytes} bytes", path.display());
    wait_until(child, &what, || {
        std::fs::metadata(path).map_or(0, |m| m.len()) >= bytes
    });
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(st.success());
}

fn inspect_json(path: &Path) -> serde_json::Value {
    let o = radcam()
        .args(["inspect", "--json"])
        .arg(path)
        .output()
        .expect("inspect runs");
    assert!(
        o.status.success(),
        "inspect {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("inspect JSON")
}

#[test]
fn ctrl_c_finalizes_the_recording() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("rec.mcap");
    let part = dir.path().join("rec.mcap.part");
    let mut child = paced_recording(&out);
    // a few flushed chunks: the paced simulator flushes once per wall second
    wait_for_size(&part, 200_000, &mut child);
    signal(&child, "-INT");
    let st = child.wait().expect("wait");
    assert!(
        st.success(),
        "Ctrl-C must end the recording cleanly: {st:?}"
    );
    assert!(out.exists() && !part.exists());
    let info = inspect_json(&out);
    let text = info.to_string();
    assert!(text.contains("radcam.stopped"), "{text}");
    // a summary and index: replay reads it without --salvage
    let rep = dir.path().join("rep");
    let o = radcam()
        .args(["--quiet", "replay"])
        .arg(&out)
        .arg("--out")
        .arg(&rep)
        .output()
        .expect("replay");
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn kill_9_leaves_a_recoverable_part_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("rec.mcap");
    let part = dir.path().join("rec.mcap.part");
    let mut child = paced_recording(&out);
    wait_for_size(&part, 300_000, &mut child);
    signal(&child, "-KILL");
    child.wait().expect("wait");
    assert!(!out.exists() && part.exists());
    let part_len = std::fs::metadata(&part).expect("part").len();

    let fixed = dir.path().join("fixed.mcap");
    let o = radcam()
        .arg("recover")
        .arg(&part)
        .arg("--out")
        .arg(&fixed)
        .output()
        .expect("recover runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("recovered"), "{err}");
    let info = inspect_json(&fixed);
    let frames = info.to_string();
    assert!(frames.contains("/camera/frame"), "{frames}");
    // at most the chunk being written is lost: at most one damaged region, at the end
    let gaps: Vec<u64> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("lost at byte "))
        .map(|l| {
            l.split(':')
                .next()
                .expect("offset")
                .parse()
                .expect("number")
        })
        .collect();
    assert!(gaps.len() <= 1, "{err}");
    if let Some(&at) = gaps.first() {
        assert!(
            part_len - at <= radcam_recorder_chunk_bound(),
            "lost {} bytes",
            part_len - at
        );
    }
    let rep = dir.path().join("rep");
    let o = radcam()
        .args(["--quiet", "replay"])
        .arg(&fixed)
        .arg("--out")
        .arg(&rep)
        .output()
        .expect("replay");
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // recovering a file that is not MCAP at all is bad input
    let junk = dir.path().join("junk.mcap");
    std::fs::write(&junk, b"not an mcap file").expect("write");
    let o = radcam()
        .arg("recover")
        .arg(&junk)
        .arg("--out")
        .arg(dir.path().join("x.mcap"))
        .output()
        .expect("recover runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.mcap"));
}

/// A report directory at `report` holding an earlier report (its gate table, as text).
fn a_previous_report(report: &Path) {
    std::fs::create_dir(report).expect("mkdir");
    std::fs::write(report.join("gates.parquet"), "the previous report").expect("write");
}

/// `report` holds what [`a_previous_report`] put there and nothing else: no table of the
/// failed replay, no staging directory.
fn assert_only_the_previous_report(report: &Path) {
    assert_holds_only(report, "gates.parquet", "the previous report");
}

/// `dir` holds one entry, the file `name` with the text `text`.
fn assert_holds_only(dir: &Path, name: &str, text: &str) {
    let left: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| {
            let e = e.expect("entry");
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    assert_eq!(left, vec![(name.to_owned(), text.to_owned())]);
}

/// The largest a chunk in flight can be: the writer's target chunk size plus one message.
fn radcam_recorder_chunk_bound() -> u64 {
    4 * 1024 * 1024 + 1024 * 1024
}

/// A small tmpfs, unmounted on drop.
#[cfg(feature = "tmpfs")]
struct SmallDisk(std::path::PathBuf);

#[cfg(feature = "tmpfs")]
impl SmallDisk {
    /// A tmpfs of `size` (`mount -o size=`) mounted at the new directory `at`.
    fn mount(at: &Path, size: &str) -> Self {
        std::fs::create_dir(at).expect("mkdir");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount(8)");
        assert!(st.success(), "mounting a tmpfs needs root");
        Self(at.to_owned())
    }
}

#[cfg(feature = "tmpfs")]
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[cfg(feature = "tmpfs")]
#[test]
fn a_full_disk_stops_the_recording_cleanly_and_leaves_a_recoverable_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mnt = dir.path().join("small");
    let disk = SmallDisk::mount(&mnt, "3m");
    let out = mnt.join("rec.mcap");
    let o = radcam()
        .args(["record", "--scenario", "demo", "--duration", "120", "--out"])
        .arg(&out)
        .output()
        .expect("radcam runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("radcam recover"), "{err}");
    let part = mnt.join("rec.mcap.part");
    let fixed = dir.path().join("fixed.mcap");
    let o = radcam()
        .arg("recover")
        .arg(&part)
        .arg("--out")
        .arg(&fixed)
        .output()
        .expect("recover runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info = inspect_json(&fixed).to_string();
    assert!(info.contains("/camera/frame"), "{info}");
    drop(disk);
}

#[cfg(feature = "tmpfs")]
#[test]
fn a_full_disk_fails_a_replay_naming_the_table_and_leaves_the_previous_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec.mcap");
    let st = radcam()
        .args(["record", "--scenario", "demo", "--duration", "60", "--out"])
        .arg(&rec)
        .status()
        .expect("radcam records");
    assert!(st.success());
    // the report's tables (about 3 MB) do not fit; the pages waiting for their row group are
    // in $TMPDIR, elsewhere
    let mnt = dir.path().join("small");
    let disk = SmallDisk::mount(&mnt, "1m");
    let report = mnt.join("report");
    a_previous_report(&report);
    let o = radcam()
        .arg("replay")
        .arg(&rec)
        .arg("--out")
        .arg(&report)
        .output()
        .expect("radcam runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("no report was written"), "{err}");
    // the table is named where it was going, not in the staging directory, which is gone
    assert!(!err.contains(".radcam-partial-"), "{err}");
    assert!(
        err.contains(&format!("{}/", report.display())) && err.contains(".parquet"),
        "{err}"
    );
    assert_only_the_previous_report(&report);
    drop(disk);
}

#[test]
fn sigterm_finalizes_a_rig_recording() {
    // a radar whose port is missing: the recording runs (and says the link is down) until
    // SIGTERM, then finalizes with its summary
    let dir = tempfile::tempdir().expect("tmp");
    let rig = dir.path().join("rig.toml");
    std::fs::write(
        &rig,
        "[radar]\ndata_port = \"/dev/radcam-no-such-port\"\n[node]\nstats_hz = 50\n\
         [output]\nflush_interval_ms = 20\n",
    )
    .expect("write");
    let out = dir.path().join("rig.mcap");
    let part = dir.path().join("rig.mcap.part");
    let mut child = radcam()
        .args(["--quiet", "record", "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .spawn()
        .expect("radcam starts");
    // metadata, then node stats flushed every 20 ms
    wait_for_size(&part, 8_000, &mut child);
    signal(&child, "-TERM");
    let st = child.wait().expect("wait");
    assert!(
        st.success(),
        "SIGTERM must end the recording cleanly: {st:?}"
    );
    assert!(out.exists() && !part.exists());
    let info = inspect_json(&out).to_string();
    assert!(
        info.contains("/node/stats") && info.contains("\"rig\""),
        "{info}"
    );
}

/// A ten-minute demo-rig recording in `dir`.
fn ten_minute_recording(dir: &Path) -> std::path::PathBuf {
    let rec = dir.join("rec.mcap");
    let st = ten_minute_demo()
        .arg("--out")
        .arg(&rec)
        .status()
        .expect("radcam records");
    assert!(st.success());
    rec
}

/// Starts `cmd`, which writes into `out_dir`; once its staging directory appears there (its
/// signal handler is installed before it), sends it `sig`. Returns its stderr, after checking
/// it exited 130.
fn stopped_once_staged(mut cmd: Command, out_dir: &Path, sig: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radcam starts");
    wait_until(&mut child, "the staging directory appeared", || {
        std::fs::read_dir(out_dir).expect("list").any(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with(".radcam-partial-")
        })
    });
    signal(&child, sig);
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{err}");
    err
}

#[test]
fn ctrl_c_stops_a_replay_and_leaves_the_previous_report_as_it_was() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = ten_minute_recording(dir.path());
    let report = dir.path().join("report");
    a_previous_report(&report);
    let mut replay = radcam();
    replay.arg("replay").arg(&rec).arg("--out").arg(&report);
    let err = stopped_once_staged(replay, &report, "-INT");
    assert!(
        err.contains("interrupted") && err.contains("no report was written"),
        "{err}"
    );
    assert_only_the_previous_report(&report);
}

#[test]
fn sigterm_stops_a_sweep_and_leaves_the_previous_sweep_as_it_was() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = ten_minute_recording(dir.path());
    let out_dir = dir.path().join("sweep");
    std::fs::create_dir(&out_dir).expect("mkdir");
    std::fs::write(out_dir.join("sweep.parquet"), "the previous sweep").expect("write");
    // far more runs than the test waits for: a minute or more of work
    let mut sweep = radcam();
    sweep
        .args(["sweep", "--monte-carlo", "200", "--grid", "jitter_us=300"])
        .arg(&rec)
        .arg("--out")
        .arg(&out_dir);
    let err = stopped_once_staged(sweep, &out_dir, "-TERM");
    assert!(
        err.contains("interrupted") && err.contains("no sweep was written"),
        "{err}"
    );
    assert_holds_only(&out_dir, "sweep.parquet", "the previous sweep");
}
