//! One writer per data dir: an advisory `flock` on `DATA_DIR/lock`.
//!
//! The lock dies with the process (even on SIGKILL), so a crash never leaves
//! a stale lock behind. Readers take no lock: SQLite's WAL and the index's
//! atomic renames keep what they see consistent.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{path}: another facefind process (pid {holder}) is writing to this library; \
         wait for it to finish, or use a read-only command"
    )]
    Held { path: PathBuf, holder: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while this process may write to the data dir; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
}

impl WriterLock {
    /// Takes the writer lock of `data_dir`, or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let path = data_dir.join("lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // SAFETY: flock on a descriptor we own; it has no memory-safety preconditions.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let holder = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                let holder = if holder.is_empty() {
                    "unknown".to_owned()
                } else {
                    holder
                };
                return Err(LockError::Held { path, holder });
            }
            return Err(io(err));
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
