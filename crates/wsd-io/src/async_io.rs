//! [`AsyncIoTimer`]: the async-io reactor's timer as a [`Timer`] (feature `async-io`).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Instant;

use crate::Timer;

/// The [`Timer`] of smol and async-std, which both run on the async-io reactor. The
/// reactor's timer is allocated only while a deadline exists, and reset in place
/// when the deadline moves.
///
/// ```
/// use wsd_io::{AsyncIoTimer, Timer};
/// let timer = AsyncIoTimer::default();
/// assert!(timer.now() <= std::time::Instant::now());
/// ```
#[derive(Debug, Default)]
pub struct AsyncIoTimer(Option<(Instant, async_io::Timer)>);

impl Timer for AsyncIoTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else {
            self.0 = None;
            return Poll::Pending;
        };
        let (at, timer) = self
            .0
            .get_or_insert_with(|| (deadline, async_io::Timer::at(deadline)));
        if *at != deadline {
            *at = deadline;
            timer.set_at(deadline);
        }
        Pin::new(timer).poll(cx).map(drop)
    }
}
