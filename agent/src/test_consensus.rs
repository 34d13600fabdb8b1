//! A [`Consensus`] for unit tests of leader loops: writes apply straight to a store.

use std::sync::Arc;

use rconsul_state::{
    BoxFuture, Command, CommandResult, Consensus, ConsensusError, Consistency, ReadMeta, StateStore,
};

/// Applies each write to `store` at the next index, as a one-server raft would.
pub struct Direct {
    /// The store writes apply to.
    pub store: Arc<StateStore>,
    /// The index of the last write.
    pub index: parking_lot::Mutex<u64>,
}

impl Direct {
    /// Writes to `store`, starting after index 0.
    pub fn new(store: Arc<StateStore>) -> Self {
        Direct {
            store,
            index: parking_lot::Mutex::new(0),
        }
    }

    /// Applies `cmd` at the next index and returns its result.
    pub fn apply(&self, cmd: Command) -> CommandResult {
        let mut index = self.index.lock();
        *index += 1;
        self.store.apply(*index, &[cmd]).remove(0)
    }

    /// The index of the last write.
    pub fn last_index(&self) -> u64 {
        *self.index.lock()
    }
}

impl Consensus for Direct {
    fn write(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResult, ConsensusError>> {
        let result = self.apply(cmd);
        Box::pin(async move { Ok(result) })
    }
    fn read_barrier(&self, _: Consistency) -> BoxFuture<'_, Result<ReadMeta, ConsensusError>> {
        Box::pin(async { Ok(ReadMeta::default()) })
    }
    fn leader_addr(&self) -> Option<String> {
        None
    }
    fn peer_addrs(&self) -> Vec<String> {
        Vec::new()
    }
}
