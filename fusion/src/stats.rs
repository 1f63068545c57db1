//! Distribution summaries: quantiles the way numpy computes them by default (linear
//! interpolation between closest ranks), so a user can recompute every number.

use std::collections::BTreeMap;

/// The two ranks numpy's "linear" method interpolates between for quantile `q` of `n` sorted
/// values, and the fraction of the way from the first to the second (`n` > 0).
fn rank_of(q: f64, n: usize) -> (usize, usize, f64) {
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    (lo, hi, pos - lo as f64)
}

/// Quantile `q` in `[0, 1]` of already sorted values (numpy's default "linear" method).
/// Returns `None` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let (lo, hi, frac) = rank_of(q, sorted.len());
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// A compensated (Neumaier) running sum for means: the result does not depend on how large
/// the running total has grown, and is the same for the same values in the same order.
#[derive(Debug, Default, Clone, Copy)]
struct MeanAcc {
    sum: f64,
    compensation: f64,
}

impl MeanAcc {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        self.compensation += if self.sum.abs() >= v.abs() {
            (self.sum - t) + v
        } else {
            (v - t) + self.sum
        };
        self.sum = t;
    }

    fn mean(&self, n: u64) -> f64 {
        (self.sum + self.compensation) / n as f64
    }
}

/// A total-order key of an `f64`: keys compare as `f64::total_cmp` compares the values
/// (for finite values, as the values do).
pub(crate) fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The value of an [`order_key`].
fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Bits of the key narrowed per radix pass.
const RADIX_BITS: u32 = 16;

/// Where the search for one rank stands: among the values whose key starts with `prefix`
/// (its top `bits` bits), the one of rank `rank` (0-based) is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Bucket {
    bits: u32,
    prefix: u64,
}

impl Bucket {
    fn holds(&self, key: u64) -> bool {
        self.bits == 0 || key >> (64 - self.bits) == self.prefix
    }
}

/// The finite values of ranks `ranks` (0-based, in sorted order) of the `n` finite values
/// `pass` streams; each pass narrows every unresolved rank's bucket by 16 bits of the key,
/// or collects and sorts a bucket once it holds at most `limit` values.
fn select_ranks<E>(
    pass: &mut impl FnMut(&mut dyn FnMut(f64)) -> Result<(), E>,
    n: u64,
    ranks: &[u64],
    limit: usize,
) -> Result<BTreeMap<u64, f64>, E> {
    let mut found = BTreeMap::new();
    // rank -> (bucket, rank within it, values in it)
    let mut open: BTreeMap<u64, (Bucket, u64, u64)> = ranks
        .iter()
        .map(|&r| (r, (Bucket { bits: 0, prefix: 0 }, r, n)))
        .collect();
    while !open.is_empty() {
        // buckets small enough are collected, the others get a histogram of their next bits;
        // a few of each, in vectors, since the pass looks every value up in all of them
        let mut collect: Vec<(Bucket, Vec<f64>)> = Vec::new();
        let mut histo: Vec<(Bucket, Vec<u64>)> = Vec::new();
        for (bucket, _, size) in open.values() {
            if *size <= limit as u64 || bucket.bits >= 64 {
                if !collect.iter().any(|(b, _)| b == bucket) {
                    collect.push((*bucket, Vec::new()));
                }
            } else if !histo.iter().any(|(b, _)| b == bucket) {
                histo.push((*bucket, vec![0; 1 << RADIX_BITS]));
            }
        }
        pass(&mut |v| {
            if !v.is_finite() {
                return;
            }
            let key = order_key(v);
            for (b, vals) in collect.iter_mut() {
                if b.holds(key) {
                    vals.push(v);
                }
            }
            for (b, h) in histo.iter_mut() {
                if b.holds(key) {
                    let digit = (key << b.bits) >> (64 - RADIX_BITS);
                    h[digit as usize] += 1;
                }
            }
        })?;
        for (_, vals) in &mut collect {
            vals.sort_unstable_by(f64::total_cmp);
        }
        for (rank, (bucket, within, _)) in std::mem::take(&mut open) {
            if let Some((_, vals)) = collect.iter().find(|(b, _)| *b == bucket) {
                found.insert(rank, vals[within as usize]);
            } else if let Some((_, h)) = histo.iter().find(|(b, _)| *b == bucket) {
                let mut before = 0;
                for (digit, &count) in h.iter().enumerate() {
                    if within < before + count {
                        let bits = bucket.bits + RADIX_BITS;
                        let next = Bucket {
                            bits,
                            prefix: (bucket.prefix << RADIX_BITS) | digit as u64,
                        };
                        if bits >= 64 {
                            // every value in the bucket has this very key
                            found.insert(rank, from_order_key(next.prefix));
                        } else {
                            open.insert(rank, (next, within - before, count));
                        }
                        break;
                    }
                    before += count;
                }
            }
        }
    }
    Ok(found)
}

