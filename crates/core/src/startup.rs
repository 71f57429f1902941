//! How far a node has come since the passphrase was entered: unlock the keystore, open the database,
//! start the network, reach the bootstrap peers, load the book. Each phase is pending, running, done
//! (with a short detail a person can read: "3 peers", "42 offers") or failed (with the error).
//!
//! The record sits behind its own small lock, never the node's main one, so a shell can read it while
//! an unlock (seconds of key derivation) or a network start is still running. This module only keeps
//! the record: [`crate::node::Node`] runs the phases and reports into it.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, ErrorPayload};

/// The phases, in the order a start runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartupPhase {
    /// Open (or create) the encrypted keystore with the passphrase.
    Keystore,
    /// Open the database, migrating it when needed.
    Database,
    /// Tor mode: start this node's `tor` and wait for its bootstrap (the detail follows tor's
    /// progress). Not shown in clearnet mode.
    Tor,
    /// Start listening and the peer-to-peer services.
    Network,
    /// Connect to the bootstrap peers from the settings.
    Bootstrap,
    /// Ask the watched markets' makers for their offers.
    Book,
}

impl StartupPhase {
    pub const ALL: [StartupPhase; 6] = [
        Self::Keystore,
        Self::Database,
        Self::Tor,
        Self::Network,
        Self::Bootstrap,
        Self::Book,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    Pending,
    Running,
    Done,
    Failed,
}

/// One phase as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PhaseProgress {
    pub phase: StartupPhase,
    pub state: PhaseState,
    /// What a finished phase found ("3 of 3 bootstrap peers connected", "42 offers").
    pub detail: Option<String>,
    /// Why a failed phase failed.
    pub error: Option<ErrorPayload>,
    /// How long the phase ran (running: so far), in milliseconds; `None` while pending.
    #[ts(type = "number | null")]
    pub elapsed_ms: Option<u64>,
}

/// Every phase, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct StartupProgress {
    pub phases: Vec<PhaseProgress>,
}

impl StartupProgress {
    fn fresh() -> Self {
        Self {
            phases: StartupPhase::ALL
                .iter()
                .map(|&phase| PhaseProgress {
                    phase,
                    state: PhaseState::Pending,
                    detail: None,
                    error: None,
                    elapsed_ms: None,
                })
                .collect(),
        }
    }

    pub fn phase(&self, phase: StartupPhase) -> Option<&PhaseProgress> {
        self.phases.iter().find(|p| p.phase == phase)
    }

    /// Every phase done: the node is fully up.
    pub fn complete(&self) -> bool {
        self.phases.iter().all(|p| p.state == PhaseState::Done)
    }

    /// The first failed phase, if any.
    pub fn failed(&self) -> Option<&PhaseProgress> {
        self.phases.iter().find(|p| p.state == PhaseState::Failed)
    }
}

/// The shared record the node writes and shells read. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StartupTracker {
    inner: Arc<Mutex<Tracked>>,
}

#[derive(Debug)]
struct Tracked {
    progress: StartupProgress,
    started: [Option<Instant>; StartupPhase::ALL.len()],
    /// Tor mode: the [`StartupPhase::Tor`] phase is shown.
    tor: bool,
}

impl Default for StartupTracker {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Tracked {
                progress: StartupProgress::fresh(),
                started: [None; StartupPhase::ALL.len()],
                tor: false,
            })),
        }
    }
}

impl StartupTracker {
    /// What a shell shows: a copy, with running phases' time so far.
    pub fn snapshot(&self) -> StartupProgress {
        self.with(|t| {
            let mut progress = t.progress.clone();
            for (p, started) in progress.phases.iter_mut().zip(t.started) {
                if p.state == PhaseState::Running {
                    p.elapsed_ms = started.map(millis_since);
                }
            }
            if !t.tor {
                progress.phases.retain(|p| p.phase != StartupPhase::Tor);
            }
            progress
        })
    }

    /// Every phase back to pending (a new unlock begins).
    pub fn reset(&self) {
        self.with(|t| {
            t.progress = StartupProgress::fresh();
            t.started = [None; StartupPhase::ALL.len()];
        });
    }

    /// `phase` and every later one back to pending (a retry from `phase` on).
    pub fn reset_from(&self, phase: StartupPhase) {
        self.with(|t| {
            for (p, started) in t.progress.phases.iter_mut().zip(t.started.iter_mut()) {
                if p.phase as usize >= phase as usize {
                    *p = PhaseProgress {
                        phase: p.phase,
                        state: PhaseState::Pending,
                        detail: None,
                        error: None,
                        elapsed_ms: None,
                    };
                    *started = None;
                }
            }
        });
    }

    /// Whether this start runs over Tor (and shows its phase).
    pub fn set_tor(&self, on: bool) {
        self.with(|t| t.tor = on);
    }

    /// What a running phase is doing now ("45%: Loading relay descriptors").
    pub fn note(&self, phase: StartupPhase, detail: impl Into<String>) {
        let detail = detail.into();
        self.set(phase, |p, _| {
            if p.state == PhaseState::Running {
                p.detail = Some(detail);
            }
        });
    }

