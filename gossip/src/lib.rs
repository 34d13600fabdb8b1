//! LAN membership with SWIM (foca) over UDP on the serf LAN port (8301).
//!
//! Each agent gossips an identity carrying its name, address and Consul's serf tags
//! (`role`, `dc`, `id`, `port`, `build`, ...). [`Gossip`] exposes the member list with
//! Consul's statuses (alive, leaving, left, failed) and a change counter to watch.
//!
//! foca has no "left" state: a graceful leave sends a small out-of-band notice to every
//! member before foca announces us down, so peers record `left` rather than `failed`.
//! Packets carry a one-byte kind prefix: 0 for foca, 1 for a leave notice, 2 for a user
//! message ([`broadcast`]: Consul's user events). `force-leave` sends the same leave
//! notice on behalf of a failed member.
//!
//! With `encrypt`, every packet is sealed with AES-GCM ([`crypto`]) by the socket wrapper
//! ([`transport`]), which also refuses what the keyring cannot open.

mod broadcast;
pub mod crypto;
mod reap;
mod transport;

pub use broadcast::UserMessage;
pub use crypto::{validate_key, KeyError};
pub use reap::ReapTimeouts;
pub use transport::Encryption;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use foca::{Config, Foca, Identity as FocaIdentity, OwnedNotification, PeriodicParams, PostcardCodec, Timer};
use parking_lot::RwLock;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast as fanout, mpsc, oneshot, watch};

use crate::broadcast::{LamportClock, SeenIds, KIND_USER};
use crate::transport::Transport;

const KIND_FOCA: u8 = 0;
const KIND_LEAVE: u8 = 1;
/// A prune notice: drop a member that is down from every member list (`force-leave -prune`).
const KIND_PRUNE: u8 = 3;

/// How this agent appears in gossip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Gossip address others reach us on.
    pub addr: SocketAddr,
    /// Node name.
    pub name: String,
    /// Serf tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Distinguishes restarts of the same address (ms since epoch at start).
    pub bump: u64,
}

impl FocaIdentity for Identity {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Identity {
            bump: self.bump.wrapping_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.bump > adversary.bump
    }
}

/// Consul's member statuses (`/v1/agent/members` `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Reachable.
    Alive = 1,
    /// Leaving gracefully.
    Leaving = 2,
    /// Left gracefully.
    Left = 3,
    /// Unreachable.
    Failed = 4,
}

/// A member as this agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Gossip address.
    pub addr: SocketAddr,
    /// Serf tags.
    pub tags: BTreeMap<String, String>,
    /// Status.
    pub status: MemberStatus,
}

/// Gossip settings.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// UDP address to bind.
    pub bind: SocketAddr,
    /// Address to gossip (what others use to reach us).
    pub advertise: SocketAddr,
    /// Node name.
    pub name: String,
    /// Serf tags.
    pub tags: BTreeMap<String, String>,
    /// Probe period (failure detection scales with it).
    pub probe_period: Duration,
    /// Time a suspect member has to refute before it is declared failed.
    pub suspect_timeout: Duration,
    /// When failed and left members are dropped from the list.
    pub reap: ReapTimeouts,
    /// Gossip encryption (`encrypt`); `None` gossips in the clear.
    pub encryption: Option<Encryption>,
}

impl GossipConfig {
    /// LAN defaults tuned for fast failure detection (about 2–3 s).
    pub fn lan(
        bind: SocketAddr,
        advertise: SocketAddr,
        name: String,
        tags: BTreeMap<String, String>,
    ) -> Self {
        GossipConfig {
            bind,
            advertise,
            name,
            tags,
            probe_period: Duration::from_millis(300),
            suspect_timeout: Duration::from_millis(1500),
            reap: ReapTimeouts::default(),
            encryption: None,
        }
    }
}

enum Input {
    Data(Bytes),
    Timer(Timer<Identity>),
    Announce(SocketAddr),
    Leave(oneshot::Sender<()>),
    ForceLeave(String, bool, oneshot::Sender<ForceLeaveOutcome>),
    Reap,
}

/// What [`Gossip::force_leave`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForceLeaveOutcome {
    /// No member has that name.
    NotFound,
    /// The member is alive (or leaving on its own): nothing to do, as with serf, whose
    /// live members refute the leave.
    StillAlive,
    /// The member already left.
    AlreadyLeft,
    /// The failed member is now `left`, and the notice is on its way to every member.
    Left,
}

/// Shared member table.
type Table = Arc<RwLock<BTreeMap<String, Member>>>;

