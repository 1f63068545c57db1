//! Output files that must not be a directory or one of the command's inputs: writing over
//! what it reads would lose it.

use crate::{Error, Result};
use std::path::Path;

/// Checks the file a command is about to write, before it writes anything: an error naming
/// `out` when it is a directory (the command would write all of `out.part` and only then fail
/// to rename it into place), or when it is one of `inputs` (each with what it is: "the
/// recording") by identity, not spelling: `./rec.mcap`, a symbolic or a hard link to it are
/// all the same file. An `out` that does not exist yet is neither.
pub fn check_output(out: &Path, inputs: &[(&Path, &str)]) -> Result<()> {
    let refuse = |problem: String| {
        Err(Error::Invalid {
            path: out.to_owned(),
            problem,
        })
    };
    if out.is_dir() {
        return refuse("--out is a directory: name the file to write in it (DIR/rec.mcap)".into());
    }
    for (input, what) in inputs {
        if same_file::is_same_file(input, out).unwrap_or(false) {
            return refuse(format!(
                "--out is {what} ({}) itself: writing it would lose it; choose another file",
                input.display()
            ));
        }
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
            let e = check_output(out, &[(&input, "the recording")]).expect_err("same file");
            assert!(
                e.to_string().contains("--out is the recording")
                    && e.to_string().contains("rec.mcap"),
                "{e}"
            );
        }
        // another file, or one not there yet, is fine
        let other = dir.path().join("other.mcap");
        check_output(&other, &[(&input, "the recording")]).expect("not there yet");
        std::fs::write(&other, b"x").expect("write");
        check_output(&other, &[(&input, "the recording")]).expect("another file");
        assert_eq!(std::fs::read(&input).expect("read"), b"recording");
        // a directory is no file to write
        let e = check_output(dir.path(), &[]).expect_err("a directory");
        assert!(e.to_string().contains("--out is a directory"), "{e}");
    }
}
