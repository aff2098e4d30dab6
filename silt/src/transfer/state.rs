//! The checkpoint file of a resumable copy: per source collection, the destination collection
//! it goes to and how many records (in the source's order) are acknowledged there. Rewritten
//! whole after every acknowledged page, through a temporary file and a rename, so a kill at
//! any moment leaves either the old checkpoint or the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Result, TransferError};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StateData {
    /// The servers this checkpoint is about: a state file is never applied to other ones.
    pub from: String,
    pub to: String,
    /// By "tenant/database/name" of the source collection.
    pub collections: BTreeMap<String, CollectionState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CollectionState {
    pub source_id: String,
    /// None between the decision to create the destination collection and its creation: a
    /// collection of that name found on re-run was made by this run and is adopted.
    pub dest_id: Option<String>,
    /// Records in the source's order already acknowledged by the destination.
    pub offset: u64,
    pub done: bool,
}

pub struct StateFile {
    path: Option<PathBuf>,
    pub data: StateData,
}

impl StateFile {
    /// Loads the checkpoint at `path` (a fresh one if the file does not exist yet); without a
    /// path the state lives in memory only.
    pub fn open(path: Option<&Path>, from: &str, to: &str) -> Result<StateFile> {
        let fresh = StateData {
            from: from.to_string(),
            to: to.to_string(),
            collections: BTreeMap::new(),
        };
        let Some(path) = path else {
            return Ok(StateFile {
                path: None,
                data: fresh,
            });
        };
        let error = |reason: String| TransferError::State {
            path: path.display().to_string(),
            reason,
        };
        let data = match std::fs::read(path) {
            Ok(bytes) => {
                let data: StateData = serde_json::from_slice(&bytes)
                    .map_err(|e| error(format!("not a checkpoint written by silt: {e}")))?;
                if data.from != from || data.to != to {
                    return Err(error(format!(
                        "it is the checkpoint of a copy from {} to {}, not from {from} to {to}",
                        data.from, data.to
                    )));
                }
                data
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh,
            Err(e) => return Err(error(e.to_string())),
        };
        Ok(StateFile {
            path: Some(path.to_path_buf()),
            data,
        })
    }

    pub fn entry(&mut self, key: &str) -> &mut CollectionState {
        self.data.collections.entry(key.to_string()).or_default()
    }

    /// Writes the checkpoint durably (fsync of the file, then rename over the old one).
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source: std::io::Error| TransferError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_vec_pretty(&self.data).map_err(|e| TransferError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            file.write_all(&text).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_survives_reopening_and_belongs_to_its_servers() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| TransferError::Io {
            path: "tempdir".into(),
            source,
        })?;
        let path = dir.path().join("state.json");
        let mut state = StateFile::open(Some(&path), "http://a", "http://b")?;
        state.entry("t/d/c").offset = 3000;
        state.entry("t/d/c").dest_id = Some("x".into());
        state.save()?;
        let again = StateFile::open(Some(&path), "http://a", "http://b")?;
        assert_eq!(again.data.collections["t/d/c"].offset, 3000);
        assert!(matches!(
            StateFile::open(Some(&path), "http://a", "http://other"),
            Err(TransferError::State { .. })
        ));
        Ok(())
    }
}
