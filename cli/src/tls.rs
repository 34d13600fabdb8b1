//! `consul tls ca create` and `consul tls cert create`, as Consul's `command/tls`: an ECDSA
//! P-256 CA (`<domain>-agent-ca.pem`, `<domain>-agent-ca-key.pem`) and server, client and
//! CLI certificates signed by it (`<dc>-server-<domain>-<n>.pem` and `-key.pem`), with
//! Consul's subject names, SANs, key usages and output lines. Files go to the current
//! directory, as in Consul.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree,
    IsCa, KeyPair, KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};

use super::args::{Kind, Parsed};
use super::command::{self, flag, Subcommand};
use super::Ui;

const TLS_HELP: &str = r#"
Usage: consul tls <subcommand> <subcommand> [options]

  This command has subcommands for interacting with Certificate Authorities and
  Certificates.

  Here are some simple examples, and more detailed examples are available in the
  subcommands or the documentation.

  Create a CA

    $ consul tls ca create

  Create a server certificate

    $ consul tls cert create -server

  Create a client certificate

    $ consul tls cert create -client

  For more examples, ask for subcommand help or view the documentation.
"#;

const CA_HELP: &str = r#"
Usage: consul tls ca <subcommand> [options]

  This command has subcommands for interacting with Certificate Authorities.

  Here are some simple examples, and more detailed examples are available in the
  subcommands or the documentation.

  Create a CA

    $ consul tls ca create

  For more examples, ask for subcommand help or view the documentation.
"#;

const CERT_HELP: &str = r#"
Usage: consul tls cert <subcommand> [options]

  This command has subcommands for interacting with certificates

  Here are some simple examples, and more detailed examples are available in the
  subcommands or the documentation.

  Create a certificate

    $ consul tls cert create -server

  Create a certificate with your own CA:

    $ consul tls cert create -server -ca my-ca.pem -key my-ca-key.pem

  For more examples, ask for subcommand help or view the documentation.
"#;

const CA_CREATE_HELP: &str = r#"
Usage: consul tls ca create [options]

  Create a new consul CA:

  $ consul tls ca create
  ==> saved consul-agent-ca.pem
  ==> saved consul-agent-ca-key.pem
"#;

const CERT_CREATE_HELP: &str = r#"
Usage: consul tls cert create [options]

  Create a new certificate

  $ consul tls cert create -server
  ==> WARNING: Server Certificates grants authority to become a
      server and access all state in the cluster including root keys
      and all ACL tokens. Do not distribute them to production hosts
      that are not server nodes. Store them as securely as CA keys.
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-server-consul-0.pem
  ==> Saved dc1-server-consul-0-key.pem
  $ consul tls cert -client
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-client-consul-0.pem
  ==> Saved dc1-client-consul-0-key.pem
"#;

const SERVER_WARNING: &str = "==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.";

const TLS_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "ca",
        synopsis: "Helpers for CAs",
        run: run_ca,
    },
    Subcommand {
        name: "cert",
        synopsis: "Helpers for certificates",
        run: run_cert,
    },
];

const CA_SUBCOMMANDS: &[Subcommand] = &[Subcommand {
    name: "create",
    synopsis: "Create a new consul CA",
    run: run_ca_create,
}];

const CERT_SUBCOMMANDS: &[Subcommand] = &[Subcommand {
    name: "create",
    synopsis: "Create a new certificate",
    run: run_cert_create,
}];

/// `consul tls <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, TLS_HELP, TLS_SUBCOMMANDS, args)
}

fn run_ca(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, CA_HELP, CA_SUBCOMMANDS, args)
}

fn run_cert(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, CERT_HELP, CERT_SUBCOMMANDS, args)
}

fn run_ca_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag("additional-name-constraint", Kind::List, "", "Add name constraints for the CA. Results in rejecting certificates for other DNS than specified. Can be used multiple times. Only used in combination with -name-constraint."),
        flag("common-name", Kind::Str, "", "Common Name of CA. Defaults to Consul Agent CA."),
        flag("days", Kind::Int, "1825", "Provide number of days the CA is valid for from now on. Defaults to 5 years."),
        flag("domain", Kind::Str, "consul", "Domain of consul cluster. Only used in combination with -name-constraint. Defaults to consul."),
        flag("name-constraint", Kind::Bool, "false", "Add name constraints for the CA. Results in rejecting certificates for other DNS than specified. If turned on localhost and -domain will be added to the allowed DNS. If the UI is going to be served over HTTPS its DNS has to be added with -additional-constraint. It is not possible to add that after the fact! Defaults to false."),
    ];
    let set = args_set(&own);
    command::run_command(ui, CA_CREATE_HELP, &set, args, |ui, flags| {
        ca_create(ui, Path::new("."), &CaOptions::from_flags(flags))
    })
}

