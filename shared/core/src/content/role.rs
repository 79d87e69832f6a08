//! A member's role in a project, and what it allows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    Owner,
    Editor,
    Viewer,
}

impl ProjectRole {
    /// Every member reads everything in the project.
    pub fn can_read(self) -> bool {
        true
    }

    /// Viewers never write.
    pub fn can_write(self) -> bool {
        matches!(self, Self::Owner | Self::Editor)
    }

    /// Only owners add, change or remove members, and delete the project.
    pub fn can_manage(self) -> bool {
        self == Self::Owner
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Self::Owner),
            "editor" => Some(Self::Editor),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_editors_write_owners_manage() {
        use ProjectRole::*;
        let rights = |r: ProjectRole| (r.can_read(), r.can_write(), r.can_manage());
        assert_eq!(rights(Viewer), (true, false, false));
        assert_eq!(rights(Editor), (true, true, false));
        assert_eq!(rights(Owner), (true, true, true));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [ProjectRole::Owner, ProjectRole::Editor, ProjectRole::Viewer] {
            assert_eq!(ProjectRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(ProjectRole::parse("admin"), None);
    }
}
