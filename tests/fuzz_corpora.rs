//! The fuzz corpora, replayed without a fuzzer (issue 15): every input under
//! `tests/data/fuzz/<target>/` (seeds, and what fuzzing found worth keeping) and every crash
//! fuzzing found, under `tests/data/fuzz/regressions/<target>-<n>`, runs through the same
//! target body the libFuzzer target runs (`fuzz/src/lib.rs`, included here), so CI re-checks
//! them on stable with plain `cargo test`. See docs/reliability.md, "Fuzzing".

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz")
}

/// The files of a folder, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// The target a regression input is for: its name up to the last `-`.
fn regression_target(path: &Path) -> Option<bodies::Target> {
    let name = path.file_name()?.to_str()?;
    let (target, _n) = name.rsplit_once('-')?;
    bodies::TARGETS.iter().find(|(t, _)| *t == target).map(|(_, run)| *run)
}

/// Runs each input through its target, and lists those that panicked (a panic's message is
/// printed by the panic hook as it happens).
fn replay(inputs: impl IntoIterator<Item = (PathBuf, bodies::Target)>) -> Vec<String> {
    let mut panicked = Vec::new();
    for (path, run) in inputs {
        let bytes = std::fs::read(&path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            panicked.push(path.display().to_string());
        }
    }
    bodies::remove_scratch_file();
    panicked
}

#[test]
fn every_corpus_input_decodes_without_a_panic() {
    let mut replayed = Vec::new();
    for (target, run) in bodies::TARGETS {
        let files = inputs(&fuzz_data().join(target));
        assert!(!files.is_empty(), "no corpus for the fuzz target {target} under tests/data/fuzz/{target}/");
        replayed.extend(files.into_iter().map(|f| (f, *run)));
    }
    let panicked = replay(replayed);
    assert!(panicked.is_empty(), "these corpus inputs panic: {panicked:#?}");
}

#[test]
fn every_crash_fuzzing_found_stays_fixed() {
    let mut replayed = Vec::new();
    for file in inputs(&fuzz_data().join("regressions")) {
        let Some(run) = regression_target(&file) else {
            panic!("{} is not named <target>-<n> after a fuzz target", file.display());
        };
        replayed.push((file, run));
    }
    let panicked = replay(replayed);
    assert!(panicked.is_empty(), "these inputs that once crashed a fuzz target panic again: {panicked:#?}");
}
