//! Errors of the fusion core.

/// Result of fusion operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong in the fusion core; every variant is a problem with its inputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An estimator name that is not registered.
    #[error("unknown clock estimator '{name}' (known: {known})")]
    UnknownEstimator {
        /// The name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// A gate names a metric that is not computed.
    #[error("gate '{gate}': unknown metric '{metric}' (known: {known})")]
    UnknownMetric {
        /// Gate name.
        gate: String,
        /// The metric asked for.
        metric: String,
        /// Comma-separated known metrics.
        known: String,
    },
    /// A calibration record whose CRC does not match its payload.
    #[error("calibration record CRC mismatch: saved {saved:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// CRC stored in the record.
        saved: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
    /// A calibration record that does not parse.
    #[error("calibration record does not parse: {0}")]
    CalibrationParse(String),
    /// A calibration field with an impossible value.
    #[error("calibration field '{field}': {problem}")]
    CalibrationField {
        /// Field name.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}
