//! Script (`Args`) checks: run a program, exit 0 passing, 1 warning, anything else
//! critical; stdout and stderr share one capture buffer, as in Consul.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::{timeout_at, Instant};

use super::output::TailBuf;
use super::Status;

/// Kills the check's process group when dropped while armed: on timeout, and
/// when the runner is stopped mid-probe (so children of the script die too).
struct GroupKill {
    pgid: Option<i32>,
}

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            if pgid > 0 {
                // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
                // addresses the process group the child leads (process_group(0)).
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Go's text for a program that could not be started.
fn spawn_error_text(program: &str, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound && !program.contains('/') {
        return format!("exec: {program:?}: executable file not found in $PATH");
    }
    format!("fork/exec {program}: {}", super::output::errno_text(e))
}

/// Runs `args` once with `timeout`; the output is the last `max` bytes of the
/// combined stdout and stderr.
pub(super) async fn probe(args: &[String], timeout: Duration, max: usize) -> (Status, String) {
    let Some((program, rest)) = args.split_first() else {
        return (Status::Critical, "exec: no command".to_string());
    };
    let (reader, writer) = match io::pipe() {
        Ok(p) => p,
        Err(e) => return (Status::Critical, format!("pipe: {e}")),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return (Status::Critical, format!("pipe: {e}")),
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0)
        .kill_on_drop(true);
    let spawned = cmd.spawn();
    // The command holds the pipe's write ends: close them here so the read end
    // sees EOF once the script (and anything it started) exits.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return (Status::Critical, spawn_error_text(program, &e)),
    };
    let mut group = GroupKill {
        pgid: child.id().and_then(|id| i32::try_from(id).ok()),
    };
    let mut out = TailBuf::new(max);
    let mut rx = match tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader)) {
        Ok(rx) => Some(rx),
        Err(e) => {
            out.push(format!("reading output: {e}").as_bytes());
            None
        }
    };
    let deadline = Instant::now() + timeout;
    let read_all = async {
        let Some(rx) = rx.as_mut() else { return };
        let mut chunk = vec![0u8; 8192];
        loop {
            match rx.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.push(&chunk[..n]),
            }
        }
    };
    let finished = timeout_at(deadline, async { tokio::join!(child.wait(), read_all).0 }).await;
    match finished {
        Ok(Ok(exit)) => {
            // Reaped: the group id may be reused from now on.
            group.pgid = None;
            let output = out.script_output();
            let status = match exit.code() {
                Some(0) => Status::Passing,
                Some(1) => Status::Warning,
                _ => Status::Critical,
            };
            (status, output)
        }
        Ok(Err(e)) => {
            group.kill();
            let _ = child.wait().await;
            (Status::Critical, format!("wait: {e}"))
        }
        Err(_) => {
            group.kill();
            let _ = child.kill().await;
            let mut msg = format!(
                "Timed out ({}) running check",
                rconsul_compat::duration::format(timeout)
            );
            let output = out.script_output();
            if !output.is_empty() {
                msg.push_str("\n\n");
                msg.push_str(&output);
            }
            (Status::Critical, msg)
        }
    }
}
