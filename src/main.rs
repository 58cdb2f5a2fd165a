//! `cargo-structlog`: see the library crate.

use std::sync::atomic::{AtomicI64, Ordering};

/// mimalloc: a run or a replay allocates and frees small strings for every
/// entry, where it is markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`): how
/// long memory freed is kept for reuse before it goes back to the system.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay mimalloc started with (its default, or the user's
/// `MIMALLOC_PURGE_DELAY`).
static DEFAULT_PURGE_DELAY: AtomicI64 = AtomicI64::new(10);

/// Memory freed goes back at once (`true`), or after mimalloc's delay.
fn release_eagerly(eager: bool) {
    let delay = if eager {
        0
    } else {
        DEFAULT_PURGE_DELAY.load(Ordering::Relaxed)
    };
    // SAFETY: mimalloc's documented API; options may be set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay as std::ffi::c_long) };
}

fn main() {
    // SAFETY: mimalloc's documented API.
    let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    DEFAULT_PURGE_DELAY.store(default as i64, Ordering::Relaxed);
    cargo_structlog::memory::install(release_eagerly);
    std::process::exit(cargo_structlog::main());
}
