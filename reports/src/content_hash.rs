//! Content hashes of a report directory's tables, for `replay --verify` and determinism checks.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// SHA-256 (hex) of every `*.parquet` file directly in `dir`, by file name.
pub fn table_hashes(dir: &Path) -> Result<BTreeMap<String, String>> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut hashes = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".parquet") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(io(&entry.path()))?;
        hashes.insert(name, hex(&Sha256::digest(&bytes)));
    }
    Ok(hashes)
}

/// One SHA-256 (hex) over the names and hashes of [`table_hashes`], in name order.
pub fn combined_hash(hashes: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (name, hash) in hashes {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_follow_content_and_only_parquet_counts() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("a.parquet"), b"one").expect("write");
        std::fs::write(dir.path().join("notes.txt"), b"ignored").expect("write");
        let first = table_hashes(dir.path()).expect("hash");
        assert_eq!(first.keys().collect::<Vec<_>>(), vec!["a.parquet"]);
        std::fs::write(dir.path().join("a.parquet"), b"two").expect("write");
        let second = table_hashes(dir.path()).expect("hash");
        assert_ne!(combined_hash(&first), combined_hash(&second));
        assert_eq!(combined_hash(&second), combined_hash(&second.clone()));
    }
}
