//! `consul lock [options] prefix child...`, as Consul 1.10's `command/lock` with the Go
//! `api` package's `Lock` (`-n=1`) and `Semaphore` (`-n>1`) recipes.
//!
//! Layout, compatible with Consul's: a lock is the key `PREFIX/.lock` held with
//! `?acquire` by a session of this agent's node (flags `0x2ddccbc058a50c18`); a semaphore
//! keeps one contender key `PREFIX/<session>` per holder (acquired, Behavior=delete) and
//! the slot table `{"Limit":N,"Holders":{...}}` in `PREFIX/.lock`, updated with `?cas`
//! (flags `0xe0f69a2baa414de0`). The session has a 15 s TTL renewed every 7.5 s and is
//! destroyed on exit.
//!
//! While the child (`sh -c CHILD...`, in its own process group) runs, a blocking query
//! watches the lock; if it is lost, or this process gets SIGINT/SIGTERM, the child gets
//! SIGTERM and, after 5 s, SIGKILL. The lock is released when the child exits.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use super::args::{Flag, Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::http::Client;
use super::Ui;

const HELP: &str = r#"
Usage: consul lock [options] prefix child...

  Acquires a lock or semaphore at a given path, and invokes a child process
  when successful. The child process can assume the lock is held while it
  executes. If the lock is lost or communication is disrupted the child
  process will be sent a SIGTERM signal and given time to gracefully exit.
  After the grace period expires the process will be hard terminated.

  For Consul agents on Windows, the child process is always hard terminated
  with a SIGKILL, since Windows has no POSIX compatible notion for SIGTERM.

  When -n=1, only a single lock holder or leader exists providing mutual
  exclusion. Setting a higher value switches to a semaphore allowing multiple
  holders to coordinate.

  The prefix provided must have write privileges.
"#;

const FLAGS: [Flag; 9] = [
    flag(
        "child-exit-code",
        Kind::Bool,
        "false",
        "Exit 2 if the child process exited with an error if this is true, otherwise this \
         doesn't propagate an error from the child. The default value is false.",
    ),
    flag(
        "n",
        Kind::Int,
        "1",
        "Optional limit on the number of concurrent lock holders. The underlying \
         implementation switches from a lock to a semaphore when the value is greater \
         than 1. The default value is 1.",
    ),
    flag(
        "monitor-retry",
        Kind::Int,
        "3",
        "Number of times to retry if Consul returns a 500 error while monitoring the lock. \
         This allows riding out brief periods of unavailability without causing leader \
         elections, but increases the amount of time required to detect a lost lock in \
         some cases. The default value is 3, with a 1s wait between retries. Set this \
         value to 0 to disable retires.",
    ),
    flag(
        "name",
        Kind::Str,
        "",
        "Optional name to associate with the lock session. It not provided, one is \
         generated based on the provided child command.",
    ),
    flag(
        "pass-stdin",
        Kind::Bool,
        "false",
        "Pass stdin to the child process.",
    ),
    flag(
        "shell",
        Kind::Bool,
        "true",
        "Use a shell to run the command (can set a custom shell via the SHELL environment \
         variable).",
    ),
    flag(
        "timeout",
        Kind::Duration,
        "0s",
        "Maximum amount of time to wait to acquire the lock, specified as a duration like \
         \"1s\" or \"3h\". The default value is 0.",
    ),
    flag(
        "verbose",
        Kind::Bool,
        "false",
        "Enable verbose (debugging) output.",
    ),
    flag("try", Kind::Duration, "0s", "DEPRECATED. Use -timeout instead."),
];

/// The Go `api` package's `LockFlagValue`.
const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;
/// The Go `api` package's `SemaphoreFlagValue`.
const SEMAPHORE_FLAG_VALUE: u64 = 0xe0f6_9a2b_aa41_4de0;
/// `api.DefaultSemaphoreKey`, also used for locks so the two conflict visibly.
const LOCK_KEY: &str = ".lock";
/// `api.DefaultLockSessionTTL`.
const SESSION_TTL: Duration = Duration::from_secs(15);
/// `api.DefaultLockWaitTime`: the wait of each blocking query.
const LOCK_WAIT: Duration = Duration::from_secs(15);
/// `api.DefaultLockRetryTime`: the pause when a lock-delay refuses the acquisition.
const LOCK_RETRY: Duration = Duration::from_secs(5);
/// Time between SIGTERM and SIGKILL for a child that must stop.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Pause between monitor retries after an error.
const MONITOR_RETRY_TIME: Duration = Duration::from_secs(1);

