//! The one way the toolkit writes a file: atomically.
//!
//! [`write_atomic`] writes to a temporary name in the destination's folder (so the final rename
//! never crosses a file system), flushes and fsyncs it, renames it over the final name, and
//! fsyncs the folder. An interruption, a full disk or any write error therefore leaves either
//! the old file or the complete new one under the final name, never a partial file; on error
//! the temporary file is removed. Depends on `error` only.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name next to `path`: `.NAME.tmp-PID-N.EXT` (hidden, unique in this
/// process, and ending in the same extension, which some encoders read to pick a format).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}{ext}", std::process::id()))
}

/// Writes `bytes` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes to `path` atomically through `fill`, which receives a buffered writer on the
/// temporary file; any error of `fill`, the flush, the fsync or the rename is an
/// [`Error::Io`] naming `path`, and the temporary file is removed.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the folder is synced (best effort: some file systems
        // refuse to open a folder for syncing).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path.display(), e)
    })
}

/// Reads a text file (a config or layout) of at most `max` bytes: a larger file is refused
/// before it is read, with an error naming `field`, the path, its size and the maximum.
pub fn read_text(field: &str, path: &Path, max: u64) -> Result<String> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path.display(), e))?
        .len();
    if len > max {
        return Err(Error::invalid(
            field,
            format!("{} ({len} bytes)", path.display()),
            format!("a text file of at most {max} bytes (docs/limits.md)"),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the final file remains");
    }

    #[test]
    fn a_failing_write_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fig.svg");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("fig.svg") && e.to_string().contains("disk full"));
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/x.json");
        let e = write_atomic(&p, b"{}").unwrap_err();
        assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("x.json"));
    }
}
