//! Membership series: live nodes by role, and nodes joining or leaving, as this process's
//! routing sees them (read from the catalog at each refresh).

use std::collections::BTreeSet;
use std::sync::Mutex;

use metrics::{counter, describe_counter, describe_gauge, gauge};

pub const LIVE_NODES: &str = "silt_membership_live_nodes";
pub const CHANGES: &str = "silt_membership_changes_total";

pub fn describe() {
    describe_gauge!(
        LIVE_NODES,
        "Nodes of a role with a recent heartbeat, as this process last read them"
    );
    describe_counter!(
        CHANGES,
        "Nodes that appeared (joined) or dropped out (left) between two reads of a role's live nodes"
    );
}

/// The last live-node list of one role, to tell joins and departures apart.
#[derive(Default)]
pub(crate) struct MembershipWatch {
    last: Mutex<Option<BTreeSet<String>>>,
}

impl MembershipWatch {
    pub(crate) fn saw<'a>(&self, role: &str, ids: impl Iterator<Item = &'a str>) {
        let now: BTreeSet<String> = ids.map(str::to_string).collect();
        gauge!(LIVE_NODES, "role" => role.to_string()).set(now.len() as f64);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        // The first list is the baseline, not a wave of joins: both series start at zero, so a
        // dashboard plots "no changes" rather than "no data".
        let (joined, left) = match last.as_ref() {
            Some(before) => (
                now.difference(before).count() as u64,
                before.difference(&now).count() as u64,
            ),
            None => (0, 0),
        };
        counter!(CHANGES, "role" => role.to_string(), "change" => "joined").increment(joined);
        counter!(CHANGES, "role" => role.to_string(), "change" => "left").increment(left);
        *last = Some(now);
    }
}
