//! cargo-structlog: run a workspace's tests on stable Rust and write the
//! run as Mozilla's mozlog structured log, fanned out to any number of sinks.
//!
//! The pieces, in the order a run goes through them:
//! [`cli`] parses the command line; [`cargo`] builds the tests and learns the
//! workspace; [`plan`] decides how to start each test binary and discovers
//! its tests; [`runner`] runs them and [`translate`] turns libtest's events
//! ([`libtest`]) into mozlog entries ([`model`]); [`sink`] writes every entry
//! to every output format.

pub mod cargo;
pub mod cli;
pub mod doccache;
pub mod error;
pub mod expectations;
pub mod flags;
mod json;
pub mod libtest;
pub mod memory;
pub mod model;
pub mod partition;
pub mod plan;
pub mod progress;
pub mod replay;
pub mod run;
pub mod runner;
pub mod sink;
pub mod summary;
pub mod text;
pub mod translate;
pub mod unlock;
pub mod unstable;
pub mod witness;

use clap::Parser;

/// The program: parses the command line, runs, and returns the exit status.
pub fn main() -> i32 {
    // Cargo runs us as RUSTDOC while listing doctests.
    if let Some(real) = std::env::var_os(cargo::RUSTDOC_WRAPPER_ENV) {
        return cargo::rustdoc_wrapper(real);
    }
    let cli::Cargo::Structlog(args) = cli::Cargo::parse();
    let result = match args.command {
        None => run::run(args.run),
        Some(cli::Command::Run(run)) => run::run(*run),
        Some(cli::Command::Format(args)) => replay::format(args),
        Some(cli::Command::Merge(args)) => replay::merge(args),
        Some(cli::Command::Unstable(args)) => unstable::unstable(args),
        Some(cli::Command::Expectations(args)) => expectations::command(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
