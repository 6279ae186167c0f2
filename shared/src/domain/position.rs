//! Where a page of a list ends: what a `nextCursor` carries (the HTTP edge
//! encodes it, binding it to the organization and the query) and where the
//! store resumes the next page.

use super::model::ClientId;

/// Where a page ended: the last entry's run (which status partition, for
/// `sortBy=status`), its sort key and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The index of the ordered run (index partition) the entry is in.
    pub run: usize,
    /// The entry's sort key in that run.
    pub sort_key: String,
    /// The client the entry is.
    pub id: ClientId,
}
