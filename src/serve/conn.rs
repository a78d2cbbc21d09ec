//! One client connection: the TLS session over TCP, requests read and answered in turn
//! (keep-alive), every read and write bounded by a deadline so that a slow or silent client
//! only holds its own thread, and only for so long.

use std::cell::Cell;
use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::http::{self, ReadError, Response};
use super::Shared;

/// The time limits of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From a request's first line (or the TLS handshake) to its last body byte.
    pub read: Duration,
    /// To write one answer.
    pub write: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle: Duration,
}

/// A TCP stream whose reads and writes fail once their deadline has passed.
struct Deadlined {
    tcp: TcpStream,
    read_by: Rc<Cell<Instant>>,
    write_by: Rc<Cell<Instant>>,
}

fn remaining(by: Instant) -> io::Result<Duration> {
    let left = by.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
    } else {
        Ok(left)
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp
            .set_read_timeout(Some(remaining(self.read_by.get())?))?;
        self.tcp.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp
            .set_write_timeout(Some(remaining(self.write_by.get())?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Serves one connection until the client closes it, asks to, times out or sends something
/// refused.
pub fn serve(shared: &Shared, config: Arc<ServerConfig>, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let Ok(session) = ServerConnection::new(config) else {
        return;
    };
    let timeouts = shared.timeouts;
    let now = Instant::now();
    let read_by = Rc::new(Cell::new(now + timeouts.read));
    let write_by = Rc::new(Cell::new(now + timeouts.write));
    let socket = Deadlined {
        tcp,
        read_by: Rc::clone(&read_by),
        write_by: Rc::clone(&write_by),
    };
    let mut stream = BufReader::new(StreamOwned::new(session, socket));
    let mut first = true;
    loop {
        if !first {
            read_by.set(Instant::now() + timeouts.idle);
        }
        first = false;
        let started = || read_by.set(Instant::now() + timeouts.read);
        let (response, close) = match http::read_request(&mut stream, shared.max_body, started) {
            Ok(request) => {
                let close = request.close || shared.stopping();
                (super::route(shared, &request), close)
            }
            Err(ReadError::Closed) => return,
            Err(ReadError::Timeout) => {
                shared.metrics.http_error(408);
                (Response::text(408, "request not received in time"), true)
            }
            Err(ReadError::Refused(status, reason)) => {
                shared.metrics.http_error(status);
                (Response::text(status, &reason), true)
            }
        };
        write_by.set(Instant::now() + timeouts.write);
        let written = http::write_response(stream.get_mut(), &response, close);
        if written.is_err() || close {
            let s = stream.get_mut();
            s.conn.send_close_notify();
            let _ = s.flush();
            return;
        }
    }
}
