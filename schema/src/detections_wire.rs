//! A direct decoder of `/camera/detections` into the fusion view, beside prost's.
//!
//! A replay decodes every camera frame's detections (an hour of the demo rig holds about
//! 1.1 M of them) into [`FusionDetections`], the message without the class names. prost
//! reads each detection's seven fields through the `Buf` trait, with its key, wire-type and
//! length checks once per field; this decoder reads the same wire format in one pass over the
//! bytes, for messages of the shape the recorder writes: every field one the contract
//! defines, with the contract's wire type, and well formed. A class name is skipped as the
//! view's prost decoding skips it, by its length, whatever its bytes. For anything else it
//! declines, and the caller decodes with prost, which skips what it may and reports what is
//! broken: prost stays the one authority on what a message means, and a test holds this
//! decoder to prost's reading of the view on arbitrary and damaged bytes.
//!
//! A field added to `CameraDetections` or `Detection` in the `.proto` makes this decoder
//! decline every message that carries it (correct, only slower) and breaks the build of the
//! view's test that lists every field, as a reminder to look here too.

use crate::fusion_views::{FusionDetection, FusionDetections};
use crate::wire::Wire;

/// Decodes `bytes` into `msg`, reset first (its list keeps its capacity), when the bytes take
/// the contract's shape; `None` when they do not, with `msg` holding part of the message, for
/// prost to decode instead.
pub(crate) fn merge_fusion_detections(bytes: &[u8], msg: &mut FusionDetections) -> Option<()> {
    msg.frame_id = 0;
    msg.device_ns = 0;
    msg.host_ns = 0;
    msg.detections.clear();
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        // keys of fields 1..=15 are one byte: field number << 3 | wire type
        match r.byte()? {
            0x08 => msg.frame_id = r.varint()?,
            0x10 => msg.device_ns = r.varint()? as i64,
            0x18 => msg.host_ns = r.varint()? as i64,
            0x22 => {
                msg.detections.push(detection(r.delimited()?)?);
            }
            _ => return None,
        }
    }
    Some(())
}

/// One detection's fields.
fn detection(bytes: &[u8]) -> Option<FusionDetection> {
    let mut d = FusionDetection::default();
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        let key = r.byte()?;
        let double = match key {
            0x09 => &mut d.x_px,
            0x11 => &mut d.y_px,
            0x19 => &mut d.width_px,
            0x21 => &mut d.height_px,
            0x31 => &mut d.score,
            0x2a => {
                // the class name, which the view does not declare: skipped by its length
                r.delimited()?;
                continue;
            }
            0x38 => {
                d.object_id = Some(r.varint()?);
                continue;
            }
            _ => return None,
        };
        *double = f64::from_le_bytes(r.fixed()?);
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion_views::tests::detection;
    use crate::proto;
    use crate::wire::checks::{damage, declined_or_read_as_prost, same};
    use proptest::prelude::*;
    use prost::Message;

    /// prost's own decoding of the view.
    fn by_prost(bytes: &[u8]) -> Result<FusionDetections, prost::DecodeError> {
        FusionDetections::decode(bytes)
    }

    fn detections() -> impl Strategy<Value = proto::CameraDetections> {
        (
            any::<u64>(),
            any::<i64>(),
            any::<i64>(),
            prop::collection::vec(detection(), 0..16),
        )
            .prop_map(|(frame_id, device_ns, host_ns, detections)| {
                proto::CameraDetections {
                    frame_id,
                    device_ns,
                    host_ns,
                    detections,
                }
            })
    }

    proptest! {
        /// Everything the recorder can write takes the direct path, and reads as prost reads
        /// the view, whatever the view held before.
        #[test]
        fn written_detections_decode_directly_as_prost_decodes_the_view(
            before in detections(),
            d in detections(),
        ) {
            let mut direct = by_prost(&before.encode_to_vec()).expect("prost decodes it");
            let bytes = d.encode_to_vec();
            prop_assert!(merge_fusion_detections(&bytes, &mut direct).is_some());
            prop_assert!(same(&direct, &by_prost(&bytes).expect("prost decodes it")));
        }

        /// On damaged bytes the direct path either declines or agrees with prost.
        #[test]
        fn damaged_detections_are_declined_or_read_as_prost_reads_them(
            m in detections(),
            d in damage(),
        ) {
            declined_or_read_as_prost(&d.apply(m.encode_to_vec()), merge_fusion_detections)?;
        }

        /// Arbitrary bytes, the same promise.
        #[test]
        fn arbitrary_bytes_are_declined_or_read_as_prost_reads_them(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            declined_or_read_as_prost(&bytes, merge_fusion_detections)?;
        }
    }

    #[test]
    fn a_class_name_is_skipped_whatever_its_bytes_and_unknown_fields_are_declined() {
        let one = proto::CameraDetections {
            frame_id: 3,
            detections: vec![proto::Detection {
                x_px: 1.0,
                class_name: "car".into(),
                object_id: Some(0),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut bytes = one.encode_to_vec();
        let at = bytes
            .windows(3)
            .position(|w| w == b"car")
            .expect("the name");
        bytes[at] = 0xff;
        let mut direct = FusionDetections::default();
        assert!(merge_fusion_detections(&bytes, &mut direct).is_some());
        assert_eq!((direct.frame_id, direct.detections[0].x_px), (3, 1.0));
        assert_eq!(
            direct.detections[0].object_id,
            Some(0),
            "an id of 0 is still there"
        );
        assert!(same(
            &direct,
            &by_prost(&bytes).expect("the view skips the name")
        ));
        // an unknown field 20 (varint): prost skips it, the direct path declines
        bytes.extend([0xa0, 0x01, 0x05]);
        assert!(merge_fusion_detections(&bytes, &mut direct).is_none());
        assert_eq!(by_prost(&bytes).expect("skipped").frame_id, 3);
    }
}
