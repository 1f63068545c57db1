//! Where a replay's distribution samples wait for the end of the run: an unnamed temporary
//! file per metric (16 bytes a sample), so the replay's memory does not grow with the
//! recording's length. The files vanish with the process, even if it is killed.

use radcam_fusion::timeline::SampleStore;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Bytes of one sample: log time (i64) and value (f64), little-endian.
const SAMPLE_BYTES: usize = 16;
/// Samples read back per block.
const BLOCK_SAMPLES: usize = 8192;

/// A [`SampleStore`] in an unnamed temporary file in a directory, created on the first
/// sample (an empty metric costs no file).
#[derive(Debug, Default)]
pub struct SpillStore {
    /// Directory of the temporary file (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
    writer: Option<BufWriter<File>>,
    reader: Option<File>,
    error: Option<std::io::Error>,
}

impl SpillStore {
    /// A store whose file will be in `dir` (`None`: the system's temporary directory).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            ..Self::default()
        }
    }

    /// Checks that a sample file can be created in `dir` (`None`: the system's temporary
    /// directory).
    pub fn probe(dir: Option<&std::path::Path>) -> std::io::Result<()> {
        match dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map(drop)
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        if self.reader.is_some() {
            return Err(std::io::Error::other(
                "a sample came after the samples were read back",
            ));
        }
        let w = match self.writer.take() {
            Some(w) => w,
            None => BufWriter::with_capacity(
                1 << 16,
                match &self.dir {
                    Some(d) => tempfile::tempfile_in(d)?,
                    None => tempfile::tempfile()?,
                },
            ),
        };
        Ok(self.writer.insert(w))
    }
}

impl SampleStore for SpillStore {
    type Error = std::io::Error;

    fn push(&mut self, t_ns: i64, value: f64) {
        if self.error.is_some() {
            return;
        }
        let mut rec = [0u8; SAMPLE_BYTES];
        rec[..8].copy_from_slice(&t_ns.to_le_bytes());
        rec[8..].copy_from_slice(&value.to_le_bytes());
        let written = match &mut self.writer {
            Some(w) => w.write_all(&rec),
            // the first sample (or one after the read-back, which `writer` refuses)
            None => self.writer().and_then(|w| w.write_all(&rec)),
        };
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn replay(&mut self, f: &mut dyn FnMut(i64, f64)) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(w) = self.writer.take() {
            self.reader = Some(w.into_inner().map_err(|e| e.into_error())?);
        }
        let Some(file) = &mut self.reader else {
            return Ok(()); // nothing was ever pushed
        };
        file.seek(SeekFrom::Start(0))?;
        let mut block = vec![0u8; SAMPLE_BYTES * BLOCK_SAMPLES];
        loop {
            let mut filled = 0;
            while filled < block.len() {
                match file.read(&mut block[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            if filled % SAMPLE_BYTES != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a spilled sample file ends mid-sample",
                ));
            }
            for rec in block[..filled].chunks_exact(SAMPLE_BYTES) {
                let (t, v) = rec.split_at(8);
                let t = i64::from_le_bytes(t.try_into().expect("8 bytes"));
                let v = f64::from_le_bytes(v.try_into().expect("8 bytes"));
                f(t, v);
            }
            if filled < block.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_come_back_in_order_every_time() {
        let mut s = SpillStore::new(None);
        let n = BLOCK_SAMPLES as i64 * 2 + 5;
        for i in 0..n {
            s.push(i, i as f64 * 0.5);
        }
        for _ in 0..2 {
            let mut got = Vec::new();
            s.replay(&mut |t, v| got.push((t, v))).expect("reads back");
            assert_eq!(got.len() as i64, n);
            assert!(got.iter().all(|(t, v)| *v == *t as f64 * 0.5));
        }
        s.push(1, 1.0);
        assert!(
            s.replay(&mut |_, _| {}).is_err(),
            "a late sample is an error"
        );
    }

    #[test]
    fn an_unwritable_directory_is_reported_when_read_back() {
        let mut s = SpillStore::new(Some("/nonexistent/radcam".into()));
        s.push(0, 1.0);
        assert!(s.replay(&mut |_, _| {}).is_err());
        assert!(SpillStore::probe(Some(std::path::Path::new("/nonexistent/radcam"))).is_err());
        assert!(SpillStore::probe(None).is_ok());
        let mut empty = SpillStore::new(Some("/nonexistent/radcam".into()));
        assert!(empty.replay(&mut |_, _| {}).is_ok(), "no sample, no file");
    }
}
