//! The compactor's series: how far indexing lags behind writes, how long compactions take and
//! how they end.

use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

use crate::{CompactError, Outcome};

pub const COMPACTIONS: &str = "silt_compactions_total";
pub const DURATION: &str = "silt_compaction_duration_seconds";
pub const LAG_RECORDS: &str = "silt_compaction_lag_records";
pub const LAG_AGE: &str = "silt_compaction_lag_seconds";

pub fn describe() {
    describe_counter!(
        COMPACTIONS,
        "Compaction attempts by outcome: ok (a version was registered), lost_race (another compactor registered first), nothing_to_do, failed"
    );
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Time one compaction attempt took, by outcome"
    );
    describe_gauge!(
        LAG_RECORDS,
        "Records in the tails this compactor owns that are due for compaction (long enough or old enough), as of its last round (at most 256 collections a round are looked at)"
    );
    describe_gauge!(
        LAG_AGE,
        Unit::Seconds,
        "Age of the oldest un-compacted write among the tails due for compaction this compactor owns, as of its last round (0: none due)"
    );
}

pub(crate) fn compaction(result: &Result<Outcome, CompactError>, took: Duration) {
    let outcome = match result {
        Ok(Outcome::Registered { .. }) => "ok",
        Ok(Outcome::LostRace) => "lost_race",
        Ok(Outcome::NothingToDo) => "nothing_to_do",
        Err(_) => "failed",
    };
    counter!(COMPACTIONS, "outcome" => outcome).increment(1);
    histogram!(DURATION, "outcome" => outcome).record(took.as_secs_f64());
}

/// The lag seen while looking for due collections; published when the look ends.
pub(crate) struct Lag {
    now_ms: i64,
    records: u64,
    oldest_ms: Option<i64>,
}

impl Lag {
    pub(crate) fn new(now_ms: i64) -> Self {
        Lag {
            now_ms,
            records: 0,
            oldest_ms: None,
        }
    }

    pub(crate) fn add(&mut self, records: u64, since_ms: i64) {
        self.records = self.records.saturating_add(records);
        self.oldest_ms = Some(self.oldest_ms.map_or(since_ms, |o| o.min(since_ms)));
    }
}

impl Drop for Lag {
    fn drop(&mut self) {
        let age_ms = self
            .oldest_ms
            .map_or(0, |since| self.now_ms.saturating_sub(since).max(0));
        gauge!(LAG_RECORDS).set(self.records as f64);
        gauge!(LAG_AGE).set(age_ms as f64 / 1000.0);
    }
}
