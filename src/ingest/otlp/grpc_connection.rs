//! A gRPC connection as the receiver holds it: its place under the connection limit, and a
//! deadline for its next request.
//!
//! tonic, and hyper's HTTP/2 server under it, set no header or idle timeout: a connection
//! that never sends the HTTP/2 preface waits in the handshake for ever, and one whose client
//! answers the keep-alive pings but sends no request is kept for ever, each holding a place
//! under the connection limit (the pings only find peers that stopped answering). So the
//! connection's stream carries the deadline itself: with no request open, `header_timeout`
//! after the connection opened or after its last request was answered, its next read fails
//! and hyper drops the connection. Requests are seen by the admission layer, which finds the
//! connection's [`RequestActivity`] in each request's extensions, where tonic puts a
//! connection's [`Connected::ConnectInfo`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// An accepted connection holding its place under the connection limit until it closes, and
/// closed when it has no request open for the idle timeout.
pub(super) struct Placed {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
    idle: IdleDeadline,
}

impl Placed {
    /// Holds `place` for `stream`, which must send a request within `idle_timeout` and never
    /// sit longer than that without one open.
    pub(super) fn new(stream: TcpStream, place: OwnedSemaphorePermit, idle_timeout: Duration) -> Self {
        let activity = RequestActivity::new();
        let idle = IdleDeadline { sleep: Box::pin(tokio::time::sleep(idle_timeout)), activity, timeout: idle_timeout };
        Self { stream, _place: place, idle }
    }
}

/// What tonic puts in each request's extensions is the connection's [`RequestActivity`],
/// for the admission layer. (tonic's `Request::remote_addr` looks for its own type there and
/// so finds none; nothing here reads it.)
impl Connected for Placed {
    type ConnectInfo = RequestActivity;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.idle.activity.clone()
    }
}

/// A connection's requests, shared by its stream (which reads the deadline from it) and its
/// requests (which mark themselves open while they are).
#[derive(Clone, Debug)]
pub(super) struct RequestActivity(Arc<ActivityState>);

#[derive(Debug)]
struct ActivityState {
    opened: Instant,
    open: AtomicUsize,
    /// When the last request was answered, in ns after `opened`.
    last_answered: AtomicU64,
}

impl RequestActivity {
    fn new() -> Self {
        Self(Arc::new(ActivityState {
            opened: Instant::now(),
            open: AtomicUsize::new(0),
            last_answered: AtomicU64::new(0),
        }))
    }

    /// Marks a request open until the guard is dropped (when it has been answered).
    pub(super) fn begin(&self) -> OpenRequest {
        self.0.open.fetch_add(1, Ordering::AcqRel);
        OpenRequest(self.clone())
    }

    /// When the connection will have been idle for `timeout`; `None` while a request is open.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.0.open.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.0.opened + Duration::from_nanos(self.0.last_answered.load(Ordering::Acquire)) + timeout)
    }
}

/// A request open on its connection; dropping it marks the request answered.
#[derive(Debug)]
pub(super) struct OpenRequest(RequestActivity);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        let state = &self.0.0;
        let since_opened = u64::try_from(state.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Before the count goes down, so a stream that sees no request open sees this time.
        state.last_answered.fetch_max(since_opened, Ordering::AcqRel);
        state.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The stream's side of the idle timeout: a timer, re-armed whenever it fires while the
/// connection is not yet idle long enough.
struct IdleDeadline {
    sleep: Pin<Box<Sleep>>,
    activity: RequestActivity,
    timeout: Duration,
}

impl IdleDeadline {
    /// Ready once the connection has had no request open for the timeout. Polled with each
    /// read: hyper always has a read pending on an HTTP/2 connection (the preface, then the
    /// next frame), so the timer's wake-up reaches it.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let next = match self.activity.idle_deadline(self.timeout) {
                // A request's own time is bounded by the body timeout, not by this one.
                None => now + self.timeout,
                Some(at) if at > now => at,
                Some(_) => return Poll::Ready(()),
            };
            self.sleep.as_mut().reset(next);
        }
        Poll::Pending
    }
}

impl AsyncRead for Placed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.idle.poll_expired(cx).is_ready() {
            let idle = std::io::Error::new(std::io::ErrorKind::TimedOut, "no gRPC request within the idle timeout");
            return Poll::Ready(Err(idle));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Placed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_request_holds_off_the_deadline_and_its_answer_restarts_it() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let activity = RequestActivity::new();
            let timeout = Duration::from_secs(10);
            let first = activity.idle_deadline(timeout).unwrap();
            assert_eq!(first, activity.0.opened + timeout, "from the connection's opening");
            let (a, b) = (activity.begin(), activity.begin());
            assert_eq!(activity.idle_deadline(timeout), None);
            drop(a);
            assert_eq!(activity.idle_deadline(timeout), None, "one is still open");
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(b);
            let after = activity.idle_deadline(timeout).unwrap();
            assert!(after >= first + Duration::from_millis(5), "{after:?} after {first:?}");
        });
    }
}
