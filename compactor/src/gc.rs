//! Garbage collection of superseded versions, deleted collections and compacted log fragments.
//! Only what the catalog no longer references is deleted (superseded versions, abandoned
//! attempts, deleted collections, fragments below a version's compacted offset), and only
//! after the grace period, so readers that resolved an
//! older version just before it was superseded can finish.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use silt_common::index::{is_bundle_key, version_dir_of};
use silt_common::keys::collection_prefix;
use silt_common::storage::DynStore;
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

impl Compactor {
    /// Deletes versions superseded, and collections deleted, before `now_ms - grace`.
    /// Returns the number of objects deleted.
    pub async fn collect_garbage(&self, now_ms: i64) -> Result<usize, CompactError> {
        let cutoff = now_ms - self.config.gc_grace.as_millis() as i64;
        let mut deleted = 0;
        for v in self.sysdb.superseded_versions(cutoff, 1000).await? {
            deleted += if is_bundle_key(&v.manifest) {
                // A one-object version is its only object: delete it without listing.
                delete_object(&self.store, &Path::from(v.manifest.as_str())).await?
            } else {
                delete_dir(&self.store, &version_dir_of(&v.manifest)).await?
            };
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
        for id in self.sysdb.deleted_collections(cutoff, 1000).await? {
            deleted += delete_dir(&self.store, &Path::from(collection_prefix(id))).await?;
            self.sysdb.purge_collection(id).await?;
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
}
