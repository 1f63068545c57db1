//! A metric's samples over log time, accumulated as a run streams them and summarised at the
//! end, whole-run and per window, exactly and in memory that does not grow with the run's
//! length: a distribution keeps its samples in a [`SampleStore`] (the replay spills them to a
//! temporary file) and reads them back a few times at the end; a rate keeps only sums.

use crate::sorted_map::SortedVecMap;
use crate::stats::{Moments, Summary};
use std::collections::BTreeMap;

/// Where a distribution's timed samples wait for the end of a run. Pure code never touches
/// a file: the store is handed in.
pub trait SampleStore {
    /// What reading the samples back can fail with.
    type Error;

    /// Keeps one sample: log time, ns, and value. A store that cannot keep it reports that
    /// from the next [`SampleStore::replay`].
    fn push(&mut self, t_ns: i64, value: f64);

    /// Hands every kept sample to `f`, in the order they were pushed; may be called any
    /// number of times.
    fn replay(&mut self, f: &mut dyn FnMut(i64, f64)) -> Result<(), Self::Error>;
}

/// A [`SampleStore`] in memory, for tests and short runs.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore(pub Vec<(i64, f64)>);

impl SampleStore for MemoryStore {
    type Error = std::convert::Infallible;

    fn push(&mut self, t_ns: i64, value: f64) {
        self.0.push((t_ns, value));
    }

    fn replay(&mut self, f: &mut dyn FnMut(i64, f64)) -> Result<(), Self::Error> {
        self.0.iter().for_each(|&(t, v)| f(t, v));
        Ok(())
    }
}

/// Values held per wanted rank while selecting whole-run quantiles (see
/// [`Summary::by_passes`]).
pub const COLLECT_LIMIT: usize = 1 << 16;

/// A value per window index: window indices come nearly in order, as a run's log times do
/// (a day of 10 s windows is 8,640 of them per metric and window length).
type WindowMap<V> = SortedVecMap<i64, V>;

/// Samples per window index, counted as they come; consecutive samples in one window (the
/// usual case: a run's samples come nearly in time order) cost one addition.
#[derive(Debug, Clone, Default)]
struct WindowCounts {
    window_ns: i64,
    counts: WindowMap<u64>,
    current: Option<(i64, u64)>,
}

impl WindowCounts {
    fn new(window_ns: i64) -> Self {
        Self {
            window_ns: window_ns.max(1),
            ..Self::default()
        }
    }

    fn add(&mut self, t_ns: i64) {
        let w = t_ns.div_euclid(self.window_ns);
        match &mut self.current {
            Some((cw, n)) if *cw == w => *n += 1,
            current => {
                if let Some((cw, n)) = current.replace((w, 1)) {
                    *self.counts.entry_or_default(cw) += n;
                }
            }
        }
    }

    fn into_counts(mut self) -> WindowMap<u64> {
        if let Some((cw, n)) = self.current.take() {
            *self.counts.entry_or_default(cw) += n;
        }
        self.counts
    }
}

/// A distribution metric being accumulated: its samples in `S`, and how many fell in each
/// window of each wanted window length.
#[derive(Debug, Clone, Default)]
pub struct DistributionAcc<S> {
    store: S,
    windows: Vec<WindowCounts>,
    /// Count, mean and maximum of the finite samples, kept as they come: the summary's
    /// first pass over the store, spared.
    moments: Moments,
}

/// A finished distribution: the whole-run summary, and per window length (ns) the summary
/// of every window with a finite sample, by window index (start = index × length).
pub type DistributionResult = (Option<Summary>, Vec<(i64, Vec<(i64, Summary)>)>);

impl<S: SampleStore> DistributionAcc<S> {
    /// An empty distribution kept in `store`, summarised per window of each of
    /// `window_lengths_ns` (aligned to multiples of the length in log time).
    pub fn new(store: S, window_lengths_ns: &[i64]) -> Self {
        Self {
            store,
            windows: window_lengths_ns
                .iter()
                .map(|&w| WindowCounts::new(w))
                .collect(),
            moments: Moments::default(),
        }
    }

    /// Adds one sample: (log time ns, value).
    pub fn push(&mut self, (t_ns, value): (i64, f64)) {
        self.store.push(t_ns, value);
        self.moments.add(value);
        for w in &mut self.windows {
            w.add(t_ns);
        }
    }

    /// Summarises the run and every window. Windows are summarised in one pass over the
    /// store, each as soon as its last sample has been read back, so only the windows that
    /// samples arriving out of time order keep open are ever held; that pass is also the
    /// whole-run summary's first.
    pub fn finish(mut self) -> Result<DistributionResult, S::Error> {
        let mut windows: Vec<OpenWindows> = self
            .windows
            .into_iter()
            .map(|w| OpenWindows {
                window_ns: w.window_ns,
                counts: w.into_counts(),
                open: BTreeMap::new(),
                current: None,
                done: Vec::new(),
                spare: Vec::new(),
            })
            .collect();
        let store = &mut self.store;
        let mut windows_read = windows.is_empty();
        let whole = Summary::by_passes_after(
            self.moments,
            |f| {
                if windows_read {
                    store.replay(&mut |_, v| f(v))
                } else {
                    windows_read = true;
                    store.replay(&mut |t, v| {
                        f(v);
                        for o in windows.iter_mut() {
                            o.push(t, v);
                        }
                    })
                }
            },
            COLLECT_LIMIT,
        )?;
        if !windows_read {
            // no finite sample (or none at all): the summary read nothing back
            store.replay(&mut |t, v| {
                for o in windows.iter_mut() {
                    o.push(t, v);
                }
            })?;
        }
        Ok((
            whole,
            windows
                .into_iter()
                .map(|mut o| {
                    o.done.sort_by_key(|(w, _)| *w);
                    (o.window_ns, o.done)
                })
                .collect(),
        ))
    }
}

