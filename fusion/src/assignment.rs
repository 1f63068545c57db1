//! Global minimum-cost assignment over gated pairs (Kuhn-Munkres from `pathfinding`; the
//! small conflicts of a frame by trying every assignment).

use pathfinding::{
    kuhn_munkres::{kuhn_munkres, kuhn_munkres_min},
    matrix::Matrix,
};

/// Cost units per 1.0 of caller cost: costs are rounded to 1e-6 for the integer solver.
const SCALE: f64 = 1e6;
/// Cost of a pair that failed its gate; such pairs are never returned.
const INFEASIBLE: i64 = 1 << 50;
/// Kept pairs reserved before a solve, at most.
const KEPT_RESERVE: usize = 1 << 10;

/// Solves the assignment between `rows` and `cols` items minimising the total cost.
/// `cost(r, c)` is `None` for a pair that failed its gate. Returns matched `(row, col)` pairs,
/// sorted by row, each with a feasible cost.
pub fn min_cost_pairs(
    rows: usize,
    cols: usize,
    cost: impl Fn(usize, usize) -> Option<f64>,
) -> Vec<(usize, usize)> {
    solve(rows, cols, |r, c| scaled(cost(r, c)), Objective::MinCost)
}

/// A caller's cost as the solver's integer: `INFEASIBLE` for a gated or non-finite pair.
fn scaled(cost: Option<f64>) -> i64 {
    match cost {
        Some(v) if v.is_finite() => ((v * SCALE).round() as i64).clamp(0, INFEASIBLE - 1),
        _ => INFEASIBLE,
    }
}

/// Solves the assignment between `rows` and `cols` items maximising the total integer
/// `weight(r, c)` (≥ 0). Returns the `(row, col)` pairs with a positive weight, sorted by row.
pub fn max_weight_pairs(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
) -> Vec<(usize, usize)> {
    solve(rows, cols, weight, Objective::MaxWeight)
}

/// What the solver optimises, and which of its pairs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objective {
    /// Least total cost; pairs cheaper than `INFEASIBLE` are kept.
    MinCost,
    /// Greatest total weight; pairs of positive weight are kept.
    MaxWeight,
}

impl Objective {
    /// Whether a pair of weight `w` is kept (is an answer when chosen).
    fn keep(self, w: i64) -> bool {
        match self {
            Self::MinCost => w < INFEASIBLE,
            Self::MaxWeight => w > 0,
        }
    }

    /// `w` ordered so that smaller is better.
    fn key(self, w: i64) -> i64 {
        match self {
            Self::MinCost => w,
            Self::MaxWeight => -w,
        }
    }

    /// The weight of every pair that is not kept, in a problem that splits (see
    /// [`Splits`]).
    fn unkept(self) -> i64 {
        match self {
            Self::MinCost => INFEASIBLE,
            Self::MaxWeight => 0,
        }
    }

    /// Kuhn-Munkres on `weights` (rows ≤ columns): the column of each row.
    fn solver(self, weights: &Matrix<i64>) -> Vec<usize> {
        match self {
            Self::MinCost => kuhn_munkres_min(weights).1,
            Self::MaxWeight => kuhn_munkres(weights).1,
        }
    }
}

/// Whether an optimum's kept pairs are a best matching of the kept pairs alone, so the
/// problem splits over the kept pairs' connected components, found while the weights are
/// read.
///
/// - least cost: while the feasible costs add up to less than one infeasible pair, an
///   optimum has as few infeasible pairs as can be, so its feasible pairs are a largest
///   matching of the feasible pairs alone, of least cost among those. Size and cost add up
///   over the components, and any such matching can be completed with infeasible pairs
///   (the solver's side with fewer items always has room);
/// - greatest weight: with no negative weight every unkept pair weighs 0, so an optimum's
///   positive pairs are a heaviest matching of the positive pairs alone.
struct Splits {
    objective: Objective,
    kept_sum: Option<i64>,
    negative: bool,
}

impl Splits {
    fn new(objective: Objective) -> Self {
        Self {
            objective,
            kept_sum: Some(0),
            negative: false,
        }
    }

