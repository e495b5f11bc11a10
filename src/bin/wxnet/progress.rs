//! The progress bar of `download` and `upload`: drawn on stderr when it
//! is a terminal, absent when it is piped, so scripts see clean output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bytes so far, until the size is known (a download without
/// `Content-Length` never learns it).
const COUNTING: &str = "{bytes} {bytes_per_sec} {elapsed}";
const BAR: &str = "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {elapsed}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A progress bar on a terminal, or a hidden one.
pub fn bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style(COUNTING))
}

/// Move the bar to `done` of `total` bytes (`None` while unknown).
pub fn update(bar: &ProgressBar, done: u64, total: Option<u64>) {
    if let Some(t) = total.filter(|&t| bar.length() != Some(t)) {
        bar.set_style(style(BAR));
        bar.set_length(t);
    }
    bar.set_position(done);
}
