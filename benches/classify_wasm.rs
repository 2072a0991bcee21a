//! The classifier as a bare wasm module, for `bench/classify-wasm.mjs`: V8 (Node's, the
//! engine workerd runs) times it on a long message. Exports an allocator and `classify`.

use std::alloc::{alloc, Layout};

/// Room for `len` bytes of input.
#[no_mangle]
pub extern "C" fn input(len: usize) -> *mut u8 {
    unsafe { alloc(Layout::from_size_align(len.max(1), 1).expect("layout")) }
}

/// Classifies the UTF-8 text at `ptr` (safety, age and mode, as the server does); the tier.
///
/// # Safety
/// `ptr` must point at `len` initialised bytes (from [`input`]).
#[no_mangle]
pub unsafe extern "C" fn classify(ptr: *const u8, len: usize) -> u32 {
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    let text = std::str::from_utf8(bytes).unwrap_or("");
    u32::from(mia_server::evaluation::verdict(text).tier)
}

/// Loads the model and compiles the rules.
#[no_mangle]
pub extern "C" fn prepare() {
    mia_server::session::prepare_classifiers();
}
