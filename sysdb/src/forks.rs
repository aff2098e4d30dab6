//! Copy-on-write forks (Chroma's `collection.fork`), and the references the garbage collector
//! must respect once index files are shared between collections.
//!
//! A fork is a collection row of its own whose current version is its parent's: the same
//! manifest key, so the parent's index files are shared by reference and the catalog work is
//! two INSERTs whatever the collection's size. The fork gets a `collection_versions` row of its
//! own for that manifest; the collector deletes a version's objects only when no row of any
//! collection references its manifest any more (`manifest_referenced_elsewhere`), and the purge
//! of a deleted collection keeps the version directories other collections still reference
//! (`shared_manifests_under`).
//!
//! The parent's unindexed log tail is not in the version: the gateway copies it into the
//! fork's own log while the fork is pending (`begin_fork` … `finish_fork`); a fork left pending
//! by a failed request is deleted by the collector (`abandoned_forks`).

use silt_common::keys::collection_prefix;
use silt_common::CollectionId;
use sqlx::Row;

use crate::collections::{collection_id, to_u64};
use crate::{Collection, SysDb, SysDbError};

/// A fork whose catalog rows exist and whose log still lacks the parent's unindexed tail.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkStart {
    /// The new collection, as created (pending until `finish_fork`).
    pub fork: Collection,
    pub parent: CollectionId,
    /// The parent's entries after this offset and up to `tail_until` are the fork's tail: the
    /// version the fork shares holds everything up to it.
    pub tail_after: u64,
    /// The parent's log position when the fork was taken: the fork is the parent's state at
    /// this offset.
    pub tail_until: u64,
}

impl SysDb {
    /// Creates `name`, in the parent's tenant and database, as a fork of the live collection
    /// `parent`: its dimension, metadata, configuration, schema, version, manifest and
    /// compacted offset are the parent's, read in the same statement that inserts the row, so
    /// the version and the log offsets it records belong together. The fork stays pending
    /// until `finish_fork`.
    pub async fn begin_fork(
        &self,
        parent: CollectionId,
        name: &str,
    ) -> Result<ForkStart, SysDbError> {
        let id = CollectionId(self.entropy.uuid());
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO collections (id, tenant, database_id, name, dimension, metadata, \
                 configuration, schema_json, version, compacted_offset, log_position, manifest, \
                 created_at_ms, created_seq, log_collected_offset, lineage_root, forked_from, \
                 forked_at_offset, fork_pending_since_ms) \
             SELECT $1, p.tenant, p.database_id, $2, p.dimension, p.metadata, p.configuration, \
                 p.schema_json, p.version, p.compacted_offset, p.compacted_offset, p.manifest, $3, \
                 (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM collections), \
                 p.compacted_offset, COALESCE(p.lineage_root, p.id), p.id, p.log_position, $3 \
             FROM collections p WHERE p.id = $4 AND p.deleted_at_ms IS NULL",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(now)
        .bind(parent.to_string())
        .execute(&mut *tx)
        .await
        .map_err(SysDbError::exists_or(|| {
            format!("Collection [{name}] already exists")
        }))?;
        if inserted.rows_affected() == 0 {
            return Err(SysDbError::NotFound(format!(
                "Collection [{parent}] does not exist"
            )));
        }
        // The fork's own reference to the shared version (none before the parent's first
        // compaction). The parent's row for it outlives this transaction's snapshot: a
        // superseded row is forgotten only after the grace period.
        sqlx::query(
            "INSERT INTO collection_versions (collection_id, version, manifest, compacted_offset, \
                 record_count, created_at_ms, bytes) \
             SELECT f.id, v.version, v.manifest, v.compacted_offset, v.record_count, $2, v.bytes \
             FROM collections f JOIN collection_versions v \
                 ON v.collection_id = f.forked_from AND v.version = f.version \
                 AND v.manifest = f.manifest \
             WHERE f.id = $1",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row =
            sqlx::query("SELECT compacted_offset, forked_at_offset FROM collections WHERE id = $1")
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        let (tail_after, tail_until) = (
            to_u64(&row, "compacted_offset")?,
            to_u64(&row, "forked_at_offset")?,
        );
        tx.commit().await?;
        Ok(ForkStart {
            fork: self.get_collection(id).await?,
            parent,
            tail_after,
            tail_until,
        })
    }

    /// The fork's log now holds the parent's tail: it is complete. NotFound when it was
    /// deleted meanwhile (by its owner, or by the collector as abandoned).
    pub async fn finish_fork(&self, fork: CollectionId) -> Result<Collection, SysDbError> {
        let done = sqlx::query(
            "UPDATE collections SET fork_pending_since_ms = NULL \
             WHERE id = $1 AND deleted_at_ms IS NULL",
        )
        .bind(fork.to_string())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(SysDbError::NotFound(format!(
                "Collection [{fork}] does not exist"
            )));
        }
        self.get_collection(fork).await
    }

