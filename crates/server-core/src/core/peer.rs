//! Frames from the other servers of the ensemble: Zab's messages, and what followers ask of
//! the leader for their clients (writes, new and resumed sessions, syncs, liveness).

use proto::RequestPacket;

use super::Core;
use crate::peers::codec::PeerFrame;
use crate::replica::ReplicaError;
use crate::replica::Storage;

impl<S: Storage> Core<S> {
    pub(super) fn peer_frame(&mut self, from: u64, frame: PeerFrame) -> Result<(), ReplicaError> {
        let leading = self.leading();
        let now = self.now().mono_us;
        match frame {
            PeerFrame::Zab(message) => self.replica.step(zab::Input::Message {
                from: zab::ServerId(from),
                message,
            }),
            PeerFrame::Forward {
                session,
                cxid,
                auth,
                request,
            } if leading => match RequestPacket::decode(&mut &request[..]) {
                Ok(packet) => {
                    self.state_mut().sessions.heard(session, now);
                    self.submit(from, session, cxid, &packet.request, &auth)
                }
                Err(e) => {
                    tracing::warn!(peer = from, error = %e, "a forwarded request does not decode");
                    Ok(())
                }
            },
            PeerFrame::CreateSession {
                session,
                timeout_ms,
            } if leading => {
                let sessions = &mut self.state_mut().sessions;
                sessions.heard(session, now);
                sessions.set_owner(session, from);
                self.create_session(session, timeout_ms)
            }
            PeerFrame::Attach { session } if leading => self.attach_for(from, session),
            PeerFrame::Attached {
                session,
                timeout_ms,
            } => {
                self.attached(session, timeout_ms);
                Ok(())
            }
            PeerFrame::Touch { sessions } if leading => {
                self.state_mut().sessions.heard_known(&sessions, now);
                Ok(())
            }
            PeerFrame::Sync { token } if leading => self.leader_sync(from, token),
            PeerFrame::SyncZxid { token, zxid } => {
                self.local_sync_zxid(token, zxid);
                Ok(())
            }
            PeerFrame::SyncDone { token, zxid } => {
                self.local_sync_confirmed(token, zxid);
                Ok(())
            }
            other => {
                // A request for a leader that this server no longer is: the follower that sent
                // it closes its clients when it notices, and they retry elsewhere.
                tracing::debug!(peer = from, frame = ?other, "ignoring a frame meant for a leader");
                Ok(())
            }
        }
    }
}
