//! Generation's vocabulary, shared by the API that takes jobs, the worker
//! that runs them and the fan-out that reports them.

use serde::{Deserialize, Serialize};

/// What a job makes. Each kind has its own queue, so slow image work never
/// holds up text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GenerationKind {
    /// Prose for a block.
    Text,
    /// A deck's structure: slide titles and their points.
    Outline,
    /// Longer reasoning, on a slower model.
    Thinking,
    /// A picture for an image block.
    Image,
}

impl GenerationKind {
    pub const ALL: [Self; 4] = [Self::Text, Self::Outline, Self::Thinking, Self::Image];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Outline => "outline",
            Self::Thinking => "thinking",
            Self::Image => "image",
        }
    }
}

impl std::fmt::Display for GenerationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_travel_as_their_lowercase_names() {
        for kind in GenerationKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(serde_json::from_value::<GenerationKind>(json).unwrap(), kind);
        }
        assert!(serde_json::from_str::<GenerationKind>("\"video\"").is_err());
    }
}
