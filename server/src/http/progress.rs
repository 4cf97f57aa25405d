//! A background job's progress as Server-Sent Events (the bulk restart, a cleanup run): the
//! events so far, then the live ones until the last, then the stream ends. A client that
//! connects late or reconnects sees the whole job.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// `past` then, unless it already holds the last event, what `rx` brings until `is_last`.
pub fn stream<E>(
    past: Vec<E>,
    rx: Option<broadcast::Receiver<E>>,
    is_last: fn(&E) -> bool,
    shutdown: CancellationToken,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    E: Serialize + Clone + Send + 'static,
{
    let rx = if past.iter().any(is_last) { None } else { rx };
    let live = futures::stream::unfold(rx, move |rx| async move {
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok(e) => {
                    let last = is_last(&e);
                    return Some((e, (!last).then_some(rx)));
                }
                // A slow reader skips what it missed rather than ending the stream.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let events = futures::stream::iter(past)
        .chain(live)
        .map(|e| {
            Ok(Event::default()
                .json_data(&e)
                .unwrap_or_else(|_| Event::default().comment("bad event")))
        })
        .take_until(shutdown.cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::default())
}
