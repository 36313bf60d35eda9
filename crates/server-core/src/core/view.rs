//! What the four-letter words and metrics report. Most words need only counters the server
//! keeps as it goes; only `cons`/`stat` (every connection), `wchc`/`wchp` (every watch) and
//! `dump` (every session) walk anything, as ZooKeeper documents for the watch words.

use std::collections::BTreeMap;

use super::Core;
use crate::clients::ConnId;
use crate::clock::Now;
use crate::four_letter_words::{self, ConnectionView, ServerView, SyncCounts};
use crate::replica::Storage;

/// How much of the server a view walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Counters only: constant time (`srvr`, `mntr`, `wchs`, metrics).
    Counters,
    /// Plus every connection (`cons`, `stat`).
    Connections,
    /// Plus every watch (`wchc`, `wchp`).
    Watches,
    /// Plus every session and its ephemerals (`dump`).
    Sessions,
}

impl Detail {
    /// What answering `word` needs.
    pub fn of_word(word: &str) -> Detail {
        match word {
            "cons" | "stat" => Detail::Connections,
            "wchc" | "wchp" => Detail::Watches,
            "dump" => Detail::Sessions,
            _ => Detail::Counters,
        }
    }
}

impl<S: Storage> Core<S> {
    /// Answers a four-letter word.
    pub fn four_letter_word(&mut self, word: &str, now: Now) -> String {
        self.begin(now);
        if !self.config.allows_four_letter_word(word) {
            return four_letter_words::not_allowed(word);
        }
        match word {
            "crst" => {
                for c in self.state_mut().clients.iter_mut() {
                    c.stats = crate::clients::ConnStats {
                        last_op: c.stats.last_op,
                        ..Default::default()
                    };
                }
            }
            "srst" => self.state_mut().clients.stats = Default::default(),
            _ => {}
        }
        let view = self.view(Detail::of_word(word));
        four_letter_words::answer(word, &view)
            .unwrap_or_else(|| format!("{word} is not a known command\n"))
    }

    /// On a leader: its voting followers, or its observers, each with whether it is in sync.
    fn learners(&self, observers: bool) -> Vec<(u64, bool)> {
        let zab = self.replica.peer().config();
        self.replica
            .peer()
            .followers()
            .into_iter()
            .filter(|(id, _)| zab.is_voter(*id) != observers)
            .map(|(id, synced)| (id.0, synced))
            .collect()
    }

