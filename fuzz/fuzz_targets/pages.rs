#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| defender_soak::targets::pages(data));
