//! Create-only writes: the one primitive both the log and the compactor fence with. A writer
//! that loses the race for a key gets `AlreadyExists` and never overwrites what is there.

use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FenceError {
    /// Someone else already wrote this key; re-read and move on.
    #[error("object {0} already exists")]
    AlreadyExists(Path),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}

pub async fn put_if_absent(
    store: &dyn ObjectStore,
    path: &Path,
    bytes: impl Into<PutPayload>,
) -> Result<(), FenceError> {
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match store.put_opts(path, bytes.into(), opts).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => {
            Err(FenceError::AlreadyExists(path.clone()))
        }
        Err(e) => Err(FenceError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;
    use std::sync::Arc;

    async fn only_one_writer_wins(store: Arc<dyn ObjectStore>) {
        let path = Path::from("fence/00000000000000000001");
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let store = store.clone();
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                put_if_absent(store.as_ref(), &path, vec![i]).await.is_ok()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += t.await.unwrap() as usize;
        }
        assert_eq!(wins, 1);
        let body = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(body.len(), 1);
        assert!(matches!(
            put_if_absent(store.as_ref(), &path, vec![99]).await,
            Err(FenceError::AlreadyExists(_))
        ));
    }

    #[tokio::test]
    async fn in_memory_create_only() {
        only_one_writer_wins(Arc::new(InMemory::new())).await;
    }

    #[tokio::test]
    async fn local_dir_create_only() {
        let dir = tempfile::tempdir().unwrap();
        only_one_writer_wins(Arc::new(
            LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
        ))
        .await;
    }
}