const ERR_LOCK_CONFLICT: &str = "Existing key does not match lock use";
const ERR_SEMAPHORE_CONFLICT: &str = "Existing key does not match semaphore use";

/// Set by SIGINT/SIGTERM.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

fn shutdown() -> bool {
    SHUTDOWN.load(Ordering::SeqCst)
}

/// `consul lock <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&FLAGS, HttpFlags::ClientAndServer);
    command::run_command(ui, HELP, &set, args, |ui, flags| {
        install_signal_handlers();
        run_lock(ui, flags)
    })
}

/// A KV pair as the API returns it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvPair {
    key: String,
    flags: u64,
    value: Option<String>,
    session: Option<String>,
    modify_index: u64,
}

impl KvPair {
    fn session(&self) -> &str {
        self.session.as_deref().unwrap_or("")
    }

    fn value(&self) -> Vec<u8> {
        self.value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .unwrap_or_default()
    }
}

/// The Go `api` calls the lock recipes need.
struct Api {
    client: Client,
}

/// A blocking query: `?index` and `?wait`.
#[derive(Clone, Copy)]
struct Wait {
    index: u64,
    wait: Duration,
}

impl Api {
    fn query_params(wait: Option<Wait>, consistent: bool) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if let Some(w) = wait {
            if w.index > 0 {
                params.push(("index", w.index.to_string()));
            }
            params.push(("wait", format!("{}ms", w.wait.as_millis())));
        }
        if consistent {
            params.push(("consistent", String::new()));
        }
        params
    }

    fn node_name(&self) -> Result<String, String> {
        let body = command::require_ok(self.client.get("/v1/agent/self", Vec::new()))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(v["Config"]["NodeName"].as_str().unwrap_or_default().to_string())
    }

    fn session_create(&self, name: &str, behavior_delete: bool) -> Result<String, String> {
        let mut body = serde_json::json!({
            "Name": name,
            "TTL": format!("{}s", SESSION_TTL.as_secs()),
        });
        if behavior_delete {
            body["Behavior"] = "delete".into();
        }
        let resp = command::require_ok(self.client.put(
            "/v1/session/create",
            Vec::new(),
            body.to_string().as_bytes(),
        ))?;
        let v: serde_json::Value = serde_json::from_slice(&resp).map_err(|e| e.to_string())?;
        Ok(v["ID"].as_str().unwrap_or_default().to_string())
    }

    /// Renews; `Ok(false)` when the session no longer exists.
    fn session_renew(&self, id: &str) -> Result<bool, String> {
        let resp = self
            .client
            .put(&format!("/v1/session/renew/{id}"), Vec::new(), b"")
            .map_err(|e| e.to_string())?;
        match resp.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(resp.unexpected()),
        }
    }

    fn session_destroy(&self, id: &str) -> Result<(), String> {
        command::require_ok(
            self.client
                .put(&format!("/v1/session/destroy/{id}"), Vec::new(), b""),
        )
        .map(|_| ())
    }

    fn kv_get(
        &self,
        key: &str,
        wait: Option<Wait>,
        consistent: bool,
    ) -> Result<(Option<KvPair>, u64), String> {
        let resp = self
            .client
            .get(&format!("/v1/kv/{key}"), Self::query_params(wait, consistent))
            .map_err(|e| e.to_string())?;
        match resp.status {
            404 => Ok((None, resp.index)),
            200 => {
                let pairs: Vec<KvPair> = command::decode(&resp.body)?;
                Ok((pairs.into_iter().next(), resp.index))
            }
            _ => Err(resp.unexpected()),
        }
    }

    fn kv_list(
        &self,
        prefix: &str,
        wait: Option<Wait>,
        consistent: bool,
    ) -> Result<(Vec<KvPair>, u64), String> {
        let mut params = Self::query_params(wait, consistent);
        params.push(("recurse", String::new()));
        let resp = self
            .client
            .get(&format!("/v1/kv/{prefix}"), params)
            .map_err(|e| e.to_string())?;
        match resp.status {
            404 => Ok((Vec::new(), resp.index)),
            200 => Ok((command::decode(&resp.body)?, resp.index)),
            _ => Err(resp.unexpected()),
        }
    }

    fn kv_put(
        &self,
        key: &str,
        value: &[u8],
        mut params: Vec<(&'static str, String)>,
        flags: u64,
    ) -> Result<bool, String> {
        if flags != 0 {
            params.push(("flags", flags.to_string()));
        }
        let resp = command::require_ok(self.client.put(&format!("/v1/kv/{key}"), params, value))?;
        Ok(resp.windows(4).any(|w| w == b"true"))
    }

    fn kv_acquire(&self, key: &str, value: &[u8], flags: u64, session: &str) -> Result<bool, String> {
        self.kv_put(key, value, vec![("acquire", session.to_string())], flags)
    }

    fn kv_release(&self, key: &str, value: &[u8], flags: u64, session: &str) -> Result<bool, String> {
        self.kv_put(key, value, vec![("release", session.to_string())], flags)
    }

    fn kv_cas(&self, key: &str, value: &[u8], flags: u64, index: u64) -> Result<bool, String> {
        self.kv_put(key, value, vec![("cas", index.to_string())], flags)
    }

    fn kv_delete_cas(&self, key: &str, index: u64) -> Result<bool, String> {
        let body = command::require_ok(
            self.client
                .delete(&format!("/v1/kv/{key}"), vec![("cas", index.to_string())]),
        )?;
        Ok(body.windows(4).any(|w| w == b"true"))
    }

    fn kv_delete(&self, key: &str) -> Result<(), String> {
        command::require_ok(self.client.delete(&format!("/v1/kv/{key}"), Vec::new())).map(|_| ())
    }
}

