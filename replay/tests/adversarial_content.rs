//! Well-formed recordings with hostile contents: every message still a valid MCAP record of
//! its channel, but its fields set to what a broken sensor, driver or clock could send
//! (zero, negative or extreme times and ids, NaN and infinite measurements, thousands of
//! points or boxes, no points at all, messages out of order, dropped or repeated, payloads
//! cut short). `damaged_recordings.rs` breaks the file's bytes, which its CRCs catch; this
//! gets past them to the decoders and the fusion core. A replay gives a report or a named
//! error, never a panic (the tests build with overflow checks on, so an overflowing time
//! sum is a panic here too).

use proptest::prelude::*;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use radcam_recorder::{McapSink, RecordRequest, record_scenario};
use radcam_replay::diagnose::diagnose;
use radcam_replay::extract::{Window, extract};
use radcam_replay::faults::FaultPlan;
use radcam_replay::inspect::inspect;
use radcam_replay::runner::TOPICS;
use radcam_replay::{McapFile, ReplayConfig, replay};
use radcam_scenarios::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One message of the corpus: topic, log time ns, protobuf payload.
type Message = (&'static str, i64, Vec<u8>);

/// A short demo recording's metadata records and its messages on the topics a replay reads,
/// and its `/audit` events.
struct Corpus {
    dir: tempfile::TempDir,
    metadata: BTreeMap<String, BTreeMap<String, String>>,
    messages: Vec<Message>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = dir.path().join("corpus.mcap");
        record_scenario(
            &RecordRequest {
                scenario: Scenario::demo().expect("demo"),
                seed: 5,
                duration_s: 3.0,
                out: rec.clone(),
            },
            |_| {},
        )
        .expect("record");
        let mut file = McapFile::open(&rec).expect("open");
        let metadata = file.metadata().expect("metadata");
        let mut messages = Vec::new();
        // the replay's topics, and the audit trail the playbook reads
        let topics: Vec<&'static str> = TOPICS
            .into_iter()
            .chain([radcam_schema::topics::AUDIT])
            .collect();
        file.for_each_message(&topics, |m| {
            let topic = topics
                .iter()
                .find(|t| **t == m.topic)
                .copied()
                .expect("a wanted topic");
            messages.push((topic, m.log_time_ns as i64, m.data.to_vec()));
            Ok(())
        })
        .expect("messages");
        assert!(messages.len() > 300, "{} messages", messages.len());
        Corpus {
            dir,
            metadata,
            messages,
        }
    })
}

/// One protobuf field as read off the wire: number, wire type and its encoded value (the
/// varint, the 8 or 4 bytes, or the length-delimited bytes without their length).
#[derive(Debug, Clone)]
struct Field {
    number: u32,
    wire: WireType,
    value: Vec<u8>,
}

/// The top-level fields of a protobuf message, or `None` if it is not one.
fn fields(mut buf: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf).ok()?;
        let value = match wire {
            WireType::Varint => {
                let v = decode_varint(&mut buf).ok()?;
                let mut e = Vec::new();
                encode_varint(v, &mut e);
                e
            }
            WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                let n = if wire == WireType::SixtyFourBit { 8 } else { 4 };
                let (v, rest) = buf.split_at_checked(n)?;
                buf = rest;
                v.to_vec()
            }
            WireType::LengthDelimited => {
                let n = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
                let (v, rest) = buf.split_at_checked(n)?;
                buf = rest;
                v.to_vec()
            }
            _ => return None,
        };
        out.push(Field {
            number,
            wire,
            value,
        });
    }
    Some(out)
}

/// `fields` encoded again.
fn encode(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        encode_key(f.number, f.wire, &mut out);
        if f.wire == WireType::LengthDelimited {
            encode_varint(f.value.len() as u64, &mut out);
        }
        out.extend_from_slice(&f.value);
    }
    out
}

/// Integers a broken sender could put in any varint field (times, ids, counts, enums): as
/// int64 they are 0, 1, -1, the extremes, the first times out of range on either side
/// (±2^62 ns, about 146 years: `TIME_LIMIT_NS`), the last ones in range, and 2^61.
const VARINTS: [u64; 11] = [
    0,
    1,
    u64::MAX,
    i64::MAX as u64,
    i64::MIN as u64,
    1 << 62,
    (1 << 62) - 1,
    (-(1i64 << 62)) as u64,
    (-(1i64 << 62) + 1) as u64,
    1 << 61,
    u32::MAX as u64,
];

/// Doubles for any 64-bit field (measurements, rates, and fixed-width times as bits).
const DOUBLES: [f64; 8] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -1.0,
    1e300,
    -1e300,
    f64::MIN_POSITIVE,
];

/// Floats for any 32-bit field (the radar's point coordinates, Doppler and SNR).
const FLOATS: [f32; 7] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -1.0,
    3e38,
    -3e38,
];

