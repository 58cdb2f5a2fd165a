/*
 * A library preloaded into test processes (LD_PRELOAD) so that libtest, and
 * rustdoc, accept `-Zunstable-options` on a stable toolchain without
 * RUSTC_BOOTSTRAP in the environment that the tests and their children see.
 *
 * libtest asks `getenv("RUSTC_BOOTSTRAP")` once, while it parses its
 * options; any value unlocks the unstable options. Setting the variable in
 * the environment would hand it to everything a test starts: a nested
 * `cargo build` (trybuild, tests that build fixtures) then sees it, and
 * build scripts that watch it (proc-macro2's) change their fingerprints, so
 * the whole proc-macro chain is rebuilt, then rebuilt again by the next
 * plain `cargo test`.
 *
 * Instead this library answers that one question from inside the process:
 * its `getenv` returns "1" for RUSTC_BOOTSTRAP when the variable is unset.
 * Its constructor, which runs before `main`, removes every trace of itself
 * from the environment (LD_PRELOAD is put back as it was, its own settings
 * removed), so that `std::env::vars()` and every child process see exactly
 * the environment `cargo test` gives.
 *
 * rustup's proxies (a `rustdoc` on the PATH that is rustup) leave every
 * setting to the tool they run.
 *
 * Settings, read once by the constructor:
 *   CARGO_STRUCTLOG_UNLOCK=once    answer the first question only (libtest)
 *   CARGO_STRUCTLOG_UNLOCK=always  answer every question (rustdoc)
 *   CARGO_STRUCTLOG_UNLOCK=doctests
 *                                  rustdoc merging doctests: answer every
 *                                  question, and stay in the environment of
 *                                  the processes rustdoc starts, as
 *                                  `doctest-child`
 *   CARGO_STRUCTLOG_UNLOCK=doctest-child
 *                                  a process rustdoc started: the runner of
 *                                  merged doctests (RUSTDOC_DOCTEST_BIN_PATH
 *                                  is set) answers once, for its libtest;
 *                                  rustc, which rustdoc hands its
 *                                  -Zunstable-options, answers once, for
 *                                  that option (a doctest's `#![feature]`
 *                                  is then refused as on stable); anything
 *                                  else (a doctest) answers nothing. Each
 *                                  removes every trace of the library, so
 *                                  the doctests see the environment
 *                                  `cargo test` gives.
 *   CARGO_STRUCTLOG_LD_PRELOAD     the LD_PRELOAD to restore; unset when
 *                                  there was none
 *
 * getenv is written here over `environ` rather than handed on with
 * dlsym(RTLD_NEXT): it may be called before this library's constructor, and
 * dlsym may itself ask for variables.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* 0: answer nothing; 1: answer once; 2: answer always. */
static volatile int mode;

static char *lookup(const char *name) {
    size_t len;
    char **e;
    if (name == NULL || environ == NULL) {
        return NULL;
    }
    len = strlen(name);
    if (len == 0 || strchr(name, '=') != NULL) {
        return NULL;
    }
    for (e = environ; *e != NULL; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
            return *e + len + 1;
        }
    }
    return NULL;
}

char *getenv(const char *name) {
    char *value = lookup(name);
    if (value == NULL && mode != 0 && strcmp(name, "RUSTC_BOOTSTRAP") == 0) {
        if (mode == 1) {
            mode = 0;
        }
        return (char *)"1";
    }
    return value;
}

/* Whether this process runs the executable `name` (its file name). */
static int running(const char *name) {
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    const char *base;
    if (n <= 0) {
        return 0;
    }
    path[n] = '\0';
    base = strrchr(path, '/');
    base = base == NULL ? path : base + 1;
    return strcmp(base, name) == 0;
}

__attribute__((constructor)) static void cargo_structlog_unlock(void) {
    const char *m = lookup("CARGO_STRUCTLOG_UNLOCK");
    const char *saved = lookup("CARGO_STRUCTLOG_LD_PRELOAD");
    if (m != NULL && running("rustup")) {
        /* rustup's proxy (`rustdoc` on the PATH): the tool it runs is the
         * one the settings are for. */
        return;
    }
    if (m != NULL && strcmp(m, "doctests") == 0) {
        /* rustdoc: its children get the library, in their own mode. */
        mode = 2;
        setenv("CARGO_STRUCTLOG_UNLOCK", "doctest-child", 1);
        return;
    }
    if (m != NULL && strcmp(m, "doctest-child") == 0) {
        if (lookup("RUSTDOC_DOCTEST_BIN_PATH") != NULL || running("rustc")) {
            mode = 1;
        } else {
            mode = 0;
        }
    } else if (m != NULL) {
        mode = strcmp(m, "always") == 0 ? 2 : 1;
    }
    if (saved != NULL) {
        setenv("LD_PRELOAD", saved, 1);
        unsetenv("CARGO_STRUCTLOG_LD_PRELOAD");
    } else {
        unsetenv("LD_PRELOAD");
    }
    unsetenv("CARGO_STRUCTLOG_UNLOCK");
}
