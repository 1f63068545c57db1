//! A report directory written all or nothing. A replay's files are written into a hidden
//! staging directory inside the report directory, and renamed into place (one `rename` each,
//! same file system) only once every one of them is complete. A replay that fails, is
//! interrupted or is killed therefore never leaves a half-written table under a report's file
//! name, and never overwrites the previous report in that directory with part of a new one.
//! A failed or interrupted replay removes its staging directory; only a killed one
//! (`SIGKILL`, power loss) leaves it behind, as a hidden `.radcam-partial-*` directory that is
//! safe to delete.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Prefix of a staging directory's name.
pub const STAGING_PREFIX: &str = ".radcam-partial-";

/// A report directory's staging area (see the module documentation).
#[derive(Debug)]
pub struct StagedDir {
    out: PathBuf,
    staging: tempfile::TempDir,
}

impl StagedDir {
    /// A new staging directory inside `out`, which must exist.
    pub fn new(out: &Path) -> Result<Self> {
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(out)
            .map_err(|source| Error::Io {
                path: out.to_owned(),
                source,
            })?;
        Ok(Self {
            out: out.to_owned(),
            staging,
        })
    }

    /// Where to write the report's files.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Moves every file written into the staging directory to the report directory, replacing
    /// files of the same name, and removes the staging directory. The staging directory must
    /// hold files only. Then removes every file named in `owned` (the names this kind of
    /// output writes) that this commit did not bring: a table of an earlier report that this
    /// one has not (a recording without truth has no `tracking.parquet`, a grid sweep no
    /// `tolerance.parquet`) would otherwise be read as part of the new one. Other files in the
    /// directory stay.
    pub fn commit(self, owned: &[&str]) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let staging = self.staging.path();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(staging).map_err(io(staging))? {
            let entry = entry.map_err(io(staging))?;
            if !entry.file_type().map_err(io(&entry.path()))?.is_file() {
                return Err(Error::Io {
                    path: entry.path(),
                    source: std::io::Error::other("a report holds files only"),
                });
            }
            names.push(entry.file_name());
        }
        names.sort();
        for name in &names {
            let to = self.out.join(name);
            std::fs::rename(staging.join(name), &to).map_err(io(&to))?;
        }
        self.staging.close().map_err(io(&self.out))?;
        for stale in owned.iter().filter(|o| !names.iter().any(|n| n == **o)) {
            let path = self.out.join(stale);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Io { path, source: e });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| {
                let e = e.expect("entry");
                let content = std::fs::read_to_string(e.path()).unwrap_or_else(|_| "<dir>".into());
                (e.file_name().to_string_lossy().into_owned(), content)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn files_appear_only_on_commit_and_replace_the_old_ones() {
        let out = tempfile::tempdir().expect("tmp");
        std::fs::write(out.path().join("gates.parquet"), "old gates").expect("write");
        std::fs::write(out.path().join("notes.txt"), "kept").expect("write");
        let staged = StagedDir::new(out.path()).expect("staging");
        std::fs::write(staged.path().join("gates.parquet"), "new gates").expect("write");
        std::fs::write(staged.path().join("audit.parquet"), "new audit").expect("write");
        // before the commit the report directory shows the old report and a hidden staging
        let before = listing(out.path());
        assert_eq!(before.len(), 3);
        assert!(before.contains(&("gates.parquet".into(), "old gates".into())));
        assert!(before.iter().any(|(n, _)| n.starts_with(STAGING_PREFIX)));
        staged.commit(&[]).expect("commit");
        assert_eq!(
            listing(out.path()),
            vec![
                ("audit.parquet".into(), "new audit".into()),
                ("gates.parquet".into(), "new gates".into()),
                ("notes.txt".into(), "kept".into()),
            ]
        );
    }

    #[test]
    fn an_owned_file_the_new_report_lacks_is_removed_on_commit_only() {
        let out = tempfile::tempdir().expect("tmp");
        for (name, text) in [
            ("gates.parquet", "old gates"),
            ("tracking.parquet", "old tracking"),
            ("notes.txt", "kept"),
        ] {
            std::fs::write(out.path().join(name), text).expect("write");
        }
        let owned = ["gates.parquet", "tracking.parquet", "never.parquet"];
        let staged = StagedDir::new(out.path()).expect("staging");
        std::fs::write(staged.path().join("gates.parquet"), "new gates").expect("write");
        assert!(listing(out.path()).contains(&("tracking.parquet".into(), "old tracking".into())));
        staged.commit(&owned).expect("commit");
        assert_eq!(
            listing(out.path()),
            vec![
                ("gates.parquet".into(), "new gates".into()),
                ("notes.txt".into(), "kept".into()),
            ]
        );
    }

    #[test]
    fn a_dropped_staging_leaves_the_old_report_as_it_was() {
        let out = tempfile::tempdir().expect("tmp");
        std::fs::write(out.path().join("gates.parquet"), "old gates").expect("write");
        let staged = StagedDir::new(out.path()).expect("staging");
        std::fs::write(staged.path().join("gates.parquet"), "half a table").expect("write");
        drop(staged);
        assert_eq!(
            listing(out.path()),
            vec![("gates.parquet".into(), "old gates".into())]
        );
    }

    #[test]
    fn a_missing_report_directory_is_named() {
        let err = StagedDir::new(Path::new("/nonexistent/radcam-out")).expect_err("no dir");
        assert!(err.to_string().contains("/nonexistent/radcam-out"), "{err}");
    }
}
