//! How long a poller waits after a failure: doubling from a first delay up to
//! a cap, back to the start after a success.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self { first, cap, next: first }
    }

    /// The delay to wait now; the one after it is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_start_over_after_a_reset() {
        // GIVEN a backoff from 1 s capped at 5 s
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));

        // WHEN it is asked four times, reset, and asked again
        let delays: Vec<u64> = (0..4).map(|_| backoff.next_delay().as_secs()).collect();
        backoff.reset();

        // THEN the delays double and stop at the cap, and the reset starts over
        assert_eq!(delays, [1, 2, 4, 5]);
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }
}