/// Go's `path.Join(prefix, name)` for the simple names used here.
fn join(prefix: &str, name: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The session renewer (`api.Session.RenewPeriodic`): renews every TTL/2 until told
/// to stop, then destroys the session.
struct Renewer {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Renewer {
    fn start(api: Arc<Api>, session: String) -> Renewer {
        let (stop, rx) = mpsc::channel::<()>();
        let handle = thread::spawn(move || {
            let mut last_ok = Instant::now();
            let mut wait = SESSION_TTL / 2;
            loop {
                match rx.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    // Stopped (or the owner is gone): destroy the session.
                    _ => {
                        let _ = api.session_destroy(&session);
                        return;
                    }
                }
                match api.session_renew(&session) {
                    Ok(true) => {
                        last_ok = Instant::now();
                        wait = SESSION_TTL / 2;
                    }
                    // Expired: the lock monitor notices the lost lock.
                    Ok(false) => return,
                    Err(_) if last_ok.elapsed() > SESSION_TTL => return,
                    Err(_) => wait = Duration::from_secs(1),
                }
            }
        });
        Renewer { stop, handle }
    }

    /// Stops renewing and destroys the session (waits for the destroy).
    fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.handle.join();
    }
}

/// What the lock or semaphore recipe needs to know.
struct Recipe {
    api: Arc<Api>,
    prefix: String,
    limit: usize,
    name: String,
    /// `-timeout`: try for at most this long.
    try_for: Option<Duration>,
    monitor_retries: u32,
}

/// A held lock or semaphore slot.
struct Held {
    session: String,
    renewer: Renewer,
    lost: Arc<AtomicBool>,
}

/// The semaphore's slot table in `PREFIX/.lock`.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SemaphoreLock {
    limit: usize,
    holders: std::collections::BTreeMap<String, bool>,
}

impl Recipe {
    fn lock_key(&self) -> String {
        join(&self.prefix, LOCK_KEY)
    }

    /// The wait of the next blocking query, or None when `-timeout` ran out.
    fn next_wait(&self, started: Instant, attempts: u32) -> Option<Duration> {
        match self.try_for {
            Some(limit) if attempts > 0 => {
                let elapsed = started.elapsed();
                (elapsed <= limit).then(|| limit - elapsed)
            }
            Some(limit) => Some(limit),
            None => Some(LOCK_WAIT),
        }
    }

    /// Acquires the lock or a semaphore slot. `Ok(None)`: shutdown or timeout.
    fn acquire(&self) -> Result<Option<Held>, String> {
        let session = self
            .api
            .session_create(&self.name, self.limit > 1)
            .map_err(|e| format!("failed to create session: {e}"))?;
        let renewer = Renewer::start(self.api.clone(), session.clone());
        let got = if self.limit == 1 {
            self.lock_loop(&session)
        } else {
            self.semaphore_loop(&session)
        };
        match got {
            Ok(true) => {
                let lost = Arc::new(AtomicBool::new(false));
                self.start_monitor(session.clone(), lost.clone());
                Ok(Some(Held {
                    session,
                    renewer,
                    lost,
                }))
            }
            other => {
                // Not held: give up the session (and, for a semaphore, the contender key
                // goes with it: Behavior=delete).
                renewer.finish();
                other.map(|_| None)
            }
        }
    }