fn run_cert_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag("additional-dnsname", Kind::List, "", "Provide an additional dnsname for Subject Alternative Names. localhost is always included. This flag may be provided multiple times."),
        flag("additional-ipaddress", Kind::List, "", "Provide an additional ipaddress for Subject Alternative Names. 127.0.0.1 is always included. This flag may be provided multiple times."),
        flag("ca", Kind::Str, "#DOMAIN#-agent-ca.pem", "Provide path to the ca. Defaults to #DOMAIN#-agent-ca.pem."),
        flag("cli", Kind::Bool, "false", "Generate cli certificate."),
        flag("client", Kind::Bool, "false", "Generate client certificate."),
        flag("days", Kind::Int, "365", "Provide number of days the certificate is valid for from now on. Defaults to 1 year."),
        flag("dc", Kind::Str, "dc1", "Provide the datacenter. Matters only for -server certificates. Defaults to dc1."),
        flag("domain", Kind::Str, "consul", "Provide the domain. Matters only for -server certificates."),
        flag("key", Kind::Str, "#DOMAIN#-agent-ca-key.pem", "Provide path to the key. Defaults to #DOMAIN#-agent-ca-key.pem."),
        flag("node", Kind::Str, "", "When generating a server cert and this is set an additional dns name is included of the form <node>.server.<datacenter>.<domain>."),
        flag("server", Kind::Bool, "false", "Generate server certificate."),
    ];
    let set = args_set(&own);
    command::run_command(ui, CERT_CREATE_HELP, &set, args, |ui, flags| {
        cert_create(ui, Path::new("."), &CertOptions::from_flags(flags))
    })
}

/// The `tls` commands take no HTTP flags.
fn args_set(own: &[super::args::Flag]) -> super::args::FlagSet {
    super::args::FlagSet::new(own.to_vec())
}

/// `tls ca create`'s settings.
#[derive(Clone, Debug)]
pub(crate) struct CaOptions {
    pub(crate) days: i64,
    pub(crate) domain: String,
    pub(crate) name_constraint: bool,
    pub(crate) additional_constraints: Vec<String>,
    pub(crate) common_name: String,
}

impl CaOptions {
    fn from_flags(flags: &Parsed) -> Self {
        CaOptions {
            days: flags.int_or("days", 1825),
            domain: flags.string("domain").unwrap_or("consul").to_string(),
            name_constraint: flags.bool("name-constraint"),
            additional_constraints: flags.list("additional-name-constraint").to_vec(),
            common_name: flags.string("common-name").unwrap_or_default().to_string(),
        }
    }
}

/// Which kind of certificate `tls cert create` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertKind {
    Server,
    Client,
    Cli,
}

/// `tls cert create`'s settings.
#[derive(Clone, Debug)]
pub(crate) struct CertOptions {
    pub(crate) kind: Option<CertKind>,
    pub(crate) ca: String,
    pub(crate) key: String,
    pub(crate) dc: String,
    pub(crate) domain: String,
    pub(crate) days: i64,
    pub(crate) node: String,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ip_addresses: Vec<String>,
}

impl CertOptions {
    fn from_flags(flags: &Parsed) -> Self {
        let (server, client, cli) = (flags.bool("server"), flags.bool("client"), flags.bool("cli"));
        let kind = match (server, client, cli) {
            (true, false, false) => Some(CertKind::Server),
            (false, true, false) => Some(CertKind::Client),
            (false, false, true) => Some(CertKind::Cli),
            _ => None,
        };
        CertOptions {
            kind,
            ca: flags.string("ca").unwrap_or("#DOMAIN#-agent-ca.pem").to_string(),
            key: flags
                .string("key")
                .unwrap_or("#DOMAIN#-agent-ca-key.pem")
                .to_string(),
            dc: flags.string("dc").unwrap_or("dc1").to_string(),
            domain: flags.string("domain").unwrap_or("consul").to_string(),
            days: flags.int_or("days", 365),
            node: flags.string("node").unwrap_or_default().to_string(),
            dns_names: flags.list("additional-dnsname").to_vec(),
            ip_addresses: flags.list("additional-ipaddress").to_vec(),
        }
    }
}

/// Validity starting now (backdated a minute for clock skew, as Consul's tlsutil does) for
/// `days` days.
fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + time::Duration::days(days);
}

/// A random positive serial number of 16 bytes.
fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

