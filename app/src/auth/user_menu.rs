//! The signed-in user in the top bar, with sign-out (a guarded POST like every action).

use leptos::prelude::*;

use crate::auth::SessionView;

#[component]
pub fn UserMenu(user: Option<SessionView>) -> impl IntoView {
    match user {
        None => view! { <a class="user" href="/login">"Sign in"</a> }.into_any(),
        Some(u) => {
            let csrf = u.csrf.clone();
            let error = RwSignal::new(None::<String>);
            let sign_out = move |_| {
                let csrf = csrf.clone();
                leptos::task::spawn_local(async move {
                    match crate::shared::client::post_json("/api/v1/auth/logout", &csrf, None).await
                    {
                        Ok(_) => crate::shared::client::navigate("/login"),
                        Err(e) => error.set(Some(e)),
                    }
                });
            };
            view! {
                <span class="user" data-testid="user">
                    <span>{u.username.clone()}</span>
                    <span class="badge">{u.role.as_str()}</span>
                    <button class="link-button" on:click=sign_out>"Sign out"</button>
                    {move || error.get().map(|e| view! { <span class="error">{e}</span> })}
                </span>
            }
            .into_any()
        }
    }
}
