//! A direct decoder of `/truth/objects` messages, beside prost's.
//!
//! A simulated recording carries its ground truth: an hour of the demo rig holds about
//! 1.1 M truth objects, each with a class name. prost decodes each of their ten fields
//! through the `Buf` trait and allocates a fresh `String` for every class name (the reused
//! message is cleared before each decode), which a replay then frees. This decoder reads the
//! same wire format in one pass over the bytes into the message it is given, overwriting the
//! objects already in its list, so a class name is copied into the `String` the object held
//! for the frame before: once its lists have grown, decoding a frame allocates nothing.
//!
//! It reads messages of the shape the recorder writes: every field one the contract defines,
//! with the contract's wire type, well formed, class names valid UTF-8. For anything else it
//! declines, and the caller decodes with prost, which skips what it may and reports what is
//! broken: prost stays the one authority on what a message means, and a test holds this
//! decoder to prost's result on arbitrary and damaged bytes.
//!
//! A field added to `TruthObjects` or `TruthObject` in the `.proto` makes this decoder
//! decline every message that carries it (correct, only slower) and breaks the build of the
//! test that lists every field, as a reminder to add it here.

use crate::proto::{TruthObject, TruthObjects};
use crate::wire::Wire;

/// Decodes `bytes` into `msg`, every field reset first (the objects it held are overwritten
/// in place, keeping their class names' capacity), when the bytes take the contract's shape;
/// `None` when they do not, with `msg` holding part of the message, for prost to decode
/// instead.
pub(crate) fn merge_truth_objects(bytes: &[u8], msg: &mut TruthObjects) -> Option<()> {
    msg.host_ns = 0;
    msg.frame_id = 0;
    let mut used = 0;
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        // keys of fields 1..=15 are one byte: field number << 3 | wire type
        match r.byte()? {
            0x08 => msg.host_ns = r.varint()? as i64,
            0x10 => msg.frame_id = r.varint()?,
            0x1a => {
                let body = r.delimited()?;
                if used == msg.objects.len() {
                    msg.objects.push(TruthObject::default());
                }
                truth_object(body, &mut msg.objects[used])?;
                used += 1;
            }
            _ => return None,
        }
    }
    msg.objects.truncate(used);
    Some(())
}

