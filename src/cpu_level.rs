//! The instruction-set level this binary was compiled for, and whether this CPU has it.
//!
//! `.cargo/config.toml` builds x86-64 for x86-64-v2. Such a binary on a CPU without one of
//! those instructions would die of an illegal instruction somewhere in a run; `radcam` checks
//! first and says what is missing and how to build for the CPU instead.

/// Defines [`LEVEL`] and [`missing_features`] from the features each x86-64 level adds, each
/// named as `target_feature` and `is_x86_feature_detected!` spell it, so the level named and
/// the features checked come from one list.
macro_rules! x86_64_levels {
    ($(($name:literal, [$($feature:tt),+])),+) => {
        /// The level this binary was compiled for, as `radcam bench` reports it beside its
        /// timings: `x86-64`, `x86-64-v2`, `x86-64-v3` or `x86-64-v4` on x86-64 (the highest
        /// level all of whose features, and its predecessors', the build was compiled with),
        /// else the architecture's name.
        pub(crate) const LEVEL: &str = {
            let mut level = if cfg!(target_arch = "x86_64") {
                "x86-64"
            } else {
                std::env::consts::ARCH
            };
            let mut reached = cfg!(target_arch = "x86_64");
            $(
                reached = reached && cfg!(all($(target_feature = $feature),+));
                if reached {
                    level = $name;
                }
            )+
            level
        };

        /// CPU features this build was compiled to use that this CPU does not have (empty:
        /// it runs).
        pub(crate) fn missing_features() -> Vec<&'static str> {
            #[allow(unused_mut)]
            let mut missing = Vec::new();
            #[cfg(target_arch = "x86_64")]
            {
                $($(
                    if cfg!(target_feature = $feature)
                        && !std::arch::is_x86_feature_detected!($feature)
                    {
                        missing.push($feature);
                    }
                )+)+
            }
            missing
        }
    };
}

x86_64_levels!(
    (
        "x86-64-v2",
        ["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cmpxchg16b"]
    ),
    (
        "x86-64-v3",
        [
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"
        ]
    ),
    (
        "x86-64-v4",
        ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
    )
);

/// `Err` with what to tell the user when this CPU lacks a feature the build uses.
pub(crate) fn check() -> Result<(), String> {
    let missing = missing_features();
    if missing.is_empty() {
        return Ok(());
    }
    Err(unsupported(&missing))
}

/// The message for a CPU that lacks the `missing` features.
fn unsupported(missing: &[&str]) -> String {
    format!(
        "this build of radcam is for {LEVEL} and this CPU lacks {}; rebuild it for this CPU \
         with RUSTFLAGS=\"-C target-cpu=native\" cargo build --release",
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test binary is built with the same flags as `radcam` and runs on this CPU, so
    /// every feature it was compiled with must be found here.
    #[test]
    fn this_cpu_has_every_feature_the_build_uses() {
        assert_eq!(missing_features(), Vec::<&str>::new());
        assert_eq!(check(), Ok(()));
    }

    #[test]
    fn the_message_names_what_is_missing_and_how_to_rebuild() {
        let text = unsupported(&["sse4.2", "popcnt"]);
        assert!(text.contains(LEVEL), "{text}");
        assert!(text.contains("lacks sse4.2, popcnt;"), "{text}");
        assert!(
            text.contains("RUSTFLAGS=\"-C target-cpu=native\""),
            "{text}"
        );
    }
}
