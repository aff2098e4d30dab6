//! The log service's messages on the internal wire.

use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::rpc::Wire;

use crate::AppendReceipt;

pub(crate) const APPEND: &str = "append";
pub(crate) const TAIL: &str = "tail";
pub(crate) const COMPACTED: &str = "compacted";

/// `/internal/log/v1/{collection}/{call}`
pub(crate) fn path(collection: &str, call: &str) -> String {
    format!("/internal/log/v1/{collection}/{call}")
}

impl Wire for AppendReceipt {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.first_offset);
        w.u64(self.last_offset);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AppendReceipt {
            first_offset: r.u64()?,
            last_offset: r.u64()?,
        })
    }
}