/// One window length's windows while a finished distribution is read back.
struct OpenWindows {
    window_ns: i64,
    /// Samples each window has in all.
    counts: WindowMap<u64>,
    /// Values of windows not yet complete, but for the current one.
    open: BTreeMap<i64, Vec<f64>>,
    /// The window the last sample fell in: index, samples it has in all, values so far.
    /// Consecutive samples in one window (the usual case) then cost no map lookup.
    current: Option<(i64, u64, Vec<f64>)>,
    /// Summaries of complete windows.
    done: Vec<(i64, Summary)>,
    /// The last complete window's emptied buffer, for the next window to fill.
    spare: Vec<f64>,
}

impl OpenWindows {
    /// Adds one read-back sample; summarises its window once the window has all its samples.
    fn push(&mut self, t_ns: i64, value: f64) {
        let w = t_ns.div_euclid(self.window_ns);
        if self.current.as_ref().is_some_and(|c| c.0 != w)
            && let Some((cw, _, vals)) = self.current.take()
        {
            self.open.insert(cw, vals);
        }
        let (_, total, vals) = self.current.get_or_insert_with(|| {
            let total = self.counts.get(w).copied().unwrap_or(0);
            let vals = self.open.remove(&w).unwrap_or_else(|| {
                // a window's buffer holds all of its samples from the start: no growing
                let mut vals = std::mem::take(&mut self.spare);
                vals.reserve(usize::try_from(total).unwrap_or(0));
                vals
            });
            (w, total, vals)
        });
        vals.push(value);
        if *total == vals.len() as u64 {
            if let Some(s) = Summary::of_in_place(vals) {
                self.done.push((w, s));
            }
            if let Some((_, _, mut vals)) = self.current.take() {
                vals.clear();
                self.spare = vals;
            }
        }
    }
}

/// Numerator and denominator per window index.
type RateWindows = WindowMap<(u64, u64)>;

/// A rate metric being accumulated: numerator and denominator over the run and per window of
/// each wanted window length.
#[derive(Debug, Clone, Default)]
pub struct RateAcc {
    numerator: u64,
    denominator: u64,
    windows: Vec<(i64, RateWindows)>,
}

/// A finished rate: numerator and denominator over the run, and per window length (ns) the
/// counts of every window with an increment, by window index.
pub type RateResult = ((u64, u64), Vec<(i64, Vec<(i64, u64, u64)>)>);

impl RateAcc {
    /// An empty rate, counted per window of each of `window_lengths_ns`.
    pub fn new(window_lengths_ns: &[i64]) -> Self {
        Self {
            numerator: 0,
            denominator: 0,
            windows: window_lengths_ns
                .iter()
                .map(|&w| (w.max(1), WindowMap::default()))
                .collect(),
        }
    }

    /// Adds events and opportunities at a log time: (log time ns, numerator, denominator).
    pub fn push(&mut self, (t_ns, numerator, denominator): (i64, u64, u64)) {
        self.numerator += numerator;
        self.denominator += denominator;
        for (len, counts) in &mut self.windows {
            let e = counts.entry_or_default(t_ns.div_euclid(*len));
            e.0 += numerator;
            e.1 += denominator;
        }
    }

    /// Events counted so far.
    pub fn numerator(&self) -> u64 {
        self.numerator
    }

    /// Opportunities counted so far.
    pub fn denominator(&self) -> u64 {
        self.denominator
    }

    /// The run's counts and every window's.
    pub fn finish(self) -> RateResult {
        (
            (self.numerator, self.denominator),
            self.windows
                .into_iter()
                .map(|(len, c)| {
                    let windows = c.into_entries().into_iter();
                    (len, windows.map(|(w, (n, d))| (w, n, d)).collect())
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every window's summary is the in-memory summary of exactly the samples that fell
        /// in it, however out of order they come (NaNs among them, or nothing else).
        #[test]
        fn windows_summarise_exactly_their_samples(
            samples in proptest::collection::vec(
                (-50i64..400, prop_oneof![4 => -1e3f64..1e3, 1 => Just(f64::NAN)]),
                0..300,
            ),
        ) {
            let mut acc = DistributionAcc::new(MemoryStore::default(), &[10, 7]);
            for s in &samples {
                acc.push(*s);
            }
            let Ok((whole, windows)) = acc.finish();
            let all: Vec<f64> = samples.iter().map(|s| s.1).collect();
            prop_assert_eq!(whole, Summary::of(&all));
            for (len, got) in windows {
                let mut want: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                for (t, v) in &samples {
                    want.entry(t.div_euclid(len)).or_default().push(*v);
                }
                let want: Vec<(i64, Summary)> = want
                    .into_iter()
                    .filter_map(|(w, v)| Some((w, Summary::of(&v)?)))
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn rates_sum_per_window() {
        let mut r = RateAcc::new(&[10]);
        for s in [(1, 1, 2), (9, 0, 3), (10, 2, 2), (-1, 1, 1)] {
            r.push(s);
        }
        let ((n, d), w) = r.finish();
        assert_eq!((n, d), (4, 8));
        assert_eq!(w, vec![(10, vec![(-1, 1, 1), (0, 1, 5), (1, 2, 2)])]);
    }
}
