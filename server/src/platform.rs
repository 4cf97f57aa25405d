//! What every feature runs on: the event bus collectors publish to, and the one round loop
//! (`periodic`) every collector runs in.

pub mod bus;
pub mod periodic;