/// Consul's CA subject (tlsutil's `GenerateCA`): its address fields and the common name.
fn ca_subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::StateOrProvinceName, "CA");
    dn.push(DnType::LocalityName, "San Francisco");
    dn.push(DnType::OrganizationName, "HashiCorp Inc.");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The CA's certificate and key, PEM-encoded.
pub(crate) fn generate_ca(opts: &CaOptions) -> Result<(String, String), String> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let common_name = if opts.common_name.is_empty() {
        format!("Consul Agent CA {}", rand::random::<u64>() >> 1)
    } else {
        opts.common_name.clone()
    };
    params.distinguished_name = ca_subject(&common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(serial());
    validity(&mut params, opts.days);
    if opts.name_constraint {
        let mut permitted: Vec<GeneralSubtree> = opts
            .additional_constraints
            .iter()
            .map(|c| GeneralSubtree::DnsName(c.clone()))
            .collect();
        permitted.push(GeneralSubtree::DnsName(opts.domain.clone()));
        permitted.push(GeneralSubtree::DnsName("localhost".to_string()));
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: Vec::new(),
        });
    }
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The subject name, SANs and file prefix of a certificate of `kind`.
pub(crate) struct CertPlan {
    pub(crate) name: String,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ip_addresses: Vec<IpAddr>,
    pub(crate) prefix: String,
}

/// What Consul puts in a certificate of `opts.kind`: the additional names first, then the
/// node name (servers), the role's name and `localhost`; 127.0.0.1 for servers and clients.
pub(crate) fn plan(kind: CertKind, opts: &CertOptions) -> Result<CertPlan, String> {
    let mut dns_names: Vec<String> = opts
        .dns_names
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect();
    let mut ip_addresses = Vec::new();
    for i in opts.ip_addresses.iter().filter(|i| !i.is_empty()) {
        match i.trim().parse::<IpAddr>() {
            Ok(ip) => ip_addresses.push(ip),
            Err(_) => return Err(format!("invalid IP address: {}", i.trim())),
        }
    }
    let localhost = IpAddr::from([127, 0, 0, 1]);
    let (role, name) = match kind {
        CertKind::Server => ("server", format!("server.{}.{}", opts.dc, opts.domain)),
        CertKind::Client => ("client", format!("client.{}.{}", opts.dc, opts.domain)),
        CertKind::Cli => ("cli", format!("cli.{}.{}", opts.dc, opts.domain)),
    };
    match kind {
        CertKind::Server => {
            if !opts.node.is_empty() {
                dns_names.push(format!("{}.server.{}.{}", opts.node, opts.dc, opts.domain));
            }
            dns_names.push(name.clone());
            dns_names.push("localhost".to_string());
            ip_addresses.push(localhost);
        }
        CertKind::Client => {
            dns_names.push(name.clone());
            dns_names.push("localhost".to_string());
            ip_addresses.push(localhost);
        }
        // Consul's CLI certificates carry only these two names (the additional ones and
        // IPs are dropped).
        CertKind::Cli => {
            dns_names = vec![name.clone(), "localhost".to_string()];
            ip_addresses.clear();
        }
    }
    Ok(CertPlan {
        name,
        dns_names,
        ip_addresses,
        prefix: format!("{}-{role}-{}", opts.dc, opts.domain),
    })
}

/// A certificate of `kind` signed by the CA, PEM-encoded certificate and key.
pub(crate) fn generate_cert(
    kind: CertKind,
    plan: &CertPlan,
    days: i64,
    ca_pem: &str,
    ca_key_pem: &str,
) -> Result<(String, String), String> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| format!("Error parsing CA key: {e}"))?;
    let ca_params =
        CertificateParams::from_ca_cert_pem(ca_pem).map_err(|e| format!("Error parsing CA: {e}"))?;
    let issuer = ca_params.self_signed(&ca_key).map_err(|e| e.to_string())?;

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, plan.name.as_str());
    params.distinguished_name = dn;
    let mut sans = Vec::new();
    for d in &plan.dns_names {
        let name = d
            .as_str()
            .try_into()
            .map_err(|_| format!("invalid DNS name: {d}"))?;
        sans.push(SanType::DnsName(name));
    }
    sans.extend(plan.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = match kind {
        CertKind::Server => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        CertKind::Client => vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ],
        CertKind::Cli => Vec::new(),
    };
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial());
    validity(&mut params, days);
    let cert = params
        .signed_by(&key, &issuer, &ca_key)
        .map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `contents` to a new file `path` (never over an existing one).