/// A running gossip agent.
pub struct Gossip {
    tx: mpsc::Sender<Input>,
    members: Table,
    changes: watch::Receiver<u64>,
    me: Identity,
    encrypted: bool,
    user_tx: fanout::Sender<UserMessage>,
    clock: Arc<LamportClock>,
    reaped: Arc<RwLock<BTreeSet<String>>>,
}

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip").field("me", &self.me.name).finish()
    }
}

/// Errors starting gossip.
#[derive(Debug)]
pub struct GossipError(pub String);

impl std::fmt::Display for GossipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GossipError {}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn foca_config(cfg: &GossipConfig, transport: &Transport) -> Config {
    let mut c = Config::new_lan(NonZeroU32::MIN.saturating_add(4));
    // Room for the kind byte and, when sealed, the nonce and tag: a full foca packet
    // still fits the datagram size foca was tuned for.
    let budget = transport.plain_budget(c.max_packet_size.get()).saturating_sub(1);
    c.max_packet_size = NonZeroUsize::new(budget).unwrap_or(c.max_packet_size);
    c.probe_period = cfg.probe_period;
    c.probe_rtt = cfg.probe_period / 2;
    c.suspect_to_down_after = cfg.suspect_timeout;
    c.max_transmissions = std::num::NonZeroU8::new(4).unwrap_or(std::num::NonZeroU8::MIN);
    // Full membership exchange with a random member every few seconds, so a member
    // that missed updates converges (serf's push/pull).
    c.periodic_announce = Some(PeriodicParams {
        frequency: Duration::from_secs(5),
        num_members: NonZeroUsize::MIN,
    });
    c.periodic_announce_to_down_members = Some(PeriodicParams {
        frequency: Duration::from_secs(10),
        num_members: NonZeroUsize::MIN.saturating_add(1),
    });
    c
}

impl Gossip {
    /// Binds the UDP socket and starts gossiping (alone until [`Gossip::join`]).
    pub async fn start(cfg: GossipConfig) -> Result<Gossip, GossipError> {
        let socket = UdpSocket::bind(cfg.bind)
            .await
            .map_err(|e| GossipError(format!("cannot bind gossip socket {}: {e}", cfg.bind)))?;
        let transport = Arc::new(
            Transport::new(socket, cfg.encryption.as_ref())
                .map_err(|e| GossipError(format!("Failed to configure keyring: {e}")))?,
        );
        let encrypted = cfg.encryption.is_some();
        let me = Identity {
            addr: cfg.advertise,
            name: cfg.name.clone(),
            tags: cfg.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            bump: now_ms(),
        };
        let members: Table = Arc::default();
        members.write().insert(
            me.name.clone(),
            Member {
                name: me.name.clone(),
                addr: me.addr,
                tags: cfg.tags.clone(),
                status: MemberStatus::Alive,
            },
        );
        let (changes_tx, changes) = watch::channel(0u64);
        let (tx, rx) = mpsc::channel(1024);
        let rng: StdRng = rand::make_rng();
        let foca = Foca::new(me.clone(), foca_config(&cfg, &transport), rng, PostcardCodec);
        let (user_tx, _) = fanout::channel(256);
        let clock = Arc::new(LamportClock::default());
        let reaped: Arc<RwLock<BTreeSet<String>>> = Arc::default();
        tokio::spawn(run(
            foca,
            rx,
            tx.clone(),
            transport.clone(),
            members.clone(),
            changes_tx,
            Users {
                tx: user_tx.clone(),
                clock: clock.clone(),
                seen: SeenIds::default(),
            },
            Reaping {
                timeouts: cfg.reap,
                reaper: reap::Reaper::default(),
                reaped: reaped.clone(),
            },
        ));
        tokio::spawn(reap_ticker(tx.clone(), cfg.reap));
        tokio::spawn(receive(transport, tx.clone()));
        tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberJoin: {} {}", me.name, me.addr.ip());
        Ok(Gossip {
            tx,
            members,
            changes,
            me,
            encrypted,
            user_tx,
            clock,
            reaped,
        })
    }

    /// Announces us to `addr` (a member of the cluster to join).
    pub async fn join(&self, addr: SocketAddr) {
        let _ = self.tx.send(Input::Announce(addr)).await;
    }