    /// A fork whose tail could not be copied: soft-deleted, collected like any deleted
    /// collection (its shared version stays while others reference it).
    pub async fn abandon_fork(&self, fork: CollectionId) -> Result<(), SysDbError> {
        sqlx::query(
            "UPDATE collections SET deleted_at_ms = $1 \
             WHERE id = $2 AND deleted_at_ms IS NULL AND fork_pending_since_ms IS NOT NULL",
        )
        .bind(self.now_ms())
        .bind(fork.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forks pending since before `before_ms`: their request failed or its process died
    /// before the parent's tail was copied. The collector abandons them.
    pub async fn abandoned_forks(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<CollectionId>, SysDbError> {
        let rows = sqlx::query(
            "SELECT id FROM collections WHERE fork_pending_since_ms IS NOT NULL \
             AND fork_pending_since_ms < $1 AND deleted_at_ms IS NULL LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| collection_id(r, "id")).collect()
    }

    /// How many live, complete forks the lineage of `id` holds: every collection forked from
    /// its root, directly or from another fork, the root itself not counted (Chroma counts
    /// the forks recorded in the root's lineage; a collection never forked answers 0).
    pub async fn fork_count(&self, id: CollectionId) -> Result<u64, SysDbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM collections \
             WHERE lineage_root = (SELECT COALESCE(lineage_root, id) FROM collections WHERE id = $1) \
               AND deleted_at_ms IS NULL AND fork_pending_since_ms IS NULL",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        to_u64(&row, "n")
    }

    /// Whether a row of a collection other than `except` (of any collection when `None`)
    /// references `manifest`: a version row (of a live collection, or of a deleted one not yet
    /// purged) or a current manifest. While one does, the version's objects must stay. (Within
    /// one collection each version has a directory of its own, so only other collections can
    /// share one.)
    pub async fn manifest_referenced_elsewhere(
        &self,
        manifest: &str,
        except: Option<CollectionId>,
    ) -> Result<bool, SysDbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM ( \
                 SELECT collection_id AS c FROM collection_versions \
                 WHERE manifest = $1 AND collection_id <> $2 \
                 UNION ALL \
                 SELECT id AS c FROM collections WHERE manifest = $1 AND id <> $2 \
             ) refs",
        )
        .bind(manifest)
        .bind(except.map(|c| c.to_string()).unwrap_or_default())
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(&row, "n")? > 0)
    }

    /// Shared versions some of whose references were removed (`forget_version`,
    /// `purge_collection`): the collector deletes each once nothing references it.
    pub async fn shared_version_garbage(&self, limit: u32) -> Result<Vec<String>, SysDbError> {
        let rows = sqlx::query(
            "SELECT manifest FROM shared_version_garbage ORDER BY since_ms, manifest LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("manifest")?)).collect()
    }

    /// The version of `manifest` was deleted (or is still referenced and will be listed again
    /// when its last reference goes).
    pub async fn forget_shared_version_garbage(&self, manifest: &str) -> Result<(), SysDbError> {
        sqlx::query("DELETE FROM shared_version_garbage WHERE manifest = $1")
            .bind(manifest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Manifests under `collection`'s object prefix that other collections (its forks) still
    /// reference: purging `collection` must keep their version directories.
    pub async fn shared_manifests_under(
        &self,
        collection: CollectionId,
    ) -> Result<Vec<String>, SysDbError> {
        // Keys under the prefix are those between "prefix/" and "prefix0" ('0' follows '/'),
        // a range both backends serve from the manifest indexes.
        let prefix = collection_prefix(collection);
        let rows = sqlx::query(
            "SELECT manifest FROM collection_versions \
             WHERE manifest >= $1 AND manifest < $2 AND collection_id <> $3 \
             UNION \
             SELECT manifest FROM collections \
             WHERE manifest >= $1 AND manifest < $2 AND id <> $3",
        )
        .bind(format!("{prefix}/"))
        .bind(format!("{prefix}0"))
        .bind(collection.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("manifest")?)).collect()
    }

    /// Every manifest `collection`'s rows reference (its version rows and its current one),
    /// wherever they live: a fork's may lie under its parent's prefix.
    pub async fn manifests_of(&self, collection: CollectionId) -> Result<Vec<String>, SysDbError> {
        let rows = sqlx::query(
            "SELECT manifest FROM collection_versions WHERE collection_id = $1 \
             UNION \
             SELECT manifest FROM collections WHERE id = $1 AND manifest IS NOT NULL",
        )
        .bind(collection.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("manifest")?)).collect()
    }
}
