//! Radar detections and their grouping into objects.

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
pub fn cluster(detections: &[RadarDetection], cfg: &ClusterConfig) -> Vec<RadarObject> {
    // sized for every detection at once: collected through a filter, the list grew from
    // nothing by doubling, five or six allocations a frame of 64 points
    let mut pts: Vec<&RadarDetection> = Vec::with_capacity(detections.len());
    pts.extend(detections.iter().filter(|d| d.snr_db >= cfg.min_snr_db));
    let mut parent: Vec<usize> = (0..pts.len()).collect();
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
    // Positions are sorted with their indices alongside, not reached through them.
    let mut sorted: Vec<(Point3<f64>, usize)> = pts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.position_m, i))
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.x.total_cmp(&b.0.x));
    for (k, &(p, i)) in sorted.iter().enumerate() {
        for &(q, j) in &sorted[k + 1..] {
            if q.x - p.x > cfg.max_gap_m {
                break;
            }
            if (p - q).norm_squared() <= gap2 {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
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
    let mut slot = vec![usize::MAX; pts.len()];
    let mut groups: Vec<Group> = Vec::with_capacity(pts.len());
    for (i, d) in pts.iter().enumerate() {
        let r = root(&mut parent, i);
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
        .filter(|g| g.points >= cfg.min_points)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    proptest::proptest! {
        #[test]
        fn the_x_sweep_finds_the_same_objects_as_comparing_every_pair(
            xy in proptest::collection::vec((-20.0f64..20.0, 0.0f64..40.0, 0.0f64..3.0), 0..80)
        ) {
            let pts: Vec<RadarDetection> = xy.iter().map(|(x, y, z)| RadarDetection {
                position_m: Point3::new(*x, *y, *z),
                doppler_mps: x - y,
                snr_db: 15.0 + z,
            }).collect();
            let cfg = ClusterConfig { min_points: 1, ..ClusterConfig::default() };
            let objs = cluster(&pts, &cfg);
            let labels = groups_by_all_pairs(&pts, cfg.max_gap_m);
            let mut sizes: Vec<usize> = labels.iter().enumerate()
                .filter(|(i, l)| *i == **l)
                .map(|(i, _)| labels.iter().filter(|l| **l == i).count())
                .collect();
            let mut got: Vec<usize> = objs.iter().map(|o| o.points).collect();
            sizes.sort_unstable();
            got.sort_unstable();
            proptest::prop_assert_eq!(got, sizes);
        }
    }
}
