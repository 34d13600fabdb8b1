//! User events on this agent: firing them into gossip, and keeping the recent ones that
//! arrive and pass this agent's node, service and tag filters (Consul's `agent/user_event.go`).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use rconsul_gossip::Gossip;
use rconsul_state::catalog::Service;
use rconsul_state::event::{
    EventError, FireRequest, UserEvent, UserEvents, EVENT_BUFFER_SIZE, USER_EVENT_SIZE_LIMIT,
    USER_EVENT_VERSION,
};
use tokio::sync::{broadcast, watch};

use rconsul_compat::regexp::Regexp;

/// Lists the services registered on this agent (for `?service=` / `?tag=` filters).
pub type LocalServices = Arc<dyn Fn() -> Vec<Service> + Send + Sync>;

/// The agent's user events: fires through gossip, keeps the last [`EVENT_BUFFER_SIZE`].
pub struct AgentEvents {
    gossip: Arc<Gossip>,
    node_name: String,
    services: LocalServices,
    recent: Mutex<VecDeque<UserEvent>>,
    kept: watch::Sender<u64>,
}

impl AgentEvents {
    /// Starts receiving events from `gossip`; `services` lists the local services.
    pub fn start(gossip: Arc<Gossip>, node_name: String, services: LocalServices) -> Arc<Self> {
        let events = Arc::new(AgentEvents {
            node_name,
            services,
            recent: Mutex::new(VecDeque::with_capacity(EVENT_BUFFER_SIZE)),
            kept: watch::channel(0).0,
            gossip: gossip.clone(),
        });
        tokio::spawn(receive(Arc::downgrade(&events), gossip.user_messages()));
        events
    }

    /// Keeps `event` if it passes this agent's filters.
    fn ingest(&self, event: UserEvent) {
        if !passes_filters(&event, &self.node_name, &(self.services)()) {
            return;
        }
        tracing::debug!(target: "agent", "new event: {} ({})", event.name, event.id);
        let mut recent = self.recent.lock();
        if recent.len() == EVENT_BUFFER_SIZE {
            recent.pop_front();
        }
        recent.push_back(event);
        drop(recent);
        self.kept.send_modify(|n| *n += 1);
    }
}

