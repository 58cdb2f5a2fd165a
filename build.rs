//! Builds the library that test processes preload on Linux so that libtest
//! takes `-Zunstable-options` without `RUSTC_BOOTSTRAP` in their environment
//! (see `src/plan/unlock/preload.c`). A machine that cannot build it still builds
//! the tool, which then sets `RUSTC_BOOTSTRAP` in the test processes instead.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=src/plan/unlock/preload.c");
    println!("cargo::rustc-check-cfg=cfg(structlog_preload)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let lib = out.join("unlock.so");
    // cc finds the compiler for the target as cargo's own builds do (CC,
    // CC_<target>, the target's default); rustc links with it already.
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .opt_level(2)
        .warnings(true)
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg("src/plan/unlock/preload.c");
    match cmd.status() {
        Ok(s) if s.success() => println!("cargo::rustc-cfg=structlog_preload"),
        Ok(s) => println!(
            "cargo::warning=the preload library did not build ({s}); test processes will get RUSTC_BOOTSTRAP"
        ),
        Err(e) => println!(
            "cargo::warning=the preload library did not build ({e}); test processes will get RUSTC_BOOTSTRAP"
        ),
    }
}
