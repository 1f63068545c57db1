//! Foxglove well-known-schema topics, so a recording opens in Foxglove with an image panel and
//! a 3D panel. They duplicate, for viewing, what the radcam topics carry for analysis.

use crate::{ChannelSpec, Error, Result};
use foxglove::Encode;
pub use foxglove::messages as foxglove_messages;
pub use foxglove::messages::{
    CompressedImage, ImageAnnotations, PackedElementField, PointCloud, RawImage, Timestamp,
    packed_element_field,
};

/// Topic of [`RawImage`]: a decimated camera preview, or raw camera frames.
pub const CAMERA_IMAGE: &str = "/camera/image";
/// Topic of [`CompressedImage`]: JPEG camera frames (`image_policy = "jpeg"`).
pub const CAMERA_IMAGE_COMPRESSED: &str = "/camera/image/compressed";
/// Bulky topics the writer keeps in chunks of their own, so that a reader of the timing topics
/// (replay) never reads or decompresses them.
pub const BULK_TOPICS: &[&str] = &[CAMERA_IMAGE, CAMERA_IMAGE_COMPRESSED];

/// Topic of [`ImageAnnotations`]: detection boxes drawn over `/camera/image`.
pub const CAMERA_ANNOTATIONS: &str = "/camera/annotations";
/// Topic of [`PointCloud`]: radar points in the `radar` frame.
pub const RADAR_POINTS: &str = "/radar/points";
/// Topics only a viewer reads, which duplicate the radcam topics: the writer gathers them
/// into chunks of their own (a batch at a time), so that a replay, reading through the
/// index, never decompresses them.
pub const VIEW_ONLY_TOPICS: &[&str] = &[RADAR_POINTS, CAMERA_ANNOTATIONS];

fn spec<T: Encode>(topic: &'static str) -> Result<ChannelSpec> {
    let schema = T::get_schema().ok_or_else(|| Error::Foxglove {
        topic,
        detail: "no schema".into(),
    })?;
    Ok(ChannelSpec {
        topic,
        schema_name: schema.name,
        schema_encoding: "protobuf",
        schema_data: schema.data.into_owned(),
        message_encoding: "protobuf",
    })
}

/// Channel registrations of the Foxglove topics.
pub fn foxglove_channels() -> Result<Vec<ChannelSpec>> {
    Ok(vec![
        spec::<RawImage>(CAMERA_IMAGE)?,
        spec::<CompressedImage>(CAMERA_IMAGE_COMPRESSED)?,
        spec::<ImageAnnotations>(CAMERA_ANNOTATIONS)?,
        spec::<PointCloud>(RADAR_POINTS)?,
    ])
}

/// Encodes a Foxglove message for `topic`.
pub fn encode<T: Encode>(topic: &'static str, msg: &T) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(msg.encoded_len().unwrap_or(256));
    msg.encode(&mut buf).map_err(|e| Error::Foxglove {
        topic,
        detail: e.to_string(),
    })?;
    Ok(buf)
}

/// A Foxglove timestamp from nanoseconds (of any clock; Foxglove shows it as given).
pub fn timestamp(ns: i64) -> Timestamp {
    let ns = ns.max(0);
    Timestamp::new(
        u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX),
        u32::try_from(ns % 1_000_000_000).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn foxglove_messages_round_trip() {
        let img = RawImage {
            timestamp: Some(timestamp(1_500_000_000)),
            frame_id: "camera".into(),
            width: 2,
            height: 1,
            encoding: "mono8".into(),
            step: 2,
            data: vec![1u8, 2].into(),
        };
        let bytes = encode(CAMERA_IMAGE, &img).expect("encode");
        assert_eq!(RawImage::decode(bytes.as_slice()).expect("decode"), img);

        let cloud = PointCloud {
            timestamp: Some(timestamp(2)),
            frame_id: "radar".into(),
            pose: None,
            point_stride: 4,
            fields: vec![PackedElementField {
                name: "x".into(),
                offset: 0,
                r#type: packed_element_field::NumericType::Float32 as i32,
            }],
            data: 1.0f32.to_le_bytes().to_vec().into(),
        };
        let bytes = encode(RADAR_POINTS, &cloud).expect("encode");
        assert_eq!(PointCloud::decode(bytes.as_slice()).expect("decode"), cloud);

        let specs = foxglove_channels().expect("schemas");
        let names: Vec<&str> = specs.iter().map(|s| s.schema_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "foxglove.RawImage",
                "foxglove.CompressedImage",
                "foxglove.ImageAnnotations",
                "foxglove.PointCloud"
            ]
        );
    }
}
