//! Names of MCAP metadata records and attachments that are part of the contract.

/// Metadata record describing the recording: tool version, source, seed, hashes.
pub const RECORDING_METADATA: &str = "radcam.recording";
/// Keys of [`RECORDING_METADATA`].
pub mod keys {
    /// radcam version that wrote the file.
    pub const TOOL_VERSION: &str = "tool_version";
    /// `sim`, or `rig` for a device recording.
    pub const SOURCE: &str = "source";
    /// Scenario name (simulated recordings).
    pub const SCENARIO: &str = "scenario";
    /// SHA-256 of the scenario's canonical TOML, hex.
    pub const SCENARIO_HASH: &str = "scenario_hash";
    /// Seed the simulator ran with.
    pub const SEED: &str = "seed";
    /// Simulated or requested duration, seconds.
    pub const DURATION_S: &str = "duration_s";
    /// Active calibration version.
    pub const CAL_VERSION: &str = "cal_version";
    /// Active configuration version.
    pub const CONFIG_VERSION: &str = "config_version";
}

/// Metadata record holding the active calibration record as canonical JSON under key `json`.
pub const CALIBRATION_METADATA: &str = "radcam.calibration";
/// Key of the JSON calibration record in [`CALIBRATION_METADATA`].
pub const CALIBRATION_JSON_KEY: &str = "json";
/// Metadata record holding the scenario's TOML under key `toml` (simulated recordings).
pub const SCENARIO_METADATA: &str = "radcam.scenario";
/// Key of the scenario TOML in [`SCENARIO_METADATA`].
pub const SCENARIO_TOML_KEY: &str = "toml";
