//! `wsd serve`'s lifecycle, the same on every runtime: the connection limit
//! (`--max-connections`: 503 with `Retry-After` above it) and the shutdown on SIGINT
//! or SIGTERM (close 1001 to every WebSocket, then exit 0 once they have closed or
//! `--shutdown-timeout` has passed).
//!
//! Signals come through `async-signal`, which runs on the async-io reactor (its own
//! thread under tokio), so one piece of code serves every runtime.

use core::future::poll_fn;
use core::pin::{Pin, pin};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_signal::{Signal, Signals};
use futures_core::Stream;
use futures_util::future::{Either, select};
use wsd_io::{Decision, ServerConfig, Shutdown, ShutdownToken, Timer, Transport, WebSocket};

use super::Net;
use crate::args::ServeLifecycleArgs;

/// What `Retry-After` says to a client refused for the connection limit, in seconds.
const RETRY_AFTER_SECS: &str = "5";

/// The server-wide part: the shutdown switch, the signals that pull it, and the
/// connection limit.
pub(crate) struct Lifecycle {
    shutdown: Shutdown,
    signals: Option<Signals>,
    admission: Option<Admission>,
    grace: Duration,
    /// Upgrades a [`Gate`] admitted whose WebSockets do not watch the shutdown yet.
    upgrading: Arc<AtomicUsize>,
}

impl Lifecycle {
    /// Listens for SIGINT and SIGTERM (a server that cannot is still a server: it
    /// says so and runs on).
    pub(crate) fn new(args: &ServeLifecycleArgs) -> Self {
        let signals = Signals::new([Signal::Int, Signal::Term])
            .map_err(|error| eprintln!("wsd: cannot watch SIGINT and SIGTERM: {error}"))
            .ok();
        Self {
            shutdown: Shutdown::new(),
            signals,
            admission: args.max_connections.map(|max| Admission {
                open: Arc::default(),
                max: max.get(),
            }),
            grace: args.shutdown_timeout,
            upgrading: Arc::default(),
        }
    }

    /// The next connection from `listener`; `None` once a signal asks the server to
    /// stop.
    pub(crate) async fn accept<R: Net>(
        &mut self,
        listener: &R::Listener,
    ) -> Option<io::Result<(R::Transport, SocketAddr)>> {
        let accepted = pin!(R::accept(listener));
        let signal = pin!(next_signal(&mut self.signals));
        match select(accepted, signal).await {
            Either::Left((accepted, _)) => Some(accepted),
            Either::Right(_) => None,
        }
    }

    /// What one connection needs: the shutdown token, and its share of the limit.
    pub(crate) fn for_connection(&self) -> ConnectionLifecycle {
        self.gate().for_connection()
    }

    /// The same for the stacks that make their WebSockets themselves (hyper, axum,
    /// HTTP/2 streams), one clone per connection or request.
    pub(crate) fn gate(&self) -> Gate {
        Gate {
            token: self.shutdown.token(),
            admission: self.admission.clone(),
            upgrading: Arc::clone(&self.upgrading),
        }
    }

    /// The shutdown: close 1001 to every WebSocket and wait for them, at most the
    /// grace period (a second signal cuts it short), then drop the rest.
    pub(crate) async fn finish<R: Net>(self) -> Result<(), String> {
        let Self {
            shutdown,
            mut signals,
            grace,
            ..
        } = self;
        eprintln!(
            "wsd: shutting down: closing {} connection(s), waiting at most {grace:?}",
            shutdown.open_connections()
        );
        let graceful = pin!(shutdown.shutdown(R::Timer::default(), grace));
        let signal = pin!(next_signal(&mut signals));
        let report = match select(graceful, signal).await {
            Either::Left((report, _)) => report,
            Either::Right((_, graceful)) => {
                shutdown.abort();
                graceful.await
            }
        };
        eprintln!(
            "wsd: stopped: {} closed, {} dropped",
            report.closed, report.aborted
        );
        Ok(())
    }
}

/// The next SIGINT or SIGTERM; never, without signals.
async fn next_signal(signals: &mut Option<Signals>) {
    match signals {
        Some(signals) => {
            poll_fn(|cx| Pin::new(&mut *signals).poll_next(cx)).await;
        }
        None => core::future::pending().await,
    }
}

/// One connection's part: it watches the shutdown and, under a limit, holds a place
/// while it is a WebSocket.
pub(crate) struct ConnectionLifecycle {
    token: ShutdownToken,
    admission: Option<Admission>,
    /// The place taken by the request hook, given back when this is dropped (the
    /// end of the connection's task).
    permit: Arc<Mutex<Option<Permit>>>,
}

