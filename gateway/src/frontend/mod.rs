//! The frontend service: what every data-path route does between parsing its request and
//! shaping its answer. It resolves the collection named in the path (one catalog read per
//! request), validates the request against that row and the caller's limits, and then either
//! appends to the log service or hands the read, together with the row, to the query service,
//! so the query node reads nothing more from the catalog and the checks and the read agree on
//! one version and log position. Route handlers only extract, call one method and shape JSON.

mod collection;
mod fork;
mod read;
mod write;

pub(crate) use collection::resolve;
pub(crate) use read::{GetArgs, QueryArgs};

use silt_sysdb::Collection;

use crate::error::ApiResult;
use crate::tenancy::Caller;
use crate::GatewayState;

/// One request's frontend: the gateway's services and the authenticated caller.
pub(crate) struct Frontend<'a> {
    state: &'a GatewayState,
    caller: &'a Caller,
}

impl<'a> Frontend<'a> {
    pub(crate) fn new(state: &'a GatewayState, caller: &'a Caller) -> Self {
        Frontend { state, caller }
    }

    /// The collection `id` of `tenant`/`database`, read from the catalog now: every check and
    /// read of this request uses this one row.
    pub(crate) async fn collection(
        &self,
        tenant: &str,
        database: &str,
        id: &str,
    ) -> ApiResult<Collection> {
        resolve(self.state, tenant, database, id).await
    }
}
