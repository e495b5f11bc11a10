//! `skip_domain_check` logs exactly one warning per client built with it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

static WARNINGS: AtomicUsize = AtomicUsize::new(0);
static LAST: Mutex<String> = Mutex::new(String::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Warn {
            WARNINGS.fetch_add(1, Ordering::SeqCst);
            *LAST.lock().unwrap() = record.args().to_string();
        }
    }
    fn flush(&self) {}
}

#[test]
fn skip_domain_check_logs_one_warning_per_client() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let _normal = wxnet::Client::builder().build().unwrap();
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 0);
    let _skip = wxnet::Client::builder()
        .skip_domain_check(true)
        .build()
        .unwrap();
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 1);
    assert!(LAST.lock().unwrap().contains("NOT verified"));
}
