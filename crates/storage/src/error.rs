//! The one error type of the crate.
//!
//! Errors are split by what the caller must do about them: `Fatal` means the server must stop
//! (durability can no longer be promised), `Corrupt` means the data on disk is damaged and an
//! operator has to look at it, `Io` is an ordinary failure (e.g. a missing directory at open)
//! and `InvalidArgument` is a caller bug.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A write or fsync on a durability path failed. **The server must stop.**
    ///
    /// After a failed fsync the kernel may already have dropped the dirty pages it could not
    /// write, so a retry that "succeeds" would report data durable that is not. The store is
    /// poisoned: every later call returns `Fatal` too. Never retry; restart and recover.
    #[error("fatal storage failure, the server must stop: {context}: {source}")]
    Fatal {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Data on disk failed validation in a way a crash cannot explain. Nothing was skipped or
    /// repaired; the file and byte offset say where to look.
    #[error("corrupt storage: {file}: offset {offset}: {reason}")]
    Corrupt {
        /// The damaged file (or a simulated file's name).
        file: PathBuf,
        /// Byte offset within the file of the damaged record or structure.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// An I/O failure that does not put durability in doubt (opening, reading, listing).
    #[error("storage I/O error: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The caller broke a precondition (e.g. a zxid not greater than the last one).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl StorageError {
    /// True for [`StorageError::Fatal`]: the server must stop.
    pub fn is_fatal(&self) -> bool {
        matches!(self, StorageError::Fatal { .. })
    }

    /// True for [`StorageError::Corrupt`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StorageError::Corrupt { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn fatal(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Fatal {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        StorageError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
