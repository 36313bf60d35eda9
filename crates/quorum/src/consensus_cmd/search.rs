//! `quorum consensus search`: the exhaustive model checker of consensus::model.

use consensus::model::{check, render, Config, Object};
use consensus::protocols;

#[derive(Clone, Copy, clap::ValueEnum)]
enum ObjectArg {
    /// Unconditional put/get/delete: every candidate protocol gets a counterexample.
    Kv,
    /// A conditional write (compare-and-swap, ZooKeeper's create): proved for all schedules.
    Cas,
}

#[derive(clap::Args)]
pub struct Args {
    /// The shared object the protocols use.
    #[arg(long, value_enum)]
    object: ObjectArg,
    /// Number of processes (2 to 4).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    processes: u8,
    /// Steps a process may take without deciding before it counts as not wait-free.
    #[arg(long, default_value_t = 8)]
    step_bound: u8,
}

pub fn run(args: Args) -> Result<(), String> {
    let n = args.processes as usize;
    let object = match args.object {
        ObjectArg::Kv => Object::Kv,
        ObjectArg::Cas => Object::Cas,
    };
    let mut config = Config::new(object, n);
    config.step_bound = args.step_bound;
    let proposals: Vec<String> = (0..n).map(|i| format!("P{i} proposes {}", i + 1)).collect();
    let losses = match config.lost_replies {
        0 => String::new(),
        k => format!(", and up to {k} lost replies per process"),
    };
    println!(
        "object {}, {n} processes ({}); every interleaving and crash point{losses}; \
         a process must decide within {} of its own steps",
        object.name(),
        proposals.join(", "),
        config.step_bound
    );
    println!();
    let (library, contrast) = match object {
        Object::Kv => (protocols::kv_library(), Vec::new()),
        Object::Cas => (protocols::cas_library(), protocols::cas_broken()),
    };
    let mut broken = 0;
    for p in &library {
        let report = check(*p, config);
        broken += usize::from(report.counterexample.is_some());
        println!("{}", render(*p, &report));
    }
    if !contrast.is_empty() {
        println!("for contrast, a conditional-write protocol that takes a lost reply for a win:");
        println!();
        for p in &contrast {
            println!("{}", render(*p, &check(*p, config)));
        }
    }
    match object {
        Object::Kv => println!(
            "{broken} of {} put/get/delete protocols broken (Herlihy 1991: read/write registers \
             have consensus number 1, so no such protocol is wait-free for 2 processes)",
            library.len()
        ),
        Object::Cas => println!(
            "{} of {} conditional-write protocols broken",
            broken,
            library.len()
        ),
    }
    Ok(())
}
