//! `cargo-structlog`: see the library crate.

/// mimalloc: a run or a replay allocates and frees small strings for every
/// entry, where it is markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Memory freed is given back at once rather than a second later: a
    // replay reads a large run's suite_start line (tens of megabytes, grown
    // as it is read) and should not keep what it outgrew.
    // SAFETY: mimalloc's documented API, called before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    std::process::exit(cargo_structlog::main());
}
