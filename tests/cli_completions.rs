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

/// The file commands' help lists only what they use: the receiver, Kafka, timeline and
/// recording options every subcommand accepts are hidden there, and still shown where they
/// matter.
#[test]
fn file_commands_do_not_list_the_options_they_ignore() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eventlens")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let live = ["--otlp-grpc", "--kafka", "--timeline-spans", "--record-max-size", "--memory-budget", "--redact"];
    for command in ["graph", "journeys", "slice", "import", "findings", "completions", "man"] {
        let text = help(&[command, "--help"]);
        for option in live {
            assert!(!text.contains(option), "`{command} --help` lists {option}:\n{text}");
        }
    }
    let findings = help(&["findings", "--help"]);
    for option in ["--dedup-field", "--key-field", "--order-field", "--event-type-field", "--fail-on"] {
        assert!(findings.contains(option), "`findings --help` lacks {option}");
    }
    for command in ["demo", "gui", "record"] {
        let text = help(&[command, "--help"]);
        for option in live {
            assert!(text.contains(option), "`{command} --help` lacks {option}");
        }
    }
}
