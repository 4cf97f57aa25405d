//! The session and audit log server functions; the audit log is for signed-in users only,
//! even with anonymous reading on.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::shared::codec::JsonText;

use crate::auth::{AuditEntry, SessionView};
use crate::shared::error::AppError;

/// The signed-in user of this request (with the CSRF token for actions), if any.
#[server(input = GetUrl, output = JsonText)]
pub async fn get_session() -> Result<Option<SessionView>, AppError> {
    Ok(crate::shared::backend::current_user())
}

/// The audit log, newest first (signed-in users only, even with anonymous reading on).
#[server(input = GetUrl)]
pub async fn get_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    if crate::shared::backend::current_user().is_none() {
        return Err(AppError::new(
            crate::shared::error::ErrorKind::Unauthorized,
            "sign in to read the audit log",
        ));
    }
    let backend = crate::shared::backend::backend()?;
    backend.audit(before).await.map_err(AppError::from)
}
