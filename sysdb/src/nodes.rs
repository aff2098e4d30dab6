//! Membership rows: which nodes of which role are alive, by their last heartbeat.

use sqlx::Row;

use crate::{SysDb, SysDbError};

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: String,
    pub role: String,
    /// Where other nodes reach it, e.g. `http://10.0.0.5:7001`.
    pub address: String,
    pub started_at_ms: i64,
    pub heartbeat_at_ms: i64,
}

impl SysDb {
    /// Records a node as alive now; inserts its row if it is missing (first start, or pruned
    /// while the node was paused).
    pub async fn heartbeat_node(
        &self,
        id: &str,
        role: &str,
        address: &str,
        started_at_ms: i64,
    ) -> Result<(), SysDbError> {
        let now = self.now_ms();
        let updated = sqlx::query(
            "UPDATE nodes SET heartbeat_at_ms = $1, address = $2, role = $3 WHERE id = $4",
        )
        .bind(now)
        .bind(address)
        .bind(role)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            let inserted = sqlx::query(
                "INSERT INTO nodes (id, role, address, started_at_ms, heartbeat_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(role)
            .bind(address)
            .bind(started_at_ms)
            .bind(now)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => {}
                // Two heartbeats of the same node raced; the other one inserted the row.
                Err(e) if SysDbError::is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Removes a node's row (clean shutdown), so routing stops using it at once.
    pub async fn remove_node(&self, id: &str) -> Result<(), SysDbError> {
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Nodes of `role` that heartbeated within the last `max_age_ms`, ordered by id.
    pub async fn live_nodes(
        &self,
        role: &str,
        max_age_ms: i64,
    ) -> Result<Vec<NodeRecord>, SysDbError> {
        self.nodes_where(role, self.now_ms() - max_age_ms).await
    }

    /// Every registered node of every role, live or not (for operators).
    pub async fn all_nodes(&self) -> Result<Vec<NodeRecord>, SysDbError> {
        let rows = sqlx::query(
            "SELECT id, role, address, started_at_ms, heartbeat_at_ms FROM nodes ORDER BY role, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    /// Deletes rows of nodes silent since before `before_ms`.
    pub async fn prune_nodes(&self, before_ms: i64) -> Result<u64, SysDbError> {
        let done = sqlx::query("DELETE FROM nodes WHERE heartbeat_at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn nodes_where(&self, role: &str, since_ms: i64) -> Result<Vec<NodeRecord>, SysDbError> {
        let rows = sqlx::query(
            "SELECT id, role, address, started_at_ms, heartbeat_at_ms FROM nodes \
             WHERE role = $1 AND heartbeat_at_ms >= $2 ORDER BY id",
        )
        .bind(role)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(node_from_row).collect()
    }
}

fn node_from_row(r: &sqlx::any::AnyRow) -> Result<NodeRecord, SysDbError> {
    Ok(NodeRecord {
        id: r.try_get("id")?,
        role: r.try_get("role")?,
        address: r.try_get("address")?,
        started_at_ms: r.try_get("started_at_ms")?,
        heartbeat_at_ms: r.try_get("heartbeat_at_ms")?,
    })
}
