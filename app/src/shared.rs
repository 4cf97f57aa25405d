//! What every feature uses: the clock, errors, formatting, ranges, downsampling, the browser's
//! HTTP client and (server side) the backend handle.

#[cfg(feature = "ssr")]
pub mod backend;
pub mod client;
pub mod clock;
pub mod codec;
pub mod downsample;
pub mod error;
pub mod format;
pub mod range;
pub mod zone;
