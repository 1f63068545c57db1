//! Output files that must not be one of the command's inputs: writing over what it reads
//! would lose it.

use crate::{Error, Result};
use std::path::Path;

/// An error naming `out` when it is the file `input` (`what` names the input) by identity, not
/// spelling: `./rec.mcap`, a symbolic link or a hard link to it are all the same file. An
/// `out` that does not exist yet is no input.
pub fn refuse_overwriting(input: &Path, out: &Path, what: &str) -> Result<()> {
    if same_file::is_same_file(input, out).unwrap_or(false) {
        return Err(Error::Invalid {
            path: out.to_owned(),
            problem: format!(
                "--out is {what} ({}) itself: writing it would lose it; choose another file",
                input.display()
            ),
        });
    }
    Ok(())
}

/// An error naming `out` when it is a directory: a command writing a file there would make
/// all of it (as `out.part`) and only then fail to rename it into place.
pub fn refuse_directory(out: &Path) -> Result<()> {
    if out.is_dir() {
        return Err(Error::Invalid {
            path: out.to_owned(),
            problem: "--out is a directory: name the file to write in it (DIR/rec.mcap)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_or_a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let input = dir.path().join("rec.mcap");
        std::fs::write(&input, b"recording").expect("write");
        let dotted = dir.path().join(".").join("rec.mcap");
        let linked = dir.path().join("link.mcap");
        std::os::unix::fs::symlink(&input, &linked).expect("symlink");
        let hard = dir.path().join("hard.mcap");
        std::fs::hard_link(&input, &hard).expect("hard link");
        for out in [&input, &dotted, &linked, &hard] {
            let e = refuse_overwriting(&input, out, "the recording").expect_err("same file");
            assert!(
                e.to_string().contains("--out is the recording")
                    && e.to_string().contains("rec.mcap"),
                "{e}"
            );
        }
        // another file, or one not there yet, is fine
        let other = dir.path().join("other.mcap");
        refuse_overwriting(&input, &other, "the recording").expect("not there yet");
        std::fs::write(&other, b"x").expect("write");
        refuse_overwriting(&input, &other, "the recording").expect("another file");
        assert_eq!(std::fs::read(&input).expect("read"), b"recording");
        // a directory is no file to write
        let e = refuse_directory(dir.path()).expect_err("a directory");
        assert!(e.to_string().contains("--out is a directory"), "{e}");
        refuse_directory(&other).expect("a file");
    }
}
