//! A recording merged with channels outside radcam's topic contract (a logger's own topics,
//! `mcap merge`d in): an incident slice and a recovered file keep them like every other
//! channel, schema, encodings and metadata as they were, and the contract's part of a slice
//! is what it is without them.

use radcam_recorder::{McapSink, RecordRequest, record_scenario};
use radcam_replay::extract::{Window, extract};
use radcam_replay::recover::recover;
use radcam_replay::{McapFile, ReplayConfig, replay};
use radcam_scenarios::Scenario;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// (topic, log time ns, bytes) of every message of `path`, and each topic's channel.
type Messages = Vec<(String, u64, Vec<u8>)>;

fn messages(path: &Path) -> (Messages, BTreeMap<String, Arc<mcap::Channel<'static>>>) {
    let bytes = std::fs::read(path).expect("read");
    let (mut out, mut channels) = (Vec::new(), BTreeMap::new());
    for m in mcap::MessageStream::new(&bytes).expect("mcap") {
        let m = m.expect("message");
        channels.insert(m.channel.topic.clone(), Arc::clone(&m.channel));
        out.push((m.channel.topic.clone(), m.log_time, m.data.into_owned()));
    }
    (out, channels)
}

/// A foreign channel: `schema` (name, encoding, bytes) or schemaless.
fn channel(
    topic: &str,
    schema: Option<(&str, &str, &'static [u8])>,
    encoding: &str,
) -> mcap::Channel<'static> {
    mcap::Channel {
        id: 0,
        topic: topic.into(),
        schema: schema.map(|(name, encoding, data)| {
            Arc::new(mcap::Schema {
                id: 1,
                name: name.into(),
                encoding: encoding.into(),
                data: Cow::Borrowed(data),
            })
        }),
        message_encoding: encoding.into(),
        metadata: BTreeMap::from([("source".to_owned(), "can-logger".to_owned())]),
    }
}

