//! [`RaftNode`]: one server's raft instance, its write batcher and its leadership view.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use rconsul_state::{
    BoxFuture, Command, CommandResult, Consensus, ConsensusError, Consistency, ReadMeta, StateStore,
};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::network::NetworkFactory;
use crate::storage::{self, StorageMode};
use crate::types::{RaftRequest, ServerNode, TypeConfig};

/// Most commands coalesced into one raft entry.
const MAX_BATCH: usize = 2048;
/// Raft entries in flight at once: one being made durable, one filling up.
const WRITES_IN_FLIGHT: usize = 2;

/// How to start a [`RaftNode`].
#[derive(Debug, Clone)]
pub struct RaftNodeConfig {
    /// This server's raft id (see [`crate::node_id_from_uuid`]).
    pub id: u64,
    /// This server's identity.
    pub node: ServerNode,
    /// Where the log, vote and snapshots live.
    pub storage: StorageMode,
    /// Become a one-voter cluster at once if the log is empty (`-dev`, `-bootstrap`,
    /// `-bootstrap-expect=1`).
    pub bootstrap_single: bool,
    /// Consul's `performance.raft_multiplier`: scales every raft timeout.
    pub raft_multiplier: u32,
    /// Log entries between snapshots (`raft_snapshot_threshold`).
    pub snapshot_threshold: u64,
    /// Log entries kept after a snapshot (`raft_trailing_logs`).
    pub trailing_logs: u64,
}

/// Why raft could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] storage::OpenError),
    /// openraft rejected its configuration or failed to start.
    #[error("raft: {0}")]
    Raft(String),
}

struct PendingWrite {
    command: Command,
    reply: oneshot::Sender<Result<CommandResult, ConsensusError>>,
}

/// One server's raft: replicates writes, answers leadership questions.
pub struct RaftNode {
    raft: Raft<TypeConfig>,
    id: u64,
    writes: mpsc::Sender<PendingWrite>,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode").field("id", &self.id).finish()
    }
}

fn raft_config(cfg: &RaftNodeConfig) -> Result<Config, StartError> {
    let m = u64::from(cfg.raft_multiplier.max(1));
    let config = Config {
        cluster_name: "rconsul".to_string(),
        heartbeat_interval: 50 * m,
        election_timeout_min: 300 * m,
        election_timeout_max: 600 * m,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: cfg.trailing_logs,
        purge_batch_size: 256,
        max_payload_entries: 64,
        ..Default::default()
    };
    config.validate().map_err(|e| StartError::Raft(e.to_string()))
}

impl RaftNode {
    /// Opens storage, restores the state machine into `state`, starts raft and, for a
    /// single-server bootstrap, elects itself.
    pub async fn start(cfg: RaftNodeConfig, state: Arc<StateStore>) -> Result<Arc<Self>, StartError> {
        let config = Arc::new(raft_config(&cfg)?);
        let (log_store, sm_store) = storage::open(&cfg.storage, state)?;
        let raft = Raft::new(cfg.id, config, NetworkFactory, log_store, sm_store)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;

        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if !initialized && cfg.bootstrap_single {
            let members = BTreeMap::from([(cfg.id, cfg.node.clone())]);
            raft.initialize(members)
                .await
                .map_err(|e| StartError::Raft(e.to_string()))?;
        } else if initialized && Self::sole_voter(&raft, cfg.id) {
            // A restarted one-server cluster need not wait out an election timeout.
            raft.trigger()
                .elect()
                .await
                .map_err(|e| StartError::Raft(e.to_string()))?;
        }

        let (tx, rx) = mpsc::channel(16 * 1024);
        tokio::spawn(run_batcher(raft.clone(), rx));
        tokio::spawn(log_leadership(raft.clone(), cfg.id));
        Ok(Arc::new(RaftNode {
            raft,
            id: cfg.id,
            writes: tx,
        }))
    }

    fn sole_voter(raft: &Raft<TypeConfig>, id: u64) -> bool {
        let metrics = raft.metrics().borrow().clone();
        let voters: BTreeSet<u64> = metrics.membership_config.membership().voter_ids().collect();
        voters.len() == 1 && voters.contains(&id)
    }

