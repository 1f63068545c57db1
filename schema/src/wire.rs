//! Reading the protobuf wire format byte by byte, for the direct decoders of the messages a
//! replay reads most (`radar_wire`, `detections_wire`, `truth_wire`). Each read returns `None` where the bytes
//! run out or a varint is malformed, and the decoder then declines the message to prost.

/// The bytes not read yet.
pub(crate) struct Wire<'a>(pub(crate) &'a [u8]);

impl<'a> Wire<'a> {
    /// One byte.
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
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