fn write_new(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// `tls ca create` writing into `dir`.
pub(crate) fn ca_create(ui: &mut Ui<'_>, dir: &Path, opts: &CaOptions) -> i32 {
    let cert_name = format!("{}-agent-ca.pem", opts.domain);
    let key_name = format!("{}-agent-ca-key.pem", opts.domain);
    for name in [&cert_name, &key_name] {
        if dir.join(name).exists() {
            ui.error(format!("{name} already exists."));
            return 1;
        }
    }
    let (cert, key) = match generate_ca(opts) {
        Ok(pair) => pair,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    save_pair(ui, dir, (&cert_name, &cert), (&key_name, &key))
}

/// `tls cert create` writing into (and reading relative paths from) `dir`.
pub(crate) fn cert_create(ui: &mut Ui<'_>, dir: &Path, opts: &CertOptions) -> i32 {
    if opts.ca.is_empty() {
        ui.error("Please provide the ca");
        return 1;
    }
    if opts.key.is_empty() {
        ui.error("Please provide the key");
        return 1;
    }
    let Some(kind) = opts.kind else {
        ui.error("Please provide either -server, -client, or -cli");
        return 1;
    };
    if !opts.node.is_empty() && kind != CertKind::Server {
        ui.error("-node requires -server");
        return 1;
    }
    let plan = match plan(kind, opts) {
        Ok(plan) => plan,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    let Some((cert_name, key_name)) = (0..=10000)
        .map(|i| {
            (
                format!("{}-{i}.pem", plan.prefix),
                format!("{}-{i}-key.pem", plan.prefix),
            )
        })
        .find(|(c, k)| !dir.join(c).exists() && !dir.join(k).exists())
    else {
        ui.error("Could not find a filename that doesn't already exist");
        return 1;
    };
    let ca_file = opts.ca.replacen("#DOMAIN#", &opts.domain, 1);
    let key_file = opts.key.replacen("#DOMAIN#", &opts.domain, 1);
    let read = |name: &str| -> std::io::Result<String> { std::fs::read_to_string(dir.join(name)) };
    let ca_pem = match read(&ca_file) {
        Ok(s) => s,
        Err(e) => {
            ui.error(format!("Error reading CA: {e}"));
            return 1;
        }
    };
    let ca_key_pem = match read(&key_file) {
        Ok(s) => s,
        Err(e) => {
            ui.error(format!("Error reading CA key: {e}"));
            return 1;
        }
    };
    if kind == CertKind::Server {
        ui.info(SERVER_WARNING);
    }
    ui.info(format!("==> Using {ca_file} and {key_file}"));
    let (cert, key) = match generate_cert(kind, &plan, opts.days, &ca_pem, &ca_key_pem) {
        Ok(pair) => pair,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    save_pair(ui, dir, (&cert_name, &cert), (&key_name, &key))
}

/// Writes a certificate and then its key (each a new file) into `dir`, saying
/// `==> Saved <name>` after each, as Consul does; stops at the first failure.
fn save_pair(ui: &mut Ui<'_>, dir: &Path, cert: (&str, &str), key: (&str, &str)) -> i32 {
    for (name, pem) in [cert, key] {
        if let Err(e) = write_new(&dir.join(name), pem) {
            ui.error(e);
            return 1;
        }
        ui.info(format!("==> Saved {name}"));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run as run_ui;
    use x509_parser::prelude::*;

    fn ca_opts() -> CaOptions {
        CaOptions {
            days: 1825,
            domain: "consul".into(),
            name_constraint: false,
            additional_constraints: Vec::new(),
            common_name: String::new(),
        }
    }

    fn cert_opts(kind: CertKind) -> CertOptions {
        CertOptions {
            kind: Some(kind),
            ca: "#DOMAIN#-agent-ca.pem".into(),
            key: "#DOMAIN#-agent-ca-key.pem".into(),
            dc: "dc1".into(),
            domain: "consul".into(),
            days: 365,
            node: String::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
        }
    }

    fn parse_pem(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        p.contents
    }

    #[test]
    fn ca_and_server_cert_files_and_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = run_ui(&[], b"", |ui| ca_create(ui, dir.path(), &ca_opts()));
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            o.stdout,
            "==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n"
        );
        let again = run_ui(&[], b"", |ui| ca_create(ui, dir.path(), &ca_opts()));
        assert_eq!(
            (again.code, again.stderr.as_str()),
            (1, "consul-agent-ca.pem already exists.\n")
        );

        let ca_der = parse_pem(&std::fs::read_to_string(dir.path().join("consul-agent-ca.pem")).expect("ca"));
        let (_, ca) = X509Certificate::from_der(&ca_der).expect("ca der");
        assert!(ca.is_ca(), "the CA has the CA flag");
        assert!(
            ca.subject().to_string().contains("CN=Consul Agent CA "),
            "{}",
            ca.subject()
        );

        let mut opts = cert_opts(CertKind::Server);
        opts.node = "s1".into();
        let o = run_ui(&[], b"", |ui| cert_create(ui, dir.path(), &opts));
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            o.stdout,
            format!(
                "{SERVER_WARNING}\n==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n\
                 ==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n"
            )
        );
        let leaf_pem = std::fs::read_to_string(dir.path().join("dc1-server-consul-0.pem")).expect("leaf");
        let leaf_der = parse_pem(&leaf_pem);
        let (_, leaf) = X509Certificate::from_der(&leaf_der).expect("leaf der");
        assert!(!leaf.is_ca());
        assert_eq!(leaf.issuer(), ca.subject());
        let san = leaf.subject_alternative_name().expect("ext").expect("san");
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "s1.server.dc1.consul",
                "server.dc1.consul",
                "localhost",
                "ip:[127, 0, 0, 1]"
            ]
        );
        assert!(dir.path().join("dc1-server-consul-0-key.pem").exists());

        // The next one takes the next free number; client and CLI certificates.
        let o = run_ui(&[], b"", |ui| {
            cert_create(ui, dir.path(), &cert_opts(CertKind::Server))
        });
        assert!(
            o.stdout.ends_with("==> Saved dc1-server-consul-1-key.pem\n"),
            "{}",
            o.stdout
        );
        let o = run_ui(&[], b"", |ui| {
            cert_create(ui, dir.path(), &cert_opts(CertKind::Client))
        });
        assert_eq!(
            o.stdout,
            "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n\
             ==> Saved dc1-client-consul-0.pem\n==> Saved dc1-client-consul-0-key.pem\n"
        );
        let o = run_ui(&[], b"", |ui| {
            cert_create(ui, dir.path(), &cert_opts(CertKind::Cli))
        });
        assert!(
            o.stdout.ends_with("==> Saved dc1-cli-consul-0-key.pem\n"),
            "{}",
            o.stdout
        );
    }

    #[test]
    fn sans_per_kind() {
        let mut opts = cert_opts(CertKind::Client);
        opts.dns_names = vec!["extra.example".into()];
        opts.ip_addresses = vec!["10.0.0.1".into()];
        let p = plan(CertKind::Client, &opts).expect("plan");
        assert_eq!(p.name, "client.dc1.consul");
        assert_eq!(p.dns_names, ["extra.example", "client.dc1.consul", "localhost"]);
        assert_eq!(
            p.ip_addresses,
            [IpAddr::from([10, 0, 0, 1]), IpAddr::from([127, 0, 0, 1])]
        );
        let p = plan(CertKind::Cli, &opts).expect("plan");
        assert_eq!(p.dns_names, ["cli.dc1.consul", "localhost"]);
        assert!(p.ip_addresses.is_empty());
        let mut opts = cert_opts(CertKind::Server);
        opts.dc = "dc2".into();
        let p = plan(CertKind::Server, &opts).expect("plan");
        assert_eq!(p.prefix, "dc2-server-consul");
        assert_eq!(p.dns_names, ["server.dc2.consul", "localhost"]);
    }

    #[test]
    fn errors_in_consuls_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = cert_opts(CertKind::Client);
        opts.kind = None;
        let o = run_ui(&[], b"", |ui| cert_create(ui, dir.path(), &opts));
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Please provide either -server, -client, or -cli\n")
        );
        let mut opts = cert_opts(CertKind::Client);
        opts.node = "n".into();
        let o = run_ui(&[], b"", |ui| cert_create(ui, dir.path(), &opts));
        assert_eq!(o.stderr, "-node requires -server\n");
        let o = run_ui(&[], b"", |ui| {
            cert_create(ui, dir.path(), &cert_opts(CertKind::Client))
        });
        assert!(o.stderr.starts_with("Error reading CA: "), "{}", o.stderr);
    }

    #[test]
    fn name_constraint_ca() {
        let mut opts = ca_opts();
        opts.name_constraint = true;
        opts.common_name = "My CA".into();
        let (pem, _) = generate_ca(&opts).expect("ca");
        let der = parse_pem(&pem);
        let (_, ca) = X509Certificate::from_der(&der).expect("der");
        assert!(ca.subject().to_string().contains("CN=My CA"));
        let nc = ca.name_constraints().expect("ext").expect("constraints");
        assert_eq!(nc.value.permitted_subtrees.as_ref().map(Vec::len), Some(2));
    }
}
