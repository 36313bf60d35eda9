//! One server process: spawned into its own process group with its output appended to its log,
//! so that a terminal's Ctrl-C reaches the launcher (which decides) rather than every server.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

/// A server's process, if started, and whether it is stopped by SIGSTOP.
#[derive(Debug, Default)]
pub(crate) struct Process {
    child: Option<Child>,
    paused: bool,
    /// How the last child ended, once reaped (so it is reported once, and kept for later).
    exited: Option<ExitStatus>,
}

impl Process {
    /// Starts `binary server --config config args...`, appending its stdout and stderr to `log`.
    pub(crate) fn spawn(
        &mut self,
        binary: &Path,
        config: &Path,
        args: &[OsString],
        log: &Path,
    ) -> std::io::Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(binary)
            .arg("server")
            .arg("--config")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()?;
        self.child = Some(child);
        self.paused = false;
        self.exited = None;
        Ok(())
    }

    /// Alive (possibly paused): started and not seen to exit.
    pub(crate) fn running(&mut self) -> bool {
        self.reap();
        self.child.is_some()
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, if it exited by itself (not killed by [`Process::kill`]).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.reap();
        self.exited
    }

    fn reap(&mut self) {
        if let Some(child) = &mut self.child {
            if let Ok(Some(status)) = child.try_wait() {
                self.exited = Some(status);
                self.child = None;
                self.paused = false;
            }
        }
    }

    /// SIGKILL and reap: no chance to flush or clean up, as in a power cut of the process.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
        self.exited = None;
    }

    /// SIGSTOP (`stop`) or SIGCONT: the process keeps its sockets but does nothing, as a
    /// machine stalled in a long GC pause or swapped out.
    pub(crate) fn signal_stop(&mut self, stop: bool) {
        if let Some(child) = &self.child {
            let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) on a child this launcher started and has not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, sig);
            }
            self.paused = stop;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
