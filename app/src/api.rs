//! Server functions for the overview page. Each body checks nothing but calls one backend method:
//! reads are public in this release; actions (which need an admin) come with the auth layer.

use leptos::prelude::*;

use crate::model::{History, Overview};

/// The latest overview (score, vitals, collector status).
#[server]
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    let backend = crate::backend::backend()?;
    Ok((*backend.overview()).clone())
}

/// A stored history series, e.g. `get_history("cpu_steal_pct", "1h")`.
#[server]
pub async fn get_history(metric: String, range: String) -> Result<History, ServerFnError> {
    let backend = crate::backend::backend()?;
    backend
        .history(&metric, &range)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}