/// Count, mean and maximum of a stream of values (NaNs and infinities skipped), kept as the
/// values come: the first of [`Summary::by_passes`]'s passes, made without reading them back
/// (see [`Summary::by_passes_after`]).
#[derive(Debug, Clone, Copy)]
pub struct Moments {
    n: u64,
    mean: MeanAcc,
    max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Self {
            n: 0,
            mean: MeanAcc::default(),
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Adds one value (a NaN or an infinity is skipped).
    pub fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.n += 1;
            self.mean.add(v);
            self.max = self.max.max(v);
        }
    }
}

/// Summary of one distribution: P50/P95/P99/P99.9, mean, max, sample count.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values` (any order; NaNs and infinities are ignored). `None` when no
    /// finite value is given.
    pub fn of(values: &[f64]) -> Option<Self> {
        Self::of_in_place(&mut values.to_vec())
    }

    /// [`Summary::of`] of `values`, selecting in place instead of in a copy, for a caller
    /// done with them: they are left reordered, without their non-finite ones.
    pub fn of_in_place(values: &mut Vec<f64>) -> Option<Self> {
        // the mean over the finite values in their order, as they are kept
        let mut mean = MeanAcc::default();
        values.retain(|x| {
            let finite = x.is_finite();
            if finite {
                mean.add(*x);
            }
            finite
        });
        Self::of_finite(values, mean)
    }

    /// Summarises values that can only be streamed, in memory that does not grow with their
    /// number: `pass` is called several times and must hand every value to its callback,
    /// in the same order each time (an error from it is returned). The result is exactly
    /// [`Summary::of`] of the same values: the quantiles are found by radix selection on the
    /// values' bit patterns, 16 bits a pass, and only the values around each wanted rank are
    /// ever held (at most `collect_limit` per rank).
    pub fn by_passes<E>(
        mut pass: impl FnMut(&mut dyn FnMut(f64)) -> Result<(), E>,
        collect_limit: usize,
    ) -> Result<Option<Self>, E> {
        // first pass: count, mean, max
        let mut moments = Moments::default();
        pass(&mut |v| moments.add(v))?;
        Self::by_passes_after(moments, pass, collect_limit)
    }

    /// [`Summary::by_passes`] of values whose [`Moments`] were kept as they came, which
    /// spares the first pass: `moments` must be of exactly the values `pass` streams. No
    /// pass at all is made when none of them is finite.
    pub fn by_passes_after<E>(
        moments: Moments,
        mut pass: impl FnMut(&mut dyn FnMut(f64)) -> Result<(), E>,
        collect_limit: usize,
    ) -> Result<Option<Self>, E> {
        let Moments { n, mean, max } = moments;
        if n == 0 {
            return Ok(None);
        }
        if n <= collect_limit as u64 {
            let mut all = Vec::with_capacity(n as usize);
            pass(&mut |v| all.push(v))?;
            return Ok(Self::of(&all));
        }
        let ranks: Vec<u64> = Self::QUANTILES
            .iter()
            .flat_map(|q| {
                let (lo, hi, _) = rank_of(*q, n as usize);
                [lo as u64, hi as u64]
            })
            .collect();
        let values = select_ranks(&mut pass, n, &ranks, collect_limit.max(1))?;
        let at = |r: usize| values[&(r as u64)];
        let q = |p: f64| {
            let (lo, hi, frac) = rank_of(p, n as usize);
            at(lo) + (at(hi) - at(lo)) * frac
        };
        Ok(Some(Self {
            samples: n,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            mean: mean.mean(n),
            max,
        }))
    }

    /// The summary of finite values `v`, whose mean is in `mean`: selected in place.
    fn of_finite(v: &mut [f64], mean: MeanAcc) -> Option<Self> {
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        // only the ranks the quantiles and the maximum need are put in place, each by a
        // selection in what lies above the previous one: the same values a full sort gives
        // (values equal under `total_cmp` are the same bits) for a fraction of its work
        let mut ranks: Vec<usize> = Self::QUANTILES
            .iter()
            .flat_map(|q| {
                let (lo, hi, _) = rank_of(*q, n);
                [lo, hi]
            })
            .chain([n - 1])
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        let mut start = 0;
        for &r in &ranks {
            v[start..].select_nth_unstable_by(r - start, f64::total_cmp);
            start = r + 1;
        }
        // `quantile_sorted` reads only a quantile's two ranks, and those are in place
        let q = |p| quantile_sorted(v, p).unwrap_or(f64::NAN);
        Some(Self {
            samples: n as u64,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            mean: mean.mean(n as u64),
            max: v[n - 1],
        })
    }

    /// The quantiles a summary holds, as fractions.
    const QUANTILES: [f64; 4] = [0.5, 0.95, 0.99, 0.999];

    /// A statistic by its name in metric paths (`p50`, `p95`, `p99`, `p999`, `mean`, `max`).
    pub fn stat(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" => self.p50,
            "p95" => self.p95,
            "p99" => self.p99,
            "p999" => self.p999,
            "mean" => self.mean,
            "max" => self.max,
            _ => return None,
        })
    }

    /// Names accepted by [`Summary::stat`].
    pub const STATS: [&'static str; 6] = ["p50", "p95", "p99", "p999", "mean", "max"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_numpy_linear_method() {
        // numpy.percentile([1, 2, 3, 4], [50, 95]) == [2.5, 3.85]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), Some(2.5));
        assert!((quantile_sorted(&s, 0.95).unwrap_or(0.0) - 3.85).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn keys_order_as_values_do() {
        let vals = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
        for w in vals.windows(2) {
            assert!(order_key(w[0]) <= order_key(w[1]), "{w:?}");
            assert_eq!(from_order_key(order_key(w[0])).to_bits(), w[0].to_bits());
        }
    }

    proptest! {
        /// The streamed selection equals the in-memory summary bit for bit, whatever the
        /// limit (a limit of 1 forces every rank down all four radix passes); with the
        /// moments kept as the values came, in one pass fewer, and in none when no value
        /// is finite.
        #[test]
        fn streamed_summaries_are_exact(
            v in proptest::collection::vec(
                prop_oneof![
                    -1e6f64..1e6,
                    (0u32..4).prop_map(f64::from),
                    Just(f64::NAN),
                    Just(f64::INFINITY),
                    Just(f64::NEG_INFINITY),
                    Just(-0.0),
                ],
                0..400,
            ),
            limit in prop_oneof![Just(1usize), Just(7), Just(1000)],
        ) {
            let passes = std::cell::Cell::new(0u32);
            let pass = |f: &mut dyn FnMut(f64)| -> Result<(), ()> {
                passes.set(passes.get() + 1);
                v.iter().for_each(|x| f(*x));
                Ok(())
            };
            prop_assert_eq!(Summary::by_passes(pass, limit), Ok(Summary::of(&v)));
            let streamed = passes.replace(0);
            let mut moments = Moments::default();
            v.iter().for_each(|x| moments.add(*x));
            prop_assert_eq!(Summary::by_passes_after(moments, pass, limit), Ok(Summary::of(&v)));
            prop_assert!(streamed <= 6, "{} passes", streamed);
            prop_assert_eq!(passes.get() + 1, streamed, "kept moments spare exactly one pass");
        }

        /// Selecting the wanted ranks gives exactly what sorting everything gives.
        #[test]
        fn summaries_equal_the_sorted_definition(
            v in proptest::collection::vec(
                prop_oneof![-1e6f64..1e6, (0u32..4).prop_map(f64::from), Just(-0.0), Just(0.0)],
                1..600,
            ),
        ) {
            let s = Summary::of(&v).expect("non-empty");
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let q = |p| quantile_sorted(&sorted, p).expect("non-empty").to_bits();
            prop_assert_eq!(s.p50.to_bits(), q(0.5));
            prop_assert_eq!(s.p95.to_bits(), q(0.95));
            prop_assert_eq!(s.p99.to_bits(), q(0.99));
            prop_assert_eq!(s.p999.to_bits(), q(0.999));
            prop_assert_eq!(s.max.to_bits(), sorted[sorted.len() - 1].to_bits());
        }

        /// NaNs and infinities are left out wherever they fall; the mean runs over the rest
        /// in their order.
        #[test]
        fn non_finite_values_are_left_out(
            v in proptest::collection::vec(
                prop_oneof![
                    4 => -1e6f64..1e6,
                    1 => Just(f64::NAN),
                    1 => Just(f64::INFINITY),
                    1 => Just(f64::NEG_INFINITY),
                ],
                0..300,
            ),
        ) {
            let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let mut mean = MeanAcc::default();
            finite.iter().for_each(|x| mean.add(*x));
            let s = Summary::of(&v);
            prop_assert_eq!(s, Summary::of(&finite));
            prop_assert_eq!(s.is_some(), !finite.is_empty());
            if let Some(s) = s {
                prop_assert_eq!(s.samples, finite.len() as u64);
                prop_assert_eq!(s.mean.to_bits(), mean.mean(finite.len() as u64).to_bits());
            }
        }

        #[test]
        fn quantiles_are_ordered_and_bounded(mut v in proptest::collection::vec(-1e6f64..1e6, 1..200)) {
            let s = Summary::of(&v).expect("non-empty");
            v.sort_by(f64::total_cmp);
            prop_assert!(v[0] <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.p999);
            prop_assert!(s.p999 <= s.max && s.max == v[v.len() - 1]);
            prop_assert_eq!(s.samples as usize, v.len());
        }
    }
}
