//! Resolving the collection a path names: one catalog read, scoped to the path's tenant and
//! database so a caller can never reach another tenant's collection by id.

use silt_common::{CollectionId, SiltError};
use silt_sysdb::{Collection, SysDbError};

use crate::error::{ApiError, ApiResult};
use crate::GatewayState;

/// The collection `id` if it lives in `tenant`/`database`; Chroma's NotFoundError otherwise
/// (a malformed id, a deleted collection and another tenant's collection answer alike).
pub(crate) async fn resolve(
    s: &GatewayState,
    tenant: &str,
    database: &str,
    id: &str,
) -> ApiResult<Collection> {
    let not_found = || {
        ApiError(SiltError::not_found(format!(
            "Collection [{id}] does not exist"
        )))
    };
    let cid: CollectionId = id.parse().map_err(|_| not_found())?;
    let c = s.sysdb.get_collection(cid).await.map_err(|e| match e {
        SysDbError::NotFound(_) => not_found(),
        other => other.into(),
    })?;
    if c.tenant != tenant || c.database != database {
        return Err(not_found());
    }
    Ok(c)
}
