//! The retry budget both HTTP providers share: exponential backoff with jitter, honouring
//! the provider's `retry-after`, within a number of retries per completion (one plan, one
//! task), after which the completion is reported unavailable.

use std::time::Duration;

use rand::Rng;

use crate::Settings;

/// Retries left to one completion and the waits between them.
#[derive(Debug)]
pub(crate) struct Budget {
    retries: u32,
    used: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl Budget {
    /// A full budget for one completion.
    pub(crate) fn new(settings: &Settings) -> Budget {
        Budget {
            retries: settings.retries,
            used: 0,
            backoff: settings.backoff,
            max_backoff: settings.max_backoff,
        }
    }

    /// Retries spent so far.
    pub(crate) fn used(&self) -> u32 {
        self.used
    }

    /// Spends one retry: the wait before it (at least `retry_after`, else the doubled,
    /// jittered backoff), or why there is none (budget spent, or the provider asks for a
    /// longer wait than a stage gives it).
    pub(crate) fn next(&mut self, retry_after: Option<Duration>) -> Result<Duration, String> {
        if self.used >= self.retries {
            return Err(format!(
                "gave up after {} retries (the budget of one plan or task, BUILDWIRE_LLM_RETRIES={})",
                self.used, self.retries
            ));
        }
        if let Some(after) = retry_after.filter(|after| *after > self.max_backoff) {
            return Err(format!(
                "the provider asks to retry after {} s, longer than the {} s a stage waits",
                after.as_secs_f64().ceil(),
                self.max_backoff.as_secs_f64().ceil()
            ));
        }
        let doubled = self
            .backoff
            .saturating_mul(1u32 << self.used.min(16))
            .min(self.max_backoff);
        let jittered = doubled.mul_f64(rand::rng().random_range(0.5..=1.0));
        self.used += 1;
        Ok(jittered.max(retry_after.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(retries: u32) -> Budget {
        let mut settings = Settings::new("http://x", "m");
        settings.retries = retries;
        settings.backoff = Duration::from_millis(100);
        settings.max_backoff = Duration::from_secs(1);
        Budget::new(&settings)
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_then_gives_up() {
        let mut budget = budget(6);
        let waits: Vec<Duration> = (0..6).map(|_| budget.next(None).expect("budget")).collect();
        for (n, wait) in waits.iter().enumerate() {
            let full = Duration::from_millis(100 << n).min(Duration::from_secs(1));
            assert!(*wait >= full / 2 && *wait <= full, "retry {n}: {wait:?}");
        }
        let why = budget.next(None).expect_err("spent");
        assert!(why.contains("gave up after 6 retries"), "{why}");
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_gives_up() {
        let mut budget = budget(3);
        let wait = budget.next(Some(Duration::from_millis(700))).expect("wait");
        assert!(wait >= Duration::from_millis(700));
        let why = budget
            .next(Some(Duration::from_secs(30)))
            .expect_err("too long");
        assert!(why.contains("retry after 30 s"), "{why}");
        assert_eq!(budget.used(), 1);
    }
}
