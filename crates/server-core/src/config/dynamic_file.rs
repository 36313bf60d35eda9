//! The dynamic configuration file (`dynamicConfigFile=` in zoo.cfg), read at start and written
//! after a reconfiguration, as ZooKeeper 3.8 does:
//!
//! - the file holds only `server.N` lines; its version is the hexadecimal suffix of its name
//!   (`zoo.cfg.dynamic.100000000`), and a `version=` line inside is an error (ZooKeeper: "dynamic
//!   file shouldn't have version inside"); a name without the suffix means version 0;
//! - a new configuration is written to `<zoo.cfg>.dynamic.<hex version>` beside zoo.cfg, and
//!   zoo.cfg is rewritten to name it (its `server.N` lines dropped, the other lines kept).
//!
//! Every write is atomic and durable (temporary file, fsync, rename, fsync of the directory),
//! so a crash leaves the old file or the new one, never a mix. Reads are bounded: the files are
//! small, and a huge one is an error rather than an allocation.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::dynamic::DynamicConfig;

/// Largest zoo.cfg or dynamic file read (1 MiB: about ten thousand server lines).
pub const MAX_CONFIG_FILE_BYTES: u64 = 1 << 20;

/// What ZooKeeper puts between the static file's name and the version.
const DYNAMIC_SUFFIX: &str = ".dynamic.";

