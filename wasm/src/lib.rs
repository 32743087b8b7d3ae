//! The wasm adapter.
