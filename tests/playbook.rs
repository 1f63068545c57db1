//! The field playbook, proven on the scenario library: every library scenario states the domain
//! `radcam diagnose` must find (`[expect] diagnosis`); this records each one with the real
//! binary and checks the diagnosis, and that a slice cut around an incident is diagnosed the
//! same as the whole recording.

use radcam_scenarios::{LIBRARY, Scenario};
use std::path::Path;
use std::process::Command;

fn radcam(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_radcam"))
        .args(args)
        .output()
        .expect("radcam runs")
}

fn diagnose(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["diagnose", "--json"];
    a.extend_from_slice(args);
    let o = radcam(&a);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "diagnose {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("diagnosis JSON")
}

fn record(name: &str, dir: &Path) -> String {
    let out = dir.join(format!("{name}.mcap"));
    let out = out.to_str().expect("utf-8").to_owned();
    let o = radcam(&["--quiet", "record", "--scenario", name, "--out", &out]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn every_library_scenario_gets_its_expected_diagnosis() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut table = Vec::new();
    let mut domains = std::collections::BTreeSet::new();
    for (name, _) in LIBRARY {
        let expected = Scenario::library(name)
            .expect("library scenario")
            .expect
            .unwrap_or_else(|| panic!("{name} states no [expect] diagnosis"))
            .diagnosis;
        let rec = record(name, dir.path());
        let d = diagnose(&[&rec]);
        let got = d["domain"].as_str().expect("domain").to_owned();
        assert!(d["evidence"].as_array().is_some_and(|e| !e.is_empty()));
        assert!(d["first_fix"].as_str().is_some_and(|f| !f.is_empty()));
        table.push((
            name.to_string(),
            expected.clone(),
            got,
            d["discriminator"].clone(),
        ));
        domains.insert(expected);
    }
    let wrong: Vec<_> = table.iter().filter(|(_, e, g, _)| e != g).collect();
    assert!(wrong.is_empty(), "wrong diagnoses: {wrong:#?}");
    assert!(table.len() >= 10, "{} scenarios", table.len());
    assert!(domains.len() >= 5, "{domains:?}");
}

#[test]
fn a_slice_around_the_incident_gets_the_same_diagnosis() {
    let dir = tempfile::tempdir().expect("tmp");
    // the firmware update lands at 20 s
    let rec = record("firmware_update", dir.path());
    let whole = diagnose(&[&rec]);
    assert_eq!(whole["domain"], "calibration_change");
    let slice = dir.path().join("slice.mcap");
    let slice = slice.to_str().expect("utf-8");
    let o = radcam(&["extract", &rec, "--window", "12..40", "--out", slice]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(diagnose(&[slice])["domain"], whole["domain"]);
    // and the window of the whole recording, with its before / during / after snapshots
    let w = diagnose(&[&rec, "--window", "12..40"]);
    assert_eq!(w["domain"], whole["domain"]);
    let labels: Vec<&str> = w["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert_eq!(labels, ["before", "during", "after"]);
    assert_eq!(w["window_s"], serde_json::json!([12.0, 40.0]));
}

#[test]
fn a_recording_too_thin_to_judge_is_inconclusive() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("short.mcap");
    let out = out.to_str().expect("utf-8");
    let o = radcam(&[
        "--quiet",
        "record",
        "--scenario",
        "demo",
        "--duration",
        "0.5",
        "--out",
        out,
    ]);
    assert!(o.status.success());
    let d = diagnose(&[out]);
    assert_eq!(d["domain"], "inconclusive");
    assert!(
        d["discriminator"]
            .as_str()
            .is_some_and(|s| s.contains("too little")),
        "{d}"
    );
}

#[test]
fn a_windows_snapshots_are_in_the_recordings_seconds_and_stop_at_its_end() {
    let dir = tempfile::tempdir().expect("tmp");
    // firmware_update: 40 s
    let rec = record("firmware_update", dir.path());
    let spans = |d: &serde_json::Value| -> Vec<(String, f64, f64)> {
        d["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .map(|s| {
                let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k} in {s}"));
                (
                    s["label"].as_str().expect("label").to_owned(),
                    f("start_s"),
                    f("end_s"),
                )
            })
            .collect()
    };
    let near = |a: f64, b: f64| (a - b).abs() < 0.05;
    // the before span opens one window-length before the window, not at the first message
    // the slice carries in from earlier (the audit history at 0 s)
    let d = diagnose(&[&rec, "--window", "30..34"]);
    let s = spans(&d);
    let expected = [
        ("before", 26.0, 30.0),
        ("during", 30.0, 34.0),
        ("after", 34.0, 38.0),
    ];
    assert_eq!(s.len(), 3);
    for ((label, a, b), (l, x, y)) in s.iter().zip(expected) {
        assert!(label == l && near(*a, x) && near(*b, y), "{s:?}");
    }
    // a window running past the end: its during span stops there, its after span is empty
    let d = diagnose(&[&rec, "--window", "36..50"]);
    let s = spans(&d);
    assert!(near(s[0].1, 22.0) && near(s[1].1, 36.0), "{s:?}");
    // (the recording's last message, a little after 40 s)
    let end = s[1].2;
    assert!(
        (40.0..40.5).contains(&end) && s[2].1 == end && s[2].2 == end,
        "{s:?}"
    );
    assert_eq!(d["window_s"], serde_json::json!([36.0, 50.0]));
    // a window after the end is bad input, not an inconclusive diagnosis
    let o = radcam(&["diagnose", &rec, "--window", "45..50"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(&rec) && e.contains("starts after the recording ends"),
        "{e}"
    );
}
