//! What can go wrong in the change index.

use std::fmt;

use crate::state::StateError;

/// Everything that can go wrong in the index.
#[derive(Debug)]
pub enum IndexError {
    State(StateError),
    UnknownCollection,
    CollectionExists(String),
    InvalidName(String),
    /// The cursor is older than the pruned tombstones or newer than the
    /// collection: the device must sync from scratch.
    CursorOutOfRange {
        since: u64,
        floor: u64,
        current: u64,
    },
    /// A counter (uid, modseq, collection or user number) ran out.
    Exhausted,
    Corrupt(&'static str),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::State(e) => e.fmt(f),
            Self::UnknownCollection => f.write_str("unknown collection"),
            Self::CollectionExists(n) => write!(f, "collection {n:?} already exists"),
            Self::InvalidName(n) => write!(f, "invalid user or collection name {n:?}"),
            Self::CursorOutOfRange {
                since,
                floor,
                current,
            } => write!(
                f,
                "change cursor {since} outside the kept range {floor}..={current}"
            ),
            Self::Exhausted => f.write_str("index counter exhausted"),
            Self::Corrupt(what) => write!(f, "change index corrupt: {what}"),
        }
    }
}

impl std::error::Error for IndexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::State(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: Into<StateError>> From<E> for IndexError {
    fn from(e: E) -> Self {
        IndexError::State(e.into())
    }
}

/// A failed [`ChangeIndex::refresh`](super::ChangeIndex::refresh): the listing or the index.
#[derive(Debug)]
pub enum RefreshError<E> {
    Scan(E),
    Index(IndexError),
}

impl<E: fmt::Display> fmt::Display for RefreshError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scan(e) => write!(f, "scan failed: {e}"),
            Self::Index(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RefreshError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Scan(e) => Some(e),
            Self::Index(e) => Some(e),
        }
    }
}
