//! The files of an ensemble's folder: zoo.cfg and myid per server, one shared peer secret.

use std::fmt::Write as _;
use std::path::Path;

use crate::plan::Layout;
use crate::spec::EnsembleSpec;
use crate::HOST;

/// Name of the shared secret file in the ensemble's folder.
pub(crate) const SECRET_FILE: &str = "peer.secret";

/// Writes the peer secret (replicated ensembles only) and every server's `sN/zoo.cfg` and
/// `sN/data/myid`. An existing folder is reused: its configs and secret are rewritten, data kept.
pub(crate) fn write_folder(
    dir: &Path,
    spec: &EnsembleSpec,
    layout: &Layout,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let replicated = spec.servers > 1;
    if replicated {
        write_peer_secret(&dir.join(SECRET_FILE))?;
    }
    for i in 1..=spec.servers {
        let server_dir = dir.join(format!("s{i}"));
        let data = server_dir.join("data");
        std::fs::create_dir_all(&data)?;
        if replicated {
            std::fs::write(data.join("myid"), format!("{i}\n"))?;
        }
        std::fs::write(
            server_dir.join("zoo.cfg"),
            server_config(dir, spec, layout, i),
        )?;
    }
    Ok(())
}

/// Server `i`'s zoo.cfg: the defaults every launched server shares, the spec's settings (each
/// replacing a default of its key, else appended), then the `server.N` lines.
fn server_config(dir: &Path, spec: &EnsembleSpec, layout: &Layout, i: usize) -> String {
    let data = dir.join(format!("s{i}")).join("data");
    let mut settings: Vec<(String, String)> = vec![
        ("tickTime".into(), spec.tick_ms.to_string()),
        ("initLimit".into(), "10".into()),
        ("syncLimit".into(), "5".into()),
        ("dataDir".into(), data.display().to_string()),
        ("clientPort".into(), layout.client[i - 1].to_string()),
        ("clientPortAddress".into(), HOST.into()),
        ("4lw.commands.whitelist".into(), "*".into()),
        // ZooKeeper's AdminServer default (on, port 8080) would make the servers of one
        // machine fight over the port: on only when the spec asks (`admin.*` settings).
        ("admin.enableServer".into(), "false".into()),
    ];
    if spec.servers > 1 {
        let secret = dir.join(SECRET_FILE).display().to_string();
        settings.push(("quorum.peerSecretFile".into(), secret));
    }
    for (key, value) in &spec.settings {
        match settings.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => settings.push((key.clone(), value.clone())),
        }
    }
    let mut cfg = String::new();
    for (key, value) in settings {
        let _ = writeln!(cfg, "{key}={value}");
    }
    if spec.servers > 1 {
        for j in 1..=spec.servers {
            let peer = if i == j {
                layout.peer[j - 1]
            } else {
                layout.dialled(i, j)
            };
            let role = if j > spec.servers - spec.observers {
                ":observer"
            } else {
                ""
            };
            let election = layout.election[j - 1];
            let _ = writeln!(cfg, "server.{j}={HOST}:{peer}:{election}{role}");
        }
    }
    cfg
}

/// Writes a fresh random peer secret (64 hex digits), readable by its owner only: every
/// launched ensemble authenticates its peer links.
fn write_peer_secret(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let hex = server_core::peers::PeerSecret::generate_text()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EnsembleSpec, Ports};

    #[test]
    fn settings_replace_defaults_and_links_can_be_routed() {
        let dir = tempfile::tempdir().unwrap();
        let spec = EnsembleSpec::new(3, "quorum")
            .ports(Ports::Fixed {
                client: 2181,
                peer: 12888,
            })
            .set("syncLimit", 3)
            .set("forceSync", "yes");
        let mut plan = spec.plan().unwrap();
        plan.route(1, 2, 40000);
        let layout = plan.layout.clone();
        let cfg = server_config(dir.path(), &plan.spec, &layout, 1);
        assert!(cfg.contains("syncLimit=3\n") && !cfg.contains("syncLimit=5"));
        assert!(cfg.contains("forceSync=yes\n"));
        assert!(cfg.contains("admin.enableServer=false\n"));
        assert!(cfg.contains("clientPort=2181\n"));
        assert!(cfg.contains("server.1=127.0.0.1:12888:12889\n"));
        assert!(cfg.contains("server.2=127.0.0.1:40000:12891\n"));
        assert!(cfg.contains("server.3=127.0.0.1:12892:12893\n"));
        let cfg2 = server_config(dir.path(), &plan.spec, &layout, 2);
        assert!(cfg2.contains("server.2=127.0.0.1:12890:12891\n"));
    }

    #[test]
    fn a_standalone_server_has_no_peers_and_no_secret() {
        let ens = EnsembleSpec::new(1, "quorum").write().unwrap();
        let cfg = std::fs::read_to_string(ens.config_path(1)).unwrap();
        assert!(!cfg.contains("server.") && !cfg.contains("peerSecretFile"));
        assert!(!ens.dir().join(SECRET_FILE).exists());
        assert!(!ens.server_dir(1).join("data/myid").exists());
    }

    #[test]
    fn a_replicated_ensemble_shares_one_private_secret() {
        use std::os::unix::fs::PermissionsExt;
        let ens = EnsembleSpec::new(3, "quorum").write().unwrap();
        let secret = ens.dir().join(SECRET_FILE);
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&secret).unwrap().trim().len(), 64);
        for i in 1..=3 {
            let myid = std::fs::read_to_string(ens.server_dir(i).join("data/myid")).unwrap();
            assert_eq!(myid, format!("{i}\n"));
        }
    }
}