/// Reads a text file of at most [`MAX_CONFIG_FILE_BYTES`].
pub fn read_bounded(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(format!(
            "{shown}: larger than {MAX_CONFIG_FILE_BYTES} bytes: not a configuration file"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown}: not UTF-8 text"))
}

/// The version a dynamic file's name gives: the hexadecimal after `.dynamic.`, else 0.
pub fn version_from_file_name(path: &Path) -> u64 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.rsplit_once(DYNAMIC_SUFFIX)
        .and_then(|(_, hex)| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}

/// Reads a dynamic file: its server lines, at the version its name gives.
pub fn read(path: &Path) -> Result<DynamicConfig, String> {
    let text = read_bounded(path)?;
    let shown = path.display();
    let mut config = DynamicConfig::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    if has_version_line(&text) {
        return Err(format!(
            "{shown}: a dynamic file holds no version= line (its name gives the version)"
        ));
    }
    if config.servers.is_empty() {
        return Err(format!("{shown}: no server.N line"));
    }
    config.version = version_from_file_name(path);
    Ok(config)
}

fn has_version_line(text: &str) -> bool {
    text.lines().any(|l| {
        l.split_once('=')
            .is_some_and(|(k, _)| k.trim() == "version")
    })
}

/// The body of a dynamic file as ZooKeeper writes it: the server lines joined by `\n`,
/// without the version (the name carries it) and without a final newline.
pub fn dynamic_file_text(config: &DynamicConfig) -> String {
    let mut text = String::new();
    config.render_servers(&mut text);
    text.pop();
    text
}

/// The path of the dynamic file for `config` beside `static_file`:
/// `<static_file>.dynamic.<hex version>`.
pub fn dynamic_file_path(static_file: &Path, version: u64) -> PathBuf {
    let mut name = static_file.as_os_str().to_owned();
    name.push(format!("{DYNAMIC_SUFFIX}{version:x}"));
    PathBuf::from(name)
}

/// After a reconfiguration: writes `config` to a new dynamic file beside `static_file` and
/// rewrites `static_file` to name it, as ZooKeeper does. The dynamic file is durable before
/// zoo.cfg names it, so a crash in between leaves zoo.cfg naming the previous, whole file.
/// Returns the new file's path.
pub fn write_new_config(static_file: &Path, config: &DynamicConfig) -> Result<PathBuf, String> {
    let dynamic = dynamic_file_path(static_file, config.version);
    write_atomically(&dynamic, dynamic_file_text(config).as_bytes())?;
    let old = read_bounded(static_file)?;
    let new = static_text_naming(&old, &dynamic);
    write_atomically(static_file, new.as_bytes())?;
    Ok(dynamic)
}

/// zoo.cfg's text with its `server.N`, `version` and `dynamicConfigFile` lines dropped and
/// `dynamicConfigFile=<dynamic>` appended; comments and the other keys stay as they were.
pub fn static_text_naming(old: &str, dynamic: &Path) -> String {
    let mut out = String::with_capacity(old.len() + 64);
    for line in old.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        let dropped = key.is_some_and(|k| {
            k.starts_with("server.") || k == "dynamicConfigFile" || k == "version"
        });
        if !dropped {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    out
}

/// Replaces `path` with `bytes`: a temporary file in the same directory, fsync, rename over
/// `path`, fsync of the directory so the rename itself survives a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{shown}: not a file name"))?;
    let mut tmp_name = name.to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{shown}: cannot write: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const LINES: &str = "server.1=a:2888:3888:participant\nserver.2=b:2888:3888:participant;localhost:2181\nserver.3=c:2888:3888:observer";

    #[test]
    fn the_version_comes_from_the_name() {
        assert_eq!(
            version_from_file_name(Path::new("/x/zoo.cfg.dynamic.100000000")),
            1 << 32
        );
        assert_eq!(version_from_file_name(Path::new("zoo.cfg.dynamic.5")), 5);
        assert_eq!(version_from_file_name(Path::new("servers.dyn")), 0);
        assert_eq!(version_from_file_name(Path::new("zoo.cfg.dynamic.xyz")), 0);
    }

    #[test]
    fn a_written_config_reads_back_and_zoo_cfg_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        let static_text = "# mine\ntickTime=2000\nserver.1=a:1:2\ndataDir=/d\nversion=3\n";
        std::fs::write(&cfg, static_text).unwrap();
        let config = DynamicConfig::parse(&format!("{LINES}\nversion=100000002")).unwrap();
        let written = write_new_config(&cfg, &config).unwrap();
        assert_eq!(written, dir.path().join("zoo.cfg.dynamic.100000002"));
        assert_eq!(std::fs::read_to_string(&written).unwrap(), LINES);
        assert_eq!(read(&written).unwrap(), config);
        let rewritten = std::fs::read_to_string(&cfg).unwrap();
        assert_eq!(
            rewritten,
            format!(
                "# mine\ntickTime=2000\ndataDir=/d\ndynamicConfigFile={}\n",
                written.display()
            )
        );
        // Written again (the next reconfiguration): one dynamicConfigFile line, the new one.
        let next = DynamicConfig {
            version: 0x100000009,
            ..config
        };
        let written2 = write_new_config(&cfg, &next).unwrap();
        let rewritten = std::fs::read_to_string(&cfg).unwrap();
        assert_eq!(rewritten.matches("dynamicConfigFile=").count(), 1);
        assert!(rewritten.ends_with(&format!("={}\n", written2.display())));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
    }

    #[test]
    fn zoo_cfg_with_dynamic_config_file_takes_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("myid"), "2\n").unwrap();
        let dynamic = dir.path().join("zoo.cfg.dynamic.5");
        std::fs::write(&dynamic, LINES).unwrap();
        let cfg = dir.path().join("zoo.cfg");
        let text = format!(
            "dataDir={}\ndynamicConfigFile={}\n",
            data.display(),
            dynamic.display()
        );
        std::fs::write(&cfg, &text).unwrap();
        let config = Config::load(&cfg).unwrap();
        assert_eq!(config.my_id, 2);
        assert_eq!(config.members.len(), 3);
        assert_eq!(config.observer_ids().collect::<Vec<_>>(), [3]);
        let shown = config.dynamic_config().unwrap();
        assert_eq!(shown.render(), format!("{LINES}\nversion=5"));
        assert!(
            config.warnings.is_empty() && config.ignored.is_empty(),
            "{config:?}"
        );

        // server.N in both files: refused, as ZooKeeper refuses it.
        std::fs::write(&cfg, format!("{text}server.1=a:2888:3888\n")).unwrap();
        let err = Config::load(&cfg).unwrap_err().to_string();
        assert!(
            err.contains("both in zoo.cfg and in dynamicConfigFile"),
            "{err}"
        );
    }

    #[test]
    fn without_client_port_the_server_line_gives_the_client_address() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("myid"), "1\n").unwrap();
        let cfg = dir.path().join("zoo.cfg");
        let base = format!(
            "dataDir={}\nserver.1=a:1:2;127.0.0.2:2191\nserver.2=b:1:2\n",
            dir.path().display()
        );
        std::fs::write(&cfg, &base).unwrap();
        let config = Config::load(&cfg).unwrap();
        assert_eq!(config.client_address().to_string(), "127.0.0.2:2191");
        std::fs::write(&cfg, format!("{base}clientPort=2191\n")).unwrap();
        assert_eq!(Config::load(&cfg).unwrap().client_port, 2191);
        std::fs::write(&cfg, format!("{base}clientPort=2181\n")).unwrap();
        let err = Config::load(&cfg).unwrap_err().to_string();
        assert!(err.contains("gives client address 127.0.0.2:2191"), "{err}");
    }

    #[test]
    fn bad_dynamic_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg.dynamic.1");
        for (body, expected) in [
            (format!("{LINES}\nversion=1\n"), "no version= line"),
            (String::new(), "no server.N line"),
            ("server.1=a:1\n".to_string(), "expected host:peerPort"),
            ("clientPort=1\n".to_string(), "unexpected key"),
        ] {
            std::fs::write(&path, body).unwrap();
            let err = read(&path).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        std::fs::write(&path, vec![b'#'; MAX_CONFIG_FILE_BYTES as usize + 1]).unwrap();
        assert!(read(&path).unwrap_err().contains("larger than"));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read(&path).unwrap_err().contains("not UTF-8"));
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
