//! Who may call what: the access each route needs, and the decision for one API key.

use silt_sysdb::{Access, ApiKey};

/// The access a route needs. Every route declares one (see `routes::all_routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAccess {
    /// Liveness and version: no key needed.
    Public,
    /// Any valid key: identity, pre-flight-checks.
    Authenticated,
    /// Reads in the tenant (and database) named by the path.
    Read,
    /// Writes in the tenant (and database) named by the path.
    Write,
    /// Creating or deleting databases: a read-write key for all of the tenant's databases.
    TenantAdmin,
    /// Operators only (creating tenants, reset): never through an API key.
    Operator,
}

impl RouteAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteAccess::Public => "public",
            RouteAccess::Authenticated => "authenticated",
            RouteAccess::Read => "read",
            RouteAccess::Write => "write",
            RouteAccess::TenantAdmin => "tenant-admin",
            RouteAccess::Operator => "operator",
        }
    }
}

/// Whether `key` may make a request needing `access` on the tenant and database in its path.
/// The refusal only repeats names the caller sent, so it tells nothing about other tenants —
/// not even whether the tenant exists.
pub fn authorize(
    access: RouteAccess,
    key: &ApiKey,
    tenant: Option<&str>,
    database: Option<&str>,
) -> Result<(), String> {
    match access {
        RouteAccess::Public | RouteAccess::Authenticated => return Ok(()),
        RouteAccess::Operator => {
            return Err("This operation is reserved to operators (silt admin)".into())
        }
        RouteAccess::Read | RouteAccess::Write | RouteAccess::TenantAdmin => {}
    }
    let Some(tenant) = tenant else {
        return Err("This route needs a tenant".into());
    };
    if tenant != key.tenant {
        return Err(format!("This API key has no access to tenant {tenant}"));
    }
    if let Some(database) = database {
        if !key.scope.allows_database(database) {
            return Err(format!("This API key has no access to database {database}"));
        }
    }
    let writes = matches!(access, RouteAccess::Write | RouteAccess::TenantAdmin);
    if writes && key.scope.access != Access::Write {
        return Err("This API key is read-only".into());
    }
    if access == RouteAccess::TenantAdmin && key.scope.databases.is_some() {
        return Err("Creating or deleting databases needs a key for all databases".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_sysdb::KeyScope;

    fn key(access: Access, databases: Option<Vec<&str>>) -> ApiKey {
        ApiKey {
            id: "k".into(),
            tenant: "a".into(),
            label: None,
            scope: KeyScope {
                access,
                databases: databases.map(|d| d.into_iter().map(String::from).collect()),
            },
            created_at_ms: 0,
            revoked_at_ms: None,
        }
    }

    #[test]
    fn decisions() {
        use RouteAccess::*;
        let rw = key(Access::Write, None);
        let ro = key(Access::Read, None);
        let one_db = key(Access::Write, Some(vec!["d1"]));
        assert!(authorize(Read, &rw, Some("a"), Some("x")).is_ok());
        assert!(authorize(Read, &rw, Some("b"), Some("x")).is_err());
        assert!(authorize(Write, &ro, Some("a"), Some("x")).is_err());
        assert!(authorize(Read, &ro, Some("a"), Some("x")).is_ok());
        assert!(authorize(Write, &one_db, Some("a"), Some("d1")).is_ok());
        assert!(authorize(Read, &one_db, Some("a"), Some("d2")).is_err());
        assert!(authorize(TenantAdmin, &one_db, Some("a"), None).is_err());
        assert!(authorize(TenantAdmin, &rw, Some("a"), None).is_ok());
        assert!(authorize(TenantAdmin, &ro, Some("a"), None).is_err());
        assert!(authorize(Operator, &rw, None, None).is_err());
        assert!(authorize(Authenticated, &ro, None, None).is_ok());
        assert!(authorize(Read, &rw, None, None).is_err());
        // Refusals for an existing and a missing tenant read the same.
        assert_eq!(
            authorize(Read, &rw, Some("b"), None),
            Err("This API key has no access to tenant b".into())
        );
    }
}
