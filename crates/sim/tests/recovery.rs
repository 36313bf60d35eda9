//! Recovery after a partition heals, in ticks: a follower cut off for a short, a long and a
//! very long time (200 ticks: 40 s at a 200 ms tick) must be back in broadcast, under the one
//! leader, within a few ticks of the heal. The simulator runs the Zab core with the transport's
//! silence timeout modelled (a link silent for syncLimit ticks is reported down).

use sim::{Isolation, Options, World};

/// Most ticks from the heal until one leader leads and everyone follows it in broadcast.
const BOUND_TICKS: f64 = 6.0;

/// A quiet ensemble (no drawn faults) in which one follower is isolated for `ticks` ticks, on
/// a network and disks fast next to a tick (as a LAN and an SSD are next to tickTime): a
/// message takes at most a fifth of a tick, an fsync at most half. (With the slowest drawn
/// latencies, 1.2 ticks a message and 6 an fsync, the ~8 messages and 2 fsyncs of a rejoin
/// take longer, as they would on a real network that slow.) Log reads neither fail nor lag.
fn isolation(servers: usize, seed: u64, ticks: u64) -> Options {
    let mut opts = Options::from_seed(servers, seed);
    opts.delay_max = 2;
    opts.fsync_max = 5;
    opts.drop_rate = 0.0;
    opts.duplicate_rate = 0.0;
    opts.reorder = false;
    opts.crashes = false;
    opts.partitions = false;
    opts.compaction = false;
    opts.crash_mid_install = false;
    opts.crash_mid_epoch_write = false;
    opts.clock_drift_permille = 0;
    opts.log_read_faults = false;
    opts.isolation = Some(Isolation { at_tick: 40, ticks });
    opts.fault_ticks = 40 + ticks + 60;
    opts
}

#[test]
fn an_isolated_follower_is_back_in_broadcast_within_six_ticks_of_the_heal() {
    let mut worst: Vec<(u64, f64)> = Vec::new();
    for ticks in [5, 20, 40, 200] {
        let mut max = 0.0f64;
        for seed in 0..50 {
            for servers in [3, 5] {
                let (report, _) = World::new(isolation(servers, seed, ticks), None).run();
                assert!(report.violation.is_none(), "{report:?}");
                assert_eq!(report.recoveries, 1, "seed {seed}: {report:?}");
                max = max.max(report.recovery_ticks_max());
            }
        }
        worst.push((ticks, max));
    }
    println!("isolated ticks -> worst ticks to recover: {worst:?}");
    for (ticks, max) in worst {
        assert!(
            max <= BOUND_TICKS,
            "after {ticks} ticks isolated, recovery took {max} ticks"
        );
    }
}
