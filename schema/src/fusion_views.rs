//! `/camera/detections` as the replay's fusion reads it: the same wire format, without the
//! one field fusion never uses; decoded by prost, or in its usual shape directly
//! (`detections_wire`).
//!
//! A detection's `class_name` is a string, so prost's own `CameraDetections` allocates one
//! for every detection (an hour of the demo rig holds about 1.1 M of them) and frees it when
//! the reused message is cleared: about 2 % of a replay thread's instructions, for a name the
//! association and tracking never look at. [`FusionDetections`] declares every other field
//! with the contract's tag and type; prost skips field 5 as it skips any field a type does
//! not declare (after checking its length), so the rest decode exactly as the full message
//! does. A test holds the view to the full message on arbitrary messages.
//!
//! A field added to `Detection` or `CameraDetections` in the `.proto` breaks the build of
//! that test, which lists every field, as a reminder to add it here if fusion needs it.

use crate::proto;
use crate::topics::{CAMERA_DETECTIONS, TopicMessage};

/// One detection as fusion reads it: every field of [`proto::Detection`] but `class_name`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FusionDetection {
    /// Box left edge, px.
    #[prost(double, tag = "1")]
    pub x_px: f64,
    /// Box top edge, px.
    #[prost(double, tag = "2")]
    pub y_px: f64,
    /// Box width, px.
    #[prost(double, tag = "3")]
    pub width_px: f64,
    /// Box height, px.
    #[prost(double, tag = "4")]
    pub height_px: f64,
    /// Detector confidence in [0, 1].
    #[prost(double, tag = "6")]
    pub score: f64,
    /// The camera-side tracker's object id, when it has one.
    #[prost(uint64, optional, tag = "7")]
    pub object_id: Option<u64>,
}

/// `/camera/detections` as fusion reads it: [`proto::CameraDetections`] with
/// [`FusionDetection`]s. Only for reading: a message written from it would lack the class
/// names.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FusionDetections {
    /// The camera frame these detections belong to.
    #[prost(uint64, tag = "1")]
    pub frame_id: u64,
    /// Device timestamp of that frame, ns of the device clock.
    #[prost(int64, tag = "2")]
    pub device_ns: i64,
    /// Host `CLOCK_MONOTONIC_RAW` when the detections were produced, ns.
    #[prost(int64, tag = "3")]
    pub host_ns: i64,
    /// The frame's detections.
    #[prost(message, repeated, tag = "4")]
    pub detections: Vec<FusionDetection>,
}

impl TopicMessage for FusionDetections {
    const TOPIC: &'static str = CAMERA_DETECTIONS;
    const SCHEMA_NAME: &'static str = <proto::CameraDetections as TopicMessage>::SCHEMA_NAME;

    fn merge_direct(&mut self, bytes: &[u8]) -> Option<()> {
        crate::detections_wire::merge_fusion_detections(bytes, self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::topics::decode_into;
    use crate::wire::checks::same;
    use proptest::prelude::*;
    use prost::Message;

    /// Any detection, the full message's (class name included).
    pub(crate) fn detection() -> impl Strategy<Value = proto::Detection> {
        let f = || prop_oneof![any::<f64>(), Just(0.0), -1e4f64..1e4];
        (
            (f(), f(), f(), f(), f()),
            ".{0,12}",
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|((x, y, w, h, s), class_name, object_id)| {
                // every field by name, no `..Default::default()`: a field added to the
                // .proto stops this compiling until the view above is looked at
                proto::Detection {
                    x_px: x,
                    y_px: y,
                    width_px: w,
                    height_px: h,
                    class_name,
                    score: s,
                    object_id,
                }
            })
    }

    /// The full message as the view should read it.
    fn viewed(full: &proto::CameraDetections) -> FusionDetections {
        let proto::CameraDetections {
            frame_id,
            device_ns,
            host_ns,
            detections,
        } = full;
        FusionDetections {
            frame_id: *frame_id,
            device_ns: *device_ns,
            host_ns: *host_ns,
            detections: detections
                .iter()
                .map(|d| FusionDetection {
                    x_px: d.x_px,
                    y_px: d.y_px,
                    width_px: d.width_px,
                    height_px: d.height_px,
                    score: d.score,
                    object_id: d.object_id,
                })
                .collect(),
        }
    }

    proptest! {
        /// The view reads every field it declares as the full message does, into a reused
        /// view that keeps nothing of the message before.
        #[test]
        fn the_view_reads_what_the_full_message_reads(
            frame_id in any::<u64>(),
            device_ns in any::<i64>(),
            host_ns in any::<i64>(),
            detections in proptest::collection::vec(detection(), 0..12),
            before in proptest::collection::vec(detection(), 0..12),
        ) {
            let full = proto::CameraDetections { frame_id, device_ns, host_ns, detections };
            let earlier = proto::CameraDetections { frame_id: 1, detections: before, ..Default::default() };
            let mut view = FusionDetections::default();
            decode_into(&earlier.encode_to_vec(), &mut view).expect("earlier decodes");
            decode_into(&full.encode_to_vec(), &mut view).expect("decodes");
            prop_assert!(same(&view, &viewed(&full)), "{view:?}");
        }

        /// On damaged encodings (a message with a few bytes overwritten: most still decode,
        /// some do not) the view reads whatever the full message reads, and reads it the same.
        /// (It may read more: whatever is wrong with a field 5 it skips.)
        #[test]
        fn the_view_agrees_with_the_full_message_on_damaged_bytes(
            detections in proptest::collection::vec(detection(), 0..6),
            damage in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut bytes = proto::CameraDetections { frame_id: 5, detections, ..Default::default() }
                .encode_to_vec();
            let len = bytes.len();
            for (at, b) in damage {
                bytes[at.index(len)] = b;
            }
            let full = proto::CameraDetections::decode(bytes.as_slice());
            let view = FusionDetections::decode(bytes.as_slice());
            match (&full, &view) {
                (Ok(f), Ok(v)) => prop_assert!(same(v, &viewed(f))),
                (Ok(_), Err(e)) => prop_assert!(false, "the view refused what prost reads: {e}"),
                (Err(_), _) => {}
            }
        }
    }

    #[test]
    fn a_class_name_that_is_not_utf8_is_skipped() {
        let mut bytes = proto::CameraDetections {
            frame_id: 3,
            detections: vec![proto::Detection {
                x_px: 1.0,
                class_name: "car".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec();
        let at = bytes
            .windows(3)
            .position(|w| w == b"car")
            .expect("the name is in the bytes");
        bytes[at] = 0xff;
        assert!(proto::CameraDetections::decode(bytes.as_slice()).is_err());
        let view = FusionDetections::decode(bytes.as_slice()).expect("the view skips the name");
        assert_eq!((view.frame_id, view.detections[0].x_px), (3, 1.0));
    }
}
