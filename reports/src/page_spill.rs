//! Where a streamed table's finished pages wait until their row group is written: an unnamed
//! temporary file per column chunk instead of the heap.
//!
//! Parquet needs each column chunk contiguous in the file, so a writer must hold every
//! column's pages until the row group closes. On the heap that made memory grow with the
//! row group; small row groups instead made it grow with the file (the writer keeps every
//! closed row group's metadata until it closes). Pages parked in a temporary file let a
//! streamed table use row groups of a million rows in a few megabytes of memory.

use bytes::Bytes;
use parquet::column::page_store::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::errors::{ParquetError, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Makes a [`SpilledPages`] store for every column chunk, its file in `dir` (the system
/// temporary directory when `None`).
#[derive(Debug, Clone, Default)]
pub struct PageSpill {
    /// Directory of the temporary files; `None`: the system temporary directory.
    pub dir: Option<PathBuf>,
}

impl PageStoreFactory for PageSpill {
    fn create(&self, _args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>> {
        Ok(Box::new(SpilledPages {
            dir: self.dir.clone(),
            file: None,
            pages: Vec::new(),
        }))
    }
}

/// One column chunk's pages in an unnamed temporary file (gone when the store is dropped,
/// and with the process however it ends).
struct SpilledPages {
    dir: Option<PathBuf>,
    file: Option<File>,
    /// Offset and length of every page put, bytes, in file order.
    pages: Vec<(u64, usize)>,
}

impl SpilledPages {
    fn error(&self, e: std::io::Error) -> ParquetError {
        let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        ParquetError::General(format!(
            "cannot park pages in a temporary file in {} (set TMPDIR): {e}",
            dir.display()
        ))
    }
}

impl PageStore for SpilledPages {
    fn put(&mut self, value: Bytes) -> Result<PageKey> {
        // written at its own offset: `take` moves the file's cursor
        let offset = self.pages.last().map_or(0, |&(o, len)| o + len as u64);
        let written = match &mut self.file {
            Some(file) => file.write_all_at(&value, offset),
            None => {
                let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
                tempfile::tempfile_in(dir).and_then(|file| {
                    file.write_all_at(&value, offset)?;
                    self.file = Some(file);
                    Ok(())
                })
            }
        };
        written.map_err(|e| self.error(e))?;
        self.pages.push((offset, value.len()));
        Ok(PageKey::new(self.pages.len() as u64 - 1))
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes> {
        let &(offset, len) = usize::try_from(key.get())
            .ok()
            .and_then(|i| self.pages.get(i))
            .ok_or_else(|| ParquetError::General(format!("no spilled page {}", key.get())))?;
        let Some(file) = self.file.as_ref() else {
            return Err(ParquetError::General("no page file".into()));
        };
        // read into the buffer's spare room: a zeroed buffer cost a memset of every page
        let mut buf = Vec::with_capacity(len);
        let mut reader = file;
        reader
            .seek(SeekFrom::Start(offset))
            .and_then(|_| reader.take(len as u64).read_to_end(&mut buf))
            .map_err(|e| self.error(e))?;
        if buf.len() != len {
            return Err(self.error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("page {} ends {} bytes short", key.get(), len - buf.len()),
            )));
        }
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SpilledPages {
        SpilledPages {
            dir: None,
            file: None,
            pages: Vec::new(),
        }
    }

    #[test]
    fn pages_come_back_as_put_in_any_order() {
        let mut s = store();
        let a = s.put(Bytes::from_static(b"first page")).expect("put");
        let b = s.put(Bytes::from(vec![7u8; 100_000])).expect("put");
        let c = s.put(Bytes::new()).expect("put");
        assert_eq!(s.take(b).expect("take"), Bytes::from(vec![7u8; 100_000]));
        assert_eq!(s.take(a).expect("take"), Bytes::from_static(b"first page"));
        assert_eq!(s.take(c).expect("take"), Bytes::new());
        assert!(s.take(PageKey::new(3)).is_err());
        // a page put after others were taken lands after them, and comes back whole
        assert_eq!(s.take(a).expect("take"), Bytes::from_static(b"first page"));
        let d = s.put(Bytes::from_static(b"late page")).expect("put");
        assert_eq!(s.take(d).expect("take"), Bytes::from_static(b"late page"));
        assert_eq!(s.take(a).expect("take"), Bytes::from_static(b"first page"));
    }

    #[test]
    fn a_page_file_cut_short_is_an_error() {
        let mut s = store();
        let a = s.put(Bytes::from(vec![1u8; 1000])).expect("put");
        s.file
            .as_ref()
            .expect("page file")
            .set_len(600)
            .expect("truncate");
        let e = s.take(a).expect_err("cut short");
        assert!(e.to_string().contains("400 bytes short"), "{e}");
    }

    #[test]
    fn an_unusable_directory_is_named() {
        let mut s = SpilledPages {
            dir: Some(PathBuf::from("/nonexistent/radcam-pages")),
            ..store()
        };
        let e = s
            .put(Bytes::from_static(b"x"))
            .expect_err("no such directory");
        assert!(e.to_string().contains("/nonexistent/radcam-pages"), "{e}");
    }
}
