//! Parsing, checking and compiling a bundle (target 3 of docs/BENCHMARKS.md):
//! a generated bundle of about 5,000 lines (390 categories, 30 departments,
//! 20 tests), split into `whistle_grammar::bundle::from_files` (read and
//! parse every file, hash the bundle, parse `areas.yaml`) and
//! `whistle_engine::compile` (names, checks, lints, compiled policy); and the
//! shipped `policies/wuhou` for comparison.
//!
//! `cargo bench -p whistle-engine --bench compile`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, unreachable_pub)]
#[path = "../../tools/whistle-gen/src/lib.rs"]
mod whistle_gen;

use std::path::Path;
use std::sync::LazyLock;

use divan::{Bencher, black_box};
use whistle_engine::compile;
use whistle_gen::{BundleSpec, synthetic_bundle};
use whistle_grammar::bundle::{Bundle, BundleFile, from_files, read_dir};

/// Categories in the ~5,000-line bundle.
const CATEGORIES: usize = 390;

static BIG: LazyLock<Vec<BundleFile>> = LazyLock::new(|| {
    let s = synthetic_bundle(BundleSpec {
        categories: CATEGORIES,
        departments: 30,
        tests: 20,
        per_file: 25,
        seed: 42,
    });
    eprintln!(
        "generated bundle: {} files, {} lines / {} bytes of .whistle, {} categories",
        s.files.len(),
        s.whistle_lines(),
        s.whistle_bytes(),
        s.categories.len()
    );
    s.files
        .into_iter()
        .map(|(path, text)| BundleFile {
            path,
            bytes: text.into_bytes(),
        })
        .collect()
});

static WUHOU: LazyLock<Vec<BundleFile>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/wuhou");
    read_dir(&dir).expect("policies/wuhou")
});

static BIG_PARSED: LazyLock<Bundle> = LazyLock::new(|| from_files(BIG.clone()));
static WUHOU_PARSED: LazyLock<Bundle> = LazyLock::new(|| from_files(WUHOU.clone()));

fn main() {
    let c = compile(&BIG_PARSED);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert!(c.policy.is_some());
    assert!(!compile(&WUHOU_PARSED).has_errors());
    divan::main();
}

/// Parse only: `from_files` on the ~5,000-line bundle.
#[divan::bench(sample_count = 30)]
fn big_parse(b: Bencher<'_, '_>) {
    b.with_inputs(|| BIG.clone())
        .bench_values(|files| black_box(from_files(files)));
}

/// Check + compile only, on the parsed ~5,000-line bundle.
#[divan::bench(sample_count = 30)]
fn big_compile(b: Bencher<'_, '_>) {
    b.bench(|| black_box(compile(&BIG_PARSED)));
}

/// Parse + check + compile of the ~5,000-line bundle: the target figure.
#[divan::bench(sample_count = 30)]
fn big_parse_and_compile(b: Bencher<'_, '_>) {
    b.with_inputs(|| BIG.clone())
        .bench_values(|files| black_box(compile(&from_files(files))));
}

/// Parse + check + compile of the shipped `policies/wuhou`.
#[divan::bench(sample_count = 30)]
fn wuhou_parse_and_compile(b: Bencher<'_, '_>) {
    b.with_inputs(|| WUHOU.clone())
        .bench_values(|files| black_box(compile(&from_files(files))));
}

/// `whistle fmt` of every file of the ~5,000-line bundle (the formatter
/// parses each file again and lays it out; no target of its own).
#[divan::bench(sample_count = 30)]
fn big_format(b: Bencher<'_, '_>) {
    b.bench(|| {
        for f in BIG.iter() {
            if let Ok(text) = std::str::from_utf8(&f.bytes) {
                black_box(whistle_grammar::fmt::format_source(text).ok());
            }
        }
    });
}
