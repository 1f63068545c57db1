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
    let scaled = |r: usize, c: usize| match cost(r, c) {
        Some(v) if v.is_finite() => ((v * SCALE).round() as i64).clamp(0, INFEASIBLE - 1),
        _ => INFEASIBLE,
    };
    solve(
        rows,
        cols,
        scaled,
        |w| kuhn_munkres_min(w).1,
        |w| w < INFEASIBLE,
    )
}

/// Solves the assignment between `rows` and `cols` items maximising the total integer
/// `weight(r, c)` (≥ 0). Returns the `(row, col)` pairs with a positive weight, sorted by row.
pub fn max_weight_pairs(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
) -> Vec<(usize, usize)> {
    solve(rows, cols, weight, |w| kuhn_munkres(w).1, |w| w > 0)
}

/// Runs `solver` on the weight matrix (transposed when there are more rows than columns, as
/// the solver wants rows ≤ columns) and keeps the pairs whose weight passes `keep`.
fn solve(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
    solver: impl Fn(&Matrix<i64>) -> Vec<usize>,
    keep: impl Fn(i64) -> bool,
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
    let weights = Matrix::from_vec(nr, nc, values).expect("nr * nc values");
    let mut pairs: Vec<(usize, usize)> = solver(&weights)
        .into_iter()
        .enumerate()
        .filter(|&(i, j)| keep(weights[(i, j)]))
        .map(|(i, j)| if transposed { (j, i) } else { (i, j) })
        .collect();
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

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
