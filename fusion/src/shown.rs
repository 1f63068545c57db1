//! How a number appears in an error message: as written for everyday magnitudes, in exponent
//! form beyond them (`1e300`, not three hundred digits).

/// `f64` displayed for an error message; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown(pub f64);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v.is_finite() && v != 0.0 && !(1e-6..1e16).contains(&v.abs()) {
            write!(f, "{v:e}")
        } else {
            write!(f, "{v}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_tiny_numbers_show_in_exponent_form() {
        for (v, shown) in [
            (1e300, "1e300"),
            (-2.5e-9, "-2.5e-9"),
            (3_600_000.0, "3600000"),
            (0.5, "0.5"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(Shown(v).to_string(), shown);
        }
    }
}
