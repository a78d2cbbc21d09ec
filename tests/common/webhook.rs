//! Running `rampart serve` from the tests and the load benchmark: self-signed certificates
//! (rcgen), the real binary on a loopback port, and an HTTPS/1.1 client with keep-alive
//! (rustls) that speaks exactly what the tests need.
#![allow(dead_code)] // each user takes its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{json, Value};

/// A certificate authority and a server certificate for `localhost` and 127.0.0.1 it signed.
pub struct Certs {
    pub ca_der: Vec<u8>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Certs {
    pub fn generate(common_name: &str) -> Certs {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{common_name} CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let key = KeyPair::generate().expect("a server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("a server certificate");
        Certs {
            ca_der: ca.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `tls.crt` and `tls.key` into `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("tls.crt"), &self.cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), &self.key_pem).unwrap();
    }

    /// A client configuration trusting this CA only.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_der.clone()))
            .expect("the CA is a valid certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A running `rampart serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub certs: Certs,
    /// Every line the server wrote on stderr so far.
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary in `dir` (which gets the certificates) with `args` after the
    /// address and certificate flags, and waits until it is ready.
    pub fn start(binary: &Path, dir: &Path, args: &[&str]) -> Server {
        let certs = Certs::generate("rampart-test");
        certs.write(dir);
        let mut child = Command::new(binary)
            .current_dir(dir)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--tls-cert",
                "tls.crt",
                "--tls-key",
                "tls.key",
            ])
            .args(args)
            .env("RAMPART_CACHE_DIR", dir.join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            dir: dir.to_path_buf(),
            certs,
            logs,
        };
        let found = server.wait_log(Duration::from_secs(30), |v| v["msg"] == "listening");
        server.addr = found["addr"].as_str().unwrap().parse().unwrap();
        server.wait_ready(Duration::from_secs(120));
        server
    }

    /// Waits for `/readyz` to answer 200.
    pub fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited with {status}: {:#?}", self.logs());
            }
            if let Ok(mut c) = self.client() {
                if c.get("/readyz").is_ok_and(|r| r.0 == 200) {
                    return;
                }
            }
            assert!(start.elapsed() < limit, "not ready: {:#?}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// The log lines so far that are JSON objects.
    pub fn json_logs(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a JSON log line for which `wanted` holds, and returns it.
    pub fn wait_log(&self, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.json_logs().into_iter().find(|v| wanted(v)) {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "log line not seen: {:#?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new connection trusting the server's first CA.
    pub fn client(&self) -> std::io::Result<Client> {
        Client::connect(self.addr, self.certs.client_config())
    }

    /// Sends a signal to the server (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit and returns its code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTPS connection, kept alive across requests.
pub struct Client {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

/// A response: status and body.
pub type Answer = (u16, Vec<u8>);

impl Client {
    pub fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Client> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        // Complete the handshake now, so that certificate errors show here.
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(std::io::Error::other)?;
        }
        Ok(Client { stream })
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads one response.
    pub fn read_answer(&mut self) -> std::io::Result<Answer> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if self.stream.read(&mut byte)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        Ok((status, body))
    }

    /// Sends a request and reads its response.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Answer> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.send_raw(&req)?;
        self.read_answer()
    }

    pub fn get(&mut self, path: &str) -> std::io::Result<Answer> {
        self.request("GET", path, b"")
    }

    /// Posts a review and returns the HTTP status and the parsed answer (`null` when the
    /// body is not JSON).
    pub fn review(&mut self, review: &Value) -> std::io::Result<(u16, Value)> {
        let (status, body) = self.request("POST", "/validate", review.to_string().as_bytes())?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// An AdmissionReview request for `object` (and `old`), as the API server sends it.
pub fn review(uid: &str, operation: &str, object: Option<&Value>, old: Option<&Value>) -> Value {
    let subject = object.or(old).cloned().unwrap_or(Value::Null);
    let api_version = subject["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": subject["kind"]},
            "resource": {"group": group, "version": version, "resource": "things"},
            "namespace": subject["metadata"]["namespace"],
            "name": subject["metadata"]["name"],
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": object.cloned().unwrap_or(Value::Null),
            "oldObject": old.cloned().unwrap_or(Value::Null),
            "dryRun": false,
        },
    })
}

/// The rule ids an answer names: denied, then warned (from `auditAnnotations`).
pub fn answer_rules(answer: &Value, key: &str) -> Vec<String> {
    answer["response"]["auditAnnotations"][key]
        .as_str()
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}
