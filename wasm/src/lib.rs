//! mailroom as WebAssembly: the native core's decisions and rendering, byte for byte, for
//! Node services and the browser.
//!
//! This crate is a thin adapter. [`Handle`] and [`HostBatch`] do the work with JSON text in and
//! out (plain Rust, tested natively); the `wasm` module below only exposes them through
//! `wasm-bindgen`. The JavaScript wrapper in `js/` parses the JSON, turns error JSON into a
//! typed `MailroomError`, and carries the TypeScript types.

pub mod aside;
pub mod batch;
pub mod error;
pub mod handle;
pub mod lookups;

pub use batch::HostBatch;
pub use error::AdapterError;
pub use handle::Handle;

#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(test)]
mod tests;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
