// A loopback HTTP server for the library's doctests, which include this
// file (`mod doc { include!(...) }`) so that each setter's example can
// show its effect on a real call without reaching beyond 127.0.0.1.

#[allow(dead_code)]
/// Serve one HTTP exchange on 127.0.0.1: read a request (its head and a
/// `Content-Length` body), answer with `response` as given, then drain
/// what else the connection sends. Returns the base URL
/// (`http://127.0.0.1:port/`) and a receiver of the request's text.
pub fn serve_once(response: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", server.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = server.accept() else { return };
        let mut r = BufReader::new(&stream);
        let (mut request, mut len) = (String::new(), 0);
        while !request.ends_with("\r\n\r\n") {
            let start = request.len();
            if r.read_line(&mut request).unwrap_or(0) == 0 {
                return;
            }
            let line = request[start..].to_ascii_lowercase();
            if let Some(v) = line.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let _ = tx.send(request + &String::from_utf8_lossy(&body));
        let _ = (&stream).write_all(response.as_bytes());
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    (url, rx)
}

#[allow(dead_code)]
/// A listener on 127.0.0.1 that never answers: connections wait in the
/// kernel's backlog. Returns the base URL and the listener to keep alive.
pub fn silent() -> (String, std::net::TcpListener) {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", server.local_addr().unwrap());
    (url, server)
}
