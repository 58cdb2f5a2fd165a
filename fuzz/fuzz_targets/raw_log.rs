#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cargo_structlog::fuzzing::raw_log(data));
