//! Links between simulated servers, as the real transport makes them: one TCP connection per
//! pair, so the server's own frames arrive in order and are lost only with their connection.
//! Zab's messages may in addition be lost, duplicated or reordered (Zab tolerates all of it).
//! A partition is silent: frames stall (TCP keeps retransmitting them), and after `syncLimit`
//! ticks of silence both ends drop the link, losing what stalled, and are told their peer
//! disconnected; a partition that heals sooner delivers what stalled, in order.

use std::collections::VecDeque;

use server_core::peers::codec::PeerFrame;

use super::options::Micros;

/// The links of an ensemble of `n` servers, per directed pair `from * n + to`.
#[derive(Debug)]
pub struct Links {
    n: usize,
    /// The link's connection: frames sent on an older one are lost.
    generation: Vec<u64>,
    /// The earliest arrival of the next in-order frame.
    fifo: Vec<Micros>,
    /// Partitioned: frames stall.
    blocked: Vec<bool>,
    /// Frames that arrived at a partitioned link, with the connection they were sent on.
    stalled: Vec<VecDeque<(u64, PeerFrame)>>,
    /// Bumped at every partition and heal (a heal scheduled for an older one is void).
    pub partition_generation: u64,
}

impl Links {
    pub fn new(n: usize) -> Links {
        Links {
            n,
            generation: vec![0; n * n],
            fifo: vec![0; n * n],
            blocked: vec![false; n * n],
            stalled: (0..n * n).map(|_| VecDeque::new()).collect(),
            partition_generation: 0,
        }
    }

    fn at(&self, from: usize, to: usize) -> usize {
        from * self.n + to
    }

    pub fn generation(&self, from: usize, to: usize) -> u64 {
        self.generation[self.at(from, to)]
    }

    pub fn blocked(&self, from: usize, to: usize) -> bool {
        self.blocked[self.at(from, to)]
    }

    /// When a frame sent now arrives: after `delay`, and after the previous in-order frame
    /// unless `may_overtake`.
    pub fn arrival(
        &mut self,
        from: usize,
        to: usize,
        now: Micros,
        delay: Micros,
        may_overtake: bool,
    ) -> Micros {
        let i = self.at(from, to);
        let at = now + delay;
        if may_overtake {
            return at;
        }
        let at = at.max(self.fifo[i]);
        self.fifo[i] = at;
        at
    }

    /// The connection between `a` and `b` breaks (both directions): what stalled is lost.
    pub fn break_link(&mut self, a: usize, b: usize) {
        let (ab, ba) = (self.at(a, b), self.at(b, a));
        self.generation[ab] += 1;
        self.generation[ba] += 1;
        self.stalled[ab].clear();
        self.stalled[ba].clear();
    }

    /// A frame reached a partitioned link: it waits for the heal (or the break).
    pub fn stall(&mut self, from: usize, to: usize, generation: u64, frame: PeerFrame) {
        let i = self.at(from, to);
        self.stalled[i].push_back((generation, frame));
    }

    /// What stalled on every link, per (from, to), taken for delivery.
    pub fn take_stalled(&mut self) -> Vec<(usize, usize, u64, PeerFrame)> {
        let mut out = Vec::new();
        for from in 0..self.n {
            for to in 0..self.n {
                let i = self.at(from, to);
                out.extend(self.stalled[i].drain(..).map(|(g, f)| (from, to, g, f)));
            }
        }
        out
    }

    pub fn block(&mut self, from: usize, to: usize) {
        let i = self.at(from, to);
        self.blocked[i] = true;
    }

    /// Whether anything is partitioned.
    pub fn any_blocked(&self) -> bool {
        self.blocked.iter().any(|&b| b)
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = false);
        self.partition_generation += 1;
    }

    /// The pairs cut in at least one direction.
    pub fn cut_pairs(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for a in 0..self.n {
            for b in a + 1..self.n {
                if self.blocked(a, b) || self.blocked(b, a) {
                    out.push((a, b));
                }
            }
        }
        out
    }
}