    fn see(&mut self, w: i64) {
        self.negative |= w < 0;
        if self.objective.keep(w) {
            self.kept_sum = self.kept_sum.and_then(|s| s.checked_add(w));
        }
    }

    fn holds(&self) -> bool {
        match self.objective {
            Objective::MinCost => self.kept_sum.is_some_and(|s| s < INFEASIBLE),
            Objective::MaxWeight => !self.negative,
        }
    }
}

/// Solves the `rows` × `cols` assignment of integer weights `weight(r, c)` for `objective`
/// and returns the kept pairs of an optimum, sorted.
///
/// Where the problem splits (see [`Splits`]), each connected component of the kept pairs is
/// solved on its own: a lone kept pair is taken as it is (the usual case for well-separated
/// objects), a component of one row (or one column) takes its best pair, the first of
/// equals, two rows competing for two columns take the better diagonal, and where more rows
/// compete for more columns, that component's own small matrix is solved: every assignment
/// tried up to [`TRIED_SIDE`] on a side, Kuhn-Munkres beyond. Where optima tie, the pairs
/// taken may differ from those of the whole matrix solved at once; their total does not.
fn solve(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
    objective: Objective,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let mut splits = Splits::new(objective);
    // room for a frame's pairs up front; a run's IDF1 matrix (every truth id against every
    // track id: 700,000 cells after a day of the demo rig, a tenth of them kept) grows as kept
    let mut kept: Vec<(usize, usize, i64)> =
        Vec::with_capacity(rows.saturating_mul(cols).min(KEPT_RESERVE));
    for r in 0..rows {
        for c in 0..cols {
            let w = weight(r, c);
            splits.see(w);
            if objective.keep(w) {
                kept.push((r, c, w));
            }
        }
    }
    let mut pairs = if splits.holds() {
        by_components(rows, cols, &kept, objective)
    } else {
        solve_whole(rows, cols, weight, objective)
    };
    pairs.sort_unstable();
    pairs
}

/// The whole matrix solved as one block (see [`solve_block`]); the chosen pairs that are
/// kept.
fn solve_whole(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
    objective: Objective,
) -> Vec<(usize, usize)> {
    let all_rows: Vec<usize> = (0..rows).collect();
    let all_cols: Vec<usize> = (0..cols).collect();
    solve_block(&all_rows, &all_cols, weight, objective)
}

