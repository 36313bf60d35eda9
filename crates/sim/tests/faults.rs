//! The fault generator does what each fault's name says, and its counts say what the faults
//! did: every kind happens in a short sweep; in traces, a partition always cuts a link, a
//! bridge server talks to both sides, "crash the leader" and "isolate the leader" strike a
//! server that leads, and crashes strike servers that are up.

use std::sync::{Arc, Mutex};

use sim::sweep::sweep;
use sim::trace::Tracer;
use sim::{Options, World};

#[test]
fn every_fault_kind_happens() {
    let summary = sweep(3, 0, 300, None, 1);
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let f = &summary.faults;
    println!("{f}");
    assert!(f.crash > 0 && f.crash_leader > 0 && f.power_loss > 0, "{f}");
    assert!(f.power_loss_servers >= f.power_loss, "{f}");
    assert!(
        f.split > 0 && f.one_way > 0 && f.isolate_leader > 0 && f.bridge > 0,
        "{f}"
    );
    assert!(
        f.links_cut >= f.partitions(),
        "a partition cut nothing: {f}"
    );
    assert!(f.overlapping > 0, "{f}");
    assert!(
        f.install_half_written > 0 && f.install_log_not_reset > 0,
        "{f}"
    );
    assert!(
        f.epoch_write_old_kept > 0 && f.epoch_write_new_kept > 0,
        "{f}"
    );
    assert!(f.drifting_servers > 0 && f.drift_permille_max > 0, "{f}");
}

/// A field of a trace line, naively (the simulator writes no nested strings).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[start..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => &rest[..rest.find([',', '}'])?],
    })
}

fn servers_in(list: &str) -> Vec<usize> {
    list.trim_matches(|c| c == '[' || c == ']' || c == ' ')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

fn trace(servers: usize, seed: u64) -> String {
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let tracer = Tracer::new(Some(Box::new(Shared(buffer.clone()))), 0);
    let (report, _) = World::new(Options::from_seed(servers, seed), Some(tracer)).run();
    assert!(report.violation.is_none(), "seed {seed}: {report:?}");
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn traced_faults_do_what_their_names_say() {
    let mut seen = std::collections::BTreeMap::<String, u64>::new();
    for servers in [3, 5] {
        for seed in 0..40 {
            let text = trace(servers, seed);
            // Per server: up, and its latest phase.
            let mut up = vec![false; servers + 1];
            let mut phase = vec![String::new(); servers + 1];
            for line in text.lines() {
                let ev = field(line, "ev").unwrap();
                let server = || field(line, "server").unwrap().parse::<usize>().unwrap();
                match ev {
                    "restart" => {
                        assert!(
                            !up[server()],
                            "seed {seed}: restart of an up server: {line}"
                        );
                        up[server()] = true;
                    }
                    "crash" => {
                        assert!(up[server()], "seed {seed}: crash of a down server: {line}");
                        up[server()] = false;
                        phase[server()].clear();
                    }
                    "phase" => phase[server()] = field(line, "phase").unwrap().to_string(),
                    "fault" => {
                        let kind = field(line, "kind").unwrap();
                        let detail = field(line, "detail").unwrap();
                        *seen.entry(kind.to_string()).or_default() += 1;
                        let context = format!("seed {seed} on {servers}: {line}");
                        let partition = ["split", "one-way", "isolate-leader", "bridge"];
                        if partition.contains(&kind) {
                            let cut = detail.rsplit(" (").next().unwrap();
                            let links: usize = cut.split(' ').next().unwrap().parse().unwrap();
                            assert!(links > 0, "{context}");
                        }
                        match kind {
                            "crash" | "crash-leader" => {
                                let victim: usize = detail[1..].parse().unwrap();
                                assert!(up[victim], "{context}");
                                if kind == "crash-leader" {
                                    assert!(phase[victim].starts_with("LEADING"), "{context}");
                                }
                            }
                            "isolate-leader" => {
                                let leader: usize = detail
                                    .split("leader s")
                                    .nth(1)
                                    .unwrap()
                                    .split(' ')
                                    .next()
                                    .unwrap()
                                    .parse()
                                    .unwrap();
                                assert!(phase[leader].starts_with("LEADING"), "{context}");
                            }
                            "bridge" => {
                                // "#id [a..] | [b..], bridge sK (n links cut)"
                                let body = detail.split_once(' ').unwrap().1;
                                let (a, rest) = body.split_once(" | ").unwrap();
                                let (b, rest) = rest.split_once(", bridge s").unwrap();
                                let bridge: usize =
                                    rest.split(' ').next().unwrap().parse().unwrap();
                                let (a, b) = (servers_in(a), servers_in(b));
                                assert!(!a.is_empty() && !b.is_empty(), "{context}");
                                assert!(!a.contains(&bridge) && !b.contains(&bridge), "{context}");
                                assert_eq!(a.len() + b.len() + 1, servers, "{context}");
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for kind in [
        "crash",
        "crash-leader",
        "power-loss",
        "split",
        "one-way",
        "isolate-leader",
        "bridge",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {seen:?}"
        );
    }
}
