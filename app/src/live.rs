//! The live link to the server: an EventSource on `/api/v1/stream` that replaces the overview
//! whenever a collection round finishes, and reports when the link drops.
//!
//! Server-Sent Events were chosen over WebSockets: the flow is one-way, they pass through proxies
//! as plain HTTP, and the browser reconnects by itself. When the browser gives up (the server
//! answered with an error), we open a new EventSource after a short delay.

use leptos::prelude::*;

use crate::model::Overview;

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

/// Milliseconds since the Unix epoch, on either side.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
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

/// Subscribes to the live stream; `overview` is replaced on every message.
pub fn use_live_overview(overview: RwSignal<Overview>) -> ReadSignal<LinkState> {
    let (link, set_link) = signal(LinkState::Connecting);
    #[cfg(feature = "hydrate")]
    browser::connect(overview, set_link);
    #[cfg(not(feature = "hydrate"))]
    let _ = (overview, set_link);
    link
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    use super::{LinkState, STREAM_PATH};
    use crate::model::Overview;

    const RECONNECT_DELAY: std::time::Duration = std::time::Duration::from_secs(3);
    const CLOSED: u16 = 2;

    pub fn connect(overview: RwSignal<Overview>, set_link: WriteSignal<LinkState>) {
        let source = match EventSource::new(STREAM_PATH) {
            Ok(source) => source,
            Err(_) => {
                set_link.set(LinkState::Reconnecting);
                set_timeout(move || connect(overview, set_link), RECONNECT_DELAY);
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
        let retry_source = source.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            set_link.set(LinkState::Reconnecting);
            // The browser retries by itself unless the server answered with an error.
            if retry_source.ready_state() == CLOSED {
                set_timeout(move || connect(overview, set_link), RECONNECT_DELAY);
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The handlers live as long as the page.
        on_open.forget();
        on_message.forget();
        on_error.forget();
    }
}
