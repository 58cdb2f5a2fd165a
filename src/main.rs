//! `cargo-structlog`: see the library crate.

/// mimalloc: a run or a replay allocates and frees small strings for every
/// entry, where it is markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cargo_structlog::main());
}
