//! `wxnet download`: one `wx.downloadFile`, its result printed as JSON.

use std::path::PathBuf;

use serde_json::json;

use crate::common::{self, CallOptions};
use crate::progress;

/// Download a file as wx.downloadFile would; print the result as JSON
///
/// A progress bar is drawn on stderr when it is a terminal.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URL (its origin must be listed, see --config)
    url: String,
    /// Where to write the file; otherwise a new file in the temp directory
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    options: CallOptions,
}

pub fn run(a: Args) -> crate::Outcome {
    let client = common::client(&a.options, &a.url, wxnet::ApiKind::DownloadFile)?;
    let bar = progress::bar();
    let shown = bar.clone();
    let mut o = wxnet::DownloadFileOptions::new(a.url).on_progress_update(move |p| {
        progress::update(
            &shown,
            p.total_bytes_written,
            p.total_bytes_expected_to_write,
        )
    });
    if let Some(path) = a.output {
        o = o.file_path(path);
    }
    if let Some(t) = a.options.common.timeout {
        o = o.timeout(t);
    }
    let r = client.download_file(o).wait();
    bar.finish_and_clear();
    common::finish(r.map(|r| {
        json!({
            "statusCode": r.status_code,
            "tempFilePath": r.temp_file_path,
            "filePath": r.file_path,
            "header": common::header_json(&r.header),
        })
    }))
}