/// What is done to one message.
#[derive(Debug, Clone)]
enum Hostile {
    /// The `field`-th field (of those there are, cyclically) set to the `value`-th value of
    /// its wire type's list; a length-delimited field (a point, a box, a name) has the
    /// change made to one of its own fields instead (`nested`), when it is a message.
    Value {
        field: usize,
        value: usize,
        nested: usize,
    },
    /// The `field`-th length-delimited field (a point or a box) repeated `times` more.
    Repeat { field: usize, times: usize },
    /// Every repeated or length-delimited field removed (no points, no boxes).
    Empty,
    /// The message left out.
    Drop,
    /// The message written twice.
    Twice,
    /// The message logged at another time: at zero, far before, far after, at the first
    /// impossible time (2^62 ns) or at `i64::MAX`.
    LogTime(usize),
    /// The payload cut to a fraction (a protobuf decoding error, most often).
    Cut(u8),
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        6 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(field, value, nested)| Hostile::Value { field, value, nested }),
        2 => (any::<usize>(), 1usize..400).prop_map(|(field, times)| Hostile::Repeat { field, times }),
        1 => Just(Hostile::Empty),
        1 => Just(Hostile::Drop),
        1 => Just(Hostile::Twice),
        1 => (0usize..5).prop_map(Hostile::LogTime),
        1 => any::<u8>().prop_map(Hostile::Cut),
    ]
}

/// `fields`' `field`-th field set to a hostile value (see [`Hostile::Value`]).
fn set_value(fields: &mut [Field], field: usize, value: usize, nested: usize, depth: u32) {
    if fields.is_empty() {
        return;
    }
    let n = fields.len();
    let f = &mut fields[field % n];
    f.value = match f.wire {
        WireType::Varint => {
            let mut e = Vec::new();
            encode_varint(VARINTS[value % VARINTS.len()], &mut e);
            e
        }
        WireType::SixtyFourBit => DOUBLES[value % DOUBLES.len()].to_le_bytes().to_vec(),
        WireType::ThirtyTwoBit => FLOATS[value % FLOATS.len()].to_le_bytes().to_vec(),
        WireType::LengthDelimited => match fields_of_message(&f.value) {
            Some(mut inner) if depth == 0 && !inner.is_empty() => {
                set_value(&mut inner, nested, value, 0, depth + 1);
                encode(&inner)
            }
            _ => return,
        },
        _ => return,
    };
}

/// The fields of `bytes` when it reads as a message with at least one field.
fn fields_of_message(bytes: &[u8]) -> Option<Vec<Field>> {
    fields(bytes).filter(|f| !f.is_empty())
}

/// The corpus with `changes` made (message index, what): the messages to write.
fn hostile_messages(changes: &[(usize, Hostile)]) -> Vec<Message> {
    let messages = &corpus().messages;
    let mut out = Vec::with_capacity(messages.len() + changes.len());
    let by_index: BTreeMap<usize, &Hostile> = changes
        .iter()
        .map(|(i, h)| (i % messages.len(), h))
        .collect();
    for (i, (topic, t, data)) in messages.iter().enumerate() {
        let Some(h) = by_index.get(&i) else {
            out.push((*topic, *t, data.clone()));
            continue;
        };
        let mut fs = fields(data).expect("the corpus is protobuf");
        match h {
            Hostile::Value {
                field,
                value,
                nested,
            } => {
                set_value(&mut fs, *field, *value, *nested, 0);
                out.push((*topic, *t, encode(&fs)));
            }
            Hostile::Repeat { field, times } => {
                let delimited: Vec<usize> = (0..fs.len())
                    .filter(|&k| fs[k].wire == WireType::LengthDelimited)
                    .collect();
                if !delimited.is_empty() {
                    let f = fs[delimited[field % delimited.len()]].clone();
                    fs.extend(std::iter::repeat_n(f, *times));
                }
                out.push((*topic, *t, encode(&fs)));
            }
            Hostile::Empty => {
                fs.retain(|f| f.wire != WireType::LengthDelimited);
                out.push((*topic, *t, encode(&fs)));
            }
            Hostile::Drop => {}
            Hostile::Twice => {
                out.push((*topic, *t, data.clone()));
                out.push((*topic, *t, data.clone()));
            }
            Hostile::LogTime(k) => {
                let t = [0, t / 2, t.saturating_mul(2), 1 << 62, i64::MAX][*k];
                out.push((*topic, t, data.clone()));
            }
            Hostile::Cut(fraction) => {
                let keep = data.len() * usize::from(*fraction) / 256;
                out.push((*topic, *t, data[..keep].to_vec()));
            }
        }
    }
    out
}

