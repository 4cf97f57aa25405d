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

/// Room for the WASM splitter in the read-only data segment. cargo-leptos `--split` regroups the
/// segment's data by the chunk that uses it; alignment padding and strings the linker merged
/// across chunks can make the regrouped segment longer than the input, and then the splitter
/// keeps the whole segment in the main module ("Overlong segment 0 by 177 after relocation"):
/// every lazy page's strings and tables, 45 KB (br) of the first load. Nothing uses these bytes,
/// so no module ships them and the regrouped segment fits again. `#[used]` keeps the linker from
/// dropping them; non-zero bytes keep them out of `.bss`.
#[used]
static SPLIT_SLACK: [u8; 8192] = [0xa5; 8192];
