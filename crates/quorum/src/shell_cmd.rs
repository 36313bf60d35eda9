//! `quorum shell`: a zkCli-like shell for people, and for scripts.
//!
//! It talks to the server through the `zookeeper-client` crate (via the `client` crate), so it
//! exercises the same wire protocol any ZooKeeper client does and works against Apache
//! ZooKeeper too. Output follows zkCli's wording, so people and scripts that know zkCli read it
//! without surprises.
//!
//! Two modes:
//! - interactive (stdin is a terminal, no `-c`): line editing, history saved in the user's home,
//!   tab completion of commands and of znode paths (the server is asked for the children of the
//!   typed prefix), and watch events printed as they fire, above the prompt;
//! - script (`-c COMMAND`, or commands on a non-terminal stdin): every command runs in order, a
//!   failing one prints its error on stderr and the rest still run, and the exit status is
//!   non-zero if any failed — so a script can check for failure without parsing output.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use client::zk;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, ExternalPrinter, Helper};

/// Arguments of `quorum shell`.
#[derive(clap::Args)]
pub struct Args {
    /// Servers to connect to: host:port[,host:port…], optionally followed by a /chroot.
    #[arg(long, default_value = "127.0.0.1:2181")]
    server: String,
    /// Run this command and exit instead of starting an interactive session. May be repeated;
    /// a value may also hold several commands, one per line.
    #[arg(short = 'c', long = "command", value_name = "COMMAND")]
    commands: Vec<String>,
    /// Seconds to wait for a session before giving up.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// The commands, with their usage; `help` prints this and completion offers the names.
const COMMANDS: &[(&str, &str)] = &[
    ("ls", "ls [-R] [-s] path"),
    ("get", "get [-s] path"),
    (
        "set",
        "set [-s] path data [version]   (or: set [-v version] path data)",
    ),
    ("create", "create [-e] [-s] [-c] path [data]"),
    (
        "delete",
        "delete path [version]   (or: delete [-v version] path)",
    ),
    ("deleteall", "deleteall path"),
    ("stat", "stat path"),
    (
        "watch",
        "watch [-c] path   (prints the event when it fires; -c: the children)",
    ),
    ("sync", "sync path"),
    ("help", "help"),
    ("quit", "quit"),
];

/// A watch waiting to fire, resolved to the text zkCli prints for its event.
type PendingWatch = Pin<Box<dyn std::future::Future<Output = String> + Send>>;

pub fn run(args: Args) -> Result<(), String> {
    let interactive = args.commands.is_empty() && std::io::stdin().is_terminal();
    // The client crate logs session changes at info level; in a shell they would interleave
    // with the output people and scripts read. Keep them out unless RUST_LOG asks for them.
    let quiet = std::env::var_os("RUST_LOG").is_none();
    let _quiet_main = quiet
        .then(|| tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default()));
    // One worker thread is plenty for one session; it keeps the session alive (pings) while
    // the main thread waits for the user at the prompt.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            if quiet {
                // The guard must live as long as the thread; the thread ends with the runtime.
                std::mem::forget(tracing::subscriber::set_default(
                    tracing::subscriber::NoSubscriber::default(),
                ));
            }
        })
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let zk = runtime
        .block_on(client::connect(&args.server, timeout))
        .map_err(|e| format!("cannot connect to {}: {e}", args.server))?;
    let mut shell = Shell {
        zk,
        server: args.server.clone(),
        interactive,
        pending: FuturesUnordered::new(),
        printer: None,
    };
    if interactive {
        shell.interactive(&runtime)
    } else {
        let lines: Vec<String> = if args.commands.is_empty() {
            std::io::stdin()
                .lock()
                .lines()
                .collect::<Result<_, _>>()
                .map_err(|e| format!("cannot read commands from stdin: {e}"))?
        } else {
            args.commands
                .iter()
                .flat_map(|c| c.lines().map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        shell.script(&runtime, &lines)
    }
}

/// What a command asks of the loop after it ran.
enum Next {
    Continue,
    Quit,
}

struct Shell {
    zk: zk::Client,
    server: String,
    interactive: bool,
    /// Script mode: watches registered and not fired yet. They are polled after every command;
    /// the client delivers a watch event before the reply to the request that follows it, so a
    /// watch fired by a script's own `set` prints right after that `set`, in a stable order.
    pending: FuturesUnordered<PendingWatch>,
    /// Interactive mode: prints fired watches above the prompt while the user types.
    printer: Option<std::sync::Arc<std::sync::Mutex<dyn ExternalPrinter + Send>>>,
}

impl Shell {
    fn script(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        lines: &[String],
    ) -> Result<(), String> {
        let mut failed = 0;
        let mut ran = 0;
        for line in lines {
            let words = match split_words(line) {
                Ok(words) if words.is_empty() => continue,
                Ok(words) => words,
                Err(e) => {
                    ran += 1;
                    failed += 1;
                    eprintln!("{e}");
                    continue;
                }
            };
            ran += 1;
            let (next, ok) = runtime.block_on(self.execute(&words));
            if !ok {
                failed += 1;
            }
            self.print_fired_watches();
            if let Next::Quit = next {
                break;
            }
        }
        let _ = std::io::stdout().flush();
        if failed > 0 {
            Err(format!("{failed} of {ran} commands failed"))
        } else {
            Ok(())
        }
    }

    /// Prints (script mode) the watches that have fired by now, without waiting for others.
    fn print_fired_watches(&mut self) {
        while let Some(Some(text)) = self.pending.next().now_or_never() {
            print!("{text}");
        }
    }

    fn interactive(&mut self, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
        let config = rustyline::Config::builder()
            .auto_add_history(true)
            // Like bash: a Tab completes the common prefix, a second one lists the choices.
            .completion_type(rustyline::CompletionType::List)
            .max_history_size(1000)
            .map_err(|e| format!("line editor: {e}"))?
            .build();
        let mut editor: Editor<PathHelper, DefaultHistory> =
            Editor::with_config(config).map_err(|e| format!("line editor: {e}"))?;
        editor.set_helper(Some(PathHelper {
            zk: self.zk.clone(),
            runtime: runtime.handle().clone(),
        }));
        if let Ok(printer) = editor.create_external_printer() {
            self.printer = Some(std::sync::Arc::new(std::sync::Mutex::new(printer)));
        }
        let history = history_path();
        if let Some(path) = &history {
            // A first run has no history yet; that is not worth a message.
            let _ = editor.load_history(path);
        }
        println!(
            "Connected to {} (session 0x{:x}). Type help for the commands.",
            self.server,
            self.zk.session_id().0
        );
        let mut count = 0;
        loop {
            let prompt = format!(
                "[quorum: {}({}) {count}] ",
                self.server,
                state_name(self.zk.state())
            );
            match editor.readline(&prompt) {
                Ok(line) => {
                    count += 1;
                    let words = match split_words(&line) {
                        Ok(words) => words,
                        Err(e) => {
                            eprintln!("{e}");
                            continue;
                        }
                    };
                    if words.is_empty() {
                        continue;
                    }
                    let (next, _) = runtime.block_on(self.execute(&words));
                    if let Next::Quit = next {
                        break;
                    }
                }
                // Ctrl-C drops the line being typed, as in a shell.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(format!("reading the command line: {e}")),
            }
        }
        if let Some(path) = &history {
            if let Err(e) = editor.save_history(path) {
                eprintln!("cannot save the history to {}: {e}", path.display());
            }
        }
        Ok(())
    }

    /// Runs one command, printing its output on stdout and its error on stderr. Returns what
    /// to do next and whether the command succeeded.
    async fn execute(&mut self, words: &[String]) -> (Next, bool) {
        let (name, rest) = (words[0].as_str(), &words[1..]);
        let result = match name {
            "quit" | "exit" => return (Next::Quit, true),
            "help" => {
                print!("{}", help_text());
                Ok(())
            }
            "ls" => self.ls(rest).await,
            "get" => self.get(rest).await,
            "set" => self.set(rest).await,
            "create" => self.create(rest).await,
            "delete" => self.delete(rest).await,
            "deleteall" => self.delete_all(rest).await,
            "stat" => self.stat(rest).await,
            "watch" => self.watch(rest).await,
            "sync" => self.sync(rest).await,
            _ => Err(format!(
                "Unknown command: {name} (type help for the commands)"
            )),
        };
        let _ = std::io::stdout().flush();
        match result {
            Ok(()) => (Next::Continue, true),
            Err(message) => {
                eprintln!("{message}");
                (Next::Continue, false)
            }
        }
    }

    async fn ls(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &['R', 's'], &[])?;
        let [path] = args.as_slice() else {
            return usage("ls");
        };
        if flags.has('R') {
            let nodes = client::list_recursive(&self.zk, path)
                .await
                .map_err(|e| client::describe_error(&e, path))?;
            for node in nodes {
                println!("{node}");
            }
            return Ok(());
        }
        let (mut children, stat) = self
            .zk
            .get_children(path)
            .await
            .map_err(|e| client::describe_error(&e, path))?;
        children.sort();
        println!("[{}]", children.join(", "));
        if flags.has('s') {
            print!("{}", client::format_stat(&stat));
        }
        Ok(())
    }

    async fn get(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &['s'], &[])?;
        let [path] = args.as_slice() else {
            return usage("get");
        };
        let (data, stat) = self
            .zk
            .get_data(path)
            .await
            .map_err(|e| client::describe_error(&e, path))?;
        println!("{}", String::from_utf8_lossy(&data));
        if flags.has('s') {
            print!("{}", client::format_stat(&stat));
        }
        Ok(())
    }

    async fn set(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &['s'], &['v'])?;
        let (path, data, version) = match args.as_slice() {
            [path, data] => (path, data, flags.value('v')),
            [path, data, version] if flags.value('v').is_none() => {
                (path, data, Some(version.as_str()))
            }
            _ => return usage("set"),
        };
        let version = parse_version(version)?;
        let stat = self
            .zk
            .set_data(path, data.as_bytes(), version)
            .await
            .map_err(|e| client::describe_error(&e, path))?;
        if flags.has('s') {
            print!("{}", client::format_stat(&stat));
        }
        Ok(())
    }

    async fn create(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &['e', 's', 'c'], &[])?;
        let (path, data) = match args.as_slice() {
            [path] => (path, ""),
            [path, data] => (path, data.as_str()),
            _ => return usage("create"),
        };
        let mode = match (flags.has('e'), flags.has('s'), flags.has('c')) {
            (false, false, false) => zk::CreateMode::Persistent,
            (false, true, false) => zk::CreateMode::PersistentSequential,
            (true, false, false) => zk::CreateMode::Ephemeral,
            (true, true, false) => zk::CreateMode::EphemeralSequential,
            (false, false, true) => zk::CreateMode::Container,
            _ => return Err("create: -c cannot be combined with -e or -s".into()),
        };
        let options = mode.with_acls(zk::Acls::anyone_all());
        let (_, sequence) = self
            .zk
            .create(path, data.as_bytes(), &options)
            .await
            .map_err(|e| client::describe_error(&e, path))?;
        if flags.has('s') {
            println!("Created {path}{sequence}");
        } else {
            println!("Created {path}");
        }
        Ok(())
    }

    async fn delete(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &[], &['v'])?;
        let (path, version) = match args.as_slice() {
            [path] => (path, flags.value('v')),
            [path, version] if flags.value('v').is_none() => (path, Some(version.as_str())),
            _ => return usage("delete"),
        };
        let version = parse_version(version)?;
        self.zk
            .delete(path, version)
            .await
            .map_err(|e| client::describe_error(&e, path))
    }

    async fn delete_all(&mut self, words: &[String]) -> Result<(), String> {
        let [path] = words else {
            return usage("deleteall");
        };
        client::delete_all(&self.zk, path)
            .await
            .map(|_| ())
            .map_err(|e| client::describe_error(&e, path))
    }

    async fn stat(&mut self, words: &[String]) -> Result<(), String> {
        let [path] = words else {
            return usage("stat");
        };
        let stat = self
            .zk
            .check_stat(path)
            .await
            .map_err(|e| client::describe_error(&e, path))?
            .ok_or_else(|| client::describe_error(&zk::Error::NoNode, path))?;
        print!("{}", client::format_stat(&stat));
        Ok(())
    }

    async fn watch(&mut self, words: &[String]) -> Result<(), String> {
        let (flags, args) = split_flags(words, &['c'], &[])?;
        let [path] = args.as_slice() else {
            return usage("watch");
        };
        let watcher = if flags.has('c') {
            let (_, _, watcher) = self
                .zk
                .get_and_watch_children(path)
                .await
                .map_err(|e| client::describe_error(&e, path))?;
            watcher
        } else {
            // exists watches a missing node too: it fires when the node is created.
            let (_, watcher) = self
                .zk
                .check_and_watch_stat(path)
                .await
                .map_err(|e| client::describe_error(&e, path))?;
            watcher
        };
        let fired = async move { event_text(&watcher.changed().await) };
        match &self.printer {
            Some(printer) if self.interactive => {
                let printer = printer.clone();
                println!("Watching {path}");
                tokio::spawn(async move {
                    let text = fired.await;
                    if let Ok(mut printer) = printer.lock() {
                        let _ = printer.print(text);
                    }
                });
            }
            _ => self.pending.push(Box::pin(fired)),
        }
        Ok(())
    }

    async fn sync(&mut self, words: &[String]) -> Result<(), String> {
        let [path] = words else {
            return usage("sync");
        };
        self.zk
            .sync(path)
            .await
            .map_err(|e| client::describe_error(&e, path))?;
        println!("Sync is OK");
        Ok(())
    }
}

