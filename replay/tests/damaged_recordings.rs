//! Damaged recordings: salvage replays what is intact and marks each gap; and a mutation test
//! (the corpus fuzzing that runs in CI; `fuzz/` has the cargo-fuzz target) throws flipped
//! bytes, cuts and spliced garbage at the reader: errors, never panics.

use proptest::prelude::*;
use radcam_fusion::audit::AuditKind;
use radcam_recorder::{RecordRequest, record_scenario};
use radcam_replay::salvage::Salvaged;
use radcam_replay::{Error, McapFile, ReplayConfig, replay};
use radcam_scenarios::Scenario;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn record(dir: &Path, duration_s: f64) -> PathBuf {
    let out = dir.join(format!("r{duration_s}.mcap"));
    record_scenario(
        &RecordRequest {
            scenario: Scenario::demo().expect("demo"),
            seed: 3,
            duration_s,
            out: out.clone(),
        },
        |_| {},
    )
    .expect("record");
    out
}

fn salvage() -> ReplayConfig {
    ReplayConfig {
        salvage: true,
        ..ReplayConfig::default()
    }
}

#[test]
fn salvage_of_an_intact_recording_equals_the_indexed_replay() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = record(dir.path(), 20.0);
    let indexed = replay(&rec, &ReplayConfig::default()).expect("indexed");
    let mut salvaged = replay(&rec, &salvage()).expect("salvaged");
    assert!(salvaged.gaps.is_empty(), "{:?}", salvaged.gaps);
    salvaged.report_metadata.remove("salvage");
    assert_eq!(salvaged.gates, indexed.gates);
    assert_eq!(salvaged.sync, indexed.sync);
    assert_eq!(salvaged.audit, indexed.audit);
    assert_eq!(salvaged.fused, indexed.fused);
    assert_eq!(salvaged.associations, indexed.associations);
    assert_eq!(salvaged.report_metadata, indexed.report_metadata);
    for (k, v) in &indexed.metrics.metrics {
        assert_eq!(salvaged.metrics.metrics.get(k), Some(v), "{k}");
    }
    assert_eq!(salvaged, indexed);
}

