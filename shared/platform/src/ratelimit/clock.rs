//! The limiter's clock: the system's, or one a test moves by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A clock standing at `now_ms` until moved.
    pub fn manual(now_ms: u64) -> Self {
        Self::Manual(Arc::new(AtomicU64::new(now_ms)))
    }

    pub fn now_ms(&self) -> u64 {
        match self {
            Self::System => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            Self::Manual(now) => now.load(Ordering::Acquire),
        }
    }

    /// Moves a manual clock to `now_ms`; the system clock ignores it.
    pub fn set(&self, now_ms: u64) {
        if let Self::Manual(now) = self {
            now.store(now_ms, Ordering::Release);
        }
    }
}
