//! Reading the protobuf wire format byte by byte, for the direct decoders of the messages a
//! replay reads most (`radar_wire`, `detections_wire`, `truth_wire`). Each read returns `None`
//! where the bytes run out or a varint is malformed, and the decoder then declines the message
//! to prost.

/// The bytes not read yet.
pub(crate) struct Wire<'a>(pub(crate) &'a [u8]);

impl<'a> Wire<'a> {
    /// One byte.
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// A length-delimited field's bytes: its varint length, then that many bytes.
    pub(crate) fn delimited(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(head)
    }

    /// The next `N` bytes, as an array (a fixed32 or fixed64 field's value).
    pub(crate) fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// A base-128 varint of at most 10 bytes whose 10th byte is 0 or 1, as prost accepts.
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().take(10).enumerate() {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return None;
                }
                self.0 = &self.0[i + 1..];
                return Some(v);
            }
        }
        None
    }
}

/// What the tests of every direct decoder hold it to: prost's reading of the same bytes.
#[cfg(test)]
pub(crate) mod checks {
    use proptest::prelude::*;
    use prost::Message;
    use std::fmt::Debug;

    /// Equal as the wire sees them: floats by their bits, so NaNs compare.
    pub(crate) fn same<M: Message>(a: &M, b: &M) -> bool {
        a.encode_to_vec() == b.encode_to_vec()
    }

    /// Damage done to an encoded message: a few bytes flipped, then a cut, then junk.
    #[derive(Debug, Clone)]
    pub(crate) struct Damage {
        flips: Vec<(prop::sample::Index, u8)>,
        cut: prop::sample::Index,
        tail: Vec<u8>,
    }

    impl Damage {
        /// `bytes` so damaged.
        pub(crate) fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
            for (at, x) in &self.flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] ^= x;
                }
            }
            bytes.truncate(self.cut.index(bytes.len() + 1));
            bytes.extend(&self.tail);
            bytes
        }
    }

    /// Any [`Damage`].
    pub(crate) fn damage() -> impl Strategy<Value = Damage> {
        (
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 0..12),
        )
            .prop_map(|(flips, cut, tail)| Damage { flips, cut, tail })
    }

    /// The direct path either declines `bytes` or reads them as prost does: it never accepts
    /// what prost rejects, nor reads a value prost would not.
    pub(crate) fn declined_or_read_as_prost<M: Message + Default + Debug>(
        bytes: &[u8],
        direct: fn(&[u8], &mut M) -> Option<()>,
    ) -> Result<(), TestCaseError> {
        let mut read = M::default();
        if direct(bytes, &mut read).is_some() {
            let prost = M::decode(bytes);
            prop_assert!(prost.is_ok(), "direct read what prost rejects: {prost:?}");
            prop_assert!(same(&read, &prost.expect("checked")));
        }
        Ok(())
    }
}
