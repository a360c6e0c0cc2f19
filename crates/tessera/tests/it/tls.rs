//! The listener's TLS as an operator meets it (issue 14): the self-signed
//! certificate read off the wire (who it names, how long it lasts, which
//! hosts it covers, renewal on start), `tessera tls show` against what the
//! server serves and against real curl, and plain HTTP sent to the TLS port.

use crate::harness::{curl_status, Options, TestServer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_rustls::TlsConnector;

/// A server whose `[server]` table also holds `lines` (TOML), not started.
async fn configure(lines: &str) -> TestServer {
    let server = TestServer::configure(&Options::default()).await;
    let toml = std::fs::read_to_string(&server.config_path).unwrap();
    let toml = toml.replacen("[server]\n", &format!("[server]\n{lines}\n"), 1);
    std::fs::write(&server.config_path, toml).unwrap();
    server
}

/// Records the certificate the server presents and accepts it, whatever
/// it is: the test judges it afterwards.
#[derive(Debug, Default)]
struct Recorder(Mutex<Option<Vec<u8>>>);

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The DER certificate the server at `addr` presents in a real handshake.
async fn served_certificate(addr: &str) -> Vec<u8> {
    let recorder = Arc::new(Recorder::default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let _ = tls.shutdown().await;
    let der = recorder.0.lock().unwrap().take();
    der.expect("the server presented no certificate")
}

/// What a client sees in a certificate.
#[derive(Debug)]
struct Seen {
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    public_key: Vec<u8>,
}

fn parse(der: &[u8]) -> Seen {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    let san = cert
        .subject_alternative_name()
        .unwrap()
        .expect("no subjectAltName");
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push((*d).to_owned()),
            GeneralName::IPAddress(b) => ips.push(match b.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
            }),
            other => panic!("unexpected subjectAltName {other:?}"),
        }
    }
    Seen {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns,
        ips,
        public_key: cert.public_key().raw.to_vec(),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

const DAY: i64 = 86_400;

/// Asserts a certificate Tessera issued itself, valid from about now for a year.
fn assert_fresh_tessera(seen: &Seen) {
    assert!(seen.subject.contains("CN=Tessera"), "{seen:?}");
    assert!(seen.subject.contains("O=Tessera"), "{seen:?}");
    assert_eq!(seen.issuer, seen.subject, "self-signed");
    let now = now();
    assert!(
        seen.not_before <= now && seen.not_before > now - 2 * DAY,
        "{seen:?}"
    );
    let days = (seen.not_after - seen.not_before) as f64 / DAY as f64;
    assert!((364.0..=367.0).contains(&days), "valid {days} days: {seen:?}");
}

#[tokio::test]
async fn the_self_signed_certificate_names_tessera_for_a_year_and_covers_loopback() {
    let server = TestServer::start().await;
    let seen = parse(&served_certificate(&server.host()).await);
    assert_fresh_tessera(&seen);
    assert!(seen.dns.iter().any(|d| d == "localhost"), "{seen:?}");
    for ip in ["127.0.0.1", "::1"] {
        assert!(seen.ips.contains(&ip.parse().unwrap()), "{ip}: {seen:?}");
    }
}

#[tokio::test]
async fn the_certificate_carries_the_configured_tls_hostnames_and_is_renewed_when_they_change() {
    let server = configure(r#"tls_hostnames = ["array01.example.com", "10.0.0.5"]"#)
        .await
        .boot()
        .await;
    let first = parse(&served_certificate(&server.host()).await);
    assert_fresh_tessera(&first);
    assert_eq!(first.dns, ["array01.example.com"]);
    assert_eq!(first.ips, ["10.0.0.5".parse::<IpAddr>().unwrap()]);

    // Other names: a new certificate at the next start, on the same key
    // (so a public-key pin survives).
    let server = server.halt().await;
    let toml = std::fs::read_to_string(&server.config_path).unwrap();
    let toml = toml.replace(
        r#"tls_hostnames = ["array01.example.com", "10.0.0.5"]"#,
        r#"tls_hostnames = ["array02.example.com", "localhost", "127.0.0.1", "fd00::5"]"#,
    );
    std::fs::write(&server.config_path, toml).unwrap();
    let server = server.boot().await;
    let second = parse(&served_certificate(&server.host()).await);
    assert_fresh_tessera(&second);
    assert_eq!(second.dns, ["array02.example.com", "localhost"]);
    let ips: Vec<IpAddr> = ["127.0.0.1", "fd00::5"]
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(second.ips, ips);
    assert_eq!(second.public_key, first.public_key, "the key is kept");
    // The client trusting the new file reaches it.
    let res = server.client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_bad_tls_hostname_is_refused_naming_it() {
    let server = configure(r#"tls_hostnames = ["ok.example.com", "not a host!", ""]"#).await;
    let out = server.cli(&["config", "check"], None);
    out.fails_with("server.tls_hostnames");
    out.fails_with("\"not a host!\"");
    out.fails_with("\"\"");
}

/// Replaces the self-signed certificate with one `params` describes, on
/// the server's own key.
fn replace_certificate(server: &TestServer, mut params: rcgen::CertificateParams) {
    let dir = server.data_dir().join("tls");
    let key = std::fs::read_to_string(dir.join("self-signed.key")).unwrap();
    let key = rcgen::KeyPair::from_pem(&key).unwrap();
    params.subject_alt_names = vec![
        rcgen::SanType::DnsName("localhost".try_into().unwrap()),
        rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()),
        rcgen::SanType::IpAddress("::1".parse().unwrap()),
    ];
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("self-signed.crt"), cert.pem()).unwrap();
}

#[tokio::test]
async fn a_certificate_near_its_end_or_from_an_older_tessera_is_renewed_on_start() {
    let server = TestServer::start().await;
    let before = parse(&served_certificate(&server.host()).await);
    let server = server.halt().await;

    // Ten days left: renewed.
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tessera");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Tessera");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(355);
    params.not_after = now + time::Duration::days(10);
    replace_certificate(&server, params);
    let server = server.boot().await;
    let renewed = parse(&served_certificate(&server.host()).await);
    assert_fresh_tessera(&renewed);
    assert_eq!(renewed.public_key, before.public_key, "the key is kept");

    // 40 days left: kept as it is.
    let server = server.halt().await;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tessera");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Tessera");
    params.not_before = now - time::Duration::days(325);
    params.not_after = now + time::Duration::days(40);
    replace_certificate(&server, params);
    let kept = std::fs::read(server.cert_path()).unwrap();
    let server = server.boot().await;
    assert_eq!(std::fs::read(server.cert_path()).unwrap(), kept);
    let served = parse(&served_certificate(&server.host()).await);
    assert!(served.not_after < now.unix_timestamp() + 41 * DAY, "{served:?}");

    // What Tessera generated before issue 14 (rcgen's defaults, until 4096).
    let server = server.halt().await;
    replace_certificate(&server, rcgen::CertificateParams::default());
    let server = server.boot().await;
    let renewed = parse(&served_certificate(&server.host()).await);
    assert_fresh_tessera(&renewed);
    assert_eq!(renewed.public_key, before.public_key);
}

