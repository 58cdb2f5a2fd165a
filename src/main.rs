//! `cargo-structlog`: see the library crate.

fn main() {
    std::process::exit(cargo_structlog::main());
}
