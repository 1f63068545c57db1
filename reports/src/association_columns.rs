//! The `associations` table's rows kept as columns while a replay makes them.
//!
//! It is by far the longest streamed table (about 3.9 M rows an hour of the demo rig, each
//! [`AssociationRecord`] about 250 bytes). Buffered as records, every row was copied whole
//! into the batch, then read again once per column (and once more per nullable column, for
//! its validity) to build the Arrow arrays. Here a row's fields go straight into their
//! columns, and which of its optional fields are there into one 16-bit mask; building the
//! arrays is then a copy of each column and the masks transposed into one bitmap per bit
//! (a one-CPU replay hour of the demo rig 3.75 → 3.69 s, every table byte-identical; see
//! `docs/performance.md`). Since then the numeric columns are moved into the arrays instead
//! of copied (about 1 %: 3.155 → 3.126 s in eight interleaved rounds): the replay fills fresh
//! columns for the next batch, allocations of some 32 KB a column that the allocator serves
//! from the batches the encoder freed.

use crate::Result;
use crate::fusion_tables::{ASSOCIATIONS_FILE, provenance_columns};
use crate::parquet_out::{batch, categorical, categorical_type};
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, Float64Array, Int64Array, PrimitiveArray,
    RecordBatch, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use radcam_fusion::fused::{AssociationRecord, Outcome};
use radcam_fusion::provenance::Provenance;
use std::sync::Arc;

/// A row mask's bit: `camera_object_id` is there.
const CAMERA_OBJECT_ID_BIT: usize = 0;
/// A row mask's bit: `radar_object_index` is there.
const RADAR_OBJECT_INDEX_BIT: usize = 1;
/// A row mask's first of eight bits: each measurement, in table order, is there.
const FIRST_MEASUREMENT_BIT: usize = 2;
/// A row mask's first of three bits: each gate, in table order, was judged.
const FIRST_GATE_BIT: usize = 10;
/// A row mask's first of three bits: each gate's verdict (passed).
const FIRST_GATE_VALUE_BIT: usize = 13;

/// Bits in a row's mask.
const MASK_BITS: usize = u16::BITS as usize;

/// The rows' masks as one bitmap per mask bit, as Arrow packs bits: bit `i` of column `b` is
/// bit `b` of row `i`'s mask.
///
/// Eight rows at a time, as two 8 × 8 bit matrices (the masks' low and high bytes) transposed
/// in a `u64` each: a few shifts and masks per eight rows and eight columns, where picking
/// each column's bit out of each row took four operations a bit (0.8 % of a one-CPU replay).
fn mask_columns(masks: &[u16]) -> [BooleanBuffer; MASK_BITS] {
    let mut columns: [Vec<u8>; MASK_BITS] =
        std::array::from_fn(|_| Vec::with_capacity(masks.len().div_ceil(8)));
    for rows in masks.chunks(8) {
        let (mut low, mut high) = (0u64, 0u64);
        for (r, &m) in rows.iter().enumerate() {
            low |= u64::from(m & 0xff) << (8 * r);
            high |= u64::from(m >> 8) << (8 * r);
        }
        for (half, bits) in columns.chunks_mut(8).zip([low, high]) {
            // byte r bit c (row r, column c) moves to byte c bit r
            for (column, byte) in half.iter_mut().zip(transpose_8x8(bits).to_le_bytes()) {
                column.push(byte);
            }
        }
    }
    columns.map(|bytes| BooleanBuffer::new(Buffer::from_vec(bytes), 0, masks.len()))
}

/// The 8 × 8 bit matrix in `x` (row r in byte r, column c in bit c) transposed: three rounds
/// of swapping the off-diagonal blocks, 1 × 1, 2 × 2, then 4 × 4 bits.
fn transpose_8x8(mut x: u64) -> u64 {
    let mut t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^= t ^ (t << 28);
    x
}

