//! Known members kept in `<data-dir>/serf/local.snapshot`, so a restarted agent rejoins its
//! cluster without `-join`, as Consul's serf snapshot does. A graceful leave is recorded
//! too: like Consul (without `rejoin_after_leave`), an agent that left does not rejoin on
//! its own at the next start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rconsul_gossip::{Gossip, MemberStatus};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// What the snapshot file holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSnapshot {
    /// Gossip addresses of the other members last seen alive.
    pub members: Vec<SocketAddr>,
    /// The agent left gracefully: do not rejoin from this snapshot.
    pub left: bool,
}

/// The snapshot file under `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("serf").join("local.snapshot")
}

/// Reads the snapshot; a missing or unreadable file is an empty one.
pub fn load(path: &Path) -> MemberSnapshot {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The addresses to rejoin at start: none if the agent left.
pub fn rejoin_addrs(snapshot: &MemberSnapshot) -> Vec<SocketAddr> {
    if snapshot.left {
        Vec::new()
    } else {
        snapshot.members.clone()
    }
}

/// Writes the snapshot (via a temporary file and a rename).
pub fn save(path: &Path, snapshot: &MemberSnapshot) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    crate::durable_file::write_durably(path, &bytes)
}

/// Rewrites the snapshot whenever the alive members change, until `stop`.
pub async fn keep(gossip: Arc<Gossip>, path: PathBuf, me: String, mut stop: watch::Receiver<bool>) {
    let mut changes = gossip.subscribe();
    let mut written = MemberSnapshot::default();
    loop {
        let mut members: Vec<SocketAddr> = gossip
            .members()
            .into_iter()
            .filter(|m| m.status == MemberStatus::Alive && m.name != me)
            .map(|m| m.addr)
            .collect();
        members.sort();
        let snapshot = MemberSnapshot { members, left: false };
        // Keep the last known members while alone (e.g. all others restarting).
        if snapshot != written && !snapshot.members.is_empty() {
            let (p, s) = (path.clone(), snapshot.clone());
            match tokio::task::spawn_blocking(move || save(&p, &s)).await {
                Ok(Ok(())) => written = snapshot,
                Ok(Err(e)) => {
                    tracing::warn!(target: "agent", "cannot write member snapshot {}: {e}", path.display())
                }
                Err(e) => tracing::warn!(target: "agent", "member snapshot task failed: {e}"),
            }
        }
        tokio::select! {
            _ = changes.changed() => {
                // Let a burst of changes settle into one write.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Records a graceful leave, keeping the member list.
pub fn mark_left(path: &Path) {
    let mut snapshot = load(path);
    snapshot.left = true;
    if let Err(e) = save(path, &snapshot) {
        tracing::warn!(target: "agent", "cannot record the leave in {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_a_leave_stops_the_rejoin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = path(dir.path());
        assert_eq!(load(&p), MemberSnapshot::default());
        let addr: SocketAddr = "127.0.0.11:8301".parse().expect("addr");
        let snap = MemberSnapshot {
            members: vec![addr],
            left: false,
        };
        save(&p, &snap).expect("save");
        assert_eq!(rejoin_addrs(&load(&p)), vec![addr]);
        mark_left(&p);
        assert!(load(&p).left);
        assert!(rejoin_addrs(&load(&p)).is_empty());
        std::fs::write(&p, b"garbage").expect("write");
        assert_eq!(load(&p), MemberSnapshot::default());
    }
}
