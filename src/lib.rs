//! cargo-structlog: run a workspace's tests on stable Rust and write the
//! run as Mozilla's mozlog structured log, fanned out to any number of sinks.
//!
//! The pieces, in the order a run goes through them: `cli` reads the
//! command line into settings; `cargo` builds the tests and learns the
//! workspace and the toolchain; `plan` decides how to start each test binary
//! and discovers its tests; `run` runs them, and `translate` turns
//! libtest's events (read by `libtest`) into mozlog entries ([`model`]);
//! [`sink`] writes every entry to every output format. [`logs`] works on
//! saved raw logs. The public modules are what the tool's own tests,
//! examples and benchmark use; the rest is private.

mod cargo;
mod cli;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod libtest;
pub mod logs;
pub mod memory;
pub mod model;
mod plan;
mod run;
pub mod sink;
pub mod text;
mod translate;

/// The program: parses the command line, runs, and returns the exit status.
pub fn main() -> i32 {
    // Cargo runs us as RUSTDOC while listing doctests.
    if let Some(real) = std::env::var_os(cargo::RUSTDOC_WRAPPER_ENV) {
        return cargo::rustdoc_wrapper(real);
    }
    // A run from an archive runs us as its doctests' libtest.
    if let Some(plan) = std::env::var_os(run::archive::DOCTEST_RUNNER_ENV) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return run::archive::doctest_runner_main(std::path::Path::new(&plan), &args);
    }
    let result = cli::main(std::env::args_os().collect());
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.report());
            e.exit_code()
        }
    }
}