/// A fired watch as zkCli prints it.
fn event_text(event: &zk::WatchedEvent) -> String {
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{:?} type:{:?} path:{}\n",
        event.session_state, event.event_type, event.path
    )
}

fn state_name(state: zk::SessionState) -> &'static str {
    match state {
        zk::SessionState::SyncConnected => "CONNECTED",
        zk::SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
        zk::SessionState::Disconnected => "CONNECTING",
        zk::SessionState::Expired => "EXPIRED",
        zk::SessionState::AuthFailed => "AUTH_FAILED",
        _ => "CLOSED",
    }
}

fn help_text() -> String {
    let mut text = String::from("Commands:\n");
    for (_, usage) in COMMANDS {
        text.push('\t');
        text.push_str(usage);
        text.push('\n');
    }
    text
}

fn usage(command: &str) -> Result<(), String> {
    let usage = COMMANDS
        .iter()
        .find(|(name, _)| *name == command)
        .map(|(_, usage)| *usage)
        .unwrap_or(command);
    Err(format!("usage: {usage}"))
}

fn parse_version(version: Option<&str>) -> Result<Option<i32>, String> {
    version
        .map(|v| {
            v.parse::<i32>()
                .map_err(|_| format!("version is not a number: {v}"))
        })
        .transpose()
}

