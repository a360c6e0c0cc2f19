//! A real OpenLDAP `slapd` for the LDAP tests: a generated `slapd.conf`
//! and a small tree (people, groups, a search account) loaded with
//! `slapadd` into a temporary directory, served on free 127.0.0.1 ports
//! (plain and, with TLS, `ldaps://` under a CA made with rcgen). Stopped
//! on drop; `stop` and `start` again simulate an outage. Needs `slapd` and
//! `ldap-utils` (.ci/ldap-deps.sh installs them).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";
pub const BASE: &str = "dc=example,dc=org";
pub const SEARCH_DN: &str = "cn=searcher,dc=example,dc=org";
pub const SEARCH_PASSWORD: &str = "searcher-secret";
pub const PEOPLE_TEMPLATE: &str = "uid={user},ou=people,dc=example,dc=org";
pub const PEOPLE_BASE: &str = "ou=people,dc=example,dc=org";
pub const PEOPLE_FILTER: &str = "(&(objectClass=inetOrgPerson)(uid={user}))";

/// `alice` (cn "Alice Admin"): in groupOfNames `tessera-admins` and
/// posixGroup `storage-ops`. `bob` (cn "Bob Reader"): in
/// groupOfUniqueNames `readers` only.
pub const ALICE_PASSWORD: &str = "alice-directory-pw";
pub const BOB_PASSWORD: &str = "bob-directory-pw";

const TREE: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=searcher,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: searcher
userPassword: searcher-secret

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Admin
sn: Admin
userPassword: alice-directory-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Reader
sn: Reader
userPassword: bob-directory-pw

dn: cn=tessera-admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: tessera-admins
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=readers,ou=groups,dc=example,dc=org
objectClass: groupOfUniqueNames
cn: readers
uniqueMember: uid=bob,ou=people,dc=example,dc=org

dn: cn=storage-ops,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: storage-ops
gidNumber: 5000
memberUid: alice
";

/// Whether this machine can run the LDAP tests.
pub fn available() -> bool {
    Path::new(SLAPD).exists() && Path::new(SLAPADD).exists()
}

/// The `ldaps://` port; the CA is `ca.pem` in the directory's folder.
pub struct Tls {
    pub ldaps_port: u16,
}

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls: Option<Tls>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Slapd {
    /// A directory on a free port, loaded and running; with `tls`, also
    /// `ldaps://` with a certificate for 127.0.0.1 and localhost.
    pub fn start(tls: bool) -> Slapd {
        assert!(
            available(),
            "slapd is not installed: run .ci/ldap-deps.sh (Debian: slapd, ldap-utils)"
        );
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).unwrap();
        let tls = tls.then(|| make_tls(dir.path()));
        let tls_conf = if tls.is_some() {
            format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n",
                d = dir.path().display()
            )
        } else {
            String::new()
        };
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
{tls_conf}
database mdb
maxsize 10485760
suffix \"{BASE}\"
rootdn \"cn=admin,{BASE}\"
rootpw admin-secret
directory {db}
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by * read
",
            d = dir.path().display(),
            db = db.display(),
        );
        std::fs::write(dir.path().join("slapd.conf"), conf).unwrap();
        std::fs::write(dir.path().join("tree.ldif"), TREE).unwrap();
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("tree.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut slapd = Slapd {
            dir,
            port: free_port(),
            tls,
            child: None,
        };
        slapd.resume();
        slapd
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls.as_ref().unwrap().ldaps_port)
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }

    /// Starts slapd (again, on the same ports and data) and waits until it
    /// accepts connections.
    pub fn resume(&mut self) {
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(t) = &self.tls {
            urls.push_str(&format!(" ldaps://127.0.0.1:{}/", t.ldaps_port));
        }
        // -d keeps it in the foreground, so the test owns the process.
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(self.conf())
            .arg("-h")
            .arg(&urls)
            .arg("-d")
            .arg("0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "slapd exited at start ({status}); config {}",
                    self.conf().display()
                );
            }
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops slapd (the directory goes down; its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost, made with rcgen.
fn make_tls(dir: &Path) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tessera test directory CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    Tls {
        ldaps_port: free_port(),
    }
}