/// The kept pairs' connected components (rows and columns joined by a kept pair), each
/// solved on its own. `kept` is (row, column, weight).
fn by_components(
    rows: usize,
    cols: usize,
    kept: &[(usize, usize, i64)],
    objective: Objective,
) -> Vec<(usize, usize)> {
    // union-find over rows (0..rows) and columns (rows..rows + cols)
    let mut parent: Vec<usize> = (0..rows + cols).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(r, c, _) in kept {
        let (a, b) = (root(&mut parent, r), root(&mut parent, rows + c));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    // (component, row, column, weight), by component, each in row-major order
    let mut edges: Vec<(usize, usize, usize, i64)> = kept
        .iter()
        .map(|&(r, c, w)| (root(&mut parent, r), r, c, w))
        .collect();
    edges.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    let mut pairs = Vec::with_capacity(rows.min(cols));
    let (mut block_rows, mut block_cols) = (Vec::new(), Vec::new());
    for component in edges.chunk_by(|a, b| a.0 == b.0) {
        let first = component[0];
        if component.iter().all(|e| e.1 == first.1) || component.iter().all(|e| e.2 == first.2) {
            // one item on a side: its best pair is the optimum (a lone pair is the best)
            pairs.extend(
                component
                    .iter()
                    .min_by_key(|e| objective.key(e.3))
                    .map(|e| (e.1, e.2)),
            );
            continue;
        }
        block_rows.clear();
        block_rows.extend(component.iter().map(|e| e.1));
        block_rows.dedup();
        block_cols.clear();
        block_cols.extend(component.iter().map(|e| e.2));
        block_cols.sort_unstable();
        block_cols.dedup();
        let weight = |r: usize, c: usize| {
            let i = component.partition_point(|e| (e.1, e.2) < (r, c));
            component
                .get(i)
                .filter(|e| (e.1, e.2) == (r, c))
                .map_or(objective.unkept(), |e| e.3)
        };
        if let (Objective::MinCost, [r0, r1], [c0, c1]) =
            (objective, &block_rows[..], &block_cols[..])
        {
            // two rows competing for two columns (three or four feasible pairs, as neither
            // side is one item): two pairs beat one, so a diagonal whose two pairs are
            // both feasible, the cheaper if both are
            let diagonal = [(*r0, *c0), (*r1, *c1)];
            let anti = [(*r0, *c1), (*r1, *c0)];
            let total = |d: &[(usize, usize); 2]| {
                d.iter()
                    .map(|&(r, c)| weight(r, c))
                    .try_fold(0i64, |sum, w| objective.keep(w).then_some(sum + w))
            };
            let best = match (total(&diagonal), total(&anti)) {
                (Some(d), Some(a)) if a < d => anti,
                (Some(_), _) => diagonal,
                _ => anti,
            };
            pairs.extend(best);
            continue;
        }
        pairs.extend(solve_block(&block_rows, &block_cols, weight, objective));
    }
    pairs
}

/// Largest side of a block whose assignments are all tried instead of solved by
/// Kuhn-Munkres: at most 4 · 3 · 2 · 1 = 24 of them, tried with no allocation, where
/// `pathfinding`'s solver allocates about eight vectors a solve. The association's
/// conflicts are mostly 3 × 3 (2 × 3 to 4 × 4 nearly all the rest): about one a camera
/// frame of the demo rig.
const TRIED_SIDE: usize = 4;

/// Kuhn-Munkres on the weights of `rows` × `cols` (transposed when there are more rows
/// than columns, as the solver wants), or every assignment tried when the block is at most
/// [`TRIED_SIDE`] on a side; returns the chosen pairs that are kept.
fn solve_block(
    rows: &[usize],
    cols: &[usize],
    weight: impl Fn(usize, usize) -> i64,
    objective: Objective,
) -> Vec<(usize, usize)> {
    let transposed = rows.len() > cols.len();
    let (outer, inner) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let at = |o: usize, i: usize| {
        if transposed {
            weight(inner[i], outer[o])
        } else {
            weight(outer[o], inner[i])
        }
    };
    let pair = |o: usize, i: usize| {
        if transposed {
            (inner[i], outer[o])
        } else {
            (outer[o], inner[i])
        }
    };
    let (n_outer, n_inner) = (outer.len(), inner.len());
    if n_inner <= TRIED_SIDE {
        let mut block = [0i64; TRIED_SIDE * TRIED_SIDE];
        for o in 0..n_outer {
            for i in 0..n_inner {
                block[o * n_inner + i] = at(o, i);
            }
        }
        let chosen = by_trying(&block[..n_outer * n_inner], n_outer, n_inner, objective);
        return (0..n_outer)
            .filter(|&o| objective.keep(block[o * n_inner + chosen[o]]))
            .map(|o| pair(o, chosen[o]))
            .collect();
    }
    let mut block = Vec::with_capacity(n_outer * n_inner);
    for o in 0..n_outer {
        block.extend((0..n_inner).map(|i| at(o, i)));
    }
    let weights = Matrix::from_vec(n_outer, n_inner, block).expect("outer × inner values");
    objective
        .solver(&weights)
        .into_iter()
        .enumerate()
        .filter(|&(o, i)| objective.keep(weights[(o, i)]))
        .map(|(o, i)| pair(o, i))
        .collect()
}

/// The column of each of `outer` rows in an assignment of `weights` (row-major, `outer` ×
/// `inner`, `outer` ≤ `inner` ≤ [`TRIED_SIDE`]) whose keys add up to the least total (see
/// [`Objective::key`]), found by trying every assignment; the first such in the order they
/// are tried (row 0's column first, columns ascending) where several tie.
fn by_trying(
    weights: &[i64],
    outer: usize,
    inner: usize,
    objective: Objective,
) -> [usize; TRIED_SIDE] {
    /// The search: the assignment being tried and the best one so far.
    struct Search<'a> {
        weights: &'a [i64],
        outer: usize,
        inner: usize,
        objective: Objective,
        trying: [usize; TRIED_SIDE],
        best: [usize; TRIED_SIDE],
        best_total: Option<i128>,
    }
    impl Search<'_> {
        /// Tries every column for `row` not in `used` (a bit per column), then the rows after.
        fn try_rows(&mut self, row: usize, used: u32, total: i128) {
            if row == self.outer {
                if self.best_total.is_none_or(|best| total < best) {
                    self.best_total = Some(total);
                    self.best = self.trying;
                }
                return;
            }
            for col in 0..self.inner {
                if used >> col & 1 == 0 {
                    self.trying[row] = col;
                    let key = self.objective.key(self.weights[row * self.inner + col]);
                    self.try_rows(row + 1, used | 1 << col, total + i128::from(key));
                }
            }
        }
    }
    debug_assert!(outer <= inner && inner <= TRIED_SIDE && weights.len() == outer * inner);
    let mut search = Search {
        weights,
        outer,
        inner,
        objective,
        trying: [0; TRIED_SIDE],
        best: [0; TRIED_SIDE],
        best_total: None,
    };
    search.try_rows(0, 0, 0);
    search.best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The whole matrix solved as one block (every assignment tried up to [`TRIED_SIDE`] on
    /// a side, Kuhn-Munkres beyond), never split into components.
    fn solver_only_min(rows: usize, cols: usize, c: &[Vec<Option<f64>>]) -> Vec<(usize, usize)> {
        solve_whole(rows, cols, |r, k| scaled(c[r][k]), Objective::MinCost)
    }

    fn solver_only_max(rows: usize, cols: usize, w: &[Vec<i64>]) -> Vec<(usize, usize)> {
        solve_whole(rows, cols, |r, k| w[r][k], Objective::MaxWeight)
    }

    /// `pairs` use every row and every column at most once.
    fn is_matching(pairs: &[(usize, usize)]) -> bool {
        let rows: std::collections::BTreeSet<usize> = pairs.iter().map(|p| p.0).collect();
        let cols: std::collections::BTreeSet<usize> = pairs.iter().map(|p| p.1).collect();
        rows.len() == pairs.len() && cols.len() == pairs.len()
    }

    proptest! {
        /// Every assignment tried finds an optimum as good as Kuhn-Munkres's, for both
        /// objectives, on any block up to the tried side (infeasible cells and ties
        /// included), and is an assignment: every outer row its own column.
        #[test]
        fn trying_every_assignment_is_as_good_as_kuhn_munkres(
            outer in 1usize..=TRIED_SIDE,
            extra in 0usize..TRIED_SIDE,
            cells in proptest::collection::vec((0u8..10, 0i64..40), TRIED_SIDE * TRIED_SIDE),
        ) {
            let inner = (outer + extra).min(TRIED_SIDE);
            for objective in [Objective::MinCost, Objective::MaxWeight] {
                let block: Vec<i64> = cells[..outer * inner]
                    .iter()
                    .map(|&(gate, w)| match (objective, gate < 3) {
                        (Objective::MinCost, true) => INFEASIBLE,
                        (Objective::MaxWeight, true) => 0,
                        (_, false) => w,
                    })
                    .collect();
                let total = |cols: &[usize]| -> i128 {
                    cols.iter()
                        .enumerate()
                        .map(|(o, &i)| i128::from(objective.key(block[o * inner + i])))
                        .sum()
                };
                let tried = by_trying(&block, outer, inner, objective);
                let tried = &tried[..outer];
                let mut seen = [false; TRIED_SIDE];
                for &i in tried {
                    prop_assert!(i < inner && !seen[i]);
                    seen[i] = true;
                }
                let matrix = Matrix::from_vec(outer, inner, block.clone()).expect("outer × inner");
                prop_assert_eq!(total(tried), total(&objective.solver(&matrix)));
            }
        }

        /// Sparse gates (mostly conflict-free, sometimes not, with many ties): solving the
        /// components one by one finds pairs as many and as good as the solver on the whole
        /// matrix, each of them kept.
        #[test]
        fn components_solved_apart_are_as_good_as_the_whole(
            rows in 1usize..7,
            cols in 1usize..7,
            cells in proptest::collection::vec((0u8..10, 0u8..50, 0i64..5), 36),
        ) {
            let cost: Vec<Vec<Option<f64>>> = (0..rows)
                .map(|r| (0..cols).map(|k| {
                    let (gate, v, _) = cells[r * 6 + k];
                    (gate < 3).then_some(f64::from(v) / 2.0)
                }).collect())
                .collect();
            let total_cost = |pairs: &[(usize, usize)]| -> Option<f64> {
                pairs.iter().map(|&(r, k)| cost[r][k]).sum()
            };
            let (split, whole) = (
                min_cost_pairs(rows, cols, |r, k| cost[r][k]),
                solver_only_min(rows, cols, &cost),
            );
            prop_assert!(is_matching(&split) && split.is_sorted());
            prop_assert_eq!(split.len(), whole.len());
            prop_assert_eq!(total_cost(&split), total_cost(&whole));
            let weight: Vec<Vec<i64>> = (0..rows)
                .map(|r| (0..cols).map(|k| {
                    let (gate, _, w) = cells[r * 6 + k];
                    if gate < 3 { w } else { 0 }
                }).collect())
                .collect();
            let total_weight = |pairs: &[(usize, usize)]| -> i64 {
                pairs.iter().map(|&(r, k)| weight[r][k]).sum()
            };
            let (split, whole) = (
                max_weight_pairs(rows, cols, |r, k| weight[r][k]),
                solver_only_max(rows, cols, &weight),
            );
            prop_assert!(is_matching(&split) && split.is_sorted());
            prop_assert!(split.iter().all(|&(r, k)| weight[r][k] > 0));
            prop_assert_eq!(total_weight(&split), total_weight(&whole));
        }
    }

    #[test]
    fn separate_conflicts_are_each_solved_and_lone_pairs_taken() {
        // rows 0 and 2 compete for columns 1 and 3 (greedy would take (0,1) then (2,3));
        // row 1 alone has column 0; row 3 has nothing; column 2 has nothing
        let mut c = [[None; 4]; 4];
        c[0][1] = Some(1.0);
        c[0][3] = Some(2.0);
        c[2][1] = Some(2.0);
        c[2][3] = Some(10.0);
        c[1][0] = Some(7.0);
        assert_eq!(
            min_cost_pairs(4, 4, |r, k| c[r][k]),
            vec![(0, 3), (1, 0), (2, 1)]
        );
    }

    #[test]
    fn prefers_the_global_optimum_over_greedy() {
        // Greedy would take (0,0)=1 then (1,1)=10: total 11. Optimal: (0,1)+(1,0) = 2+2.
        let c = [[1.0, 2.0], [2.0, 10.0]];
        assert_eq!(
            min_cost_pairs(2, 2, |r, k| Some(c[r][k])),
            vec![(0, 1), (1, 0)]
        );
    }

    #[test]
    fn gated_pairs_are_never_matched_and_shapes_may_be_tall() {
        let pairs = min_cost_pairs(3, 1, |r, _| (r == 2).then_some(5.0));
        assert_eq!(pairs, vec![(2, 0)]);
        assert!(min_cost_pairs(2, 2, |_, _| None).is_empty());
        assert!(min_cost_pairs(0, 3, |_, _| Some(1.0)).is_empty());
    }

    #[test]
    fn max_weight_takes_the_best_total() {
        let w = [[5, 4], [4, 0], [0, 1]];
        assert_eq!(max_weight_pairs(3, 2, |r, c| w[r][c]), vec![(0, 1), (1, 0)]);
    }
}