/// Where the history lives: `~/.quorum_shell_history`, like zkCli's `~/.zookeeper` history.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".quorum_shell_history"))
}

/// The flags of one command: letters that stand alone and letters that take a value.
struct Flags {
    set: Vec<char>,
    values: Vec<(char, String)>,
}

impl Flags {
    fn has(&self, flag: char) -> bool {
        self.set.contains(&flag)
    }

    fn value(&self, flag: char) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `-e -s` / `-es` style flags from the positional arguments. Flags come before the
/// path (as in zkCli); after the first positional argument everything is positional, so data
/// such as `-1` or `--x` is taken as it is.
fn split_flags(
    words: &[String],
    switches: &[char],
    with_value: &[char],
) -> Result<(Flags, Vec<String>), String> {
    let mut flags = Flags {
        set: Vec::new(),
        values: Vec::new(),
    };
    let mut words = words.iter();
    let mut args = Vec::new();
    while let Some(word) = words.next() {
        let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) else {
            args.push(word.clone());
            args.extend(words.cloned());
            break;
        };
        for letter in letters.chars() {
            if switches.contains(&letter) {
                flags.set.push(letter);
            } else if with_value.contains(&letter) {
                let value = words
                    .next()
                    .ok_or_else(|| format!("option -{letter} needs a value"))?;
                flags.values.push((letter, value.clone()));
            } else {
                return Err(format!("unknown option: -{letter}"));
            }
        }
    }
    Ok((flags, args))
}

