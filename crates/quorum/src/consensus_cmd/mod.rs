//! `quorum consensus …`: single-decree consensus, in the talk's three forms — Paxos itself (the
//! `paxos` crate, `demo`), a conditional write against a live ensemble (`propose`), and why an
//! object without compare-and-swap cannot do it (`search`). See docs/paxos.md and
//! docs/consensus.md.

use clap::Subcommand;

mod demo;
mod propose;
mod search;
mod svg;

#[derive(Subcommand)]
pub enum ConsensusCmd {
    /// Replay the talk's Paxos story step by step: three processes, ballots 1 and 2, a former
    /// leader whose ballot-1 Accept is refused, the value decided.
    Demo(demo::Args),
    /// Propose a value against a live ensemble; prints the decided value as the last line.
    Propose(propose::Args),
    /// Model-check candidate wait-free consensus protocols over a kv store or a CAS object.
    Search(search::Args),
}

pub fn run(cmd: ConsensusCmd) -> Result<(), String> {
    match cmd {
        ConsensusCmd::Demo(args) => demo::run(args),
        ConsensusCmd::Propose(args) => propose::run(args),
        ConsensusCmd::Search(args) => search::run(args),
    }
}
