//! Checking a record against a request's filters, and projecting it to the included fields.

use std::collections::HashSet;

use silt_common::record::{Metadata, Record};

use crate::request::Filters;
use crate::Include;

pub(crate) struct Matcher<'a> {
    filters: &'a Filters,
    ids: Option<HashSet<&'a str>>,
}

impl<'a> Matcher<'a> {
    pub(crate) fn new(filters: &'a Filters) -> Self {
        Matcher {
            filters,
            ids: filters
                .ids
                .as_ref()
                .map(|ids| ids.iter().map(String::as_str).collect()),
        }
    }

    pub(crate) fn matches(&self, r: &Record) -> bool {
        self.ids
            .as_ref()
            .is_none_or(|ids| ids.contains(r.id.as_str()))
            && self
                .filters
                .r#where
                .as_ref()
                .is_none_or(|w| w.matches(&r.metadata))
            && self
                .filters
                .where_document
                .as_ref()
                .is_none_or(|w| w.matches(r.document.as_deref()))
    }
}

pub(crate) fn project(r: &Record, include: Include) -> Record {
    Record {
        id: r.id.clone(),
        embedding: if include.embeddings {
            r.embedding.clone()
        } else {
            Vec::new()
        },
        document: if include.documents {
            r.document.clone()
        } else {
            None
        },
        metadata: if include.metadatas {
            r.metadata.clone()
        } else {
            Metadata::new()
        },
        uri: if include.uris { r.uri.clone() } else { None },
    }
}
