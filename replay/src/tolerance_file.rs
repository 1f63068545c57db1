//! The baseline tolerance file (`--tolerance FILE`, TOML):
//!
//! ```toml
//! relative = 0.10          # default for every metric: allowed worsening, fraction of baseline
//! absolute = 0.0           # ... and in the metric's unit; the larger of the two applies
//! [metric."sync_error_us.p999"]
//! relative = 0.25
//! absolute = 5.0
//! ```

use crate::{Error, Result};
use radcam_fusion::gates::Tolerance;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Entry {
    relative: Option<f64>,
    absolute: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    relative: Option<f64>,
    absolute: Option<f64>,
    #[serde(default)]
    metric: BTreeMap<String, Entry>,
}

/// Tolerances: a default and per-metric overrides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tolerances {
    /// For metrics without an override.
    pub default: Tolerance,
    /// By metric path.
    pub per_metric: BTreeMap<String, Tolerance>,
}

impl Tolerances {
    /// The tolerance of one metric path.
    pub fn of(&self, metric: &str) -> Tolerance {
        self.per_metric.get(metric).copied().unwrap_or(self.default)
    }
}

/// Parses tolerance TOML; `path` names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Tolerances> {
    let bad = |message: String| Error::Config {
        path: path.to_owned(),
        message,
    };
    let f: File = toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_owned()))?;
    let check = |field: String, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(bad(format!(
                "{field}: must be a non-negative number, got {v}"
            )))
        }
    };
    let base = Tolerance::default();
    let default = Tolerance {
        relative: check("relative".into(), f.relative.unwrap_or(base.relative))?,
        absolute: check("absolute".into(), f.absolute.unwrap_or(base.absolute))?,
    };
    let known = crate::runner::known_metric_paths();
    let mut per_metric = BTreeMap::new();
    for (name, e) in f.metric {
        if !known.contains(&name) {
            return Err(bad(format!(
                "metric.\"{name}\": {}",
                crate::runner::unknown_metric(&name)
            )));
        }
        let t = Tolerance {
            relative: check(
                format!("metric.\"{name}\".relative"),
                e.relative.unwrap_or(default.relative),
            )?,
            absolute: check(
                format!("metric.\"{name}\".absolute"),
                e.absolute.unwrap_or(default.absolute),
            )?,
        };
        per_metric.insert(name, t);
    }
    Ok(Tolerances {
        default,
        per_metric,
    })
}

/// Reads and parses a tolerance file.
pub fn load(path: &Path) -> Result<Tolerances> {
    parse(&crate::read_text(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let t = parse(
            "relative = 0.2\n[metric.\"sync_error_us.p999\"]\nabsolute = 5.0\n",
            Path::new("t.toml"),
        )
        .expect("parses");
        assert_eq!(t.of("track_id_switch_rate").relative, 0.2);
        let s = t.of("sync_error_us.p999");
        assert_eq!((s.relative, s.absolute), (0.2, 5.0));
        let e = parse("[metric.\"nope\"]\nrelative = 1.0\n", Path::new("t.toml"))
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("t.toml") && e.contains("nope"), "{e}");
        let e = parse("relative = -1.0\n", Path::new("t.toml"))
            .expect_err("negative")
            .to_string();
        assert!(e.contains("relative"), "{e}");
    }
}
