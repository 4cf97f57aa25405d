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
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || if token().is_empty() {
                // Without the token the form could only fail after it was filled: say where
                // the link is instead.
                view! {
                    <div data-testid="setup-no-token">
                        <p>"This page needs the one-time setup link, which holds a token."</p>
                        <p class="muted">
                            "Steward printed the link once, on its standard output, when it started without any admin: "
                            "look in the terminal where "<code>"steward serve"</code>" runs, or in its service log ("
                            <code>"journalctl -u steward | grep setup"</code>", "<code>"docker compose logs steward"</code>"). "
                            "Restarting Steward prints a new link while no admin exists. If an admin exists already, "
                            <a href="/login">"sign in"</a>"."
                        </p>
                    </div>
                }.into_any()
            } else {
                view! {
                    <p class="muted">"This link was printed when Steward started and works once. Passwords need at least 12 characters."</p>
                    <form method="post" action="/api/v1/auth/setup">
                        <input type="hidden" name="token" value=token/>
                        <label>"Username"<input name="username" autocomplete="username" required/></label>
                        <label>"Password"<input name="password" type="password" autocomplete="new-password" minlength="12" required/></label>
                        <label>"Password again"<input name="password_confirm" type="password" autocomplete="new-password" minlength="12" required/></label>
                        <button type="submit" class="primary">"Create admin"</button>
                    </form>
                }.into_any()
            }}
        </section>
    }
}

/// The sign-in route: split off the main WASM like the other pages (plain forms need little
/// code, but their views are instantiated twice for hydration), so the overview does not carry it.
pub struct LoginRoute;

#[leptos_router::lazy_route]
impl leptos_router::LazyRoute for LoginRoute {
    fn data() -> Self {
        LoginRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <LoginPage/> }.into_any()
    }
}

/// The setup route, split off like [`LoginRoute`].
pub struct SetupRoute;

#[leptos_router::lazy_route]
impl leptos_router::LazyRoute for SetupRoute {
    fn data() -> Self {
        SetupRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SetupPage/> }.into_any()
    }
}