/// Reads one object's fields into `o`, reset first but for its class name's capacity.
fn truth_object(bytes: &[u8], o: &mut TruthObject) -> Option<()> {
    let mut class_name = std::mem::take(&mut o.class_name);
    class_name.clear();
    *o = TruthObject {
        class_name,
        ..TruthObject::default()
    };
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        let key = r.byte()?;
        match key {
            0x08 => o.object_id = r.varint()?,
            0x12 => {
                let name = std::str::from_utf8(r.delimited()?).ok()?;
                // a field given twice holds its last value, as prost reads it
                o.class_name.clear();
                o.class_name.push_str(name);
            }
            _ => {
                // fields 3..=10: doubles, `field << 3 | 1`
                let field = match key {
                    0x19 => &mut o.x_m,
                    0x21 => &mut o.y_m,
                    0x29 => &mut o.z_m,
                    0x31 => &mut o.vx_mps,
                    0x39 => &mut o.vy_mps,
                    0x41 => &mut o.length_m,
                    0x49 => &mut o.width_m,
                    0x51 => &mut o.height_m,
                    _ => return None,
                };
                *field = f64::from_le_bytes(r.fixed()?);
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checks::{damage, declined_or_read_as_prost, same};
    use proptest::prelude::*;
    use prost::Message;

    /// prost's own decoding.
    fn by_prost(bytes: &[u8]) -> Result<TruthObjects, prost::DecodeError> {
        TruthObjects::decode(bytes)
    }

    fn object() -> impl Strategy<Value = TruthObject> {
        let f = || prop_oneof![any::<f64>(), Just(0.0), -1e3f64..1e3];
        (
            (any::<u64>(), ".{0,12}"),
            (f(), f(), f(), f()),
            (f(), f(), f(), f()),
        )
            .prop_map(|((id, class_name), (x, y, z, vx), (vy, l, w, h))| {
                // every field by name, no `..Default::default()`: a field added to the
                // .proto stops this compiling until the decoder above reads it too
                TruthObject {
                    object_id: id,
                    class_name,
                    x_m: x,
                    y_m: y,
                    z_m: z,
                    vx_mps: vx,
                    vy_mps: vy,
                    length_m: l,
                    width_m: w,
                    height_m: h,
                }
            })
    }

    fn objects() -> impl Strategy<Value = TruthObjects> {
        (
            any::<i64>(),
            any::<u64>(),
            prop::collection::vec(object(), 0..24),
        )
            .prop_map(|(host_ns, frame_id, objects)| TruthObjects {
                host_ns,
                frame_id,
                objects,
            })
    }

    proptest! {
        /// Everything the recorder can write takes the direct path, and reads as prost reads
        /// it, whatever the message decoded into held before (more objects, fewer, longer
        /// names).
        #[test]
        fn written_truth_decodes_directly_as_prost_decodes_it(
            before in objects(),
            t in objects(),
        ) {
            let bytes = t.encode_to_vec();
            let mut direct = before;
            prop_assert!(merge_truth_objects(&bytes, &mut direct).is_some());
            prop_assert!(same(&direct, &t));
            prop_assert!(same(&direct, &by_prost(&bytes).expect("prost decodes it")));
        }

        /// On damaged bytes the direct path either declines or agrees with prost.
        #[test]
        fn damaged_truth_is_declined_or_read_as_prost_reads_it(t in objects(), d in damage()) {
            declined_or_read_as_prost(&d.apply(t.encode_to_vec()), merge_truth_objects)?;
        }

        /// Arbitrary bytes, the same promise.
        #[test]
        fn arbitrary_bytes_are_declined_or_read_as_prost_reads_them(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            declined_or_read_as_prost(&bytes, merge_truth_objects)?;
        }
    }

    #[test]
    fn what_it_declines_and_what_prost_then_makes_of_it() {
        let car = TruthObject {
            object_id: 4,
            class_name: "car".into(),
            x_m: 1.5,
            ..TruthObject::default()
        };
        let t = TruthObjects {
            host_ns: -7,
            frame_id: 9,
            objects: vec![car.clone()],
        };
        let mut direct = TruthObjects::default();
        // a class name that is not UTF-8: prost rejects it, the direct path declines
        let mut bytes = t.encode_to_vec();
        let at = bytes
            .windows(3)
            .position(|w| w == b"car")
            .expect("the name");
        bytes[at] = 0xff;
        assert!(merge_truth_objects(&bytes, &mut direct).is_none());
        assert!(by_prost(&bytes).is_err());
        // an unknown field 20 (varint) in the object: prost skips it, the direct path declines
        let mut obj = car.encode_to_vec();
        obj.extend([0xa0, 0x01, 0x05]);
        let mut bytes = vec![0x1a, obj.len() as u8];
        bytes.extend(obj);
        assert!(merge_truth_objects(&bytes, &mut direct).is_none());
        assert_eq!(
            by_prost(&bytes).expect("skipped").objects,
            std::slice::from_ref(&car)
        );
        // a class name given twice: both read the last
        let mut obj = car.encode_to_vec();
        obj.extend([0x12, 0x03]);
        obj.extend(b"bus");
        let mut bytes = vec![0x1a, obj.len() as u8];
        bytes.extend(obj);
        assert!(merge_truth_objects(&bytes, &mut direct).is_some());
        assert_eq!(direct.objects[0].class_name, "bus");
        assert_eq!(
            by_prost(&bytes).expect("valid").objects[0].class_name,
            "bus"
        );
    }

    #[test]
    fn a_decoded_frame_reuses_the_names_of_the_one_before() {
        let t = |names: &[&str]| TruthObjects {
            host_ns: 1,
            frame_id: 2,
            objects: names
                .iter()
                .map(|n| TruthObject {
                    class_name: (*n).into(),
                    ..TruthObject::default()
                })
                .collect(),
        };
        let mut msg = TruthObjects::default();
        let first = t(&["pedestrian", "truck"]).encode_to_vec();
        assert!(merge_truth_objects(&first, &mut msg).is_some());
        let buffers: Vec<*const u8> = msg.objects.iter().map(|o| o.class_name.as_ptr()).collect();
        let second = t(&["car", "bus"]).encode_to_vec();
        assert!(merge_truth_objects(&second, &mut msg).is_some());
        assert_eq!(msg, t(&["car", "bus"]));
        let again: Vec<*const u8> = msg.objects.iter().map(|o| o.class_name.as_ptr()).collect();
        assert_eq!(
            again, buffers,
            "each name was copied into the String it replaced"
        );
    }
}
