//! The check after a copy: the destination holds as many records as the source, and a uniform
//! random sample of the records copied (reservoir sampling over the pages as they pass, so
//! memory stays bounded) reads back identical, field by field.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use silt_common::clock::Entropy;

use super::destination::Destination;
use super::error::{Result, TransferError};
use super::records::Records;

pub struct Sample {
    want: usize,
    seen: u64,
    rng: StdRng,
    kept: Records,
}

impl Sample {
    pub fn new(want: usize) -> Sample {
        Sample {
            want,
            seen: 0,
            rng: StdRng::seed_from_u64(Entropy::system().seed()),
            kept: Records::default(),
        }
    }

    pub fn offer(&mut self, page: &Records) {
        for i in 0..page.len() {
            self.seen += 1;
            let slot = if self.kept.len() < self.want {
                Some(self.kept.len())
            } else {
                let r = self.rng.random_range(0..self.seen);
                (r < self.want as u64).then_some(r as usize)
            };
            let Some(slot) = slot else { continue };
            let (id, e, d, m, u) = (
                page.ids[i].clone(),
                page.embeddings[i].clone(),
                page.documents[i].clone(),
                page.metadatas[i].clone(),
                page.uris[i].clone(),
            );
            if slot == self.kept.len() {
                self.kept.ids.push(id);
                self.kept.embeddings.push(e);
                self.kept.documents.push(d);
                self.kept.metadatas.push(m);
                self.kept.uris.push(u);
            } else {
                self.kept.ids[slot] = id;
                self.kept.embeddings[slot] = e;
                self.kept.documents[slot] = d;
                self.kept.metadatas[slot] = m;
                self.kept.uris[slot] = u;
            }
        }
    }

    /// Reads the sampled ids back from the destination and compares every field; returns how
    /// many records were compared.
    pub async fn check(&self, dest: &Destination, what: &str) -> Result<usize> {
        if self.kept.ids.is_empty() {
            return Ok(0);
        }
        let back = dest.get_ids(&self.kept.ids).await?;
        let position: std::collections::HashMap<&str, usize> = back
            .ids
            .iter()
            .enumerate()
            .map(|(j, id)| (id.as_str(), j))
            .collect();
        let mut problems = Vec::new();
        for (i, id) in self.kept.ids.iter().enumerate() {
            match position.get(id.as_str()) {
                None => problems.push(format!("{id}: missing at the destination")),
                Some(&j) => problems.extend(self.kept.differences(i, &back, j)),
            }
        }
        if !problems.is_empty() {
            let shown: Vec<_> = problems.iter().take(5).cloned().collect();
            return Err(TransferError::Verify(format!(
                "{what}: {} of {} sampled records differ: {}",
                problems.len(),
                self.kept.ids.len(),
                shown.join("; ")
            )));
        }
        Ok(self.kept.ids.len())
    }
}

/// Source and destination must count the same records.
pub fn counts_equal(what: &str, source: u64, dest: u64) -> Result<()> {
    if source != dest {
        return Err(TransferError::Verify(format!(
            "{what}: the source holds {source} records, the destination {dest}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(from: usize, n: usize) -> Records {
        Records {
            ids: (from..from + n).map(|i| i.to_string()).collect(),
            embeddings: vec![Some(vec![0.0]); n],
            documents: vec![None; n],
            metadatas: vec![None; n],
            uris: vec![None; n],
        }
    }

    #[test]
    fn the_sample_is_bounded_and_drawn_from_every_page() {
        let mut sample = Sample::new(50);
        for p in 0..100 {
            sample.offer(&page(p * 100, 100));
        }
        assert_eq!(sample.kept.len(), 50);
        let late = sample
            .kept
            .ids
            .iter()
            .filter(|id| id.parse::<usize>().unwrap_or(0) >= 5000)
            .count();
        // Uniform over 10,000 records: about half come from the second half.
        assert!(
            (10..=40).contains(&late),
            "{late} of 50 from the second half"
        );
    }
}
