//! The smallest program using `request` and `connect_socket`, to measure
//! the binary size wxnet costs (see README "Performance").
//!
//! `scripts/size` builds it in a crate of its own, as an application
//! does, for each feature set, and prints the sizes. Run it with an URL
//! pair to use it:
//! `size_probe https://api.example.com/ wss://ws.example.com/`.

use std::time::Duration;

fn main() -> Result<(), wxnet::Error> {
    let mut args = std::env::args().skip(1);
    let (Some(http), Some(ws)) = (args.next(), args.next()) else {
        eprintln!("usage: size_probe <https-url> <wss-url>");
        return Ok(());
    };
    let origin = |u: &str| u.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let client = wxnet::Client::builder()
        .request_domains([origin(&http)])
        .socket_domains([origin(&ws)])
        .build()?;
    let res = client.request(wxnet::RequestOptions::new(http)).wait()?;
    println!("{}", res.status_code);
    let task = client.connect_socket(wxnet::ConnectSocketOptions::new(ws));
    task.wait_open(Duration::from_secs(10))?;
    task.send(wxnet::SocketMessage::Text("ping".into()))?;
    println!("{:?}", task.recv(Duration::from_secs(10))?);
    task.close(1000, "")?;
    Ok(())
}
