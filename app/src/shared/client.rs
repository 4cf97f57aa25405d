//! Calls from the browser to the guarded actions: a POST with the session's CSRF token in the
//! `X-CSRF-Token` header (the session cookie is HttpOnly and SameSite=Strict, so the browser
//! sends it only to this site). Errors are the server's `{"error": …}` message.

/// Posts `body` (JSON, or nothing) to `url`; returns the response text or the error message.
pub async fn post_json(url: &str, csrf: &str, body: Option<String>) -> Result<String, String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let headers = web_sys::Headers::new().map_err(js)?;
        headers.set(crate::auth::CSRF_HEADER, csrf).map_err(js)?;
        if let Some(b) = &body {
            headers
                .set("content-type", "application/json")
                .map_err(js)?;
            init.set_body(&wasm_bindgen::JsValue::from_str(b));
        }
        init.set_headers(&headers);
        let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(js)?;
        let window = web_sys::window().ok_or("no window")?;
        let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(|_| "the server could not be reached".to_string())?
            .dyn_into()
            .map_err(js)?;
        let text = JsFuture::from(response.text().map_err(js)?)
            .await
            .map_err(js)?
            .as_string()
            .unwrap_or_default();
        if response.ok() {
            Ok(text)
        } else {
            Err(error_message(response.status(), &text))
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (url, csrf, body);
        Err("actions run in the browser".into())
    }
}

/// A precise clock for timing the chart's redraw, in ms (0 outside the browser).
pub fn now_precise_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or(0.0, |p| p.now())
    }
    #[cfg(not(feature = "hydrate"))]
    0.0
}

/// The pointer's horizontal position over the element that handles the event, in the units of
/// a `view_width`-wide viewBox (the chart is scaled by CSS, so pixels differ per screen).
pub fn pointer_x(ev: &leptos::ev::PointerEvent, view_width: f64) -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let el: web_sys::Element = ev.current_target()?.dyn_into().ok()?;
        let rect = el.get_bounding_client_rect();
        (rect.width() > 0.0)
            .then(|| (f64::from(ev.client_x()) - rect.left()) * view_width / rect.width())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, view_width);
        None
    }
}

/// Keeps a pointer's events on the element while a finger or mouse drags across the chart.
pub fn capture_pointer(ev: &leptos::ev::PointerEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// Loads another page (a full load, so the server renders it for the new session).
pub fn navigate(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// A server-sent event stream in the browser; closed when dropped. It is `Send + Sync` (the
/// browser has one thread), so components keep it in an ordinary `StoredValue`: a
/// `new_local` value rendered on the multi-threaded server panics when dropped on another thread.
pub struct EventStream {
    #[cfg(feature = "hydrate")]
    source: send_wrapper::SendWrapper<web_sys::EventSource>,
}

impl EventStream {
    /// Opens `url`; `on_message` gets each event's data, `on_error` is told when the stream ends
    /// or fails (the stream is then closed, not retried).
    pub fn open(
        url: &str,
        on_message: impl FnMut(String) + 'static,
        on_error: impl FnMut() + 'static,
    ) -> Option<EventStream> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::{closure::Closure, JsCast};
            let source = web_sys::EventSource::new(url).ok()?;
            let mut on_message = on_message;
            let message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    if let Some(text) = ev.data().as_string() {
                        on_message(text);
                    }
                },
            );
            let mut on_error = on_error;
            let closing = source.clone();
            let error = Closure::<dyn FnMut()>::new(move || {
                closing.close();
                on_error();
            });
            source.set_onmessage(Some(message.as_ref().unchecked_ref()));
            source.set_onerror(Some(error.as_ref().unchecked_ref()));
            message.forget();
            error.forget();
            Some(EventStream {
                source: send_wrapper::SendWrapper::new(source),
            })
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (url, on_message, on_error);
            None
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        #[cfg(feature = "hydrate")]
        self.source.close();
    }
}

/// The `error` field of a JSON error body, else the status.
pub fn error_message(status: u16, body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("the server answered {status}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_messages() {
        assert_eq!(super::error_message(409, r#"{"error":"stale"}"#), "stale");
        assert_eq!(
            super::error_message(502, "<html>"),
            "the server answered 502"
        );
    }
}
