//! Projects, slides and blocks: ids, roles, and the versioned-write rules.

pub mod block;
pub mod ids;
pub mod patch;
pub mod position;
pub mod role;
pub mod schema;

pub use block::{Block, Field, PropKey};
pub use ids::{BlockId, InvalidId, NotificationId, ProjectId, SlideId};
pub use patch::{BlockPatch, PatchError, PatchRequest, Precondition};
pub use role::ProjectRole;
