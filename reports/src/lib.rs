//! Report serialisation: Arrow schemas, Parquet tables and the gate table.
//!
//! Reports serialise what the fusion core computed; they compute nothing themselves. Parquet
//! files are zstd-compressed, carry key-value metadata (tool version, recording hash, seed,
//! estimator, versions) and a pinned `created_by`, so identical inputs give identical bytes.

pub mod error;
pub mod gate_table;
pub mod parquet_out;

pub use error::{Error, Result};
pub use gate_table::gate_table;
pub use parquet_out::{GATES_FILE, write_gates};