    /// Whether a keyring is installed (Consul's `serf_lan.encrypted`; with
    /// `encrypt_verify_outgoing = false` packets still go out plain).
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// Every member seen, including this agent, sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.members.read().values().cloned().collect()
    }

    /// A counter bumped on every membership change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Number of alive members, this agent included.
    pub fn alive_count(&self) -> usize {
        self.members
            .read()
            .values()
            .filter(|m| m.status == MemberStatus::Alive)
            .count()
    }

    /// Sends a user message to every member, this agent included (it arrives through
    /// [`Gossip::user_messages`] like a received one); returns its Lamport time.
    /// Fails only when the gossip loop is gone or hopelessly behind.
    pub fn broadcast(&self, payload: &[u8]) -> Result<u64, GossipError> {
        let ltime = self.clock.tick();
        let packet = broadcast::encode(ltime, rand::random(), payload);
        self.tx
            .try_send(Input::Data(Bytes::from(packet)))
            .map_err(|e| GossipError(format!("cannot queue user message: {e}")))?;
        Ok(ltime)
    }

    /// Members this agent dropped after their reconnect (or tombstone) timeout and that
    /// have not come back since.
    pub fn reaped(&self) -> Vec<String> {
        self.reaped.read().iter().cloned().collect()
    }

    /// Subscribes to user messages (each delivered once, in arrival order).
    pub fn user_messages(&self) -> fanout::Receiver<UserMessage> {
        self.user_tx.subscribe()
    }

    /// Forces the failed member `name` into `left` on every agent: a leave notice is
    /// sent on its behalf, exactly as if it had left gracefully (Consul's `force-leave`).
    /// With `prune`, a member that failed or left is also dropped from every member list
    /// at once, as if reaped (`force-leave -prune`).
    pub async fn force_leave(&self, name: &str, prune: bool) -> ForceLeaveOutcome {
        let (done_tx, done_rx) = oneshot::channel();
        if self
            .tx
            .send(Input::ForceLeave(name.to_string(), prune, done_tx))
            .await
            .is_err()
        {
            return ForceLeaveOutcome::NotFound;
        }
        done_rx.await.unwrap_or(ForceLeaveOutcome::NotFound)
    }

    /// Leaves gracefully: peers record us as `left`.
    pub async fn leave(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Input::Leave(done_tx)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), done_rx).await;
        }
    }
}

/// How often a refused packet is logged at most (a misconfigured member sends several a
/// second; an attacker may send many more).
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

