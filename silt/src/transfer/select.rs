//! Which collections of a server a command works on: tenants by name (Chroma cannot list them),
//! databases and collections by name or glob.

use super::args::Selection;
use super::client::{ChromaClient, Collection};
use super::error::{Result, TransferError};

pub const DEFAULT_TENANT: &str = "default_tenant";

/// One collection to copy, with where it lives.
#[derive(Debug, Clone)]
pub struct Planned {
    pub tenant: String,
    pub database: String,
    pub collection: Collection,
}

impl Planned {
    /// The key of this collection in a state file and in messages.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.tenant, self.database, self.collection.name)
    }
}

/// `*` matches any run of characters, `?` one character; anything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// True when `name` matches one of `patterns`, or there are none.
pub fn selected(patterns: &[String], name: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob_match(p, name))
}

/// The tenants named, or `default_tenant` and the API key's own tenant.
pub async fn tenants(client: &ChromaClient, named: &[String]) -> Result<Vec<String>> {
    if !named.is_empty() {
        for t in named {
            if !client.tenant_exists(t).await? {
                return Err(TransferError::Usage(format!(
                    "{}: tenant {t:?} does not exist",
                    client.url()
                )));
            }
        }
        return Ok(named.to_vec());
    }
    let mut out = Vec::new();
    // The default tenant may be out of the key's reach (403) or absent: then it is skipped.
    if matches!(client.tenant_exists(DEFAULT_TENANT).await, Ok(true)) {
        out.push(DEFAULT_TENANT.to_string());
    }
    match client.identity().await {
        Ok(identity) if !out.contains(&identity.tenant) => out.push(identity.tenant),
        Ok(_) => {}
        // A wrong key must say so, not look like an empty server.
        Err(e @ TransferError::Auth { .. }) => return Err(e),
        Err(_) => {}
    }
    if out.is_empty() {
        return Err(TransferError::Usage(format!(
            "{}: no tenant reachable with this key; name one with --tenant",
            client.url()
        )));
    }
    Ok(out)
}

/// Every selected collection of the server, in a stable order (tenant, database, name).
pub async fn plan(client: &ChromaClient, select: &Selection) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    for tenant in tenants(client, &select.tenants).await? {
        let mut databases = client.list_databases(&tenant).await?;
        databases.sort();
        for database in databases
            .into_iter()
            .filter(|d| selected(&select.databases, d))
        {
            let mut collections = client.list_collections(&tenant, &database).await?;
            collections.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(
                collections
                    .into_iter()
                    .filter(|c| selected(&select.collections, &c.name))
                    .map(|collection| Planned {
                        tenant: tenant.clone(),
                        database: database.clone(),
                        collection,
                    }),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("docs-*", "docs-2024"));
        assert!(!glob_match("docs-*", "doc-2024"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-v*-final", "x-v2-beta-v3-final"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(selected(&[], "x"));
        assert!(!selected(&["a*".into()], "b"));
    }
}
