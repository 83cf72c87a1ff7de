//! TLS for SIP (RFC 3261 §26.2.1, RFC 5630): rustls with the platform's
//! certificate verifier, so a PBX's certificate is checked exactly like the
//! browser would; SNI and name checks use the server's domain.
//!
//! A self-signed PBX (and the test harness's CA) can be trusted by adding
//! its CA certificate as an extra root; verification is never switched off.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::TransportError;

/// TLS settings of one engine.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// The name to verify the server certificate against and send as SNI
    /// (the SIP domain); the peer's IP address when unset.
    pub server_name: Option<String>,
    /// PEM files of CA certificates to trust besides the platform's.
    pub extra_roots: Vec<PathBuf>,
    /// PEM certificate chain and key to accept TLS connections with.
    pub server_identity: Option<(PathBuf, PathBuf)>,
    /// Port to listen for TLS on (needs `server_identity`).
    pub listen_port: Option<u16>,
}

/// Built TLS client and server configurations.
#[derive(Clone)]
pub(crate) struct TlsContext {
    connector: TlsConnector,
    acceptor: Option<TlsAcceptor>,
    server_name: Option<String>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad_file(path: &std::path::Path, what: &str) -> TransportError {
    TransportError::Tls {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        server_name: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned()),
    }
}

impl TlsContext {
    pub(crate) fn new(settings: &TlsSettings) -> Result<Self, TransportError> {
        let mut roots = Vec::new();
        for path in &settings.extra_roots {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|_| bad_file(path, "cannot read CA file"))?
                .collect::<Result<_, _>>()
                .map_err(|_| bad_file(path, "invalid PEM in CA file"))?;
            if certs.is_empty() {
                return Err(bad_file(path, "no certificate in CA file"));
            }
            roots.extend(certs);
        }
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider())
            .map_err(|e| bad_file(std::path::Path::new("platform roots"), &e.to_string()))?;
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad_file(std::path::Path::new("tls versions"), &e.to_string()))?
            .dangerous() // only to plug in the platform verifier, which verifies fully
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let acceptor = match &settings.server_identity {
            None => None,
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .map_err(|_| bad_file(cert, "cannot read certificate"))?
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad_file(cert, "invalid PEM certificate"))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|_| bad_file(key, "cannot read private key"))?;
                let server = rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| bad_file(cert, &e.to_string()))?
                    .with_no_client_auth()
                    .with_single_cert(chain, key)
                    .map_err(|e| bad_file(cert, &e.to_string()))?;
                Some(TlsAcceptor::from(Arc::new(server)))
            }
        };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor,
            server_name: settings.server_name.clone(),
        })
    }

    pub(crate) fn has_server(&self) -> bool {
        self.acceptor.is_some()
    }

    /// The name a certificate is checked against: `domain` (RFC 5922: the
    /// SIP domain the request is for), else the configured name, else the
    /// peer's IP address.
    pub(crate) fn name_for(&self, addr: SocketAddr, domain: Option<&str>) -> String {
        domain
            .map(str::to_owned)
            .or_else(|| self.server_name.clone())
            .unwrap_or_else(|| addr.ip().to_string())
    }

    /// Connects, checking the certificate against [`Self::name_for`].
    pub(crate) async fn connect(
        &self,
        addr: SocketAddr,
        domain: Option<String>,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TransportError> {
        let name_text = self.name_for(addr, domain.as_deref());
        let name = ServerName::try_from(name_text.clone()).map_err(|e| TransportError::Tls {
            addr,
            server_name: name_text.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        })?;
        self.connector
            .connect(name, stream)
            .await
            .map_err(|source| TransportError::Tls {
                addr,
                server_name: name_text,
                source,
            })
    }

    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        match &self.acceptor {
            Some(a) => a.accept(stream).await,
            None => Err(std::io::Error::other("TLS server not configured")),
        }
    }
}