/// Decodes events from gossip until the agent is gone.
async fn receive(
    events: std::sync::Weak<AgentEvents>,
    mut messages: broadcast::Receiver<rconsul_gossip::UserMessage>,
) {
    loop {
        let message = match messages.recv().await {
            Ok(m) => m,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(target: "agent", "dropped {n} user events: receiver fell behind");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(events) = events.upgrade() else {
            return;
        };
        match bincode::deserialize::<UserEvent>(&message.payload) {
            Ok(mut event) => {
                event.ltime = message.ltime;
                events.ingest(event);
            }
            Err(e) => tracing::error!(target: "agent", "Failed to decode event: {e}"),
        }
    }
}

/// Consul's `shouldProcessUserEvent`: the node filter must match this node's name; a
/// service filter must match a local service's name and, with a tag filter, one of its tags.
fn passes_filters(event: &UserEvent, node_name: &str, services: &[Service]) -> bool {
    let compile = |expr: &str| Regexp::new(expr).ok();
    if !event.node_filter.is_empty() {
        match compile(&event.node_filter) {
            Some(re) if re.is_match(node_name) => {}
            _ => return false,
        }
    }
    if !event.service_filter.is_empty() {
        let Some(service_re) = compile(&event.service_filter) else {
            return false;
        };
        let tag_re = if event.tag_filter.is_empty() {
            None
        } else {
            match compile(&event.tag_filter) {
                Some(re) => Some(re),
                None => return false,
            }
        };
        return services.iter().any(|s| {
            service_re.is_match(&s.service)
                && tag_re
                    .as_ref()
                    .is_none_or(|re| s.tags.iter().any(|t| re.is_match(t)))
        });
    }
    true
}

/// Consul's `validateUserEventParams`, plus serf's size limit.
fn validate(request: &FireRequest) -> Result<(), EventError> {
    if request.name.is_empty() {
        return Err(EventError::Invalid("User event missing name".into()));
    }
    if !request.tag_filter.is_empty() && request.service_filter.is_empty() {
        return Err(EventError::Invalid(
            "Cannot provide tag filter without service filter".into(),
        ));
    }
    for (what, expr) in [
        ("node", &request.node_filter),
        ("service", &request.service_filter),
        ("tag", &request.tag_filter),
    ] {
        if !expr.is_empty() {
            Regexp::new(expr).map_err(|e| EventError::Invalid(format!("Invalid {what} filter: {e}")))?;
        }
    }
    // The ID (36 bytes) travels with the name, payload and filters.
    let size = 36
        + request.name.len()
        + request.payload.as_ref().map_or(0, Vec::len)
        + request.node_filter.len()
        + request.service_filter.len()
        + request.tag_filter.len();
    if size > USER_EVENT_SIZE_LIMIT {
        return Err(EventError::TooLarge(format!(
            "user event exceeds configured limit of {USER_EVENT_SIZE_LIMIT} bytes before encoding"
        )));
    }
    Ok(())
}

impl UserEvents for AgentEvents {
    fn fire(&self, request: FireRequest) -> Result<UserEvent, EventError> {
        validate(&request)?;
        let event = UserEvent {
            id: uuid::Uuid::new_v4().to_string(),
            name: request.name,
            payload: request.payload,
            node_filter: request.node_filter,
            service_filter: request.service_filter,
            tag_filter: request.tag_filter,
            version: USER_EVENT_VERSION,
            ltime: 0,
        };
        let wire = bincode::serialize(&event)
            .map_err(|e| EventError::Internal(format!("UserEvent encoding failed: {e}")))?;
        self.gossip
            .broadcast(&wire)
            .map_err(|e| EventError::Internal(e.to_string()))?;
        Ok(event)
    }

    fn list(&self) -> Vec<UserEvent> {
        self.recent.lock().iter().cloned().collect()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.kept.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(node: &str, service: &str, tag: &str) -> UserEvent {
        UserEvent {
            id: "00000000-0000-0000-0000-000000000001".into(),
            name: "deploy".into(),
            payload: None,
            node_filter: node.into(),
            service_filter: service.into(),
            tag_filter: tag.into(),
            version: 1,
            ltime: 0,
        }
    }

    fn service(name: &str, tags: &[&str]) -> Service {
        Service {
            service: name.into(),
            id: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Service::default()
        }
    }

    #[test]
    fn filters_follow_consul() {
        let services = [service("web", &["v1", "blue"]), service("db", &[])];
        assert!(passes_filters(&event("", "", ""), "n1", &services));
        assert!(passes_filters(&event("^n", "", ""), "n1", &services));
        assert!(!passes_filters(&event("^x", "", ""), "n1", &services));
        assert!(passes_filters(&event("", "we", ""), "n1", &services));
        assert!(!passes_filters(&event("", "cache", ""), "n1", &services));
        assert!(passes_filters(&event("", "web", "^blue$"), "n1", &services));
        assert!(!passes_filters(&event("", "db", "blue"), "n1", &services));
        assert!(!passes_filters(&event("", "web", "green"), "n1", &services));
        assert!(!passes_filters(&event("(", "", ""), "n1", &services));
    }

    #[test]
    fn validation_messages_are_consuls() {
        let req = |name: &str, node: &str, service: &str, tag: &str| FireRequest {
            name: name.into(),
            payload: None,
            node_filter: node.into(),
            service_filter: service.into(),
            tag_filter: tag.into(),
        };
        assert_eq!(
            validate(&req("", "", "", "")),
            Err(EventError::Invalid("User event missing name".into()))
        );
        assert_eq!(
            validate(&req("e", "", "", "t")),
            Err(EventError::Invalid(
                "Cannot provide tag filter without service filter".into()
            ))
        );
        assert_eq!(
            validate(&req("e", "(", "", "")),
            Err(EventError::Invalid(
                "Invalid node filter: error parsing regexp: missing closing ): `(`".into()
            ))
        );
        assert!(validate(&req("e", "n.*", "web", "v1")).is_ok());
        let mut big = req("e", "", "", "");
        big.payload = Some(vec![b'x'; 500]);
        assert!(matches!(validate(&big), Err(EventError::TooLarge(_))));
    }
}
