//! The receiving side of a copy: finds or creates the destination collection (telling a
//! collection this run made from someone else's of the same name) and writes pages with upsert.

use serde_json::Value;

use super::client::ChromaClient;
use super::error::{Result, TransferError};
use super::records::Records;
use super::state::StateFile;

pub struct Destination {
    pub client: ChromaClient,
    pub tenant: String,
    pub database: String,
    pub id: String,
}

/// What the destination collection is created with.
pub struct Spec<'a> {
    pub tenant: &'a str,
    pub database: &'a str,
    pub name: &'a str,
    pub metadata: &'a Option<Value>,
    pub configuration: &'a Option<Value>,
    pub schema: &'a Option<Value>,
}

impl Destination {
    /// The destination collection of the state entry `key`, created if this run has not made it
    /// yet. A collection of that name that the checkpoint does not know is a clash: copying
    /// into it would mix two collections' records.
    pub async fn prepare(
        client: &ChromaClient,
        state: &mut StateFile,
        key: &str,
        spec: Spec<'_>,
    ) -> Result<Destination> {
        client.ensure_tenant(spec.tenant).await?;
        client.ensure_database(spec.tenant, spec.database).await?;
        let existing = client
            .find_collection(spec.tenant, spec.database, spec.name)
            .await?;
        let known = state.data.collections.get(key).cloned().unwrap_or_default();
        let clash = || TransferError::NameClash {
            target: client.url().to_string(),
            tenant: spec.tenant.to_string(),
            database: spec.database.to_string(),
            name: spec.name.to_string(),
        };
        let id = match (existing, &known.dest_id) {
            (Some(c), Some(ours)) if &c.id == ours => c.id,
            (Some(_), Some(_)) => return Err(clash()),
            // Recorded as about to be created, and created before the checkpoint could say so.
            (Some(c), None) if state.data.collections.contains_key(key) => c.id,
            (Some(_), None) => return Err(clash()),
            (None, Some(gone)) if known.offset > 0 => {
                return Err(TransferError::State {
                    path: key.to_string(),
                    reason: format!(
                        "the destination collection {gone} this copy was writing to is gone; \
                         start again without this state file"
                    ),
                })
            }
            (None, _) => {
                // Record the intent first: if the process dies between the create and the next
                // checkpoint, the re-run adopts the collection instead of calling it a clash.
                state.entry(key).dest_id = None;
                state.save()?;
                client
                    .create_collection(
                        spec.tenant,
                        spec.database,
                        spec.name,
                        spec.metadata,
                        spec.configuration,
                        spec.schema,
                    )
                    .await?
                    .id
            }
        };
        let entry = state.entry(key);
        entry.dest_id = Some(id.clone());
        state.save()?;
        Ok(Destination {
            client: client.clone(),
            tenant: spec.tenant.to_string(),
            database: spec.database.to_string(),
            id,
        })
    }

    pub async fn write(&self, records: &Records) -> Result<()> {
        self.client
            .upsert(&self.tenant, &self.database, &self.id, records)
            .await
    }

    pub async fn count(&self) -> Result<u64> {
        self.client
            .count(&self.tenant, &self.database, &self.id)
            .await
    }

    pub async fn get_ids(&self, ids: &[String]) -> Result<Records> {
        self.client
            .get_ids(&self.tenant, &self.database, &self.id, ids)
            .await
    }
}