/// A column of [`mask_columns`] as validity: `None` when every row has it (no nulls).
fn validity(bits: &BooleanBuffer) -> Option<NullBuffer> {
    let nulls = NullBuffer::new(bits.clone());
    (nulls.null_count() > 0).then_some(nulls)
}

/// A numeric column, moved into an Arrow array with the validity `bits`.
fn nullable<P: ArrowPrimitiveType>(values: Vec<P::Native>, bits: &BooleanBuffer) -> ArrayRef {
    Arc::new(PrimitiveArray::<P>::new(
        ScalarBuffer::from(values),
        validity(bits),
    ))
}

/// The provenance of a row that is one (for [`provenance_columns`]).
fn itself(p: &Provenance) -> &Provenance {
    p
}

/// Rows of the `associations` table (one per candidate pair, or per detection without one),
/// column by column (see the module doc).
#[derive(Debug, Default)]
pub struct AssociationColumns {
    t_ns: Vec<i64>,
    frame_id: Vec<u64>,
    detection_index: Vec<u32>,
    camera_object_id: Vec<u64>,
    score: Vec<f64>,
    radar_object_index: Vec<u32>,
    /// `residual_px` to `radar_snr_db`, in table order.
    measurements: [Vec<f64>; 8],
    /// Per row: which of the nullable columns have a value and the gates' verdicts (the
    /// `*_BIT` constants).
    masks: Vec<u16>,
    outcome: Vec<Outcome>,
    provenance: Vec<Provenance>,
}

