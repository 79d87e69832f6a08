//! Ids of projects, slides and blocks: ULIDs, parsed at the boundary so that
//! a malformed id never reaches a store.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid id")]
pub struct InvalidId(pub String);

/// Crockford base32, as ULIDs are written (upper case).
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn is_ulid(raw: &str) -> bool {
    // 26 characters; the first at most '7', or the 128 bits overflow.
    raw.len() == 26 && raw.as_bytes()[0] <= b'7' && raw.bytes().all(|b| ALPHABET.contains(&b))
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$", example = "01JQ0000000000000000000000")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                if is_ulid(raw) { Ok(Self(raw.to_owned())) } else { Err(InvalidId(raw.to_owned())) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(raw: String) -> Result<Self, InvalidId> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

ulid_id!(
    /// A project (a presentation).
    ProjectId
);
ulid_id!(
    /// A slide of a project.
    SlideId
);
ulid_id!(
    /// A block on a slide.
    BlockId
);
ulid_id!(
    /// A notification in someone's inbox.
    NotificationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ulid_parses_and_prints_back() {
        let id = BlockId::parse("01JF3Z8Q9W6X2K7M4N5P8R0T1V").unwrap();
        assert_eq!(id.to_string(), "01JF3Z8Q9W6X2K7M4N5P8R0T1V");
    }

    #[test]
    fn malformed_ids_are_refused() {
        for raw in [
            "",
            "01JF3Z8Q9W6X2K7M4N5P8R0T1",
            "01jf3z8q9w6x2k7m4n5p8r0t1v",
            "81JF3Z8Q9W6X2K7M4N5P8R0T1V",
            "01JF3Z8Q9W6X2K7M4N5P8R0T1I",
            "../../etc/passwd",
        ] {
            assert!(ProjectId::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<SlideId>("\"01JF3Z8Q9W6X2K7M4N5P8R0T1V\"").is_ok());
        assert!(serde_json::from_str::<SlideId>("\"nope\"").is_err());
    }
}
