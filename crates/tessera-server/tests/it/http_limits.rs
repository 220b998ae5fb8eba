//! `[http]` of API.md §1 over raw sockets: half-sent heads and bodies are cut off, idle
//! keep-alive connections are closed, and a connection cap makes slow clients wait their turn
//! instead of exhausting the server.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until EOF or `limit`; returns what came and whether the server closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_half_sent_head_is_cut_off_after_the_header_timeout() {
    let srv = start("[http]\nheader_timeout = \"1s\"").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "the connection stayed open with half a head");
    assert!(got.is_empty(), "nothing to answer: {got}");
    // A connection that sends nothing at all owes a head just the same.
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection stayed open");
}

#[tokio::test]
async fn a_half_sent_body_is_answered_408() {
    let srv = start("[http]\nrequest_timeout = \"1s\"").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (got, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("application/problem+json"), "{got}");
    assert!(got.contains("\"request_timeout\""), "{got}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let srv = start("[http]\nidle_timeout = \"1s\"").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "an idle keep-alive connection stayed open");
}

#[tokio::test]
async fn a_busy_keep_alive_connection_is_not_cut() {
    // Requests one after another on one connection, each within the idle and header bounds:
    // served, all of them.
    let srv = start("[http]\nidle_timeout = \"1s\"\nheader_timeout = \"1s\"").await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test]
async fn slow_clients_over_the_cap_wait_their_turn_instead_of_starving_the_server() {
    let srv = start("[http]\nmax_connections = 2\nheader_timeout = \"2s\"").await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = srv.client.clone();
    let url = srv.url("/healthz");
    let legit = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    // The cap holds: while both slots are taken, the third connection is not served...
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!legit.is_finished(), "served beyond max_connections");
    // ...and once the header timeout has cut the slow ones, it is.
    let status = tokio::time::timeout(Duration::from_secs(10), legit)
        .await
        .expect("the legitimate request waited forever")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    for mut s in slow {
        let (_, closed) = read_until_closed(&mut s, Duration::from_secs(1)).await;
        assert!(closed);
    }
}

/// A connection that asks for many answers and never reads one, with a tiny receive buffer:
/// the server's writes stall at once.
async fn never_reading(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let one = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(one.repeat(200).as_bytes()).await.unwrap();
    s
}

#[tokio::test]
async fn a_client_that_never_reads_loses_its_connection_after_the_request_timeout() {
    // Every slot taken by clients that never read: before the fix they held them for good
    // (hyper finishes the answer it is writing, even in a graceful shutdown), and /healthz
    // waited forever. The idle timeout is long, so only the stalled-write bound can free them.
    let srv = start(
        "[http]\nmax_connections = 3\nrequest_timeout = \"1s\"\nidle_timeout = \"1h\"\nheader_timeout = \"1h\"",
    )
    .await;
    let mut hogs = Vec::new();
    for _ in 0..3 {
        hogs.push(never_reading(srv.addr, "/tessera.js").await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = srv.client.clone();
    let url = srv.url("/healthz");
    let started = Instant::now();
    let legit = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    let status = tokio::time::timeout(Duration::from_secs(15), legit)
        .await
        .expect("a client that never reads kept its connection past the request timeout")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    eprintln!("/healthz answered after {:?}", started.elapsed());
    for mut s in hogs {
        // What the kernel buffered, then the end: the server has let go.
        let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
        assert!(
            closed,
            "the connection of a client that never reads is still open"
        );
    }
}
