//! Multi-tenancy: who the caller is (API keys), what they may touch (route
//! access), how much (per-tenant quotas) and how fast (rate limits). `guard` applies all four
//! to every route before its handler runs.

mod access;
mod credentials;
mod guard;
mod rates;

pub use access::{authorize, RouteAccess};
pub use guard::{guard, Caller, RouteGuard};

use std::sync::Arc;
use std::time::Duration;

use silt_common::api_key::hash_key;
use silt_common::SiltResult;
use silt_sysdb::{ApiKey, SysDb};

use crate::ttl_cache::TtlCache;
use crate::Limits;
use rates::RateLimits;

pub struct Tenancy {
    /// Whether requests must carry an API key.
    pub auth: bool,
    pub defaults: Limits,
    sysdb: SysDb,
    keys: TtlCache<String, Option<Arc<ApiKey>>>,
    quotas: TtlCache<String, Arc<Limits>>,
    rates: RateLimits,
}

impl Tenancy {
    /// `catalog_ttl`: how long a key or a tenant's quotas are remembered; a revocation or quota
    /// change takes effect within it.
    pub fn new(sysdb: SysDb, auth: bool, defaults: Limits, catalog_ttl: Duration) -> Self {
        Tenancy {
            auth,
            defaults,
            sysdb,
            keys: TtlCache::new(catalog_ttl, 100_000),
            quotas: TtlCache::new(catalog_ttl, 100_000),
            rates: RateLimits::default(),
        }
    }

    /// The live key behind `presented`, if any. Unknown keys are remembered too, so a client
    /// retrying a bad key costs one catalog query per TTL.
    pub async fn key(&self, presented: &str) -> SiltResult<Option<Arc<ApiKey>>> {
        let hash = hash_key(presented);
        if let Some(found) = self.keys.get(&hash) {
            return Ok(found);
        }
        let found = self.sysdb.find_api_key(&hash).await?.map(Arc::new);
        self.keys.insert(hash, found.clone());
        Ok(found)
    }

    /// With auth on, that `headers` carry a live key; the refusal to answer otherwise.
    pub(crate) async fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<(), crate::ApiError> {
        if !self.auth {
            return Ok(());
        }
        let Some(presented) = credentials::presented_key(headers) else {
            return Err(crate::ApiError::new(
                silt_common::ErrorKind::Unauthenticated,
                "Missing API key: send it in the x-chroma-token header or as Authorization: Bearer",
            ));
        };
        match self.key(presented).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(crate::ApiError::new(
                silt_common::ErrorKind::Unauthenticated,
                "Invalid or revoked API key",
            )),
            Err(e) => Err(crate::ApiError(e)),
        }
    }

    /// The tenant's limits: the defaults with the operator's overrides applied. A broken
    /// override is logged and ignored rather than locking the tenant out.
    pub async fn limits(&self, tenant: &str) -> SiltResult<Arc<Limits>> {
        if let Some(l) = self.quotas.get(&tenant.to_string()) {
            return Ok(l);
        }
        let limits = match self.sysdb.tenant_quotas(tenant).await? {
            None => self.defaults.clone(),
            Some(overrides) => self
                .defaults
                .with_overrides(&overrides)
                .unwrap_or_else(|e| {
                    tracing::error!(tenant, error = %e, "ignoring invalid quota overrides");
                    self.defaults.clone()
                }),
        };
        let limits = Arc::new(limits);
        self.quotas.insert(tenant.to_string(), limits.clone());
        Ok(limits)
    }

    pub(crate) fn rates(&self) -> &RateLimits {
        &self.rates
    }
}