impl ConnectionLifecycle {
    /// Makes `config` watch the shutdown and, under a limit, answer 503 to an upgrade
    /// request with no place left (after the routing `config` already has).
    pub(crate) fn configure(&self, config: &mut ServerConfig) {
        config.shutdown = Some(self.token.clone());
        let Some(admission) = self.admission.clone() else {
            return;
        };
        let permit = Arc::clone(&self.permit);
        let mut route = config.on_request.take();
        config.on_request = Some(Box::new(move |request| {
            let decision = route
                .as_mut()
                .map_or(Decision::Accept, |hook| hook(request));
            if !matches!(decision, Decision::Accept | Decision::AcceptProtocol(_)) {
                return decision;
            }
            match admission.try_admit() {
                Some(place) => {
                    *permit.lock().unwrap_or_else(PoisonError::into_inner) = Some(place);
                    decision
                }
                None => busy(),
            }
        }));
    }
}

/// The shutdown token and the connection limit, for a stack that answers upgrade
/// requests and makes its WebSockets itself: it asks [`Gate::admit`] before it
/// answers 101 and has each WebSocket [`watch`](Gate::watch) the shutdown.
#[derive(Clone)]
pub(crate) struct Gate {
    token: ShutdownToken,
    admission: Option<Admission>,
    upgrading: Arc<AtomicUsize>,
}

impl Gate {
    /// A place for one more WebSocket, held until the [`Place`] is dropped; the 503
    /// answer when none is free. The upgrade counts as under way (see
    /// [`upgrading`](Self::upgrading)) until its WebSocket watches the shutdown or
    /// the place is dropped.
    pub(crate) fn admit(&self) -> Result<Place, Decision> {
        let permit = match &self.admission {
            None => None,
            Some(admission) => Some(admission.try_admit().ok_or_else(busy)?),
        };
        self.upgrading.fetch_add(1, Ordering::AcqRel);
        Ok(Place {
            _permit: permit,
            upgrading: Some(Arc::clone(&self.upgrading)),
        })
    }

    /// Makes `ws`, admitted with `place`, count as open to the shutdown, which
    /// closes it with 1001.
    pub(crate) fn watch<T: Transport, Z: Timer>(
        &self,
        ws: &mut WebSocket<T, Z>,
        place: &mut Place,
    ) {
        ws.watch_shutdown(&self.token);
        place.settle();
    }

    /// Upgrades admitted whose WebSockets do not watch the shutdown yet: hyper
    /// sends the 101 before it hands the connection over, so a shutdown that began
    /// in between would not wait for them.
    pub(crate) fn upgrading(&self) -> usize {
        self.upgrading.load(Ordering::Acquire)
    }

    /// What a connection served by wsd's own handshake needs.
    pub(crate) fn for_connection(self) -> ConnectionLifecycle {
        ConnectionLifecycle {
            token: self.token,
            admission: self.admission,
            permit: Arc::default(),
        }
    }
}

/// A WebSocket's place under `--max-connections` (none without a limit), given
/// back when dropped.
pub(crate) struct Place {
    _permit: Option<Permit>,
    /// The count of upgrades under way, until this one's WebSocket watches.
    upgrading: Option<Arc<AtomicUsize>>,
}

impl Place {
    /// The upgrade is over: its WebSocket watches the shutdown, or it failed.
    fn settle(&mut self) {
        if let Some(upgrading) = self.upgrading.take() {
            upgrading.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.settle();
    }
}

/// The answer to an upgrade request over the limit.
fn busy() -> Decision {
    Decision::Respond {
        status: 503,
        headers: vec![
            ("Retry-After".into(), RETRY_AFTER_SECS.into()),
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ],
        body: b"503 Service Unavailable: too many connections, retry later\n".to_vec(),
    }
}

/// The places under `--max-connections`.
#[derive(Clone)]
struct Admission {
    open: Arc<AtomicUsize>,
    max: usize,
}

impl Admission {
    /// A place, if one is free.
    fn try_admit(&self) -> Option<Permit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| Permit(Arc::clone(&self.open)))
    }
}

/// A place taken, given back on drop.
struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_taken_up_to_the_limit_and_given_back_on_drop() {
        let admission = Admission {
            open: Arc::default(),
            max: 2,
        };
        let first = admission.try_admit().unwrap();
        let _second = admission.try_admit().unwrap();
        assert!(admission.try_admit().is_none());
        drop(first);
        assert!(admission.try_admit().is_some());
    }

    #[test]
    fn the_answer_over_the_limit_is_503_with_retry_after() {
        let Decision::Respond {
            status, headers, ..
        } = busy()
        else {
            panic!("not a response");
        };
        assert_eq!(status, 503);
        assert!(headers.contains(&("Retry-After".into(), RETRY_AFTER_SECS.into())));
    }
}