    pub fn begin(&self, phase: StartupPhase) {
        self.set(phase, |p, started| {
            *started = Some(Instant::now());
            p.state = PhaseState::Running;
            p.detail = None;
            p.error = None;
            p.elapsed_ms = Some(0);
        });
    }

    pub fn done(&self, phase: StartupPhase, detail: impl Into<String>) {
        let detail = detail.into();
        self.set(phase, |p, started| {
            p.state = PhaseState::Done;
            p.elapsed_ms = started.map(millis_since);
            p.detail = Some(detail);
            p.error = None;
        });
    }

    pub fn fail(&self, phase: StartupPhase, error: &Error) {
        let payload = error.payload();
        self.set(phase, |p, started| {
            p.state = PhaseState::Failed;
            p.elapsed_ms = started.map(millis_since);
            p.detail = None;
            p.error = Some(payload);
        });
    }

    /// Runs `work` as `phase`: running, then done with the detail `describe` gives, or failed.
    pub async fn run<T>(
        &self,
        phase: StartupPhase,
        work: impl Future<Output = Result<T, Error>>,
        describe: impl FnOnce(&T) -> String,
    ) -> Result<T, Error> {
        self.begin(phase);
        match work.await {
            Ok(value) => {
                self.done(phase, describe(&value));
                Ok(value)
            }
            Err(e) => {
                self.fail(phase, &e);
                Err(e)
            }
        }
    }

    fn set(
        &self,
        phase: StartupPhase,
        change: impl FnOnce(&mut PhaseProgress, &mut Option<Instant>),
    ) {
        self.with(|t| {
            let index = phase as usize;
            if let (Some(p), Some(started)) =
                (t.progress.phases.get_mut(index), t.started.get_mut(index))
            {
                change(p, started);
            }
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tracked) -> R) -> R {
        // A panic while holding this lock leaves a record that is still well-formed: keep using it.
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_move_from_pending_to_done_or_failed_and_reset() {
        let tracker = StartupTracker::default();
        let fresh = tracker.snapshot();
        // Clearnet: no Tor phase is shown.
        assert_eq!(
            fresh.phases.iter().map(|p| p.phase).collect::<Vec<_>>(),
            StartupPhase::ALL
                .into_iter()
                .filter(|p| *p != StartupPhase::Tor)
                .collect::<Vec<_>>()
        );
        assert!(
            fresh
                .phases
                .iter()
                .all(|p| p.state == PhaseState::Pending && p.elapsed_ms.is_none())
        );
        assert!(!fresh.complete() && fresh.failed().is_none());
        tracker.set_tor(true);
        assert_eq!(
            tracker
                .snapshot()
                .phases
                .iter()
                .map(|p| p.phase)
                .collect::<Vec<_>>(),
            StartupPhase::ALL
        );
        // A running phase's detail follows what it reports; a pending one takes none.
        tracker.note(StartupPhase::Tor, "too early");
        assert_eq!(
            tracker.snapshot().phase(StartupPhase::Tor).unwrap().detail,
            None
        );
        tracker.begin(StartupPhase::Tor);
        tracker.note(StartupPhase::Tor, "45%: Asking for relay descriptors");
        assert_eq!(
            tracker
                .snapshot()
                .phase(StartupPhase::Tor)
                .unwrap()
                .detail
                .as_deref(),
            Some("45%: Asking for relay descriptors")
        );
        tracker.set_tor(false);

        tracker.begin(StartupPhase::Keystore);
        let running = tracker.snapshot();
        assert_eq!(
            running.phase(StartupPhase::Keystore).unwrap().state,
            PhaseState::Running
        );
        let n = tracker
            .run(StartupPhase::Keystore, async { Ok(3) }, |n| {
                format!("{n} keys")
            })
            .await
            .unwrap();
        assert_eq!(n, 3);
        let keystore = tracker
            .snapshot()
            .phase(StartupPhase::Keystore)
            .cloned()
            .unwrap();
        assert_eq!(keystore.state, PhaseState::Done);
        assert_eq!(keystore.detail.as_deref(), Some("3 keys"));
        assert!(keystore.elapsed_ms.is_some());

        let err = tracker
            .run(
                StartupPhase::Database,
                async { Err::<(), _>(Error::InvalidInput("disk on fire".into())) },
                |()| String::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        let snapshot = tracker.snapshot();
        let failed = snapshot.failed().unwrap();
        assert_eq!(failed.phase, StartupPhase::Database);
        assert_eq!(failed.error.as_ref().unwrap().message, "disk on fire");

        tracker.reset_from(StartupPhase::Database);
        let after = tracker.snapshot();
        assert_eq!(
            after.phase(StartupPhase::Keystore).unwrap().state,
            PhaseState::Done,
            "phases before the retried one stay as they were"
        );
        assert_eq!(
            after.phase(StartupPhase::Database).unwrap().state,
            PhaseState::Pending
        );
        tracker.reset();
        assert_eq!(tracker.snapshot(), fresh);
    }
}
