//! The server port listener: answers raft RPCs and forwarded requests.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::node::RaftNode;
use crate::rpc::{self, Conn, RpcRequest, RpcResponse};

/// Accepts connections on the server port until `stop` turns true.
pub async fn serve(listener: TcpListener, node: Arc<RaftNode>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let node = node.clone();
                tokio::spawn(async move { serve_conn(rpc::framed(stream), node).await });
            }
            Err(e) => {
                tracing::warn!(target: "agent.server.rpc", "accept error: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_conn(mut conn: Conn, node: Arc<RaftNode>) {
    loop {
        let req: RpcRequest = match rpc::recv(&mut conn).await {
            Ok(r) => r,
            Err(rpc::RpcError::Codec(e)) => {
                let _ = rpc::send(&mut conn, &RpcResponse::Error(format!("bad request: {e}"))).await;
                return;
            }
            Err(_) => return,
        };
        let resp = handle(&node, req).await;
        if rpc::send(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

async fn handle(node: &RaftNode, req: RpcRequest) -> RpcResponse {
    match req {
        RpcRequest::Append(r) => {
            node.touch_leader_contact();
            RpcResponse::Append(node.raft().append_entries(r).await)
        }
        RpcRequest::Vote(r) => RpcResponse::Vote(node.raft().vote(r).await),
        RpcRequest::Snapshot(r) => {
            node.touch_leader_contact();
            RpcResponse::Snapshot(node.raft().install_snapshot(r).await)
        }
        RpcRequest::Write(cmd) => RpcResponse::Write(node.write_as_leader(cmd).await),
        RpcRequest::WriteBatch(cmds) => RpcResponse::WriteBatch(node.write_many_as_leader(cmds).await),
        RpcRequest::ReadIndex { linearizable } => RpcResponse::ReadIndex(node.read_index(linearizable).await),
        RpcRequest::Initialized => {
            RpcResponse::Initialized(node.raft().is_initialized().await.unwrap_or(false))
        }
        RpcRequest::RemovePeer(peer) => RpcResponse::RemovePeer(node.remove_peer_as_leader(&peer).await),
        RpcRequest::RaftStats => RpcResponse::RaftStats(node.raft_stats()),
    }
}
