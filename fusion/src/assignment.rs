//! Global minimum-cost assignment over gated pairs (Kuhn-Munkres from `pathfinding`).

use pathfinding::{
    kuhn_munkres::{kuhn_munkres, kuhn_munkres_min},
    matrix::Matrix,
};

/// Cost units per 1.0 of caller cost: costs are rounded to 1e-6 for the integer solver.
const SCALE: f64 = 1e6;
/// Cost of a pair that failed its gate; such pairs are never returned.
const INFEASIBLE: i64 = 1 << 50;

/// Solves the assignment between `rows` and `cols` items minimising the total cost.
/// `cost(r, c)` is `None` for a pair that failed its gate. Returns matched `(row, col)` pairs,
/// sorted by row, each with a feasible cost.
pub fn min_cost_pairs(
    rows: usize,
    cols: usize,
    cost: impl Fn(usize, usize) -> Option<f64>,
) -> Vec<(usize, usize)> {
    solve(
        rows,
        cols,
        |r, c| scaled(cost(r, c)),
        |w| kuhn_munkres_min(w).1,
        |w| w < INFEASIBLE,
        // an optimum takes every feasible pair it can while their costs add up to less than
        // one infeasible pair
        |values| {
            values
                .iter()
                .filter(|&&w| w < INFEASIBLE)
                .try_fold(0i64, |sum, &w| sum.checked_add(w))
                .is_some_and(|sum| sum < INFEASIBLE)
        },
    )
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
    solve(
        rows,
        cols,
        weight,
        |w| kuhn_munkres(w).1,
        |w| w > 0,
        // with no negative weight, adding a positive pair never lowers the total
        |values| values.iter().all(|&w| w >= 0),
    )
}

/// Runs `solver` on the weight matrix (transposed when there are more rows than columns, as
/// the solver wants rows ≤ columns) and keeps the pairs whose weight passes `keep`.
///
/// When the pairs that pass `keep` share no row and no column, and `matching_is_optimal`
/// holds for the matrix's weights (the caller's proof that every optimum then contains them
/// all), they are the answer and the solver is not run: the usual case for well-separated
/// objects, and the same pairs the solver would keep.
fn solve(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
    solver: impl Fn(&Matrix<i64>) -> Vec<usize>,
    keep: impl Fn(i64) -> bool,
    matching_is_optimal: impl Fn(&[i64]) -> bool,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let transposed = rows > cols;
    let (nr, nc) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    // filled in one allocation (`Matrix::from_fn` grows its storage as it goes)
    let mut values = Vec::with_capacity(nr * nc);
    for i in 0..nr {
        values.extend((0..nc).map(|j| {
            if transposed {
                weight(j, i)
            } else {
                weight(i, j)
            }
        }));
    }
    let kept: Vec<(usize, usize)> = values
        .iter()
        .enumerate()
        .filter(|&(_, &w)| keep(w))
        .map(|(k, _)| (k / nc, k % nc))
        .collect();
    let mut pairs: Vec<(usize, usize)> =
        if is_matching(&kept, nr, nc) && matching_is_optimal(&values) {
            kept
        } else {
            let weights = Matrix::from_vec(nr, nc, values).expect("nr * nc values");
            solver(&weights)
                .into_iter()
                .enumerate()
                .filter(|&(i, j)| keep(weights[(i, j)]))
                .collect()
        };
    if transposed {
        pairs.iter_mut().for_each(|p| *p = (p.1, p.0));
    }
    pairs.sort_unstable();
    pairs
}

/// `pairs` (row, column) use every row and every column at most once.
fn is_matching(pairs: &[(usize, usize)], rows: usize, cols: usize) -> bool {
    let (mut row_used, mut col_used) = (vec![false; rows], vec![false; cols]);
    pairs.iter().all(|&(r, c)| {
        let fresh = !row_used[r] && !col_used[c];
        row_used[r] = true;
        col_used[c] = true;
        fresh
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The solver's answer, never short-cut.
    fn solver_only_min(rows: usize, cols: usize, c: &[Vec<Option<f64>>]) -> Vec<(usize, usize)> {
        solve(
            rows,
            cols,
            |r, k| scaled(c[r][k]),
            |w| kuhn_munkres_min(w).1,
            |w| w < INFEASIBLE,
            |_| false,
        )
    }

    fn solver_only_max(rows: usize, cols: usize, w: &[Vec<i64>]) -> Vec<(usize, usize)> {
        solve(
            rows,
            cols,
            |r, k| w[r][k],
            |m| kuhn_munkres(m).1,
            |v| v > 0,
            |_| false,
        )
    }

    proptest! {
        /// Sparse gates (mostly conflict-free, sometimes not): the short cut and the solver
        /// keep the same pairs.
        #[test]
        fn the_short_cut_keeps_what_the_solver_keeps(
            rows in 1usize..7,
            cols in 1usize..7,
            cells in proptest::collection::vec((0u8..10, 0.0f64..50.0, 0i64..5), 36),
        ) {
            let cost: Vec<Vec<Option<f64>>> = (0..rows)
                .map(|r| (0..cols).map(|k| {
                    let (gate, v, _) = cells[r * 6 + k];
                    (gate < 2).then_some(v)
                }).collect())
                .collect();
            prop_assert_eq!(
                min_cost_pairs(rows, cols, |r, k| cost[r][k]),
                solver_only_min(rows, cols, &cost)
            );
            let weight: Vec<Vec<i64>> = (0..rows)
                .map(|r| (0..cols).map(|k| {
                    let (gate, _, w) = cells[r * 6 + k];
                    if gate < 2 { w } else { 0 }
                }).collect())
                .collect();
            prop_assert_eq!(
                max_weight_pairs(rows, cols, |r, k| weight[r][k]),
                solver_only_max(rows, cols, &weight)
            );
        }
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
