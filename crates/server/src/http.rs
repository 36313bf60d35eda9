//! The small HTTP/1.1 server behind the metrics endpoint and the AdminServer: one request per
//! connection, answered and closed. Both ports may be reachable by strangers, so nothing a peer
//! sends decides how much is allocated or how long a connection is held: the request head is
//! capped at [`MAX_REQUEST_HEAD_BYTES`], each connection has a deadline for the whole exchange,
//! and a connection beyond the listener's bound is closed at once.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head (request line and headers) read; a longer one is answered 431.
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 512;
/// Deadline for a whole request head to arrive, whatever the listener's exchange timeout: a
/// client that connects and dribbles (or says nothing) gives its slot back this soon, so a
/// handful of idle sockets cannot keep probes and scrapers out for long.
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What one listener allows.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Names the listener in log lines.
    pub label: &'static str,
    /// Connections served at once; one beyond it is closed at once.
    pub max_connections: usize,
    /// Deadline for reading the request, answering it and writing the answer.
    pub exchange_timeout: Duration,
}

/// A request, as far as these endpoints care: its method and the path of its target (the
/// query string dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
}

/// An answer: status, content type (none for an empty body) and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: Some(content_type),
            body: body.into(),
        }
    }

    /// A status with an empty body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            body: Vec::new(),
        }
    }

    /// The bytes on the wire; a HEAD request gets the head only.
    fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        if let Some(content_type) = self.content_type {
            out.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Serves `listener` until the process ends, answering each request with `handler`.
pub async fn serve<H, F>(listener: TcpListener, limits: HttpLimits, handler: H)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    // An accept error (EMFILE) would repeat at once: wait, longer each time, instead.
    let mut backoff = crate::accept_backoff::AcceptBackoff::new(limits.label);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.succeeded();
                stream
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(limits.exchange_timeout, exchange(stream, handler)).await;
            drop(slot);
        });
    }
}

/// Reads one request, answers it and closes.
async fn exchange<H, F>(mut stream: TcpStream, handler: H)
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let Ok(head) = tokio::time::timeout(HEAD_READ_TIMEOUT, read_request(&mut stream)).await else {
        return;
    };
    let (response, head_only) = match head {
        Ok(request) => {
            let head_only = request.method == "HEAD";
            (handler(request).await, head_only)
        }
        Err(HeadError::Closed) => return,
        Err(HeadError::TooLarge) => (Response::empty(431), false),
        Err(HeadError::Malformed) => (Response::empty(400), false),
    };
    let _ = stream.write_all(&response.encode(head_only)).await;
    let _ = stream.shutdown().await;
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// The peer closed (or the socket failed) before a whole head arrived.
    Closed,
    /// No end of head within [`MAX_REQUEST_HEAD_BYTES`].
    TooLarge,
    /// Not an HTTP/1.x request line.
    Malformed,
}

/// Reads up to the end of the request head, never holding more than
/// [`MAX_REQUEST_HEAD_BYTES`] plus one read.
async fn read_request(stream: &mut TcpStream) -> Result<Request, HeadError> {
    let mut head = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    loop {
        let searched_from = head.len().saturating_sub(3);
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(HeadError::Closed),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = find_head_end(&head[searched_from..]) {
            return parse_request_line(&head[..searched_from + end]);
        }
        if head.len() >= MAX_REQUEST_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// `METHOD target HTTP/1.x` from the head's first line.
fn parse_request_line(head: &[u8]) -> Result<Request, HeadError> {
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| HeadError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase());
    if !token(method) || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed);
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_parsed_and_junk_refused() {
        let req = parse_request_line(b"GET /commands/ruok?x=1 HTTP/1.1\r\nHost: a").unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/commands/ruok");
        for junk in [
            &b"GET /x"[..],
            b"get /x HTTP/1.1",
            b"GET x HTTP/1.1",
            b"GET /x SPDY/3",
            b"GET /x HTTP/1.1 extra",
            b"\xff\xfe /x HTTP/1.1",
            b"",
        ] {
            assert_eq!(parse_request_line(junk), Err(HeadError::Malformed));
        }
    }

    #[test]
    fn head_answers_carry_no_body() {
        let r = Response::new(200, "application/json", "{}");
        let full = String::from_utf8(r.encode(false)).unwrap();
        assert!(full.starts_with("HTTP/1.1 200 OK\r\n") && full.ends_with("\r\n\r\n{}"));
        let head = String::from_utf8(r.encode(true)).unwrap();
        assert!(head.contains("Content-Length: 2\r\n") && head.ends_with("\r\n\r\n"));
    }
}
