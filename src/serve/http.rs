//! The HTTP/1.1 subset an admission webhook needs: one request at a time on a keep-alive
//! connection, bodies sized by `Content-Length`, and answers with a length. Everything else
//! is refused with a status saying why (chunked bodies 411, a bad request line 400, an
//! oversized body 413), never guessed at.

use std::io::{self, BufRead, Write};

/// Longest request line or header line accepted.
const MAX_LINE: usize = 8 << 10;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 100;

/// One request, its body read whole.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The client asked to close the connection after this request.
    pub close: bool,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection (or timed out) before the request started.
    Closed,
    /// The client was too slow: the request did not arrive within its deadline.
    Timeout,
    /// A malformed request: answered with this status and reason, then the connection closes.
    Refused(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadError::Timeout,
            _ => ReadError::Closed,
        }
    }
}

/// Reads one line ending in `\n` (without it and an optional `\r`), at most [`MAX_LINE`] bytes.
fn read_line<R: BufRead>(r: &mut R) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let n = io::Read::take(&mut *r, MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if line.len() > MAX_LINE {
            return Err(ReadError::Refused(431, "header line too long".into()));
        }
        // The connection ended in the middle of a line.
        return Err(ReadError::Closed);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Refused(400, "header is not UTF-8".into()))
}

/// Reads the next request. `started` is called once its first line has arrived (the
/// connection was idle until then); bodies over `max_body` bytes are refused with 413
/// without being read.
pub fn read_request<R: BufRead>(
    r: &mut R,
    max_body: usize,
    started: impl FnOnce(),
) -> Result<Request, ReadError> {
    // Tolerate empty lines before a request line (RFC 9112 §2.2).
    let line = loop {
        match read_line(r)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    started();
    let bad = |why: &str| ReadError::Refused(400, why.to_string());
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ReadError::Refused(
            505,
            format!("unsupported version `{version}`"),
        ));
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut close = version == "HTTP/1.0";
    let mut length: Option<usize> = None;
    let mut content_type = None;
    let mut count = 0;
    loop {
        let Some(header) = read_line(r)? else {
            return Err(ReadError::Closed);
        };
        if header.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(ReadError::Refused(431, "too many header lines".into()));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: usize = value.parse().map_err(|_| bad("invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(bad("conflicting content-length headers"));
                }
                length = Some(n);
            }
            "transfer-encoding" => {
                return Err(ReadError::Refused(
                    411,
                    "a body must be sent with content-length".into(),
                ))
            }
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.split(',').any(|t| t.trim() == "close") {
                    close = true;
                } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                    close = false;
                }
            }
            "content-type" => content_type = Some(value.to_string()),
            _ => {}
        }
    }
    let length = length.unwrap_or(0);
    if length > max_body {
        return Err(ReadError::Refused(
            413,
            format!("request body of {length} bytes exceeds the limit of {max_body} bytes"),
        ));
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok(Request {
        method: method.to_string(),
        path,
        content_type,
        body,
        close,
    })
}

/// The reason phrase of the statuses this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// One answer.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: "application/json",
            body,
        }
    }

    /// A plain-text answer (a line break is added).
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{text}\n").into_bytes(),
        }
    }
}

/// Writes an answer in one buffer (one TLS record where it fits).
pub fn write_response<W: Write>(w: &mut W, response: &Response, close: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(response.body.len() + 160);
    write!(
        out,
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if close { "connection: close\r\n" } else { "" },
    )?;
    out.extend_from_slice(&response.body);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, max: usize) -> Result<Request, ReadError> {
        read_request(&mut io::Cursor::new(text.as_bytes().to_vec()), max, || {})
    }

    #[test]
    fn reads_a_request_with_a_body() {
        let r = read(
            "POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            10,
        )
        .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/validate"));
        assert_eq!(r.body, b"{}");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert!(!r.close);
    }

    #[test]
    fn refuses_what_it_does_not_handle() {
        let status = |text: &str| match read(text, 10) {
            Err(ReadError::Refused(s, _)) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"), 413);
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(status("GARBAGE\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert!(matches!(read("", 10), Err(ReadError::Closed)));
        // A body shorter than announced: the client went away.
        assert!(matches!(
            read("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}", 10),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn http_1_0_and_connection_close_end_the_connection() {
        assert!(read("GET /healthz HTTP/1.0\r\n\r\n", 0).unwrap().close);
        assert!(
            read("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0)
                .unwrap()
                .close
        );
    }
}