async fn receive(transport: Arc<Transport>, tx: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; 65_536];
    let mut data = BytesMut::new();
    let mut last_logged: Option<std::time::Instant> = None;
    let mut suppressed = 0u64;
    loop {
        match transport.recv_from(&mut buf).await {
            // A one-byte datagram is no gossip packet: it is the probe `join` sends to
            // tell a closed port, which is not worth a refusal in the log.
            Ok((len, _)) if len < 2 => continue,
            Ok((len, from)) => {
                match transport.open(&buf[..len]) {
                    Ok(packet) => data.put_slice(&packet),
                    Err(why) => {
                        if last_logged.is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY) {
                            suppressed += 1;
                            continue;
                        }
                        let more = match suppressed {
                            0 => String::new(),
                            n => format!(" ({n} more refused since the last report)"),
                        };
                        tracing::error!(target: "agent.server.memberlist.lan", "memberlist: {} from={from}{more}", why.message());
                        last_logged = Some(std::time::Instant::now());
                        suppressed = 0;
                        continue;
                    }
                }
                if tx.send(Input::Data(data.split().freeze())).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(target: "agent.server.serf.lan", "gossip recv error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn member_of(id: &Identity, status: MemberStatus) -> Member {
    Member {
        name: id.name.clone(),
        addr: id.addr,
        tags: id.tags.iter().cloned().collect(),
        status,
    }
}

/// The run loop's share of user messages: subscribers, the clock, duplicates seen.
struct Users {
    tx: fanout::Sender<UserMessage>,
    clock: Arc<LamportClock>,
    seen: SeenIds,
}

impl Users {
    /// Handles a user-message packet: the first copy is delivered and returned for
    /// forwarding; duplicates and garbage give `None`.
    fn receive(&mut self, packet: &Bytes) -> Option<()> {
        let (ltime, id, payload) = broadcast::decode(packet)?;
        self.clock.witness(ltime);
        if !self.seen.insert(id) {
            return None;
        }
        let _ = self.tx.send(UserMessage { ltime, payload });
        Some(())
    }
}

/// Sends a leave notice (the `KIND_LEAVE` packet a leaving member sends) on behalf of
/// the failed member `name`, for the identity that failed, and records it as `left`
/// here. Receivers pass it on as they do any leave notice, so it spreads to members the
/// sender does not know; a later identity of that node (a restart) rejoins normally.
async fn force_leave(
    foca: &Foca<Identity, PostcardCodec, StdRng, foca::NoCustomBroadcast>,
    name: &str,
    left: &mut std::collections::HashMap<String, u64>,
    transport: &Transport,
    members: &Table,
) -> ForceLeaveOutcome {
    let addr = match members.read().get(name) {
        None => return ForceLeaveOutcome::NotFound,
        Some(m) if m.status == MemberStatus::Left => return ForceLeaveOutcome::AlreadyLeft,
        Some(m) if m.status != MemberStatus::Failed => return ForceLeaveOutcome::StillAlive,
        Some(m) => m.addr,
    };
    // The newest identity foca holds under that name (down members included).
    let bump = foca
        .iter_membership_state()
        .filter(|m| m.id().name == name)
        .map(|m| m.id().bump)
        .max()
        .unwrap_or(0);
    if left.get(name).is_none_or(|old| *old < bump) {
        left.insert(name.to_string(), bump);
    }
    if let Ok(notice) = postcard::to_stdvec(&(name.to_string(), bump)) {
        let mut packet = vec![KIND_LEAVE];
        packet.extend_from_slice(&notice);
        send_to_members(foca, transport, &packet, None).await;
    }
    if let Some(m) = members.write().get_mut(name) {
        m.status = MemberStatus::Left;
    }
    tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberLeave (forced): {name} {}", addr.ip());
    ForceLeaveOutcome::Left
}

/// Sends `packet` to every member foca knows (never to this agent), skipping `except`.
async fn send_to_members(
    foca: &Foca<Identity, PostcardCodec, StdRng, foca::NoCustomBroadcast>,
    transport: &Transport,
    packet: &[u8],
    except: Option<&str>,
) {
    for m in foca.iter_members() {
        if except != Some(m.id().name.as_str()) {
            transport.send_to(packet, m.id().addr).await;
        }
    }
}

/// Drops the down member `name` from the member list at once, as reaping would; an
/// alive member (a newer identity) is kept. Returns whether it was removed.
fn prune_member(name: &str, members: &Table, reaping: &mut Reaping) -> bool {
    let mut table = members.write();
    if !table.get(name).is_some_and(|m| m.status != MemberStatus::Alive) {
        return false;
    }
    table.remove(name);
    reaping.reaped.write().insert(name.to_string());
    tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberReap (forced): {name}");
    true
}

/// The run loop's share of reaping.
struct Reaping {
    timeouts: ReapTimeouts,
    reaper: reap::Reaper,
    reaped: Arc<RwLock<BTreeSet<String>>>,
}

/// Asks the run loop to reap at a pace suited to the timeouts (serf reaps every 15 s).
async fn reap_ticker(tx: mpsc::Sender<Input>, timeouts: ReapTimeouts) {
    let every = (timeouts.reconnect.min(timeouts.tombstone) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(15));
    loop {
        tokio::time::sleep(every).await;
        if tx.send(Input::Reap).await.is_err() {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut foca: Foca<Identity, PostcardCodec, StdRng, foca::NoCustomBroadcast>,
    mut rx: mpsc::Receiver<Input>,
    tx: mpsc::Sender<Input>,
    transport: Arc<Transport>,
    members: Table,
    changes: watch::Sender<u64>,
    mut users: Users,
    mut reaping: Reaping,
) {
    let mut runtime = foca::AccumulatingRuntime::new();
    // Names pruned with `force-leave -prune` (notices are passed on once per name; a
    // member that rejoins is cleared).
    let mut pruned: BTreeSet<String> = BTreeSet::new();
    // Members that announced a graceful leave, with the identity (bump) that left. A
    // later identity rejoining clears it; gossip about the old one arriving after the
    // notice does not.
    let mut left: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    while let Some(input) = rx.recv().await {
        let mut leave_done = None;
        let result = match input {
            Input::Data(data) => match data.first() {
                Some(&KIND_FOCA) => foca.handle_data(&data[1..], &mut runtime),
                Some(&KIND_LEAVE) => {
                    if let Ok((name, bump)) = postcard::from_bytes::<(String, u64)>(&data[1..]) {
                        if left.insert(name.clone(), bump).is_none_or(|old| old < bump) {
                            // First time we hear it: pass it on, so members the leaver
                            // did not know yet learn it too.
                            send_to_members(&foca, &transport, &data, Some(&name)).await;
                        }
                        let mut table = members.write();
                        if let Some(m) = table.get_mut(&name) {
                            m.status = MemberStatus::Left;
                            tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberLeave: {} {}", m.name, m.addr.ip());
                        }
                        drop(table);
                        changes.send_modify(|n| *n += 1);
                    }
                    Ok(())
                }
                Some(&KIND_PRUNE) => {
                    if let Ok(name) = postcard::from_bytes::<String>(&data[1..]) {
                        if pruned.insert(name.clone()) {
                            send_to_members(&foca, &transport, &data, Some(&name)).await;
                        }
                        if prune_member(&name, &members, &mut reaping) {
                            changes.send_modify(|n| *n += 1);
                        }
                    }
                    Ok(())
                }
                Some(&KIND_USER) => {
                    if users.receive(&data).is_some() {
                        send_to_members(&foca, &transport, &data, None).await;
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
            Input::Timer(timer) => foca.handle_timer(timer, &mut runtime),
            Input::Announce(addr) => {
                let dst = Identity {
                    addr,
                    name: String::new(),
                    tags: Vec::new(),
                    bump: 0,
                };
                foca.announce(dst, &mut runtime)
            }
            Input::Leave(done) => {
                let me = foca.identity();
                if let Ok(notice) = postcard::to_stdvec(&(me.name.clone(), me.bump)) {
                    let mut packet = vec![KIND_LEAVE];
                    packet.extend_from_slice(&notice);
                    send_to_members(&foca, &transport, &packet, None).await;
                }
                leave_done = Some(done);
                foca.leave_cluster(&mut runtime)
            }
            Input::ForceLeave(name, prune, done) => {
                let mut outcome = force_leave(&foca, &name, &mut left, &transport, &members).await;
                if prune && matches!(outcome, ForceLeaveOutcome::Left | ForceLeaveOutcome::AlreadyLeft) {
                    if let Ok(notice) = postcard::to_stdvec(&name) {
                        let mut packet = vec![KIND_PRUNE];
                        packet.extend_from_slice(&notice);
                        prune_member(&name, &members, &mut reaping);
                        pruned.insert(name.clone());
                        send_to_members(&foca, &transport, &packet, None).await;
                        outcome = ForceLeaveOutcome::Left;
                    }
                }
                if outcome == ForceLeaveOutcome::Left {
                    changes.send_modify(|n| *n += 1);
                }
                let _ = done.send(outcome);
                Ok(())
            }
            Input::Reap => {
                let removed = reaping.reaper.reap(
                    &mut members.write(),
                    &mut reaping.reaped.write(),
                    reaping.timeouts,
                    std::time::Instant::now(),
                );
                if removed {
                    changes.send_modify(|n| *n += 1);
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!(target: "agent.server.serf.lan", "gossip: {e}");
        }
        while let Some((dst, data)) = runtime.to_send() {
            let mut packet = Vec::with_capacity(data.len() + 1);
            packet.push(KIND_FOCA);
            packet.extend_from_slice(&data);
            transport.send_to(&packet, dst.addr).await;
        }
        while let Some((delay, timer)) = runtime.to_schedule() {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Input::Timer(timer)).await;
            });
        }
        let mut changed = false;
        while let Some(notification) = runtime.to_notify() {
            let mut table = members.write();
            match notification {
                OwnedNotification::MemberUp(id) => {
                    if left.get(&id.name).is_some_and(|bump| id.bump <= *bump) {
                        table.insert(id.name.clone(), member_of(&id, MemberStatus::Left));
                    } else {
                        left.remove(&id.name);
                        pruned.remove(&id.name);
                        reaping.reaped.write().remove(&id.name);
                        tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberJoin: {} {}", id.name, id.addr.ip());
                        table.insert(id.name.clone(), member_of(&id, MemberStatus::Alive));
                    }
                    changed = true;
                }
                OwnedNotification::MemberDown(id) => {
                    let status = if left.contains_key(&id.name) {
                        MemberStatus::Left
                    } else {
                        MemberStatus::Failed
                    };
                    // A renamed (restarted) member may already be back under a new identity.
                    let newer_alive = table.get(&id.name).is_some_and(|m| {
                        m.status == MemberStatus::Alive
                            && m.addr == id.addr
                            && m.tags != member_of(&id, status).tags
                    });
                    if !newer_alive {
                        if status == MemberStatus::Failed {
                            tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberFailed: {} {}", id.name, id.addr.ip());
                        }
                        table.insert(id.name.clone(), member_of(&id, status));
                        changed = true;
                    }
                }
                OwnedNotification::Rename(old, new) => {
                    if old.name != new.name {
                        table.remove(&old.name);
                    }
                    table.insert(new.name.clone(), member_of(&new, MemberStatus::Alive));
                    changed = true;
                }
                _ => {}
            }
        }
        if changed {
            changes.send_modify(|n| *n += 1);
        }
        if let Some(done) = leave_done {
            let _ = done.send(());
        }
    }
}
