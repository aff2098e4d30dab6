//! Garbage collection of superseded versions, deleted collections and compacted log fragments.
//! Only what the catalog no longer references is deleted (superseded versions, abandoned
//! attempts, deleted collections, fragments below a version's compacted offset), and only
//! after the grace period, so readers that resolved an
//! older version just before it was superseded can finish. Versions are shared between a
//! collection and its forks: a version's objects go only with the last catalog row, of any
//! collection, that references its manifest.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use silt_common::keys::collection_prefix;
use silt_common::storage::DynStore;
use silt_common::CollectionId;
use silt_index::format::{is_bundle_key, version_dir_of};
use silt_log_service::collect_log_garbage;

use crate::{CompactError, Compactor};

pub(crate) async fn delete_dir(store: &DynStore, dir: &Path) -> Result<usize, CompactError> {
    let keys: Vec<Path> = store
        .list(Some(dir))
        .map_ok(|m| m.location)
        .try_collect()
        .await?;
    let n = keys.len();
    let mut results = store.delete_stream(futures::stream::iter(keys.into_iter().map(Ok)).boxed());
    while let Some(r) = results.next().await {
        match r {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

async fn delete_object(store: &DynStore, key: &Path) -> Result<usize, CompactError> {
    match store.delete(key).await {
        Ok(()) => Ok(1),
        Err(object_store::Error::NotFound { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the objects of the version whose manifest is `manifest`.
async fn delete_version(store: &DynStore, manifest: &str) -> Result<usize, CompactError> {
    if is_bundle_key(manifest) {
        // A one-object version is its only object: delete it without listing.
        delete_object(store, &Path::from(manifest)).await
    } else {
        delete_dir(store, &version_dir_of(manifest)).await
    }
}

impl Compactor {
    /// Deletes versions superseded, and collections deleted, before `now_ms - grace`.
    /// Returns the number of objects deleted.
    pub async fn collect_garbage(&self, now_ms: i64) -> Result<usize, CompactError> {
        let cutoff = now_ms - self.config.gc_grace.as_millis() as i64;
        let mut deleted = 0;
        for v in self.sysdb.superseded_versions(cutoff, 1000).await? {
            // A version a fork shares stays until its last reference goes (`forget_version`
            // records it for the shared-garbage pass below).
            if !self
                .sysdb
                .manifest_referenced_elsewhere(&v.manifest, Some(v.collection_id))
                .await?
            {
                deleted += delete_version(&self.store, &v.manifest).await?;
            }
            self.sysdb
                .forget_version(v.collection_id, v.version)
                .await?;
        }
        for (collection, dir) in self
            .sysdb
            .abandoned_compaction_attempts(cutoff, 1000)
            .await?
        {
            let n = delete_dir(&self.store, &Path::from(dir.as_str())).await?;
            tracing::info!(%collection, dir, objects = n, "deleted an abandoned compaction attempt");
            deleted += n;
            self.sysdb.end_compaction_attempt(&dir).await?;
        }
        // A fork still pending after the grace period lost its request: it is deleted (and
        // collected with the deleted collections, a grace period later).
        for fork in self.sysdb.abandoned_forks(cutoff, 1000).await? {
            tracing::info!(collection = %fork, "abandoning a fork whose creation never finished");
            self.sysdb.abandon_fork(fork).await?;
        }
        for id in self.sysdb.deleted_collections(cutoff, 1000).await? {
            deleted += self.delete_collection_objects(id).await?;
            self.sysdb.purge_collection(id).await?;
        }
        for manifest in self.sysdb.shared_version_garbage(1000).await? {
            if !self
                .sysdb
                .manifest_referenced_elsewhere(&manifest, None)
                .await?
            {
                deleted += delete_version(&self.store, &manifest).await?;
            }
            // Still referenced: the reference's own removal records it again.
            self.sysdb.forget_shared_version_garbage(&manifest).await?;
        }
        // Log fragments, from the catalog: whichever log node wrote them, dead or alive.
        let owns = self.ownership().await?;
        let log = collect_log_garbage(&self.store, &self.sysdb, cutoff, owns, 1000)
            .await
            .map_err(|e| CompactError::Log(e.into()))?;
        if log.deleted > 0 {
            tracing::debug!(
                collections = log.collections,
                fragments = log.deleted,
                "collected log fragments"
            );
        }
        Ok(deleted + log.deleted)
    }

    /// Deletes a deleted collection's objects: its prefix (log and versions), except the
    /// version directories its forks still reference, and the versions it shared from its
    /// parent (under the parent's prefix) that nothing else references any more.
    async fn delete_collection_objects(&self, id: CollectionId) -> Result<usize, CompactError> {
        let prefix = Path::from(collection_prefix(id));
        let mut deleted = 0;
        for manifest in self.sysdb.manifests_of(id).await? {
            let own = Path::from(manifest.as_str())
                .prefix_match(&prefix)
                .is_some();
            if !own
                && !self
                    .sysdb
                    .manifest_referenced_elsewhere(&manifest, Some(id))
                    .await?
            {
                deleted += delete_version(&self.store, &manifest).await?;
            }
        }
        let keep: Vec<Path> = self
            .sysdb
            .shared_manifests_under(id)
            .await?
            .iter()
            .map(|m| version_dir_of(m))
            .collect();
        if keep.is_empty() {
            return Ok(deleted + delete_dir(&self.store, &prefix).await?);
        }
        let keys: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_filter(|key| {
                let shared = keep.iter().any(|dir| key.prefix_match(dir).is_some());
                std::future::ready(!shared)
            })
            .try_collect()
            .await?;
        for key in &keys {
            deleted += delete_object(&self.store, key).await?;
        }
        tracing::debug!(collection = %id, kept = keep.len(), "kept version directories its forks share");
        Ok(deleted)
    }
}
