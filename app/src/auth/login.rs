//! Sign-in and first-admin setup: plain HTML forms posted to the auth API, so they work before
//! (and without) the WASM; the server answers with a redirect and the session cookie.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    view! {
        <section class="panel auth-form">
            <h2>"Sign in to Steward"</h2>
            {move || error().map(|e| view! { <p class="error" data-testid="login-error">{e}</p> })}
            <form method="post" action="/api/v1/auth/login">
                <input type="hidden" name="next" value=next/>
                <label>"Username"<input name="username" autocomplete="username" required/></label>
                <label>"Password"<input name="password" type="password" autocomplete="current-password" required/></label>
                <button type="submit" class="primary">"Sign in"</button>
            </form>
        </section>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    let token = move || query.with(|q| q.get("token")).unwrap_or_default();
    view! {
        <section class="panel auth-form">
            <h2>"Create the first admin"</h2>
            <p class="muted">"This link was printed when Steward started and works once. Passwords need at least 12 characters."</p>
            {move || error().map(|e| view! { <p class="error">{e}</p> })}
            <form method="post" action="/api/v1/auth/setup">
                <input type="hidden" name="token" value=token/>
                <label>"Username"<input name="username" autocomplete="username" required/></label>
                <label>"Password"<input name="password" type="password" autocomplete="new-password" minlength="12" required/></label>
                <button type="submit" class="primary">"Create admin"</button>
            </form>
        </section>
    }
}
