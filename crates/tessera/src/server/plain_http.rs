//! Plain HTTP sent to the TLS port (issue 14): the first byte of a
//! connection tells a TLS ClientHello (a handshake record, 0x16) from an
//! HTTP request (a method's letter). Such a client reads a 400 naming the
//! `https://` URL to use, as nginx's 497 does, instead of TLS alert bytes
//! that curl reports as `Received HTTP/0.9 when not allowed`.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The most of the request head read to find its `Host`.
const HEAD_LIMIT: usize = 8 * 1024;
/// How long the rest of a request (a body being sent) is read and dropped
/// after the answer, so that closing does not reset the answer away.
const LINGER: Duration = Duration::from_secs(1);
/// The most of it read and dropped.
const LINGER_BYTES: usize = 256 * 1024;

/// The connection's first byte, without taking it: `None` when the client
/// closed (or reset) before sending any.
pub async fn first_byte(tcp: &TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// Whether `byte` begins an HTTP request (every method starts with a
/// letter) rather than a TLS record.
pub fn is_plain_http(byte: u8) -> bool {
    byte.is_ascii_alphabetic()
}

/// Reads the request head until `deadline` (the header read timeout from
/// accept), answers 400 with the URL to use, and closes; the whole within
/// `deadline` plus `send` plus [`LINGER`].
pub async fn answer(mut tcp: TcpStream, deadline: Instant, send: Duration) {
    let mut head = Vec::with_capacity(1024);
    let _ = tokio::time::timeout_at(deadline, async {
        let mut buf = [0u8; 1024];
        while head.len() < HEAD_LIMIT && !ends_head(&head) {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            }
        }
    })
    .await;
    let local = tcp.local_addr().ok().map(|a| a.to_string());
    let url = https_url(&head, local.as_deref().unwrap_or("HOST:PORT"));
    let body = format!("this port speaks HTTPS; use {url}\n");
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         x-content-type-options: nosniff\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let written = tokio::time::timeout(send, async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while drained < LINGER_BYTES {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

fn ends_head(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// `https://HOST/PATH` for the request in `head`: its `Host` header (else
/// `local`, the address it reached) and its path, each only when it is
/// plainly a host or a path, so nothing odd is echoed back.
fn https_url(head: &[u8], local: &str) -> String {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .filter(|p| p.starts_with('/') && p.len() <= 256 && p.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("/");
    let host = lines
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case("host").then(|| value.trim())
        })
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 260
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    let host = match host {
        // A Host without a port came to the default port 80 by some
        // forwarding; the TLS port is the one this connection reached.
        Some(h) if !has_port(h) => match local.rsplit_once(':') {
            Some((_, port)) if port != "443" => format!("{h}:{port}"),
            _ => h.to_owned(),
        },
        Some(h) => h.to_owned(),
        None => local.to_owned(),
    };
    format!("https://{host}{path}")
}

/// Whether `host` (`name`, `name:port`, `[v6]` or `[v6]:port`) names a port.
fn has_port(host: &str) -> bool {
    match host.rfind(']') {
        Some(end) => host.get(end + 1..).is_some_and(|rest| rest.starts_with(':')),
        None => host.contains(':'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_comes_from_host_and_path_when_they_are_plain() {
        let url = |head: &str| https_url(head.as_bytes(), "127.0.0.1:8443");
        assert_eq!(
            url("GET /healthz HTTP/1.1\r\nHost: a.example:8443\r\n\r\n"),
            "https://a.example:8443/healthz"
        );
        assert_eq!(
            url("GET /x HTTP/1.1\r\nhost: a.example\r\n\r\n"),
            "https://a.example:8443/x"
        );
        assert_eq!(url("GET / HTTP/1.1\r\nHost: [::1]:9\r\n\r\n"), "https://[::1]:9/");
        assert_eq!(
            url("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"),
            "https://[::1]:8443/"
        );
        assert_eq!(
            url("GET /a HTTP/1.1\r\nHost: <script>\r\n\r\n"),
            "https://127.0.0.1:8443/a"
        );
        assert_eq!(url("GET http://x/ HTTP/1.1\r\n\r\n"), "https://127.0.0.1:8443/");
        assert_eq!(
            url("GET /healthz HTTP/1.1\r\nHo"),
            "https://127.0.0.1:8443/healthz"
        );
        assert_eq!(
            https_url(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "10.0.0.1:443"),
            "https://h/"
        );
    }
}