/// Writes `messages` with the corpus's metadata as a recording.
fn write_recording(messages: &[Message]) -> PathBuf {
    let c = corpus();
    let path = c
        .dir
        .path()
        .join(format!("hostile-{:?}.mcap", std::thread::current().id()));
    let mut sink = McapSink::create(&path).expect("create");
    for (name, entries) in &c.metadata {
        sink.metadata(name, entries.clone()).expect("metadata");
    }
    for (topic, t, data) in messages {
        sink.write_encoded(topic, *t, data).expect("write");
    }
    sink.finish().expect("finish");
    path
}

/// Every kind of injected fault at once, inside the corpus's 3 s: the hostile times go
/// through the injection's arithmetic too.
fn faulted() -> ReplayConfig {
    let plan = r#"
[camera]
offset_ms = 4.0
drift_ppm = 200.0
jitter = { distribution = "pareto", scale_us = 300.0, alpha = 1.5 }
temperature = { ppm_per_c = 0.5, reference_c = 25.0 }
steps = [{ at_s = 1.0, step_ms = 5.0 }]
dropouts = [{ start_s = 1.5, duration_s = 0.2 }]
drop_bursts = { probability = 0.05, length = 3 }
latency_spikes = { probability = 0.05, delay_ms = 120.0, length = 3 }
[radar]
offset_ms = -3.0
jitter = { distribution = "student_t", scale_us = 500.0, dof = 3.0 }
latency_spikes = { probability = 0.05, delay_ms = 80.0, length = 2 }
[extrinsic]
yaw_deg = 0.5
[[ptp_loss]]
start_s = 0.5
duration_s = 1.0
"#;
    ReplayConfig {
        faults: FaultPlan::parse(plan, Path::new("hostile-faults.toml")).expect("plan"),
        seed: 11,
        ..ReplayConfig::default()
    }
}

#[test]
fn the_untouched_corpus_replays() {
    let path = write_recording(&hostile_messages(&[]));
    let out = replay(&path, &ReplayConfig::default()).expect("replay");
    assert!(
        out.camera_frames > 60,
        "{} camera frames",
        out.camera_frames
    );
    assert!(!out.sync.is_empty());
    assert_eq!(out.rejected, Default::default());
    let faulted = replay(&path, &faulted()).expect("faulted replay");
    assert!(faulted.dropped.camera_frames > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn hostile_contents_give_a_report_or_a_named_error_never_a_panic(
        changes in prop::collection::vec((any::<usize>(), hostile()), 1..12),
    ) {
        let path = write_recording(&hostile_messages(&changes));
        for cfg in [ReplayConfig::default(), faulted()] {
            if let Err(e) = replay(&path, &cfg) {
                prop_assert!(e.to_string().contains(path.to_str().expect("utf8")), "{e}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The other readers of a recording: `inspect`, `diagnose` (whole and a window, whose
    /// time-offset search replays the recording many times) and `extract` with a replay of
    /// its slice.
    #[test]
    fn hostile_contents_never_panic_inspect_diagnose_or_extract(
        changes in prop::collection::vec((any::<usize>(), hostile()), 1..12),
        start_s in 0.0f64..2.5,
        len_s in 0.1f64..1.5,
    ) {
        let path = write_recording(&hostile_messages(&changes));
        let named = |e: &radcam_replay::Error| e.to_string().contains(path.to_str().expect("utf8"));
        if let Err(e) = inspect(&path) {
            prop_assert!(named(&e), "{e}");
        }
        let window = Window { start_s, end_s: start_s + len_s };
        for w in [None, Some(window)] {
            if let Err(e) = diagnose(&path, w) {
                prop_assert!(named(&e), "{e}");
            }
        }
        let slice = path.with_extension("slice.mcap");
        match extract(&path, window, 1.0, &slice) {
            Ok(_) => {
                if let Err(e) = replay(&slice, &ReplayConfig::default()) {
                    prop_assert!(e.to_string().contains(slice.to_str().expect("utf8")), "{e}");
                }
            }
            Err(e) => prop_assert!(named(&e), "{e}"),
        }
    }
}

#[test]
fn an_undecodable_message_in_a_diagnosed_window_is_named_in_the_recording() {
    // a radar frame in the middle of the corpus, cut in half: it no longer decodes
    let messages = &corpus().messages;
    let (i, (_, t, _)) = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.0 == radcam_schema::topics::RADAR_FRAME)
        .nth(30)
        .expect("radar frames");
    let path = write_recording(&hostile_messages(&[(i, Hostile::Cut(128))]));
    let first = messages.iter().map(|m| m.1).min().expect("messages");
    let at_s = (t - first) as f64 / 1e9;
    let window = Window {
        start_s: at_s - 0.2,
        end_s: at_s + 0.2,
    };
    // the window is analysed in a temporary slice; the error is told of the recording
    match diagnose(&path, Some(window)) {
        Err(radcam_replay::Error::Decode {
            path: named,
            log_time_ns,
            ..
        }) => {
            assert_eq!(named, path);
            assert_eq!(log_time_ns, *t as u64);
        }
        other => panic!("{other:?}"),
    }
}
