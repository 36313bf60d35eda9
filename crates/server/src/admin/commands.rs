//! The commands the AdminServer answers, under ZooKeeper 3.8's names and aliases.

use std::fmt::Write as _;

use crate::core::Detail;

/// One command: its name (what ZooKeeper puts in the `command` key), the other names it
/// answers to, and how much of the server its answer walks.
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub detail: Detail,
    /// Whether ZooKeeper answers it only while serving (not while looking for a leader).
    pub needs_serving: bool,
}

const fn command(
    name: &'static str,
    aliases: &'static [&'static str],
    detail: Detail,
    needs_serving: bool,
) -> Command {
    Command {
        name,
        aliases,
        detail,
        needs_serving,
    }
}

/// Every command answered, in the order of ZooKeeper's list (alphabetical).
pub const COMMANDS: &[Command] = &[
    command("configuration", &["conf", "config"], Detail::Counters, true),
    command("connections", &["cons"], Detail::Connections, true),
    command("environment", &["env", "envi"], Detail::Counters, false),
    command("is_read_only", &["isro"], Detail::Counters, true),
    command("leader", &["lead"], Detail::Counters, true),
    command("monitor", &["mntr"], Detail::Counters, false),
    command("ruok", &[], Detail::Counters, true),
    command("server_stats", &["srvr"], Detail::Counters, true),
    command("stats", &["stat"], Detail::Connections, true),
    command("voting_view", &[], Detail::Counters, true),
    command("watch_summary", &["wchs"], Detail::Counters, true),
];

/// The command called `name` (names and aliases are case-sensitive, as ZooKeeper's).
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// ZooKeeper's answer at the command URL itself: one link per command.
pub fn listing(base: &str) -> String {
    let mut out = String::new();
    for c in COMMANDS {
        let _ = write!(out, "<a href=\"{base}/{0}\">{0}</a>\n<br/>\n", c.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_found() {
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a name is used twice");
        assert_eq!(lookup("srvr").unwrap().name, "server_stats");
        assert_eq!(lookup("stat").unwrap().name, "stats");
        assert_eq!(lookup("mntr").unwrap().name, "monitor");
        assert!(lookup("RUOK").is_none() && lookup("").is_none());
        assert!(listing("/commands").contains("<a href=\"/commands/ruok\">ruok</a>"));
    }
}
