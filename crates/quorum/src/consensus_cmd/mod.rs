//! `quorum consensus …`: single-decree consensus as a client of the service (docs/consensus.md).

use clap::Subcommand;

mod propose;
mod search;

#[derive(Subcommand)]
pub enum ConsensusCmd {
    /// Propose a value against a live ensemble; prints the decided value as the last line.
    Propose(propose::Args),
    /// Model-check candidate wait-free consensus protocols over a kv store or a CAS object.
    Search(search::Args),
}

pub fn run(cmd: ConsensusCmd) -> Result<(), String> {
    match cmd {
        ConsensusCmd::Propose(args) => propose::run(args),
        ConsensusCmd::Search(args) => search::run(args),
    }
}