/// The value of `key:` in `tessera tls show`'s output.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{out}"))
        .trim()
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[tokio::test]
async fn tls_show_prints_the_served_certificate_s_fingerprint_for_cacert_and_pinning() {
    let server = TestServer::start().await;
    let served = served_certificate(&server.host()).await;
    let out = server.cli(&["tls", "show"], None);
    out.ok();
    let stdout = &out.stdout;
    assert_eq!(field(stdout, "sha256"), colon_hex(&Sha256::digest(&served)));
    let path = field(stdout, "certificate");
    assert_eq!(std::path::Path::new(path), server.cert_path());
    assert!(field(stdout, "subject").contains("CN=Tessera"), "{stdout}");
    let names = field(stdout, "names");
    for name in ["localhost", "127.0.0.1", "::1"] {
        assert!(names.split(", ").any(|n| n == name), "{name}: {stdout}");
    }
    assert!(field(stdout, "not after").starts_with('2'), "{stdout}");

    // curl trusts it with --cacert, without -k, by name and by address.
    let port = server.host().rsplit(':').next().unwrap().to_owned();
    for host in ["localhost", "127.0.0.1"] {
        let curl = Command::new("curl")
            .args(["-sS", "-i", "--cacert", path])
            .arg(format!("https://{host}:{port}/healthz"))
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&curl.stdout);
        assert_eq!(
            curl_status(&text),
            200,
            "{host}: {text}{}",
            String::from_utf8_lossy(&curl.stderr)
        );
    }
    // And pins its public key with the line printed for it.
    let pin = field(stdout, "public key pin");
    assert!(pin.starts_with("sha256//"), "{stdout}");
    let curl = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--pinnedpubkey",
            pin,
        ])
        .arg(format!("https://127.0.0.1:{port}/healthz"))
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout),
        "200",
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );

    // The same, for scripts.
    let json = server.cli(&["tls", "show", "--json"], None);
    let json = json.ok().json();
    assert_eq!(json["sha256"], colon_hex(&Sha256::digest(&served)));
    assert_eq!(json["certificate"], server.cert_path().display().to_string());
}

