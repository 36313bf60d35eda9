//! `quorum trace`: tools for simulator traces (the JSON lines `quorum sim --trace` and
//! `quorum dev --simulate --trace` write; docs/protocol.md "Simulator traces").
//!
//! `quorum trace view TRACE.jsonl --html FILE` writes the trace viewer's page: a message
//! sequence chart of the run (docs/trace-viewer.md).

use std::path::{Path, PathBuf};

use crate::viewer;

/// Subcommands of `quorum trace`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Draw a trace as a message sequence chart in a self-contained HTML page.
    View(ViewArgs),
}

/// Arguments of `quorum trace view`.
#[derive(clap::Args)]
pub struct ViewArgs {
    /// The trace: JSON lines, one event a line.
    trace: PathBuf,
    /// The HTML page to write.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// The page's title (default: the trace's file name).
    #[arg(long)]
    title: Option<String>,
}

pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::View(args) => view(&args),
    }
}

fn view(args: &ViewArgs) -> Result<(), String> {
    let trace = std::fs::read_to_string(&args.trace)
        .map_err(|e| format!("{}: {e}", args.trace.display()))?;
    let stats = Stats::of(&trace).map_err(|e| format!("{}: {e}", args.trace.display()))?;
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| default_title(&args.trace));
    std::fs::write(&args.html, viewer::page(&trace, &title))
        .map_err(|e| format!("{}: {e}", args.html.display()))?;
    println!(
        "{}: {} events, {} messages sent{}; open it in a browser",
        args.html.display(),
        stats.events,
        stats.sends,
        if stats.violations > 0 {
            format!(", {} violation (highlighted)", stats.violations)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn default_title(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "trace".to_string(), |n| n.to_string_lossy().into_owned());
    format!("{name}: trace viewer")
}

/// What a trace holds, counted without parsing it whole (the page parses it).
#[derive(Debug, PartialEq, Eq)]
struct Stats {
    events: usize,
    sends: usize,
    violations: usize,
}

impl Stats {
    /// Counts the events; a line that is not a JSON object with an `ev` is an error, so that a
    /// wrong file is said at once rather than drawn as an empty chart.
    fn of(trace: &str) -> Result<Stats, String> {
        let mut stats = Stats {
            events: 0,
            sends: 0,
            violations: 0,
        };
        for (i, line) in trace.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if !(line.starts_with('{') && line.ends_with('}') && line.contains("\"ev\":")) {
                return Err(format!(
                    "line {}: not a trace event (a JSON object with \"ev\")",
                    i + 1
                ));
            }
            stats.events += 1;
            if line.contains("\"ev\":\"send\"") {
                stats.sends += 1;
            }
            if line.contains("\"ev\":\"violation\"") {
                stats.violations += 1;
            }
        }
        if stats.events == 0 {
            return Err("no events".into());
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_sends_and_violations() {
        let trace = "{\"t\":0,\"ev\":\"send\",\"from\":1,\"to\":2,\"type\":\"P1a\"}\n\n\
                     {\"t\":3,\"ev\":\"recv\",\"from\":1,\"to\":2,\"type\":\"P1a\"}\n\
                     {\"t\":4,\"ev\":\"violation\",\"invariant\":\"agreement\",\"detail\":\"x\"}\n";
        assert_eq!(
            Stats::of(trace),
            Ok(Stats {
                events: 3,
                sends: 1,
                violations: 1
            })
        );
    }

    #[test]
    fn a_file_that_is_not_a_trace_is_refused() {
        assert!(Stats::of("").is_err());
        assert!(Stats::of("hello\n").unwrap_err().starts_with("line 1"));
        assert!(Stats::of("{\"t\":1}\n").is_err());
    }
}
