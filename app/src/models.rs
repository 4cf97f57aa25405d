//! Models and GPUs: the configured model backends (Ollama, llama.cpp, vLLM, any OpenAI-compatible
//! server) with their circuit breakers, what they serve and hold in memory, the pre-load memory
//! check, and the GPUs.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod backend_card;
pub mod estimate;
pub mod memory_bar;
pub mod model;
pub mod page;
pub mod preload;

pub use model::*;
