//! Table identifiers and their index watches (what wakes blocking queries).

use tokio::sync::watch;

/// A replicated table; each has its own max index and watch channel so a blocking
/// query on one table does not wake on writes to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// The KV store (entries and tombstones).
    Kvs,
    /// The catalog (nodes, services, checks).
    Catalog,
    /// Sessions.
    Sessions,
    /// ACL tokens, policies, roles, auth methods and binding rules.
    Acls,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 4] = [Table::Kvs, Table::Catalog, Table::Sessions, Table::Acls];

    fn slot(self) -> usize {
        match self {
            Table::Kvs => 0,
            Table::Catalog => 1,
            Table::Sessions => 2,
            Table::Acls => 3,
        }
    }
}

/// Per-table watch channels carrying the table's max index.
#[derive(Debug)]
pub struct TableWatches {
    senders: Vec<watch::Sender<u64>>,
}

impl Default for TableWatches {
    fn default() -> Self {
        TableWatches {
            senders: Table::ALL.iter().map(|_| watch::channel(0).0).collect(),
        }
    }
}

impl TableWatches {
    /// Subscribes to changes of `table`.
    pub fn subscribe(&self, table: Table) -> watch::Receiver<u64> {
        self.senders[table.slot()].subscribe()
    }

    /// Publishes a new max index for `table`, waking its watchers.
    pub fn publish(&self, table: Table, index: u64) {
        self.senders[table.slot()].send_replace(index);
    }
}
