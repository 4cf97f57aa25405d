//! What every feature runs on: the event bus collectors publish to, the one round loop
//! (`periodic`) every collector runs in, and the progress log of background jobs (`jobs`).

pub mod bus;
pub mod jobs;
pub mod periodic;