/// Splits a command line into words: blanks separate them, single or double quotes keep
/// blanks inside one word (`set /a "hello world"`), a backslash escapes the next character,
/// and a line starting with `#` is a comment (for scripts).
fn split_words(line: &str) -> Result<Vec<String>, String> {
    if line.trim_start().starts_with('#') {
        return Ok(Vec::new());
    }
    let mut words = Vec::new();
    let mut chars = line.chars().collect::<VecDeque<_>>();
    let mut current: Option<String> = None;
    while let Some(c) = chars.pop_front() {
        match c {
            c if c.is_whitespace() => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '\'' | '"' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.pop_front() {
                        None => return Err(format!("unclosed quote {c} in: {line}")),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => {
                            if let Some(escaped) = chars.pop_front() {
                                word.push(escaped);
                            }
                        }
                        Some(other) => word.push(other),
                    }
                }
            }
            '\\' => {
                let word = current.get_or_insert_with(String::new);
                if let Some(escaped) = chars.pop_front() {
                    word.push(escaped);
                }
            }
            other => current.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(current);
    Ok(words)
}

/// Line-editor helper: completes command names, then znode paths by asking the server for the
/// children of the typed parent.
struct PathHelper {
    zk: zk::Client,
    runtime: tokio::runtime::Handle,
}

