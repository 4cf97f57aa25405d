//! The WASM entry point: hydrates the HTML that the server rendered.
//!
//! Hydration is async (`hydrate_lazy`) because the containers, trends and audit routes are split
//! into their own WASM chunks and loaded when opened; `hydrate_body` panics on a lazy route.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
