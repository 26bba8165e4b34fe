//! Any bytes as a policy file: parsing, checking and rendering diagnostics
//! must never panic. Run with `cargo fuzz run parse_and_check` (see docs/TESTING.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use whistle_grammar::bundle::{BundleFile, from_files};

fuzz_target!(|data: &[u8]| {
    let b = from_files(vec![BundleFile {
        path: "fuzz.whistle".into(),
        bytes: data.to_vec(),
    }]);
    let c = whistle_engine::compile(&b);
    let _ = whistle_grammar::diag::render(&c.diagnostics, &b.sources, false);
});
