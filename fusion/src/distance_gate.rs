//! A distance gate decided on the squared distance where that settles it, so pairs clearly
//! beyond the gate cost no square root.
//!
//! The tracker weighs every track against every measurement, and a replay's radar
//! interpolation every object against every object of the other frame; most pairs are far
//! apart. The answer is exactly that of taking the root first (`sqrt` is correctly rounded,
//! so it never decreases: a squared distance above one whose root is already beyond the gate
//! has a root beyond it too).

/// A gate passing distances up to `gate_m` (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistanceGate {
    /// The largest distance passed, m.
    gate_m: f64,
    /// Squared distances above this are beyond the gate, m²; +∞ when no bound is known to
    /// be safe (a NaN, infinite or subnormal gate).
    beyond_sq_m2: f64,
}

impl DistanceGate {
    /// Passes distances `d <= gate_m`.
    pub fn up_to(gate_m: f64) -> Self {
        // a little above gate², so rounding in the square cannot put it below; kept only
        // when its root is checked to be beyond the gate, which is what makes it exact
        let bound = gate_m * gate_m * (1.0 + 1e-6);
        let beyond_sq_m2 = if bound.sqrt() > gate_m {
            bound
        } else {
            f64::INFINITY
        };
        Self {
            gate_m,
            beyond_sq_m2,
        }
    }

    /// Passes distances `d < limit_m`.
    pub fn below(limit_m: f64) -> Self {
        Self::up_to(limit_m.next_down())
    }

    /// The distance, m, whose square is `distance_sq_m2`, when the gate passes it:
    /// `(d <= gate_m).then_some(d)` with `d = distance_sq_m2.sqrt()`, bit for bit.
    #[inline]
    pub fn pass(&self, distance_sq_m2: f64) -> Option<f64> {
        if distance_sq_m2 > self.beyond_sq_m2 {
            return None;
        }
        let d = distance_sq_m2.sqrt();
        (d <= self.gate_m).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the gate must answer: the root first, then the comparison.
    fn by_root(gate_m: f64, distance_sq_m2: f64) -> Option<f64> {
        let d = distance_sq_m2.sqrt();
        (d <= gate_m).then_some(d)
    }

    /// Any gate, including the awkward ones.
    fn gates() -> impl Strategy<Value = f64> {
        prop_oneof![
            0.0f64..100.0,
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(1e-160),
            Just(1e200),
            Just(f64::INFINITY),
            Just(f64::NAN),
            Just(-1.0),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Squared distances at and around the gate's square, and anywhere, give the
        /// root-first answer bit for bit.
        #[test]
        fn the_gate_answers_as_the_root_first(
            gate in gates(),
            ulps in -64i64..64,
            anywhere in any::<f64>(),
            near in any::<bool>(),
        ) {
            let sq = if near {
                let g2 = gate * gate;
                if g2.is_finite() && g2 > 0.0 {
                    f64::from_bits((g2.to_bits() as i64 + ulps) as u64)
                } else {
                    anywhere
                }
            } else {
                anywhere
            };
            let got = DistanceGate::up_to(gate).pass(sq);
            prop_assert_eq!(got.map(f64::to_bits), by_root(gate, sq).map(f64::to_bits));
            let strict = DistanceGate::below(gate).pass(sq);
            let want = Some(sq.sqrt()).filter(|d| *d < gate);
            prop_assert_eq!(strict.map(f64::to_bits), want.map(f64::to_bits));
        }
    }

    #[test]
    fn far_pairs_are_decided_without_the_root_and_near_ones_with_it() {
        let gate = DistanceGate::up_to(2.0);
        assert!(gate.beyond_sq_m2 < 4.0001);
        assert_eq!(gate.pass(4.0), Some(2.0));
        // its root rounds to 2.0 exactly, so it passes: the square alone could not tell
        assert_eq!(gate.pass(4.0f64.next_up()), Some(2.0));
        assert_eq!(gate.pass(4.000_001), None);
        assert_eq!(gate.pass(9.0), None);
        assert_eq!(DistanceGate::below(2.0).pass(4.0), None);
        assert_eq!(DistanceGate::up_to(f64::NAN).pass(0.0), None);
    }
}