#[tokio::test]
async fn tls_show_before_the_first_start_says_so_and_creates_nothing() {
    let server = TestServer::configure(&Options::default()).await;
    server
        .cli(&["tls", "show"], None)
        .fails_with("no certificate yet");
    assert!(!server.cert_path().exists());
    assert!(!server.data_dir().exists(), "tls show must create nothing");

    let plain = TestServer::configure(&Options {
        tls: false,
        ..Default::default()
    })
    .await;
    plain.cli(&["tls", "show"], None).fails_with("tls = \"off\"");
}

/// Runs real curl with `args`; its stdout, stderr and exit code.
async fn curl(args: &[&str]) -> (String, String, i32) {
    let out = Command::new("curl").args(args).output().await.unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[tokio::test]
async fn plain_http_sent_to_the_tls_port_gets_a_readable_400() {
    let server = TestServer::start().await;
    let host = server.host();
    let (out, err, code) = curl(&["-sS", "-i", &format!("http://{host}/healthz")]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(curl_status(&out), 400, "{out}");
    assert!(out.contains("this port speaks HTTPS"), "{out}");
    assert!(out.contains(&format!("https://{host}/healthz")), "{out}");

    // With a body curl is still sending, and by name.
    let port = host.rsplit(':').next().unwrap();
    let (out, err, code) = curl(&[
        "-sS",
        "-i",
        "-d",
        &"x".repeat(100_000),
        &format!("http://localhost:{port}/oauth/token"),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(curl_status(&out), 400, "{out}");
    assert!(
        out.contains(&format!("https://localhost:{port}/oauth/token")),
        "{out}"
    );

    // HTTPS on the same port is untouched.
    let (out, err, _) = curl(&[
        "-sS",
        "-i",
        "--cacert",
        &server.cert_path().display().to_string(),
        &format!("https://{host}/healthz"),
    ])
    .await;
    assert_eq!(curl_status(&out), 200, "{out}{err}");
}

#[tokio::test]
async fn an_unfinished_plain_http_head_on_the_tls_port_is_answered_at_header_read_timeout() {
    let server = configure("header_read_timeout = \"1s\"").await.boot().await;
    let start = Instant::now();
    let mut tcp = TcpStream::connect(server.host()).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: ").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got))
        .await
        .expect("the connection must be closed")
        .unwrap();
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("this port speaks HTTPS"), "{text}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(3000),
        "{took:?}"
    );
}
