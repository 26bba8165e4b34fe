//! What every request handler and background task shares.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;
use whistle_engine::Policy;
use whistle_engine::windows::RepeatIndex;

use crate::api::auth::Auth;
use crate::config::Config;
use crate::ingest;
use crate::store::Store;
use crate::stream::Hub;
use crate::timers;

/// The server's shared state. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct AppState {
    /// The policy in force. Every request loads one snapshot and uses it to the end.
    pub policy: Arc<ArcSwap<Policy>>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Report times of recent events, for `repeats`.
    pub history: Arc<Mutex<RepeatIndex>>,
    /// The group-commit ingest queue.
    pub ingest: ingest::Handle,
    /// The escalation timer queue.
    pub timers: timers::Handle,
    /// Live subscribers (`/v1/stream`).
    pub hub: Hub,
    /// Configuration.
    pub config: Arc<Config>,
    /// Token checking.
    pub auth: Arc<Auth>,
    /// Prometheus rendering.
    pub metrics: Option<PrometheusHandle>,
    /// Policy reloads, rollouts and rollbacks.
    pub reload: crate::reload::Handle,
    /// Set once start-up (timers, windows) is done.
    pub ready: Arc<AtomicBool>,
    /// Held by the redecide under way (`POST /v1/policy/redecide`).
    pub redeciding: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// Tells the stream about a case's stored transitions and arms its
    /// timer for the next step.
    pub fn announce(
        &self,
        id: &str,
        case: &whistle_engine::lifecycle::Case,
        transitions: &[whistle_engine::lifecycle::Transition],
    ) {
        self.hub.publish_transitions(id, transitions);
        if let Some(due) = case.next_due() {
            self.timers.schedule(id.to_string(), due);
        }
    }
}
