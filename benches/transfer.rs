//! Download to a file and multipart upload of a file, 64 MiB, against
//! nginx in its own process: wxnet against the raw stack (a ureq Agent
//! copying the body to a file; a multipart body made by hand around the
//! file), alternating rounds after a warm-up; the median of the per-round
//! ratios.
//!
//! ```sh
//! cargo bench --bench transfer                   # quiet
//! cargo bench --bench transfer -- --load stress  # or spin; --mib N for another size
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

const ROUNDS: usize = 5;

fn main() {
    let load = support::Load::from_args();
    let mib: usize = support::arg_value("--mib").map_or(64, |m| m.parse().unwrap());
    let server = support::Nginx::start();
    let up = server.file(mib);
    let client = support::wxnet_client(&server.ca_der, server.addr());
    let agent = support::raw_agent(&server.ca_der, server.addr());
    let out = server.dir().join("out.bin");
    println!(
        "load: {load:?}; load average before: {}",
        support::loadavg()
    );
    let _load = load.start();
    let timed = |f: &dyn Fn()| {
        let t0 = Instant::now();
        f();
        mib as f64 / t0.elapsed().as_secs_f64()
    };
    type Op<'a> = (&'a str, Box<dyn Fn() + 'a>, Box<dyn Fn() + 'a>);
    let ops: [Op; 2] = [
        (
            "download to a file",
            Box::new(|| support::wxnet_download(&client, mib, &out)),
            Box::new(|| support::raw_download(&agent, mib, &out)),
        ),
        (
            "multipart upload of a file",
            Box::new(|| support::wxnet_upload(&client, &up)),
            Box::new(|| support::raw_upload(&agent, &up)),
        ),
    ];
    for (what, wx, raw) in &ops {
        timed(wx.as_ref());
        timed(raw.as_ref());
        let (mut w, mut r, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            let (a, b) = if i % 2 == 0 {
                let a = timed(wx.as_ref());
                (a, timed(raw.as_ref()))
            } else {
                let b = timed(raw.as_ref());
                (timed(wx.as_ref()), b)
            };
            println!("{what} round {i}: wxnet {a:.0} MiB/s | raw {b:.0} MiB/s");
            w.push(a);
            r.push(b);
            ratios.push(a / b);
        }
        let ((wl, wh), (rl, rh)) = (support::range(&w), support::range(&r));
        println!(
            "| {what}, {mib} MiB, load {load:?} | {wl:.0}–{wh:.0} MiB/s | ureq {rl:.0}–{rh:.0} MiB/s \
             | {:.3}× (rounds {:.3}–{:.3}) |",
            support::median(&mut ratios.clone()),
            support::range(&ratios).0,
            support::range(&ratios).1,
        );
    }
    println!("load average after: {}", support::loadavg());
}