    /// The underlying openraft handle.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// Whether this server is the leader now.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// Waits up to `timeout` for a leader to be known.
    pub async fn wait_for_leader(&self, timeout: Duration) -> bool {
        let mut rx = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if rx.borrow_and_update().current_leader.is_some() {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return false,
            }
        }
    }

    /// Stops raft; pending writes fail.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(target: "agent.server.raft", "shutdown error: {e}");
        }
    }

    fn leader_node(&self) -> Option<ServerNode> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        metrics.membership_config.membership().get_node(&leader).cloned()
    }
}

/// Coalesces concurrent writes into raft entries: while one entry is being made
/// durable, the next one fills up, so one fsync covers many requests.
async fn run_batcher(raft: Raft<TypeConfig>, mut rx: mpsc::Receiver<PendingWrite>) {
    let slots = Arc::new(Semaphore::new(WRITES_IN_FLIGHT));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (commands, replies): (Vec<Command>, Vec<_>) =
                batch.into_iter().map(|w| (w.command, w.reply)).unzip();
            let outcome = raft.client_write(RaftRequest { commands }).await;
            drop(permit);
            match outcome {
                Ok(resp) => {
                    for (reply, result) in replies.into_iter().zip(resp.data.results) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Err(e) => {
                    let err = match e {
                        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => ConsensusError::NoLeader,
                        other => ConsensusError::Failed(other.to_string()),
                    };
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        });
    }
}

/// Logs leadership changes the way Consul operators know them.
async fn log_leadership(raft: Raft<TypeConfig>, me: u64) {
    let mut rx = raft.metrics();
    let mut last_leader = None;
    let mut last_state = None;
    loop {
        let (leader, state, leader_name) = {
            let m = rx.borrow_and_update();
            let name = m.current_leader.and_then(|l| {
                m.membership_config
                    .membership()
                    .get_node(&l)
                    .map(|n| n.name.clone())
            });
            (m.current_leader, m.state, name)
        };
        if last_state != Some(state) {
            if state == ServerState::Leader {
                tracing::info!(target: "agent.server", "cluster leadership acquired");
            } else if last_state == Some(ServerState::Leader) {
                tracing::info!(target: "agent.server", "cluster leadership lost");
            }
            last_state = Some(state);
        }
        if leader != last_leader {
            match (leader, leader_name) {
                (Some(id), Some(name)) => {
                    tracing::info!(target: "agent.server", "New leader elected: payload={name}");
                    if id == me {
                        tracing::debug!(target: "agent.server", "this server is the leader");
                    }
                }
                (Some(id), None) => {
                    tracing::info!(target: "agent.server", "New leader elected: payload={id}")
                }
                (None, _) => tracing::warn!(target: "agent.server", "No cluster leader"),
            }
            last_leader = leader;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl Consensus for RaftNode {
    fn write(&self, command: Command) -> BoxFuture<'_, Result<CommandResult, ConsensusError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.writes
                .send(PendingWrite { command, reply })
                .await
                .map_err(|_| ConsensusError::Failed("raft is shutting down".into()))?;
            rx.await
                .map_err(|_| ConsensusError::Failed("raft is shutting down".into()))?
        })
    }

    fn read_barrier(&self, mode: Consistency) -> BoxFuture<'_, Result<ReadMeta, ConsensusError>> {
        Box::pin(async move {
            let (leader, last_ack) = {
                let m = self.raft.metrics().borrow().clone();
                (m.current_leader, m.millis_since_quorum_ack)
            };
            let is_leader = leader == Some(self.id);
            match mode {
                Consistency::Stale => Ok(ReadMeta {
                    known_leader: leader.is_some(),
                    last_contact_ms: if is_leader { 0 } else { last_ack.unwrap_or(0) },
                }),
                Consistency::Default => {
                    if leader.is_none() {
                        return Err(ConsensusError::NoLeader);
                    }
                    Ok(ReadMeta {
                        known_leader: true,
                        last_contact_ms: 0,
                    })
                }
                Consistency::Consistent => {
                    if leader.is_none() {
                        return Err(ConsensusError::NoLeader);
                    }
                    self.raft
                        .ensure_linearizable()
                        .await
                        .map_err(|_| ConsensusError::NoLeader)?;
                    Ok(ReadMeta {
                        known_leader: true,
                        last_contact_ms: 0,
                    })
                }
            }
        })
    }

    fn leader_addr(&self) -> Option<String> {
        self.leader_node().map(|n| n.rpc_addr)
    }

    fn peer_addrs(&self) -> Vec<String> {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        membership
            .voter_ids()
            .filter_map(|id| membership.get_node(&id).map(|n| n.rpc_addr.clone()))
            .collect()
    }
}
