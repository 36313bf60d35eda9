//! `quorum consensus`: single-decree consensus (the `paxos` crate) at the command line.

mod demo;
mod svg;

/// The `quorum consensus` subcommands.
#[derive(clap::Subcommand)]
pub enum ConsensusCmd {
    /// Replay the talk's Paxos story step by step: three processes, ballots 1 and 2, a former
    /// leader whose ballot-1 Accept is refused, the value decided.
    Demo(demo::Args),
}

pub fn run(cmd: ConsensusCmd) -> Result<(), String> {
    match cmd {
        ConsensusCmd::Demo(args) => demo::run(args),
    }
}
