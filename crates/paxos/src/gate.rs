//! The persistence rule: no answer leaves before the state it reveals is durable.
//!
//! An acceptor's promise is a promise about its future: "I will refuse every ballot below b".
//! If it answered before the promise was on disk and then crashed, it would restart having
//! promised nothing and could accept what it had promised to refuse — two proposers could then
//! both see a quorum. So every write gets a sequence number, every output produced after a
//! write waits behind it, and outputs leave in order once the driver reports the write durable.
//! Outputs that follow no pending write leave at once.

use std::collections::VecDeque;

/// Outputs held until the writes before them are durable.
#[derive(Debug)]
pub struct Gate<T> {
    /// The last write issued (0: none yet in this incarnation).
    written: u64,
    /// The last write the driver reported durable.
    durable: u64,
    held: VecDeque<(u64, T)>,
}

impl<T> Default for Gate<T> {
    fn default() -> Self {
        Gate {
            written: 0,
            durable: 0,
            held: VecDeque::new(),
        }
    }
}

impl<T> Gate<T> {
    /// Issues a write; returns its sequence number.
    pub fn write(&mut self) -> u64 {
        self.written += 1;
        self.written
    }

    /// An output: released now if every write issued so far is durable, else held.
    pub fn push(&mut self, item: T, out: &mut Vec<T>) {
        if self.durable >= self.written {
            out.push(item);
        } else {
            self.held.push_back((self.written, item));
        }
    }

    /// The driver reports writes up to `upto` durable: releases what waited on them, in order.
    pub fn durable(&mut self, upto: u64, out: &mut Vec<T>) {
        self.durable = self.durable.max(upto.min(self.written));
        while let Some((seq, _)) = self.held.front() {
            if *seq > self.durable {
                break;
            }
            out.push(self.held.pop_front().unwrap().1);
        }
    }

    /// Outputs still waiting for a write.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_durable_in_order() {
        let mut g = Gate::default();
        let mut out = Vec::new();
        g.push(1, &mut out);
        assert_eq!(out, vec![1]);
        g.write();
        g.push(2, &mut out);
        g.write();
        g.push(3, &mut out);
        assert_eq!(out, vec![1]);
        g.durable(1, &mut out);
        assert_eq!(out, vec![1, 2]);
        g.durable(2, &mut out);
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(g.held(), 0);
    }
}
