//! What `size_probe` does, on the raw stack wxnet is built on: a ureq
//! GET with its rustls connector and the body parsed with `serde_json`,
//! then a tungstenite echo over rustls with the webpki roots. The size of
//! this binary is the floor wxnet's own size is compared with (README
//! "Performance").
//!
//! `scripts/size raw` builds it in a crate of its own and prints its
//! size. Run it with an URL pair to use it:
//! `size_raw https://api.example.com/ wss://ws.example.com/`.

use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::Message;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Fallible<()> {
    let mut args = std::env::args().skip(1);
    let (Some(http), Some(ws)) = (args.next(), args.next()) else {
        eprintln!("usage: size_raw <https-url> <wss-url>");
        return Ok(());
    };
    let agent = ureq::Agent::new_with_defaults();
    let mut res = agent.get(&http).call()?;
    let body: serde_json::Value = serde_json::from_str(&res.body_mut().read_to_string()?)?;
    println!("{} {}", res.status(), body.is_object());
    let url = url::Url::parse(&ws)?;
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = ClientConnection::new(Arc::new(config), ServerName::try_from(host.clone())?)?;
    let tcp = TcpStream::connect((host.as_str(), port))?;
    let (mut socket, _) = tungstenite::client::client(ws.as_str(), StreamOwned::new(conn, tcp))?;
    socket.send(Message::Text("ping".into()))?;
    println!("{:?}", socket.read()?);
    socket.close(None)?;
    Ok(())
}