    /// `api.Lock.Lock`.
    fn lock_loop(&self, session: &str) -> Result<bool, String> {
        let key = self.lock_key();
        let started = Instant::now();
        let mut attempts = 0;
        let mut index = 0;
        loop {
            if shutdown() {
                return Ok(false);
            }
            let Some(wait) = self.next_wait(started, attempts) else {
                return Ok(false);
            };
            attempts += 1;
            let (pair, meta) = self
                .api
                .kv_get(&key, Some(Wait { index, wait }), false)
                .map_err(|e| format!("failed to read lock: {e}"))?;
            if let Some(p) = &pair {
                if p.flags != LOCK_FLAG_VALUE {
                    return Err(ERR_LOCK_CONFLICT.into());
                }
                if p.session() == session {
                    return Ok(true);
                }
                if !p.session().is_empty() {
                    index = meta;
                    continue;
                }
            }
            let locked = self
                .api
                .kv_acquire(&key, b"", LOCK_FLAG_VALUE, session)
                .map_err(|e| format!("failed to acquire lock: {e}"))?;
            if locked {
                return Ok(true);
            }
            // Why not? Held again (wait for a change), or a lock-delay (retry later).
            let (pair, meta) = self
                .api
                .kv_get(&key, None, false)
                .map_err(|e| format!("failed to read lock: {e}"))?;
            if pair.is_some_and(|p| !p.session().is_empty()) {
                index = meta;
            } else {
                index = 0;
                let until = Instant::now() + LOCK_RETRY;
                while Instant::now() < until {
                    if shutdown() {
                        return Ok(false);
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    fn find_lock(&self, pairs: &[KvPair]) -> KvPair {
        let key = self.lock_key();
        pairs.iter().find(|p| p.key == key).cloned().unwrap_or(KvPair {
            key,
            flags: SEMAPHORE_FLAG_VALUE,
            ..Default::default()
        })
    }

    fn decode_lock(&self, pair: &KvPair) -> Result<SemaphoreLock, String> {
        if pair.value.is_none() {
            return Ok(SemaphoreLock {
                limit: self.limit,
                holders: Default::default(),
            });
        }
        serde_json::from_slice(&pair.value()).map_err(|e| format!("lock decoding failed: {e}"))
    }

    /// Drops holders whose contender key is gone (their session was invalidated).
    fn prune_dead_holders(lock: &mut SemaphoreLock, pairs: &[KvPair]) {
        let alive: std::collections::BTreeSet<&str> = pairs
            .iter()
            .map(KvPair::session)
            .filter(|s| !s.is_empty())
            .collect();
        lock.holders.retain(|h, _| alive.contains(h.as_str()));
    }

    /// `api.Semaphore.Acquire`.
    fn semaphore_loop(&self, session: &str) -> Result<bool, String> {
        let contender = join(&self.prefix, session);
        let made = self
            .api
            .kv_acquire(&contender, b"", SEMAPHORE_FLAG_VALUE, session)
            .map_err(|e| format!("failed to make contender entry: {e}"))?;
        if !made {
            return Err("failed to make contender entry: <nil>".into());
        }
        let started = Instant::now();
        let mut attempts = 0;
        let mut index = 0;
        loop {
            if shutdown() {
                return Ok(false);
            }
            let Some(wait) = self.next_wait(started, attempts) else {
                return Ok(false);
            };
            attempts += 1;
            let (pairs, meta) = self
                .api
                .kv_list(&self.prefix, Some(Wait { index, wait }), false)
                .map_err(|e| format!("failed to read prefix: {e}"))?;
            let lock_pair = self.find_lock(&pairs);
            if lock_pair.flags != SEMAPHORE_FLAG_VALUE {
                return Err(ERR_SEMAPHORE_CONFLICT.into());
            }
            let mut lock = self.decode_lock(&lock_pair)?;
            if lock.limit != self.limit {
                return Err(format!(
                    "semaphore limit conflict (lock: {}, local: {})",
                    lock.limit, self.limit
                ));
            }
            Self::prune_dead_holders(&mut lock, &pairs);
            if lock.holders.len() >= lock.limit {
                index = meta;
                continue;
            }
            lock.holders.insert(session.to_string(), true);
            let encoded = serde_json::to_vec(&lock).map_err(|e| e.to_string())?;
            let set = self
                .api
                .kv_cas(
                    &lock_pair.key,
                    &encoded,
                    SEMAPHORE_FLAG_VALUE,
                    lock_pair.modify_index,
                )
                .map_err(|e| format!("failed to update lock: {e}"))?;
            if set {
                return Ok(true);
            }
            // Lost a race with another contender: look again.
            index = 0;
        }
    }

    /// Watches the lock (`monitorLock`) and sets `lost` once this session no longer
    /// holds it.
    fn start_monitor(&self, session: String, lost: Arc<AtomicBool>) {
        let api = self.api.clone();
        let recipe = Recipe {
            api: self.api.clone(),
            prefix: self.prefix.clone(),
            limit: self.limit,
            name: String::new(),
            try_for: None,
            monitor_retries: self.monitor_retries,
        };
        thread::spawn(move || {
            let mut index = 0;
            let mut retries = recipe.monitor_retries;
            loop {
                let wait = Some(Wait {
                    index,
                    wait: Duration::from_secs(300),
                });
                let held = if recipe.limit == 1 {
                    api.kv_get(&recipe.lock_key(), wait, true)
                        .map(|(pair, meta)| (pair.is_some_and(|p| p.session() == session), meta))
                } else {
                    api.kv_list(&recipe.prefix, wait, true).and_then(|(pairs, meta)| {
                        let mut lock = recipe.decode_lock(&recipe.find_lock(&pairs))?;
                        Recipe::prune_dead_holders(&mut lock, &pairs);
                        Ok((lock.holders.contains_key(&session), meta))
                    })
                };
                match held {
                    Ok((true, meta)) => {
                        index = meta;
                        retries = recipe.monitor_retries;
                    }
                    Ok((false, _)) => break,
                    Err(_) if retries > 0 => {
                        retries -= 1;
                        thread::sleep(MONITOR_RETRY_TIME);
                    }
                    Err(_) => break,
                }
            }
            lost.store(true, Ordering::SeqCst);
        });
    }

    /// `Lock.Unlock` / `Semaphore.Release`, then the session is destroyed.
    fn release(&self, held: Held) -> Result<(), String> {
        let result = if self.limit == 1 {
            self.api
                .kv_release(&self.lock_key(), b"", LOCK_FLAG_VALUE, &held.session)
                .map(|_| ())
                .map_err(|e| format!("failed to release lock: {e}"))
        } else {
            self.semaphore_release(&held.session)
        };
        held.renewer.finish();
        result
    }

    fn semaphore_release(&self, session: &str) -> Result<(), String> {
        let key = self.lock_key();
        loop {
            let (pair, _) = self.api.kv_get(&key, None, false)?;
            let pair = pair.unwrap_or_default();
            let mut lock = self.decode_lock(&pair)?;
            if lock.holders.remove(session).is_none() {
                break;
            }
            let encoded = serde_json::to_vec(&lock).map_err(|e| e.to_string())?;
            let set = self
                .api
                .kv_cas(&key, &encoded, SEMAPHORE_FLAG_VALUE, pair.modify_index)
                .map_err(|e| format!("failed to update lock: {e}"))?;
            if set {
                break;
            }
        }
        self.api.kv_delete(&join(&self.prefix, session))
    }

    /// `Lock.Destroy` / `Semaphore.Destroy`: removes the lock key if nobody uses it.
    /// `Err(Ok(()))` stands for "in use" (not an error worth failing on).
    fn cleanup(&self) -> Result<(), Result<(), String>> {
        let key = self.lock_key();
        let fail = |e: String| Err(Err(e));
        if self.limit == 1 {
            let pair = match self.api.kv_get(&key, None, false) {
                Ok((pair, _)) => pair,
                Err(e) => return fail(format!("failed to read lock: {e}")),
            };
            let Some(pair) = pair else {
                return Ok(());
            };
            if pair.flags != LOCK_FLAG_VALUE {
                return fail(ERR_LOCK_CONFLICT.into());
            }
            if !pair.session().is_empty() {
                return Err(Ok(()));
            }
            match self.api.kv_delete_cas(&key, pair.modify_index) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Ok(())),
                Err(e) => fail(format!("failed to remove lock: {e}")),
            }
        } else {
            let pairs = match self.api.kv_list(&self.prefix, None, false) {
                Ok((pairs, _)) => pairs,
                Err(e) => return fail(format!("failed to read prefix: {e}")),
            };
            let lock_pair = self.find_lock(&pairs);
            if lock_pair.modify_index == 0 {
                return Ok(());
            }
            if lock_pair.flags != SEMAPHORE_FLAG_VALUE {
                return fail(ERR_SEMAPHORE_CONFLICT.into());
            }
            let mut lock = self.decode_lock(&lock_pair).map_err(Err)?;
            Self::prune_dead_holders(&mut lock, &pairs);
            if !lock.holders.is_empty() {
                return Err(Ok(()));
            }
            match self.api.kv_delete_cas(&key, lock_pair.modify_index) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Ok(())),
                Err(e) => fail(format!("failed to remove semaphore: {e}")),
            }
        }
    }
}

/// Go's `*exec.ExitError` text: `exit status 1`, `signal: terminated`.
fn exit_error(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(libc::SIGTERM) => "signal: terminated".into(),
        Some(libc::SIGKILL) => "signal: killed".into(),
        Some(libc::SIGINT) => "signal: interrupt".into(),
        Some(sig) => format!("signal: {sig}"),
        None => "exit status unknown".into(),
    }
}

