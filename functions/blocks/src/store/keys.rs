//! Key shapes of the Content table's items.

use tessera_core::content::{BlockId, ProjectId};

pub fn project_partition(project: &ProjectId) -> String {
    format!("PROJECT#{project}")
}

pub fn block_sort_key(block: &BlockId) -> String {
    format!("BLOCK#{block}")
}
