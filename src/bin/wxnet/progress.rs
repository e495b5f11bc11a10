//! The progress bar of `download` and `upload`: drawn on stderr when it
//! is a terminal, absent when it is piped, so scripts see clean output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of bytes on a terminal, or a hidden one.
pub fn bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style)
}

/// Move the bar to `done` of `total` bytes (`None` while unknown).
pub fn update(bar: &ProgressBar, done: u64, total: Option<u64>) {
    if let Some(t) = total {
        bar.set_length(t);
    }
    bar.set_position(done);
}