/// A 4 s demo recording (`rec.mcap` in `dir`) and the same merged with a JSON channel at
/// 10 Hz and a schemaless one at 2 Hz (`merged.mcap`).
fn recordings(dir: &Path) -> (PathBuf, PathBuf) {
    let rec = dir.join("rec.mcap");
    record_scenario(
        &RecordRequest {
            scenario: Scenario::demo().expect("demo"),
            seed: 3,
            duration_s: 4.0,
            out: rec.clone(),
        },
        |_| {},
    )
    .expect("record");

    // merge in a JSON channel at 10 Hz and a schemaless one at 2 Hz
    let merged = dir.join("merged.mcap");
    let mut file = McapFile::open(&rec).expect("open");
    let metadata = file.metadata().expect("metadata");
    let topics: Vec<String> = file
        .summary()
        .channels
        .values()
        .map(|c| c.topic.clone())
        .collect();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let mut sink = McapSink::create(&merged).expect("create");
    for (name, entries) in &metadata {
        sink.metadata(name, entries.clone()).expect("metadata");
    }
    let speed = sink
        .add_foreign_channel(&channel(
            "/can/speed",
            Some(("can.Speed", "jsonschema", br#"{"type":"object"}"#)),
            "json",
        ))
        .expect("channel");
    let raw = sink
        .add_foreign_channel(&channel("/can/raw", None, "cbor"))
        .expect("channel");
    // from the recording's first message on, every 100 ms
    let mut next_foreign: Option<u64> = None;
    let mut k = 0u32;
    file.for_each_message(&topic_refs, |m| {
        let contract = sink.contract_topic(m.topic).expect("a radcam recording");
        let mut t = *next_foreign.get_or_insert(m.log_time_ns);
        while t <= m.log_time_ns {
            k += 1;
            sink.write_foreign(speed, t, format!(r#"{{"v":{k}}}"#).as_bytes())
                .expect("write");
            if k.is_multiple_of(5) {
                sink.write_foreign(raw, t, &k.to_le_bytes()).expect("write");
            }
            t += 100_000_000;
        }
        next_foreign = Some(t);
        sink.write_encoded(contract, m.log_time_ns as i64, m.data)
            .expect("write");
        Ok(())
    })
    .expect("read");
    sink.finish().expect("finish");

    (rec, merged)
}

#[test]
fn a_slice_keeps_channels_outside_the_contract_as_they_were() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rec, merged) = recordings(dir.path());
    let window = Window {
        start_s: 1.0,
        end_s: 2.5,
    };
    let (plain, with_foreign) = (dir.path().join("plain.mcap"), dir.path().join("slice.mcap"));
    extract(&rec, window, 10.0, &plain).expect("extract");
    let summary = extract(&merged, window, 10.0, &with_foreign).expect("extract");
    let (t0, t1) = (summary.start_ns, summary.end_ns);

    let (source, _) = messages(&merged);
    let (slice, channels) = messages(&with_foreign);
    for topic in ["/can/speed", "/can/raw"] {
        // every message in the window, and the last one before it (its last known state)
        let on = |ms: &Messages| -> Messages {
            ms.iter()
                .filter(|m| m.0 == topic)
                .cloned()
                .collect::<Vec<_>>()
        };
        let all = on(&source);
        let before = all.iter().rev().find(|m| m.1 < t0).cloned();
        let expected: Messages = before
            .into_iter()
            .chain(all.iter().filter(|m| (t0..=t1).contains(&m.1)).cloned())
            .collect();
        assert!(expected.len() >= 3, "{topic}: {}", expected.len());
        assert_eq!(on(&slice), expected, "{topic}");
        assert_eq!(summary.counts[topic], expected.len() as u64, "{topic}");
        let c = &channels[topic];
        assert_eq!(c.metadata["source"], "can-logger");
        assert_eq!(
            c.message_encoding,
            if topic == "/can/raw" { "cbor" } else { "json" }
        );
        match (&c.schema, topic) {
            (Some(s), "/can/speed") => {
                assert_eq!(
                    (s.name.as_str(), s.encoding.as_str()),
                    ("can.Speed", "jsonschema")
                );
                assert_eq!(&*s.data, br#"{"type":"object"}"#);
            }
            (None, "/can/raw") => {}
            (s, _) => panic!("{topic}: schema {s:?}"),
        }
    }
    // the contract's part of the slice is the slice of the recording without them
    let contract = |ms: Messages| -> Messages {
        ms.into_iter()
            .filter(|m| !m.0.starts_with("/can/"))
            .collect()
    };
    assert_eq!(contract(slice), messages(&plain).0);
    // and the slice replays
    replay(&with_foreign, &ReplayConfig::default()).expect("the slice replays");
}

#[test]
fn recover_keeps_channels_outside_the_contract_as_they_were() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_, merged) = recordings(dir.path());
    let sorted = |mut ms: Messages| {
        ms.sort();
        ms
    };
    let (source, source_channels) = messages(&merged);
    let foreign = |ms: &Messages| ms.iter().filter(|m| m.0.starts_with("/can/")).count();
    // an intact file: every message, the foreign ones with their channels as they were
    let fixed = dir.path().join("fixed.mcap");
    let summary = recover(&merged, &fixed).expect("recover");
    let (kept, channels) = messages(&fixed);
    assert_eq!(sorted(kept), sorted(source.clone()));
    assert_eq!(summary.foreign_messages, foreign(&source) as u64);
    for topic in ["/can/speed", "/can/raw"] {
        let (a, b) = (&channels[topic], &source_channels[topic]);
        assert_eq!(
            (
                &a.message_encoding,
                &a.metadata,
                a.schema.as_ref().map(|s| (&s.name, &s.encoding, &s.data))
            ),
            (
                &b.message_encoding,
                &b.metadata,
                b.schema.as_ref().map(|s| (&s.name, &s.encoding, &s.data))
            ),
            "{topic}"
        );
    }
    // a killed recorder's file: what its intact chunks hold, foreign messages among it
    let bytes = std::fs::read(&merged).expect("read");
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let summary = recover(&cut, &fixed).expect("recover");
    assert!(!summary.gaps.is_empty());
    let (kept, _) = messages(&fixed);
    assert!(
        foreign(&kept) > 10,
        "{} foreign messages kept",
        foreign(&kept)
    );
    assert!(kept.len() < source.len());
    let source = sorted(source);
    assert!(kept.iter().all(|m| source.binary_search(m).is_ok()));
}