    fn mode(&self) -> &'static str {
        match self.replica.phase() {
            zab::Phase::LeadingBroadcast if self.config.is_standalone() => "standalone",
            zab::Phase::LeadingBroadcast => "leader",
            zab::Phase::FollowingBroadcast if self.config.is_observer() => "observer",
            zab::Phase::FollowingBroadcast => "follower",
            // ZooKeeper's ReadOnlyZooKeeperServer names its state so in srvr, stat and mntr.
            _ if self.read_only() => "read-only",
            _ => "looking",
        }
    }

    /// What the four-letter words and metrics report, walking only what `detail` asks for.
    pub fn view(&self, detail: Detail) -> ServerView {
        let state = self.state();
        let peer = self.replica.peer();
        let clients = &state.clients;
        let mut view = ServerView {
            mode: self.mode().to_string(),
            zxid: state.last_zxid(),
            epoch: peer.current_epoch().0,
            node_count: state.tree.node_count(),
            ephemerals_count: state.tree.sessions().ephemerals_count(),
            approximate_data_size: state.tree.approximate_data_size(),
            latency_min_ms: clients.stats.latency.min_ms,
            latency_avg_ms: clients.stats.latency.avg_ms(),
            latency_max_ms: clients.stats.latency.max_ms,
            packets_received: clients.stats.packets_received,
            packets_sent: clients.stats.packets_sent,
            outstanding: state.pending.len() as u64,
            connection_count: clients.len(),
            session_count: state.tree.sessions().len(),
            watch_count: state.watches.count(),
            watched_paths: state.watches.path_count(),
            watching_connections: state.watches.connection_count(),
            outbound_bytes: clients.outbound_bytes_total(),
            requests_in_flight: clients.requests_in_flight_total(),
            config: self.config_lines(),
            membership: self.membership(),
            followers: self.learners(false),
            observers: self.learners(true),
            digest: state.tree.digest(),
            syncs: SyncCounts::of(peer.stats()),
            elections: peer.stats().elections,
            leader: peer.leader().map(|id| id.0),
            read_only: self.read_only(),
            ..ServerView::default()
        };
        if detail != Detail::Counters {
            view.connections = self.connection_views();
        }
        if detail == Detail::Watches {
            self.add_watches(&mut view);
        }
        if detail == Detail::Sessions {
            self.add_sessions(&mut view);
        }
        view
    }

    fn connection_views(&self) -> Vec<ConnectionView> {
        let mut connections: Vec<ConnectionView> = self
            .state()
            .clients
            .iter()
            .map(|c| ConnectionView {
                remote: format!("/{}", c.remote),
                queued: c.queue.len() as u64,
                received: c.stats.received,
                sent: c.stats.sent,
                session_id: c.session_id,
                last_operation: c.stats.last_op.to_string(),
                session_timeout_ms: c.timeout_ms.max(0) as u64,
                last_cxid: c.stats.last_cxid,
                last_zxid: c.last_zxid,
                last_latency_ms: c.stats.latency.last_ms,
                min_latency_ms: c.stats.latency.min_ms,
                avg_latency_ms: c.stats.latency.avg_ms(),
                max_latency_ms: c.stats.latency.max_ms,
            })
            .collect();
        connections.sort_by(|a, b| a.remote.cmp(&b.remote));
        connections
    }

    fn add_watches(&self, view: &mut ServerView) {
        let state = self.state();
        let session_of: BTreeMap<ConnId, i64> =
            state.clients.iter().map(|c| (c.id, c.session_id)).collect();
        let session = |c: &ConnId| session_of.get(c).copied().unwrap_or(0);
        view.watches_by_session = state
            .watches
            .by_connection()
            .into_iter()
            .map(|(c, paths)| (session(&c), paths.into_iter().collect()))
            .collect();
        view.watches_by_path = state
            .watches
            .by_path()
            .into_iter()
            .map(|(p, conns)| (p, conns.iter().map(session).collect()))
            .collect();
    }

    fn add_sessions(&self, view: &mut ServerView) {
        let tree = &self.state().tree;
        view.sessions = tree
            .sessions()
            .iter()
            .map(|(id, t)| (id, t.max(0) as u64))
            .collect();
        view.ephemerals = view
            .sessions
            .iter()
            .map(|(id, _)| (*id, tree.ephemerals(*id)))
            .filter(|(_, paths)| !paths.is_empty())
            .collect();
    }

    fn config_lines(&self) -> Vec<(String, String)> {
        let cfg = &self.config;
        let limits = &cfg.limits;
        let ms = |d: std::time::Duration| d.as_millis().to_string();
        let mut lines = vec![("clientPort".into(), cfg.client_port.to_string())];
        if let Some(port) = cfg.tls.secure_client_port {
            lines.push(("secureClientPort".into(), port.to_string()));
        }
        lines.extend([
            ("dataDir".into(), cfg.data_dir.display().to_string()),
            ("dataLogDir".into(), cfg.data_log_dir.display().to_string()),
            ("tickTime".into(), ms(cfg.tick_time)),
            (
                "maxClientCnxns".into(),
                limits.max_connections_per_ip.to_string(),
            ),
            ("maxCnxns".into(), limits.max_connections.to_string()),
            ("minSessionTimeout".into(), ms(cfg.min_session_timeout)),
            ("maxSessionTimeout".into(), ms(cfg.max_session_timeout)),
            ("serverId".into(), cfg.my_id.to_string()),
            ("initLimit".into(), cfg.init_limit.to_string()),
            ("syncLimit".into(), cfg.sync_limit.to_string()),
        ]);
        let me = cfg.members.iter().find(|m| m.id == cfg.my_id);
        if let Some(me) = me.filter(|_| !cfg.is_standalone()) {
            // ZooKeeper's quorum-peer keys; electionAlg 3 is its only algorithm, peerType
            // its LearnerType (0 participant, 1 observer).
            lines.extend([
                ("electionAlg".into(), "3".into()),
                ("electionPort".into(), me.election_port.to_string()),
                ("quorumPort".into(), me.peer_port.to_string()),
                ("peerType".into(), u8::from(me.observer).to_string()),
            ]);
        }
        lines
    }

    /// What `/zookeeper/config` holds: the text `conf` ends with.
    fn membership(&self) -> Option<String> {
        let node = self.state().tree.node(tree::path::CONFIG)?;
        let text = String::from_utf8_lossy(node.data.as_deref()?).into_owned();
        (!text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `srvr` and every metrics scrape used to list every watch and every connection: 321 ms
    /// per `srvr` with 200,000 watches. Only the words documented as walking something do.
    #[test]
    fn only_the_listing_words_walk_the_server() {
        for word in crate::four_letter_words::WORDS {
            let expected = match word {
                "cons" | "stat" => Detail::Connections,
                "wchc" | "wchp" => Detail::Watches,
                "dump" => Detail::Sessions,
                _ => Detail::Counters,
            };
            assert_eq!(Detail::of_word(word), expected, "{word}");
        }
    }
}
