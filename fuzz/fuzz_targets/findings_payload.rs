#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    eventlens_fuzz::findings_payload(data);
});