impl Completer for PathHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before
            .rfind(char::is_whitespace)
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[start..];
        if start == 0 {
            let names = COMMANDS
                .iter()
                .map(|(name, _)| name.to_string())
                .filter(|name| name.starts_with(word))
                .collect();
            return Ok((0, names));
        }
        let Some(slash) = word.rfind('/') else {
            return Ok((pos, Vec::new()));
        };
        let (parent, prefix) = (
            if slash == 0 { "/" } else { &word[..slash] },
            &word[slash + 1..],
        );
        // The completer runs on the main thread, outside the runtime, so it may block on it;
        // a slow server must not freeze the prompt for long.
        // The timer must be made inside the runtime, hence the async block.
        let listing = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), self.zk.list_children(parent)).await
        });
        let Ok(Ok(mut children)) = listing else {
            return Ok((pos, Vec::new()));
        };
        children.retain(|c| c.starts_with(prefix));
        children.sort();
        let candidates = children
            .into_iter()
            .map(|c| client::child_path(parent, &c))
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for PathHelper {
    type Hint = String;
}

impl Highlighter for PathHelper {}

impl Validator for PathHelper {}

impl Helper for PathHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn words_split_on_blanks_and_keep_quoted_text() {
        assert_eq!(words("  set /a  hi "), ["set", "/a", "hi"]);
        assert_eq!(
            words(r#"set /a "hello world" 3"#),
            ["set", "/a", "hello world", "3"]
        );
        assert_eq!(words("create /b 'x y'"), ["create", "/b", "x y"]);
        assert_eq!(words(r"create /c a\ b"), ["create", "/c", "a b"]);
        assert_eq!(words(r#"create /d """#), ["create", "/d", ""]);
        assert!(words("# a comment").is_empty());
        assert!(split_words("get \"/x").is_err());
    }

    #[test]
    fn flags_come_before_the_path() {
        let args: Vec<String> = ["-es", "/a", "-1"].iter().map(|s| s.to_string()).collect();
        let (flags, rest) = split_flags(&args, &['e', 's', 'c'], &[]).unwrap();
        assert!(flags.has('e') && flags.has('s') && !flags.has('c'));
        assert_eq!(rest, ["/a", "-1"]);
        let args: Vec<String> = ["-v", "3", "/a"].iter().map(|s| s.to_string()).collect();
        let (flags, rest) = split_flags(&args, &[], &['v']).unwrap();
        assert_eq!(flags.value('v'), Some("3"));
        assert_eq!(rest, ["/a"]);
        assert!(split_flags(&["-x".to_string()], &['R'], &[]).is_err());
    }
}
