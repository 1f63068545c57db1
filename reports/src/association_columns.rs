//! The `associations` table's rows kept as columns while a replay makes them.
//!
//! It is by far the longest streamed table (about 3.9 M rows an hour of the demo rig, each
//! [`AssociationRecord`] about 250 bytes). Buffered as records, every row was copied whole
//! into the batch, then read again once per column (and once more per nullable column, for
//! its validity) to build the Arrow arrays. Here a row's fields go straight into their
//! columns, and which of its optional fields are there into one 16-bit mask; building the
//! arrays is then a copy of each column and a pass over the masks per validity (a one-CPU
//! replay hour of the demo rig 3.75 → 3.69 s, every table byte-identical; see
//! `docs/performance.md`).

use crate::Result;
use crate::fusion_tables::{ASSOCIATIONS_FILE, provenance_columns};
use crate::parquet_out::{batch, utf8};
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
const CAMERA_OBJECT_ID_BIT: u32 = 0;
/// A row mask's bit: `radar_object_index` is there.
const RADAR_OBJECT_INDEX_BIT: u32 = 1;
/// A row mask's first of eight bits: each measurement, in table order, is there.
const FIRST_MEASUREMENT_BIT: u32 = 2;
/// A row mask's first of three bits: each gate, in table order, was judged.
const FIRST_GATE_BIT: u32 = 10;
/// A row mask's first of three bits: each gate's verdict (passed).
const FIRST_GATE_VALUE_BIT: u32 = 13;

/// Bit `bit` of every row's mask, as Arrow packs bits.
fn mask_bits(masks: &[u16], bit: u32) -> BooleanBuffer {
    BooleanBuffer::collect_bool(masks.len(), |i| masks[i] >> bit & 1 != 0)
}

/// Bit `bit` of every row's mask as validity: `None` when every row has it (no nulls).
fn mask_nulls(masks: &[u16], bit: u32) -> Option<NullBuffer> {
    let nulls = NullBuffer::new(mask_bits(masks, bit));
    (nulls.null_count() > 0).then_some(nulls)
}

/// A numeric column, copied into an Arrow array with validity bit `bit` of the masks.
fn nullable<P: ArrowPrimitiveType>(values: &[P::Native], masks: &[u16], bit: u32) -> ArrayRef {
    Arc::new(PrimitiveArray::<P>::new(
        ScalarBuffer::from(Buffer::from_slice_ref(values)),
        mask_nulls(masks, bit),
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
        let mut has = |bit: u32, value: bool| mask |= u16::from(value) << bit;
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

    /// Drops every row, keeping the room.
    pub fn clear(&mut self) {
        self.t_ns.clear();
        self.frame_id.clear();
        self.detection_index.clear();
        self.camera_object_id.clear();
        self.score.clear();
        self.radar_object_index.clear();
        self.measurements.iter_mut().for_each(Vec::clear);
        self.masks.clear();
        self.outcome.clear();
        self.provenance.clear();
    }

    /// The rows as an `associations` record batch.
    pub fn to_batch(&self) -> Result<RecordBatch> {
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
        fields.push(Field::new("outcome", DataType::Utf8, false));
        let m = &self.masks;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.t_ns.clone())),
            Arc::new(UInt64Array::from(self.frame_id.clone())),
            Arc::new(UInt32Array::from(self.detection_index.clone())),
            nullable::<UInt64Type>(&self.camera_object_id, m, CAMERA_OBJECT_ID_BIT),
            Arc::new(Float64Array::from(self.score.clone())),
            nullable::<UInt32Type>(&self.radar_object_index, m, RADAR_OBJECT_INDEX_BIT),
        ];
        columns.extend(
            (FIRST_MEASUREMENT_BIT..)
                .zip(&self.measurements)
                .map(|(bit, values)| nullable::<Float64Type>(values, m, bit)),
        );
        columns.extend((0..3).map(|i| -> ArrayRef {
            Arc::new(BooleanArray::new(
                mask_bits(m, FIRST_GATE_VALUE_BIT + i),
                mask_nulls(m, FIRST_GATE_BIT + i),
            ))
        }));
        columns.push(utf8(&self.outcome, |o| o.as_str()));
        let (pf, pc) = provenance_columns(&self.provenance, itself);
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
            utf8(rows, |r| r.outcome.as_str()),
        ];
        let (_, provenance) = provenance_columns(rows, |r| &r.provenance);
        let expected = AssociationColumns::default()
            .to_batch()
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
        /// Rows pushed into the columns (after another batch was pushed and cleared) make
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
            columns.clear();
            prop_assert!(columns.is_empty());
            for r in &rows {
                columns.push(r);
            }
            prop_assert_eq!(columns.len(), rows.len());
            prop_assert_eq!(columns.to_batch().expect("batch"), by_columns(&rows));
        }
    }
}
