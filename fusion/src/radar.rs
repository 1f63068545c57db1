//! Radar detections and their grouping into objects.

use crate::stats::order_key;
use nalgebra::Point3;

/// One radar detection in the radar frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarDetection {
    /// Position in the radar frame, m.
    pub position_m: Point3<f64>,
    /// Radial velocity, m/s, positive away from the radar.
    pub doppler_mps: f64,
    /// Signal-to-noise ratio, dB.
    pub snr_db: f64,
}

/// A group of nearby detections taken as one physical object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarObject {
    /// SNR-weighted centroid in the radar frame, m.
    pub position_m: Point3<f64>,
    /// Mean radial velocity, m/s.
    pub doppler_mps: f64,
    /// Strongest detection's SNR, dB.
    pub snr_db: f64,
    /// Number of detections in the group.
    pub points: usize,
}

/// Clustering parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterConfig {
    /// Detections closer than this join one object, m.
    pub max_gap_m: f64,
    /// Detections weaker than this are ignored, dB.
    pub min_snr_db: f64,
    /// Objects need at least this many detections.
    pub min_points: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            max_gap_m: 1.2,
            min_snr_db: 12.0,
            min_points: 2,
        }
    }
}

/// Groups detections into objects (connected components under `max_gap_m`), ordered by range.
///
/// Detections weaker than `min_snr_db` are left out; a component of fewer than `min_points`
/// detections is no object. An object's sums run over its detections in their input order.
pub fn cluster(detections: &[RadarDetection], cfg: &ClusterConfig) -> Vec<RadarObject> {
    let strong = strong_indices(detections, cfg.min_snr_db);
    let n = strong.len();
    let position = |k: usize| detections[strong[k]].position_m;
    // union-find over the strong detections, numbered 0..n in input order
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let gap2 = cfg.max_gap_m * cfg.max_gap_m;
    // sweep along x: only pairs within the gap in x can be within it in 3-D. A component's
    // root is its smallest index whatever the order pairs are joined in, so the groups (and
    // every sum over them, taken in index order below) are the same as comparing all pairs;
    // the order among equal x does not matter either, as the sweep goes on through them.
    // Positions are gathered in sorted order, not reached through their indices.
    let sorted: Vec<(Point3<f64>, usize)> = order_along_x(n, |k| position(k).x)
        .into_iter()
        .map(|k| (position(k), k))
        .collect();
    // the pairs within the gap of one point, joined after its sweep: whether a pair is within
    // the gap is a coin flip to the branch predictor, so the test only moves a cursor
    let mut near: Vec<usize> = vec![0; n];
    for (k, &(p, i)) in sorted.iter().enumerate() {
        let mut found = 0;
        for &(q, j) in &sorted[k + 1..] {
            if q.x - p.x > cfg.max_gap_m {
                break;
            }
            near[found] = j;
            found += usize::from((p - q).norm_squared() <= gap2);
        }
        if found > 0 {
            // i's root, found once for its sweep: after a join it is the smaller of the two
            let mut a = root(&mut parent, i);
            for &j in &near[..found] {
                let b = root(&mut parent, j);
                if a != b {
                    parent[a.max(b)] = a.min(b);
                    a = a.min(b);
                }
            }
        }
    }
    // each detection's component, in place: no parent is above its child (a join hangs the
    // larger root under the smaller, a halving step moves a child up its own path), so in
    // index order a detection's parent already holds its root
    for i in 0..n {
        parent[i] = parent[parent[i]];
    }
    let roots = &parent[..];
    // and each component's size, so that only the components that make an object are summed
    // (an SNR weight is a `powf`)
    let mut size = vec![0usize; n];
    for &r in roots {
        size[r] += 1;
    }
    // a component's root is its smallest index, so visiting points in index order meets the
    // components in root order and every sum runs in index order, as the definition reads
    #[derive(Default)]
    struct Group {
        wsum: f64,
        weighted: nalgebra::Vector3<f64>,
        doppler_sum: f64,
        snr_max: f64,
        points: usize,
    }
    // each root's object, kept where the sweep kept its pairs; at most n / min_points
    // objects, so the list is sized once
    let slot = &mut near;
    slot.fill(usize::MAX);
    let mut groups: Vec<Group> = Vec::with_capacity(n / cfg.min_points.max(1));
    for (i, &r) in roots.iter().enumerate() {
        if size[r] < cfg.min_points {
            continue;
        }
        if slot[r] == usize::MAX {
            slot[r] = groups.len();
            // sums start at -0.0, as `Iterator::sum` does for floats
            groups.push(Group {
                wsum: -0.0,
                doppler_sum: -0.0,
                snr_max: f64::NEG_INFINITY,
                ..Group::default()
            });
        }
        let d = &detections[strong[i]];
        let g = &mut groups[slot[r]];
        let w = 10f64.powf(d.snr_db / 20.0);
        g.wsum += w;
        g.weighted += d.position_m.coords * w;
        g.doppler_sum += d.doppler_mps;
        g.snr_max = g.snr_max.max(d.snr_db);
        g.points += 1;
    }
    let mut objects: Vec<RadarObject> = groups
        .into_iter()
        .map(|g| RadarObject {
            position_m: Point3::from(g.weighted / g.wsum),
            doppler_mps: g.doppler_sum / g.points as f64,
            snr_db: g.snr_max,
            points: g.points,
        })
        .collect();
    objects.sort_by(|a, b| {
        a.position_m
            .coords
            .norm()
            .total_cmp(&b.position_m.coords.norm())
    });
    objects
}

