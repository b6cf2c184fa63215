//! `eventlens completions SHELL` and `eventlens man`, generated from the same clap definition
//! the command line parses with, as the packaged completions and man page are.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

fn run(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).output().expect("eventlens runs");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("text")
}

#[test]
fn completions_know_every_subcommand_in_each_shell() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("complete -F _eventlens"), "{bash}");
    for subcommand in
        ["demo", "record", "open", "import", "slice", "graph", "journeys", "findings", "completions", "man"]
    {
        assert!(bash.contains(subcommand), "bash completions lack {subcommand}");
    }
    assert!(bash.contains("--fail-on"), "options are completed too");
    assert!(run(&["completions", "zsh"]).starts_with("#compdef eventlens"));
    assert!(run(&["completions", "fish"]).contains("complete -c eventlens"));
    assert!(run(&["completions", "powershell"]).contains("Register-ArgumentCompleter"));
    let refused = Command::new(BIN).args(["completions", "tcsh"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("possible values"), "the shells are listed");
}

#[test]
fn the_man_page_is_roff_with_the_commands() {
    let page = run(&["man"]);
    assert!(page.starts_with(".ie") || page.contains(".TH eventlens"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH eventlens"));
    assert!(page.contains("findings"), "subcommands are listed");
    assert!(page.contains("\\-\\-otlp\\-grpc") || page.contains("otlp-grpc"), "options are documented");
}