fn start_child(
    ui: &mut Ui<'_>,
    args: &[String],
    pass_stdin: bool,
    shell: bool,
    verbose: bool,
) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    if verbose {
        ui.info("Starting handler");
    }
    let mut cmd = if shell {
        let sh = ui
            .env("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        let mut c = Command::new(sh);
        c.arg("-c").arg(args.join(" "));
        c
    } else {
        let mut c = Command::new(&args[0]);
        c.args(&args[1..]);
        c
    };
    cmd.env("CONSUL_LOCK_HELD", "true");
    if pass_stdin {
        if verbose {
            ui.info("Stdin passed to handler process");
        }
        cmd.stdin(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null());
    }
    // Its own process group, so stopping it reaches whatever the shell started too.
    cmd.process_group(0);
    match cmd.spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            ui.error(format!("Error starting handler: {e}"));
            None
        }
    }
}

fn signal_group(child: &Child, sig: libc::c_int) {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: kill with a negative pid signals the child's process group; no memory is touched.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// SIGTERM, then SIGKILL after the grace period (`killChild`).
fn kill_child(ui: &mut Ui<'_>, child: &mut Child, verbose: bool) {
    if verbose {
        ui.info(format!("Terminating child pid {}", child.id()));
    }
    signal_group(child, libc::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            if verbose {
                ui.info("Child terminated");
            }
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    if verbose {
        ui.info(format!(
            "Child did not exit after grace period of {}s",
            KILL_GRACE.as_secs()
        ));
        ui.info(format!("Killing child pid {}", child.id()));
    }
    signal_group(child, libc::SIGKILL);
    let _ = child.wait();
}

fn run_lock(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let limit = flags.int_or("n", 1);
    if limit <= 0 {
        ui.error("Lock holder limit must be positive");
        return 1;
    }
    let limit = limit as usize;
    if flags.args.len() < 2 {
        ui.error("Key prefix and child command must be specified");
        return 1;
    }
    let prefix = flags.args[0].trim_start_matches('/').to_string();
    let child_args: Vec<String> = flags.args[1..].to_vec();
    let timeout = flags.duration("timeout").or_else(|| flags.duration("try"));
    let name = flags
        .string("name")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Consul lock for '{}' at '{}'", child_args.join(" "), prefix));
    let monitor_retries = flags.int_or("monitor-retry", 3);
    if monitor_retries < 0 {
        ui.error("Number for 'monitor-retry' must be >= 0");
        return 1;
    }
    let verbose = flags.bool("verbose");
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let api = Arc::new(Api { client });
    if let Err(e) = api.node_name() {
        ui.error(format!("Error querying Consul agent: {e}"));
        return 1;
    }
    let recipe = Recipe {
        api,
        prefix: prefix.clone(),
        limit,
        name,
        try_for: timeout.filter(|t| !t.is_zero()),
        monitor_retries: monitor_retries as u32,
    };
    if verbose {
        if limit == 1 {
            ui.info(format!("Setting up lock at path: {}", recipe.lock_key()));
        } else {
            ui.info(format!(
                "Setting up semaphore (limit {limit}) at prefix: {prefix}"
            ));
        }
        ui.info("Attempting lock acquisition");
    }
    let held = match recipe.acquire() {
        Ok(Some(held)) => held,
        Ok(None) => {
            ui.error("Shutdown triggered or timeout during lock acquisition");
            return 1;
        }
        Err(e) => {
            ui.error(format!("Lock acquisition failed: {e}"));
            return 1;
        }
    };

    let mut child_code = 0;
    if shutdown() {
        ui.error("Shutdown triggered during lock acquisition");
    } else if let Some(mut child) = start_child(
        ui,
        &child_args,
        flags.bool("pass-stdin"),
        flags.bool_or("shell", true),
        verbose,
    ) {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        ui.error(format!("Error running handler: {}", exit_error(status)));
                        child_code = 2;
                    }
                    if verbose {
                        ui.info("Child terminated, releasing lock");
                    }
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    ui.error(format!("Error running handler: {e}"));
                    child_code = 2;
                    break;
                }
            }
            if held.lost.load(Ordering::SeqCst) {
                if verbose {
                    ui.info("Lock lost, killing child");
                }
                kill_child(ui, &mut child, verbose);
                break;
            }
            if shutdown() {
                if verbose {
                    ui.info("Shutdown triggered, killing child");
                }
                kill_child(ui, &mut child, verbose);
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    } else {
        child_code = 2;
    }

    if let Err(e) = recipe.release(held) {
        ui.error(format!("Lock release failed: {e}"));
        return 1;
    }
    match recipe.cleanup() {
        Ok(()) => {
            if verbose {
                ui.info("Cleanup succeeded");
            }
        }
        Err(Ok(())) => {
            if verbose {
                ui.info("Cleanup aborted, lock in use");
            }
        }
        Err(Err(e)) => {
            ui.error(format!("Lock cleanup failed: {e}"));
            return 1;
        }
    }
    if flags.bool("child-exit-code") {
        child_code
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::offline;

    #[test]
    fn argument_errors() {
        let o = offline(&["-n=0", "p", "true"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Lock holder limit must be positive\n")
        );
        let o = offline(&["p"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Key prefix and child command must be specified\n")
        );
        let o = offline(&["-monitor-retry=-1", "p", "true"], run);
        assert_eq!(o.stderr, "Number for 'monitor-retry' must be >= 0\n");
        let o = offline(&["-timeout=bogus", "p", "true"], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("invalid value \"bogus\" for flag -timeout: parse error\n"));
        let o = offline(&["p", "true"], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Error querying Consul agent: Get \"http://127.0.0.1:1/v1/agent/self\""));
    }

    #[test]
    fn help_lists_lock_flags() {
        let o = offline(&["-help"], run);
        assert_eq!(o.code, 0);
        assert!(o
            .stderr
            .starts_with("Usage: consul lock [options] prefix child...\n"));
        assert!(o.stderr.contains("  -timeout=<duration>\n"));
        assert!(o.stderr.contains("  -n=<int>\n"));
    }

    #[test]
    fn paths_join_like_go() {
        assert_eq!(join("svc/leader", LOCK_KEY), "svc/leader/.lock");
        assert_eq!(join("svc/leader/", "abc"), "svc/leader/abc");
        assert_eq!(join("", LOCK_KEY), ".lock");
    }

    #[test]
    fn semaphore_lock_encoding_and_pruning() {
        let mut lock = SemaphoreLock {
            limit: 2,
            holders: [("a".to_string(), true), ("b".to_string(), true)]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            serde_json::to_string(&lock).unwrap_or_default(),
            r#"{"Limit":2,"Holders":{"a":true,"b":true}}"#
        );
        let pairs = vec![KvPair {
            key: "p/a".into(),
            session: Some("a".into()),
            ..Default::default()
        }];
        Recipe::prune_dead_holders(&mut lock, &pairs);
        assert_eq!(lock.holders.keys().collect::<Vec<_>>(), vec!["a"]);
    }

    #[test]
    fn exit_errors_read_like_go() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_error(ExitStatus::from_raw(1 << 8)), "exit status 1");
        assert_eq!(
            exit_error(ExitStatus::from_raw(libc::SIGTERM)),
            "signal: terminated"
        );
    }
}
