//! The tool's end-to-end tests, in one binary: each module runs the real
//! tool (or its library) on the fixture workspaces under `fixtures/` and
//! checks what it wrote, with the real consumers where there are some
//! (mozlog, xmllint, junitparser, Chromium; see `common`).

mod archive;
mod common;
mod desk;
mod destinations;
mod expectations;
mod fixture_run;
mod hardening;
mod html_report;
mod layout;
mod logs;
mod partition;
mod platform;
mod real_suites;
mod run_control;
mod selection;
mod sinks;
mod xunit;
