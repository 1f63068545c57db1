//! The HTML report renders in a real browser: Debian's headless Chromium loads it from a file
//! (no network), its DOM has every plot, and a screenshot is taken and kept
//! (`target/tmp/report.png`). Needs `chromium` on the PATH; runs with `--features chromium`
//! (`.ci/run` installs it) and fails, never skips, when it is missing.
#![cfg(feature = "chromium")]

use std::path::Path;
use std::process::Command;

fn radcam(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_radcam"))
        .args(args)
        .output()
        .expect("radcam runs");
    assert!(
        out.status.code() == Some(0),
        "radcam {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chromium(profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (Debian package 'chromium')")
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("report");
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    radcam(&["demo", "--quiet", "--out", &s(&dir), "--duration", "30"]);
    let page = dir.join("report.html");
    radcam(&["report", "--quiet", &s(&dir), "--html", &s(&page)]);

    let dom = chromium(&tmp.path().join("profile-dom"), &["--dump-dom"], &page);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        8,
        "every plot is in the rendered DOM"
    );
    for text in [
        "Gates",
        "sync_p999",
        "Camera sync error CDF",
        "Latency CDF per segment",
        "Sync error against temperature",
        "Tracking against truth",
    ] {
        assert!(dom.contains(text), "rendered page lacks {text}");
    }

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &tmp.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2200",
        ],
        &page,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    // a blank page compresses to a few kB; gate table, text and four plots do not
    assert!(
        png.len() > 40_000,
        "screenshot is {} bytes: nothing drawn?",
        png.len()
    );
}

#[test]
fn the_sweep_report_renders_its_envelope_and_fault_curves_in_headless_chromium() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    let demo = tmp.path().join("demo");
    radcam(&["demo", "--quiet", "--out", &s(&demo), "--duration", "20"]);
    let gates = tmp.path().join("gates.toml");
    std::fs::write(
        &gates,
        "[[gate]]\nname = \"association_fail_rate\"\nmetric = \"association_fail_rate\"\n\
         comparator = \"<=\"\nthreshold = 0.05\n",
    )
    .expect("write");
    let dir = tmp.path().join("tol");
    radcam(&[
        "sweep",
        "--quiet",
        &s(&demo.join("demo.mcap")),
        "--out",
        &s(&dir),
        "--tolerance",
        "offset",
        "--gates",
        &s(&gates),
    ]);
    let page = tmp.path().join("sweep.html");
    radcam(&["report", "--quiet", &s(&dir), "--html", &s(&page)]);
    let dom = chromium(&tmp.path().join("profile"), &["--dump-dom"], &page);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // the envelope and one curve per gate
    assert_eq!(dom.matches("<svg").count(), 2, "{dom}");
    for text in [
        "Tolerance to camera offset",
        "Tolerance envelope",
        "association_fail_rate vs offset_ms",
        "Runs",
    ] {
        assert!(dom.contains(text), "rendered page lacks {text}");
    }
}
