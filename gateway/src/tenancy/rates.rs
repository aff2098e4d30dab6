//! Rate limits: a token bucket per tenant and per collection (governor), and a cap on the
//! requests of one tenant served at once. Each tenant has its own buckets, so one that hammers
//! the server is refused without taking anything from the others.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::RetryLater;
use crate::Limits;

/// Entries idle this long are dropped once a map grows past `PRUNE_AT`, so memory follows the
/// active tenants and collections, not all there ever were.
const IDLE: Duration = Duration::from_secs(120);
const PRUNE_AT: usize = 10_000;

struct Entry<T> {
    setting: (u32, u32),
    value: Arc<T>,
    used: Instant,
}

/// One `T` per key, rebuilt when the key's setting changes.
struct PerKey<K, T> {
    map: Mutex<HashMap<K, Entry<T>>>,
}

impl<K: Eq + Hash + Clone, T> PerKey<K, T> {
    fn new() -> Self {
        PerKey {
            map: Mutex::new(HashMap::new()),
        }
    }

    // Rate limits are real time (governor's own clock is too); no simulation runs the gateway.
    #[allow(clippy::disallowed_methods)]
    fn get(&self, key: &K, setting: (u32, u32), make: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_AT {
            map.retain(|_, e| e.used.elapsed() < IDLE);
        }
        let now = Instant::now();
        match map.get_mut(key) {
            Some(e) if e.setting == setting => {
                e.used = now;
                e.value.clone()
            }
            _ => {
                let value = Arc::new(make());
                map.insert(
                    key.clone(),
                    Entry {
                        setting,
                        value: value.clone(),
                        used: now,
                    },
                );
                value
            }
        }
    }
}

pub struct RateLimits {
    tenants: PerKey<String, DefaultDirectRateLimiter>,
    collections: PerKey<String, DefaultDirectRateLimiter>,
    in_flight: PerKey<String, Semaphore>,
}

fn bucket(per_second: u32, burst: u32) -> DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
    governor::RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

fn take(limiter: &DefaultDirectRateLimiter, what: String) -> Result<(), RetryLater> {
    limiter.check().map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        RetryLater {
            message: format!("Rate limit exceeded for {what}; retry after the Retry-After delay"),
            after_seconds: wait.as_secs_f64().ceil() as u64,
        }
    })
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            tenants: PerKey::new(),
            collections: PerKey::new(),
            in_flight: PerKey::new(),
        }
    }
}

impl RateLimits {
    /// Admits one request, or says when to retry. The permit must be held until the request is
    /// answered.
    pub fn admit(
        &self,
        tenant: &str,
        collection: Option<&str>,
        limits: &Limits,
    ) -> Result<Option<OwnedSemaphorePermit>, RetryLater> {
        let (rps, burst) = (
            limits.tenant_requests_per_second,
            limits.tenant_request_burst,
        );
        if rps > 0 {
            let limiter = self
                .tenants
                .get(&tenant.to_string(), (rps, burst), || bucket(rps, burst));
            take(&limiter, format!("tenant {tenant}"))?;
        }
        let (rps, burst) = (
            limits.collection_requests_per_second,
            limits.collection_request_burst,
        );
        // `collection` is "tenant/collection id", so tenants never share a bucket.
        if let (Some(collection), true) = (collection, rps > 0) {
            let limiter = self
                .collections
                .get(&collection.to_string(), (rps, burst), || bucket(rps, burst));
            take(&limiter, format!("collection {collection}"))?;
        }
        let cap = limits.max_concurrent_requests;
        if cap == 0 {
            return Ok(None);
        }
        let semaphore = self.in_flight.get(&tenant.to_string(), (cap, 0), || {
            Semaphore::new(cap as usize)
        });
        semaphore.try_acquire_owned().map(Some).map_err(|_| RetryLater {
            message: format!(
                "Tenant {tenant} already has {cap} requests in progress; retry after the Retry-After delay"
            ),
            after_seconds: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rps: u32, burst: u32, concurrent: u32) -> Limits {
        Limits {
            tenant_requests_per_second: rps,
            tenant_request_burst: burst,
            collection_requests_per_second: 0,
            max_concurrent_requests: concurrent,
            ..Limits::default()
        }
    }

    #[test]
    fn buckets_are_per_tenant_and_say_when_to_retry() {
        let r = RateLimits::default();
        let l = limits(1, 3, 0);
        for _ in 0..3 {
            assert!(r.admit("noisy", None, &l).is_ok());
        }
        let refused = r.admit("noisy", None, &l).unwrap_err();
        assert!(refused.after_seconds >= 1);
        assert!(refused.message.contains("tenant noisy"));
        assert!(
            r.admit("quiet", None, &l).is_ok(),
            "another tenant is unaffected"
        );
    }

    #[test]
    fn collections_have_their_own_buckets() {
        let r = RateLimits::default();
        let l = Limits {
            tenant_requests_per_second: 0,
            collection_requests_per_second: 1,
            collection_request_burst: 1,
            max_concurrent_requests: 0,
            ..Limits::default()
        };
        assert!(r.admit("t", Some("c1"), &l).is_ok());
        assert!(r.admit("t", Some("c1"), &l).is_err());
        assert!(r.admit("t", Some("c2"), &l).is_ok());
    }

    #[test]
    fn concurrency_cap_releases_with_the_permit() {
        let r = RateLimits::default();
        let l = limits(0, 0, 2);
        let a = r.admit("t", None, &l).unwrap();
        let _b = r.admit("t", None, &l).unwrap();
        assert!(r.admit("t", None, &l).is_err());
        drop(a);
        assert!(r.admit("t", None, &l).is_ok());
    }
}
