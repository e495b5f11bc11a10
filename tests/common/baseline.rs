//! Plain ureq (its own rustls connector, default settings): the baseline
//! the benchmarks and the transfer example measure wxnet against.

use std::net::SocketAddr;

/// Raw ureq's way to reach the loopback server under its name.
#[derive(Debug)]
struct FixedResolver(SocketAddr);

impl ureq::unversioned::resolver::Resolver for FixedResolver {
    fn resolve(
        &self,
        _: &ureq::http::Uri,
        _: &ureq::config::Config,
        _: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut v = self.empty();
        v.push(self.0);
        Ok(v)
    }
}

/// A plain ureq agent (its own rustls connector, default settings) that
/// trusts the CA `ca_der` and connects every name to `addr`: the baseline
/// the benchmarks compare wxnet with.
pub fn raw_ureq_agent(ca_der: &[u8], addr: SocketAddr) -> ureq::Agent {
    raw_ureq_agent_pooled(ca_der, addr, 3)
}

/// [`raw_ureq_agent`] keeping up to `per_host` idle connections per host.
pub fn raw_ureq_agent_pooled(ca_der: &[u8], addr: SocketAddr, per_host: usize) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let ca = ca_der.to_vec();
    ureq::Agent::with_parts(
        ureq::Agent::config_builder()
            .max_idle_connections_per_host(per_host)
            .max_idle_connections(per_host.max(10))
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::new_with_certs(&[
                        Certificate::from_der(&ca).to_owned()
                    ]))
                    .build(),
            )
            .build(),
        ureq::unversioned::transport::DefaultConnector::new(),
        FixedResolver(addr),
    )
}