impl AssociationColumns {
    /// Room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            t_ns: Vec::with_capacity(rows),
            frame_id: Vec::with_capacity(rows),
            detection_index: Vec::with_capacity(rows),
            camera_object_id: Vec::with_capacity(rows),
            score: Vec::with_capacity(rows),
            radar_object_index: Vec::with_capacity(rows),
            measurements: std::array::from_fn(|_| Vec::with_capacity(rows)),
            masks: Vec::with_capacity(rows),
            outcome: Vec::with_capacity(rows),
            provenance: Vec::with_capacity(rows),
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.t_ns.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.t_ns.is_empty()
    }

    /// Whether room was ever made (a default-made set of columns has none).
    pub fn has_capacity(&self) -> bool {
        self.t_ns.capacity() > 0
    }

    /// Adds `r` as the last row.
    pub fn push(&mut self, r: &AssociationRecord) {
        self.t_ns.push(r.t_ns);
        self.frame_id.push(r.frame_id);
        self.detection_index.push(r.detection_index);
        let mut mask = 0u16;
        let mut has = |bit: usize, value: bool| mask |= u16::from(value) << bit;
        has(CAMERA_OBJECT_ID_BIT, r.camera_object_id.is_some());
        self.camera_object_id
            .push(r.camera_object_id.unwrap_or_default());
        self.score.push(r.score);
        has(RADAR_OBJECT_INDEX_BIT, r.radar_object_index.is_some());
        self.radar_object_index
            .push(r.radar_object_index.unwrap_or_default());
        let measurements = [
            r.residual_px,
            r.margin_px,
            r.projection_sigma_px,
            r.radar_range_m,
            r.radar_doppler_mps,
            r.camera_radial_mps,
            r.velocity_tolerance_mps,
            r.radar_snr_db,
        ];
        for ((bit, column), value) in (FIRST_MEASUREMENT_BIT..)
            .zip(&mut self.measurements)
            .zip(measurements)
        {
            has(bit, value.is_some());
            column.push(value.unwrap_or_default());
        }
        let gates = [r.position_gate, r.velocity_gate, r.confidence_gate];
        for (i, value) in (0..).zip(gates) {
            has(FIRST_GATE_BIT + i, value.is_some());
            has(FIRST_GATE_VALUE_BIT + i, value.unwrap_or_default());
        }
        self.masks.push(mask);
        self.outcome.push(r.outcome);
        self.provenance.push(r.provenance);
    }

    /// The rows as an `associations` record batch, moved out: the numeric columns become
    /// the batch's buffers without a copy, and `self` is left empty, with no room.
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let Self {
            t_ns,
            frame_id,
            detection_index,
            camera_object_id,
            score,
            radar_object_index,
            measurements,
            masks,
            outcome,
            provenance,
        } = std::mem::take(self);
        let mut fields = vec![
            Field::new("t_ns", DataType::Int64, false),
            Field::new("frame_id", DataType::UInt64, false),
            Field::new("detection_index", DataType::UInt32, false),
            Field::new("camera_object_id", DataType::UInt64, true),
            Field::new("score", DataType::Float64, false),
            Field::new("radar_object_index", DataType::UInt32, true),
        ];
        fields.extend(
            [
                "residual_px",
                "margin_px",
                "projection_sigma_px",
                "radar_range_m",
                "radar_doppler_mps",
                "camera_radial_mps",
                "velocity_tolerance_mps",
                "radar_snr_db",
            ]
            .map(|name| Field::new(name, DataType::Float64, true)),
        );
        fields.extend(
            ["position_gate", "velocity_gate", "confidence_gate"]
                .map(|name| Field::new(name, DataType::Boolean, true)),
        );
        fields.push(Field::new("outcome", categorical_type(), false));
        let bit = mask_columns(&masks);
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(t_ns)),
            Arc::new(UInt64Array::from(frame_id)),
            Arc::new(UInt32Array::from(detection_index)),
            nullable::<UInt64Type>(camera_object_id, &bit[CAMERA_OBJECT_ID_BIT]),
            Arc::new(Float64Array::from(score)),
            nullable::<UInt32Type>(radar_object_index, &bit[RADAR_OBJECT_INDEX_BIT]),
        ];
        columns.extend(
            (FIRST_MEASUREMENT_BIT..)
                .zip(measurements)
                .map(|(b, values)| nullable::<Float64Type>(values, &bit[b])),
        );
        columns.extend((0..3).map(|i| -> ArrayRef {
            Arc::new(BooleanArray::new(
                bit[FIRST_GATE_VALUE_BIT + i].clone(),
                validity(&bit[FIRST_GATE_BIT + i]),
            ))
        }));
        columns.push(categorical(&outcome, |o| o.as_str()));
        let (pf, pc) = provenance_columns(&provenance, itself);
        fields.extend(pf);
        columns.extend(pc);
        batch(ASSOCIATIONS_FILE, fields, columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet_out::{bools, f64s, i64s, u64s};
    use proptest::prelude::*;
    use radcam_fusion::geometry::ImageRegion;
    use radcam_fusion::provenance::ClockId;
    use radcam_fusion::sync::SyncState;
    use radcam_fusion::time::TimestampSource;

    /// The table as its definition reads: a pass over the rows per column.
    fn by_columns(rows: &[AssociationRecord]) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            i64s(rows, |r| Some(r.t_ns)),
            u64s(rows, |r| r.frame_id),
            Arc::new(UInt32Array::from(
                rows.iter().map(|r| r.detection_index).collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.camera_object_id).collect::<Vec<_>>(),
            )),
            f64s(rows, |r| Some(r.score)),
            Arc::new(UInt32Array::from(
                rows.iter()
                    .map(|r| r.radar_object_index)
                    .collect::<Vec<_>>(),
            )),
            f64s(rows, |r| r.residual_px),
            f64s(rows, |r| r.margin_px),
            f64s(rows, |r| r.projection_sigma_px),
            f64s(rows, |r| r.radar_range_m),
            f64s(rows, |r| r.radar_doppler_mps),
            f64s(rows, |r| r.camera_radial_mps),
            f64s(rows, |r| r.velocity_tolerance_mps),
            f64s(rows, |r| r.radar_snr_db),
            bools(rows, |r| r.position_gate),
            bools(rows, |r| r.velocity_gate),
            bools(rows, |r| r.confidence_gate),
            categorical(rows, |r| r.outcome.as_str()),
        ];
        let (_, provenance) = provenance_columns(rows, |r| &r.provenance);
        let expected = AssociationColumns::default()
            .take_batch()
            .expect("empty batch");
        RecordBatch::try_new(
            expected.schema(),
            columns.into_iter().chain(provenance).collect(),
        )
        .expect("batch")
    }

    fn measurement() -> impl Strategy<Value = Option<f64>> {
        proptest::option::of(-1e6f64..1e6)
    }

    fn record() -> impl Strategy<Value = AssociationRecord> {
        (
            (
                any::<i64>(),
                any::<u64>(),
                any::<u32>(),
                proptest::option::of(any::<u64>()),
                -1.0f64..1.0,
                proptest::option::of(any::<u32>()),
            ),
            proptest::array::uniform8(measurement()),
            proptest::array::uniform3(proptest::option::of(any::<bool>())),
            (0usize..3, 0usize..5, 0usize..3, 0u64..3, any::<u64>()),
        )
            .prop_map(|((t_ns, frame_id, det, cam, score, radar), m, g, p)| {
                AssociationRecord {
                    t_ns,
                    frame_id,
                    detection_index: det,
                    camera_object_id: cam,
                    score,
                    radar_object_index: radar,
                    residual_px: m[0],
                    image_region: ImageRegion::Center,
                    residual_radial_px: m[0],
                    margin_px: m[1],
                    projection_sigma_px: m[2],
                    radar_range_m: m[3],
                    radar_doppler_mps: m[4],
                    camera_radial_mps: m[5],
                    velocity_tolerance_mps: m[6],
                    radar_snr_db: m[7],
                    position_gate: g[0],
                    velocity_gate: g[1],
                    confidence_gate: g[2],
                    outcome: [
                        Outcome::Assigned,
                        Outcome::NotAssigned,
                        Outcome::NoCandidate,
                    ][p.0],
                    provenance: Provenance {
                        timestamp_source: [
                            TimestampSource::Hw,
                            TimestampSource::Ptp,
                            TimestampSource::Sw,
                        ][p.2],
                        cal_version: p.3,
                        config_version: 1,
                        sync_state: [
                            SyncState::Locked,
                            SyncState::Degraded,
                            SyncState::Holdover,
                            SyncState::Freerun,
                            SyncState::Resyncing,
                        ][p.1],
                        clock_id: ClockId {
                            estimator: "bracket",
                            epoch: p.3,
                        },
                        ptp_offset_ns_bucket: ["none", "<1us", "<10us"][p.2],
                        event_seq: p.4,
                    },
                }
            })
    }

    proptest! {
        /// Every column of the transposed masks is that bit of every row, for any number
        /// of rows (whole groups of eight and not).
        #[test]
        fn mask_columns_are_each_rows_bit(masks in proptest::collection::vec(any::<u16>(), 0..300)) {
            let columns = mask_columns(&masks);
            for (b, column) in columns.iter().enumerate() {
                prop_assert_eq!(column.len(), masks.len());
                let want: Vec<bool> = masks.iter().map(|m| m >> b & 1 != 0).collect();
                prop_assert_eq!(column.iter().collect::<Vec<_>>(), want, "bit {}", b);
            }
        }

        /// Rows pushed into the columns (after another batch was pushed and taken) make
        /// the batch the definition makes, value, validity and column for column.
        #[test]
        fn the_columns_make_the_batch_a_pass_per_column_makes(
            earlier in proptest::collection::vec(record(), 0..70),
            rows in proptest::collection::vec(record(), 0..200),
        ) {
            let mut columns = AssociationColumns::with_capacity(8);
            for r in &earlier {
                columns.push(r);
            }
            prop_assert_eq!(columns.take_batch().expect("batch"), by_columns(&earlier));
            prop_assert!(columns.is_empty());
            for r in &rows {
                columns.push(r);
            }
            prop_assert_eq!(columns.len(), rows.len());
            prop_assert_eq!(columns.take_batch().expect("batch"), by_columns(&rows));
            prop_assert!(columns.is_empty() && !columns.has_capacity());
        }
    }
}
