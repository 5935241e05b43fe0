//! Shares: the part of an input one worker of a sharded stage reads.

/// Which part of a folder's files a reader takes: the files whose position
/// (sorted by name) is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This share, from 0.
    pub index: u32,
    /// How many shares there are.
    pub count: u32,
}