#[test]
fn a_cut_recording_and_a_damaged_chunk_are_salvaged_around_their_gaps() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = record(dir.path(), 40.0);
    let bytes = std::fs::read(&rec).expect("read");
    let whole = replay(&rec, &ReplayConfig::default()).expect("whole");
    let mut file = McapFile::open(&rec).expect("open");
    // the chunks holding camera frames (the viewer-only topics and images have their own)
    let camera_frame = file
        .summary()
        .channels
        .iter()
        .find(|(_, c)| c.topic == radcam_schema::topics::CAMERA_FRAME)
        .map(|(id, _)| *id)
        .expect("camera frame channel");
    let chunks: Vec<(u64, u64, u64, u64)> = file
        .chunks()
        .expect("index")
        .iter()
        .filter(|c| c.may_hold(camera_frame))
        .map(|c| {
            (
                c.chunk_start_offset,
                c.message_start_time,
                c.message_end_time,
                c.compressed_size,
            )
        })
        .collect();
    assert!(chunks.len() >= 4, "{chunks:?}");

    // a recorder killed mid-chunk: no summary, the last chunk cut short
    let cut = dir.path().join("cut.mcap");
    // a big chunk late in the file, cut in its middle
    let big: Vec<_> = chunks.iter().filter(|c| c.3 > 20_000).collect();
    let &&(last_start, last_t0, _, size) =
        big.get(big.len().saturating_sub(2)).expect("big chunks");
    std::fs::write(&cut, &bytes[..(last_start + size / 2) as usize]).expect("write");
    let e = replay(&cut, &ReplayConfig::default()).expect_err("no summary");
    assert!(
        matches!(
            e,
            Error::Corrupt {
                record: "footer",
                ..
            }
        ),
        "{e}"
    );
    let out = replay(&cut, &salvage()).expect("salvaged");
    assert_eq!(out.gaps.len(), 1, "{:?}", out.gaps);
    assert_eq!(out.gaps[0].offset, last_start);
    assert_eq!(out.gaps[0].start_ns, Some(last_t0));
    assert!(out.gaps[0].reason.contains("cut short"), "{:?}", out.gaps);
    assert!(out.camera_frames > 0 && out.camera_frames < whole.camera_frames);
    let gap_events: Vec<_> = out
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::RecordingGap)
        .collect();
    assert_eq!(gap_events.len(), 1);
    assert!(
        gap_events[0]
            .detail
            .contains(&format!("byte offset {last_start}"))
    );

    // flipped bytes inside a middle chunk: that chunk is skipped, the rest replays
    let bad = dir.path().join("bad.mcap");
    let mut damaged = bytes.clone();
    let &(mid_start, mid_t0, mid_t1, _) = big[1];
    for b in &mut damaged[mid_start as usize + 200..mid_start as usize + 260] {
        *b ^= 0x5a;
    }
    std::fs::write(&bad, &damaged).expect("write");
    let e = replay(&bad, &ReplayConfig::default()).expect_err("damaged");
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    let out = replay(&bad, &salvage()).expect("salvaged");
    assert_eq!(out.gaps.len(), 1, "{:?}", out.gaps);
    assert_eq!(
        (out.gaps[0].offset, out.gaps[0].start_ns, out.gaps[0].end_ns),
        (mid_start, Some(mid_t0), Some(mid_t1))
    );
    // frames on both sides of the gap were mapped
    let in_gap = |t: i64| (mid_t0 as i64..=mid_t1 as i64).contains(&t);
    assert!(out.sync.iter().any(|s| (s.host_ns as u64) < mid_t0));
    assert!(out.sync.iter().any(|s| (s.host_ns as u64) > mid_t1));
    assert!(
        out.sync
            .iter()
            .all(|s| !in_gap(s.host_ns) || s.host_ns as u64 > mid_t1)
    );
}

fn corpus() -> &'static (tempfile::TempDir, Vec<u8>) {
    static CORPUS: OnceLock<(tempfile::TempDir, Vec<u8>)> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = record(dir.path(), 4.0);
        let bytes = std::fs::read(rec).expect("read");
        (dir, bytes)
    })
}

/// One damaged copy of the corpus recording.
#[derive(Debug, Clone)]
enum Damage {
    Flip(Vec<(usize, u8)>),
    Cut(usize),
    Splice(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        prop::collection::vec((any::<usize>(), 1u8..), 1..8).prop_map(Damage::Flip),
        any::<usize>().prop_map(Damage::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, g)| Damage::Splice(at, g)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn damaged_recordings_give_errors_or_salvage_never_a_panic(d in damage()) {
        let (dir, bytes) = corpus();
        let mut b = bytes.clone();
        match &d {
            Damage::Flip(flips) => {
                for (at, x) in flips {
                    let i = at % b.len();
                    b[i] ^= x;
                }
            }
            Damage::Cut(at) => b.truncate(at % b.len()),
            Damage::Splice(at, g) => {
                let i = at % b.len();
                b.splice(i..i, g.iter().copied());
            }
        }
        let path = dir.path().join(format!("fuzz-{}.mcap", std::process::id()));
        std::fs::write(&path, &b).expect("write");
        // the indexed path: Ok only if nothing that matters was hit, else a named error
        if let Err(e) = replay(&path, &ReplayConfig::default()) {
            prop_assert!(e.to_string().contains(path.to_str().expect("utf8")), "{e}");
        }
        // the salvage path: a scan never panics and whatever it keeps replays
        match Salvaged::scan(&path) {
            Ok(mut s) => {
                let mut n = 0u64;
                s.for_each_message(&["/camera/frame"], |_| { n += 1; Ok(()) })
                    .expect("a scanned chunk reads again");
                prop_assert!(n <= 120);
                let _ = replay(&path, &salvage());
            }
            Err(e) => prop_assert!(matches!(e, Error::NotMcap { .. }), "{e}"),
        }
    }
}