/// Indices of the detections at least `min_snr_db` strong, in input order.
fn strong_indices(detections: &[RadarDetection], min_snr_db: f64) -> Vec<usize> {
    // every index is written and the cursor moves on only for a strong one: whether a
    // detection is strong is a coin flip to the branch predictor
    let mut strong = vec![0; detections.len()];
    let mut n = 0;
    for (i, d) in detections.iter().enumerate() {
        strong[n] = i;
        n += usize::from(d.snr_db >= min_snr_db);
    }
    strong.truncate(n);
    strong
}

/// `0..n` ordered by `x(k)` as `f64::total_cmp` orders (equal x in any order).
///
/// Sorted as one `u64` a point, twice as fast as sorting (x, index) pairs: x's
/// order-preserving bits with the lowest few replaced by the index. Points whose x differ in
/// those bits alone then sort by index; each such run is put in exact order after.
fn order_along_x(n: usize, x: impl Fn(usize) -> f64) -> Vec<usize> {
    // enough low bits for any index below n (n is far below 2^58: a detection is 40 bytes)
    let bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    let low = (1u64 << bits) - 1;
    let mut keys: Vec<u64> = (0..n)
        .map(|k| (order_key(x(k)) & !low) | k as u64)
        .collect();
    keys.sort_unstable();
    let mut start = 0;
    while start < n {
        let high = keys[start] & !low;
        let mut end = start + 1;
        while end < n && keys[end] & !low == high {
            end += 1;
        }
        if end - start > 1 {
            keys[start..end].sort_unstable_by_key(|&key| order_key(x((key & low) as usize)));
        }
        start = end;
    }
    keys.into_iter().map(|key| (key & low) as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn det(x: f64, y: f64, snr: f64) -> RadarDetection {
        RadarDetection {
            position_m: Point3::new(x, y, 0.0),
            doppler_mps: 1.0,
            snr_db: snr,
        }
    }

    #[test]
    fn groups_near_points_and_drops_weak_and_lonely_ones() {
        let d = [
            det(0.0, 20.0, 20.0),
            det(0.5, 20.3, 20.0),
            det(0.2, 19.8, 20.0),
            det(5.0, 30.0, 20.0),
            det(5.3, 30.0, 20.0),
            det(-8.0, 10.0, 20.0), // alone
            det(5.1, 30.2, 3.0),   // weak
        ];
        let objs = cluster(&d, &ClusterConfig::default());
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].points, 3);
        assert!((objs[0].position_m.y - 20.033).abs() < 0.01);
        assert_eq!(objs[1].points, 2);
    }

    /// Which points share a group, by comparing every pair (the definition).
    fn groups_by_all_pairs(pts: &[RadarDetection], gap_m: f64) -> Vec<usize> {
        let mut label: Vec<usize> = (0..pts.len()).collect();
        loop {
            let mut changed = false;
            for i in 0..pts.len() {
                for j in 0..pts.len() {
                    if (pts[i].position_m - pts[j].position_m).norm() <= gap_m
                        && label[j] < label[i]
                    {
                        label[i] = label[j];
                        changed = true;
                    }
                }
            }
            if !changed {
                return label;
            }
        }
    }

    /// The objects by their definition: the strong detections' groups by comparing every
    /// pair, the groups of at least `min_points` in order of their first detection, each
    /// one's sums over its detections in input order, then a stable sort by range.
    fn objects_by_definition(
        detections: &[RadarDetection],
        cfg: &ClusterConfig,
    ) -> Vec<RadarObject> {
        let strong: Vec<RadarDetection> = detections
            .iter()
            .copied()
            .filter(|d| d.snr_db >= cfg.min_snr_db)
            .collect();
        let labels = groups_by_all_pairs(&strong, cfg.max_gap_m);
        let mut objects: Vec<RadarObject> = (0..strong.len())
            .filter(|&i| labels[i] == i)
            .filter_map(|l| {
                let members: Vec<&RadarDetection> = strong
                    .iter()
                    .zip(&labels)
                    .filter(|(_, m)| **m == l)
                    .map(|(d, _)| d)
                    .collect();
                if members.len() < cfg.min_points {
                    return None;
                }
                let w = |d: &RadarDetection| 10f64.powf(d.snr_db / 20.0);
                let wsum: f64 = members.iter().map(|d| w(d)).sum();
                let weighted = members.iter().fold(nalgebra::Vector3::zeros(), |acc, d| {
                    acc + d.position_m.coords * w(d)
                });
                let doppler_sum: f64 = members.iter().map(|d| d.doppler_mps).sum();
                Some(RadarObject {
                    position_m: Point3::from(weighted / wsum),
                    doppler_mps: doppler_sum / members.len() as f64,
                    snr_db: members
                        .iter()
                        .map(|d| d.snr_db)
                        .fold(f64::NEG_INFINITY, f64::max),
                    points: members.len(),
                })
            })
            .collect();
        let range = |o: &RadarObject| o.position_m.coords.norm();
        objects.sort_by(|a, b| range(a).total_cmp(&range(b)));
        objects
    }

    /// Every number of an object, as bits: the sweep must give the definition's exact floats.
    fn bits(objects: &[RadarObject]) -> Vec<[u64; 6]> {
        objects
            .iter()
            .map(|o| {
                let p = o.position_m;
                [p.x, p.y, p.z, o.doppler_mps, o.snr_db, o.points as f64].map(f64::to_bits)
            })
            .collect()
    }

    /// Detections for the properties: a position, SNR and Doppler each, and some sharing
    /// another's x exactly or within a few ulps (x ties, which the sort key must order).
    fn detections() -> impl proptest::strategy::Strategy<Value = Vec<RadarDetection>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (
                -20.0f64..20.0,
                0.0f64..40.0,
                0.0f64..3.0,
                5.0f64..30.0,
                proptest::option::weighted(0.3, (any::<proptest::sample::Index>(), 0u64..4)),
            ),
            0..90,
        )
        .prop_map(|rows| {
            let mut out: Vec<RadarDetection> = Vec::with_capacity(rows.len());
            for (x, y, z, snr, tie) in rows {
                let x = match tie {
                    Some((other, ulps)) if !out.is_empty() => {
                        f64::from_bits(out[other.index(out.len())].position_m.x.to_bits() + ulps)
                    }
                    _ => x,
                };
                out.push(RadarDetection {
                    position_m: Point3::new(x, y, z),
                    doppler_mps: x - y,
                    snr_db: snr,
                });
            }
            out
        })
    }

    proptest::proptest! {
        #[test]
        fn the_objects_are_the_definitions_to_the_bit(
            pts in detections(),
            gap in 0.3f64..3.0,
            min_points in 1usize..4,
        ) {
            let cfg = ClusterConfig { max_gap_m: gap, min_snr_db: 12.0, min_points };
            proptest::prop_assert_eq!(
                bits(&cluster(&pts, &cfg)),
                bits(&objects_by_definition(&pts, &cfg))
            );
        }

        #[test]
        fn points_are_ordered_along_x_as_total_cmp_orders_them(
            xs in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f64::ANY,
                    -2.0f64..2.0,
                    (0u64..3).prop_map(|u| f64::from_bits(1.0f64.to_bits() + u)),
                    proptest::sample::select(vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN]),
                ],
                0..300,
            ),
        ) {
            let order = order_along_x(xs.len(), |k| xs[k]);
            let mut seen = order.clone();
            seen.sort_unstable();
            proptest::prop_assert_eq!(seen, (0..xs.len()).collect::<Vec<_>>());
            for w in order.windows(2) {
                proptest::prop_assert!(xs[w[0]].total_cmp(&xs[w[1]]).is_le(), "{} before {}", xs[w[0]], xs[w[1]]);
            }
        }
    }
}
