//! The live link to the server: an EventSource on `/api/v1/stream` that receives the whole
//! overview once, then applies the changes each collection round sends, and reports when the
//! link drops.
//!
//! Server-Sent Events were chosen over WebSockets: the flow is one-way, they pass through proxies
//! as plain HTTP, and the browser reconnects by itself. When the browser gives up (the server
//! answered with an error), we open a new EventSource after a short delay.

use leptos::prelude::*;

use crate::shared::clock::now_ms;
use crate::vitals::Overview;

/// Path of the overview event stream.
pub const STREAM_PATH: &str = "/api/v1/stream";

/// The state of the live link, shown on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Rendered on the server; the client has not connected yet.
    Connecting,
    Live,
    /// The link dropped; the client is reconnecting.
    Reconnecting,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting…",
            LinkState::Live => "live",
            LinkState::Reconnecting => "connection lost — reconnecting…",
        }
    }
}

/// Values older than two collection intervals are stale: the page greys them and shows their age.
pub fn is_stale(now_ms: i64, collected_ms: Option<i64>, interval_secs: u64) -> bool {
    let limit = 2 * 1000 * interval_secs.max(1) as i64;
    collected_ms.is_some_and(|t| now_ms - t > limit)
}

/// A clock signal that ticks every second in the browser (and stays put on the server).
pub fn use_clock() -> ReadSignal<i64> {
    let (now, set_now) = signal(now_ms());
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || set_now.set(now_ms()),
            std::time::Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_now;
    now
}

/// Subscribes to the live stream; `overview` is replaced on every message. The stream is
/// closed, and never reopened, when the calling page goes away: a browser keeps only six
/// connections per host over HTTP/1.1, so each stream left open by a page visited earlier
/// starved the next pages until they waited on "Loading…" forever.
pub fn use_live_overview(overview: RwSignal<Overview>) -> ReadSignal<LinkState> {
    let (link, set_link) = signal(LinkState::Connecting);
    #[cfg(feature = "hydrate")]
    {
        let live = browser::Live::default();
        browser::connect(live.clone(), overview, set_link);
        // The browser has one thread; the wrapper only satisfies `on_cleanup`'s bounds.
        let live = send_wrapper::SendWrapper::new(live);
        on_cleanup(move || live.close());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (overview, set_link);
    link
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    use super::{LinkState, STREAM_PATH};
    use crate::overview::change::OverviewChange;
    use crate::vitals::Overview;

    const RECONNECT_DELAY: std::time::Duration = std::time::Duration::from_secs(3);
    const CLOSED: u16 = 2;

    /// The page's current stream (it changes on reconnects) and whether the page is gone.
    #[derive(Clone, Default)]
    pub struct Live(Rc<RefCell<(Option<EventSource>, bool)>>);

    impl Live {
        /// Closes the stream for good: later reconnect timers find it closed and stop.
        pub fn close(&self) {
            let mut state = self.0.borrow_mut();
            state.1 = true;
            if let Some(source) = state.0.take() {
                source.close();
            }
        }

        fn closed(&self) -> bool {
            self.0.borrow().1
        }
    }

    fn reconnect_later(live: Live, overview: RwSignal<Overview>, set_link: WriteSignal<LinkState>) {
        let live = SendWrapper::new(live);
        set_timeout(
            move || connect(live.take(), overview, set_link),
            RECONNECT_DELAY,
        );
    }

    pub fn connect(live: Live, overview: RwSignal<Overview>, set_link: WriteSignal<LinkState>) {
        if live.closed() {
            return;
        }
        let source = match EventSource::new(STREAM_PATH) {
            Ok(source) => source,
            Err(_) => {
                set_link.set(LinkState::Reconnecting);
                reconnect_later(live, overview, set_link);
                return;
            }
        };
        let on_open = Closure::<dyn FnMut()>::new(move || set_link.set(LinkState::Live));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match serde_json::from_str::<Overview>(&text) {
                Ok(next) => {
                    overview.set(next);
                    set_link.set(LinkState::Live);
                }
                Err(e) => leptos::logging::warn!("bad overview event: {e}"),
            }
        });
        let on_change = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match serde_json::from_str::<OverviewChange>(&text) {
                Ok(change) => {
                    overview.update(|o| change.apply(o));
                    set_link.set(LinkState::Live);
                }
                Err(e) => leptos::logging::warn!("bad overview change: {e}"),
            }
        });
        let _ =
            source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        let retry_source = source.clone();
        let retry = live.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            if retry.closed() {
                return;
            }
            set_link.set(LinkState::Reconnecting);
            // The browser retries by itself unless the server answered with an error.
            if retry_source.ready_state() == CLOSED {
                reconnect_later(retry.clone(), overview, set_link);
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The handlers live as long as the source; a closed source calls none of them.
        on_open.forget();
        on_message.forget();
        on_change.forget();
        on_error.forget();
        live.0.borrow_mut().0 = Some(source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_two_intervals() {
        assert!(
            !is_stale(10_000, Some(0), 5),
            "exactly two intervals is still fresh"
        );
        assert!(is_stale(10_001, Some(0), 5));
        assert!(
            !is_stale(1_000_000, None, 5),
            "nothing collected is not 'stale'"
        );
        assert!(
            is_stale(2_001, Some(0), 0),
            "a zero interval counts as one second"
        );
    }
}
