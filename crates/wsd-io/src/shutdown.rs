//! [`Shutdown`]: stopping a server without cutting its clients off.
//!
//! One switch for the whole server, one [`ShutdownToken`] clone for the accept loop
//! and each connection. A [`WebSocket`](crate::WebSocket) that watches a token (a
//! [`ServerConfig::shutdown`](crate::ServerConfig::shutdown) sets it up, or
//! [`WebSocket::watch_shutdown`](crate::WebSocket::watch_shutdown)) counts as open
//! until its stream ends. On [`Shutdown::shutdown`] each of them sends close 1001
//! (Going Away), flushes what it had queued, and finishes the closing handshake;
//! the call returns when all have ended or the grace period is over, and then the
//! rest end at once, their streams yielding an I/O error of kind `ConnectionAborted`.
//!
//! It needs no runtime: the switch is an atomic level with an
//! [`event_listener::Event`] to wake whoever watches it, and the grace period runs
//! on the caller's [`Timer`].

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use event_listener::{Event, EventListener};

use crate::Timer;

/// How far the shutdown has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Serving.
    Running = 0,
    /// Closing: every watching WebSocket sends close 1001.
    Closing = 1,
    /// The grace period is over: whatever is still open ends now.
    Abort = 2,
}

impl Level {
    fn from_u8(level: u8) -> Self {
        match level {
            0 => Self::Running,
            1 => Self::Closing,
            _ => Self::Abort,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    level: AtomicU8,
    /// Notified when the level rises.
    raised: Event,
    /// WebSockets watching, not ended yet.
    open: AtomicUsize,
    /// Notified when `open` reaches zero.
    all_closed: Event,
}

impl Shared {
    fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Acquire))
    }

    fn raise(&self, level: Level) {
        if self.level.fetch_max(level as u8, Ordering::AcqRel) < level as u8 {
            self.raised.notify(usize::MAX);
        }
    }
}

/// The server's shutdown switch. Clone it freely: every clone is the same switch.
///
/// ```
/// use std::time::Duration;
/// use wsd_io::{ServerConfig, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let mut config = ServerConfig::default();
/// // Every connection accepted with this config watches the switch.
/// config.shutdown = Some(shutdown.token());
/// assert_eq!(shutdown.open_connections(), 0);
/// assert!(!shutdown.token().is_triggered());
/// // On SIGTERM: `shutdown.shutdown(timer, Duration::from_secs(10)).await`.
/// ```
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    shared: Arc<Shared>,
}

/// What [`Shutdown::shutdown`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// WebSockets that ended within the grace period (closing handshake done, or the
    /// peer gone).
    pub closed: usize,
    /// WebSockets still open when the grace period ended, told to end at once.
    pub aborted: usize,
}

impl Shutdown {
    /// A switch in the running position.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token for the accept loop or one connection.
    pub fn token(&self) -> ShutdownToken {
        ShutdownToken {
            shared: Arc::clone(&self.shared),
        }
    }

    /// WebSockets watching this switch whose streams have not ended.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::Acquire)
    }

    /// Starts the graceful part without waiting: the accept loops' tokens fire, and
    /// every watching WebSocket sends close 1001 when its stream is next polled.
    pub fn begin(&self) {
        self.shared.raise(Level::Closing);
    }

    /// Ends every watching WebSocket now: each stream yields an I/O error of kind
    /// `ConnectionAborted` and ends, without a closing handshake.
    pub fn abort(&self) {
        self.shared.raise(Level::Abort);
    }

    /// The whole shutdown: [`begin`](Self::begin), wait until every watching
    /// WebSocket has ended or `grace` has passed on `timer`, then
    /// [`abort`](Self::abort) the rest.
    pub async fn shutdown<Z: Timer>(&self, mut timer: Z, grace: Duration) -> ShutdownReport {
        let before = self.open_connections();
        self.begin();
        // A grace period too long for the clock waits for every connection.
        let deadline = timer.now().checked_add(grace);
        let mut listener: Option<EventListener> = None;
        let all_closed = poll_fn(|cx| {
            loop {
                if self.open_connections() == 0 {
                    return Poll::Ready(true);
                }
                match &mut listener {
                    // Listen, then look again: a close between the two is not missed.
                    None => listener = Some(self.shared.all_closed.listen()),
                    Some(waiting) => match Pin::new(waiting).poll(cx) {
                        Poll::Ready(()) => listener = None,
                        Poll::Pending => break,
                    },
                }
            }
            if timer.poll_deadline(cx, deadline).is_ready() {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await;
        let aborted = if all_closed {
            0
        } else {
            self.abort();
            self.open_connections()
        };
        ShutdownReport {
            closed: before.saturating_sub(aborted),
            aborted,
        }
    }
}

/// A [`Shutdown`]'s token: the accept loop waits for it with
/// [`triggered`](Self::triggered); a WebSocket watches it (see
/// [`ServerConfig::shutdown`](crate::ServerConfig::shutdown)).
#[derive(Debug, Clone)]
pub struct ShutdownToken {
    shared: Arc<Shared>,
}

impl ShutdownToken {
    /// Whether the shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        self.shared.level() > Level::Running
    }

    /// Resolves once the shutdown begins: an accept loop selects on it to stop
    /// accepting. Cancel safe.
    pub async fn triggered(&self) {
        let mut watch = Watcher::new(Arc::clone(&self.shared));
        poll_fn(|cx| match watch.poll(cx) {
            Level::Running => Poll::Pending,
            _ => Poll::Ready(()),
        })
        .await;
    }

    /// Counts a WebSocket as open until the returned watch is dropped.
    pub(crate) fn watch(&self) -> Watch {
        self.shared.open.fetch_add(1, Ordering::AcqRel);
        Watch {
            watcher: Watcher::new(Arc::clone(&self.shared)),
            closing_sent: false,
        }
    }
}

/// Follows the level, with a listener to wake the task when it rises.
#[derive(Debug)]
struct Watcher {
    shared: Arc<Shared>,
    listener: Option<EventListener>,
    /// The level and the waker the listener was last polled with.
    seen: Level,
    waker: Option<Waker>,
}

impl Watcher {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            listener: None,
            seen: Level::Running,
            waker: None,
        }
    }

    /// The level; below `Abort`, `cx` is woken when it rises.
    fn poll(&mut self, cx: &mut Context<'_>) -> Level {
        let level = self.shared.level();
        let registered = self.listener.is_some()
            && self
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()));
        if registered && level == self.seen {
            // The listener will wake this task when the level rises: one atomic
            // load per wait, not a lock of the listener list (the loop asks each
            // time it is about to wait).
            return level;
        }
        loop {
            let level = self.shared.level();
            if level == Level::Abort {
                self.listener = None;
                return level;
            }
            match &mut self.listener {
                // Listen, then read the level again: a rise between the two is seen.
                None => self.listener = Some(self.shared.raised.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => self.listener = None,
                    Poll::Pending => {
                        self.seen = level;
                        self.waker = Some(cx.waker().clone());
                        return level;
                    }
                },
            }
        }
    }
}

/// One WebSocket's view of the switch, counted as open while it lives.
#[derive(Debug)]
pub(crate) struct Watch {
    watcher: Watcher,
    /// The close 1001 was sent (or the connection was told to close).
    pub(crate) closing_sent: bool,
}

impl Watch {
    /// The level; below `Abort`, `cx` is woken when it rises.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Level {
        self.watcher.poll(cx)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.watcher.shared.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.watcher.shared.all_closed.notify(usize::MAX);
        }
    }
}
