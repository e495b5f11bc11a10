//! `wxnet upload`: one `wx.uploadFile`, its result printed as JSON.

use std::path::PathBuf;

use serde_json::json;

use crate::common::{self, CallOptions};
use crate::progress;

/// Upload a file as wx.uploadFile would; print the result as JSON
///
/// The file goes as multipart/form-data with the --form fields. A progress
/// bar is drawn on stderr when it is a terminal.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URL (its origin must be listed, see --config)
    url: String,
    /// The file to send
    file: PathBuf,
    /// The form field of the file
    #[arg(long, value_name = "FIELD", default_value = "file")]
    name: String,
    /// Another form field (repeatable)
    #[arg(short = 'F', long, value_name = "KEY=VALUE", value_parser = parse_field)]
    form: Vec<(String, String)>,
    #[command(flatten)]
    options: CallOptions,
}

fn parse_field(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("a form field is key=value")?;
    Ok((k.to_string(), v.to_string()))
}

pub fn run(a: Args) -> crate::Outcome {
    let client = common::client(&a.options, &a.url, wxnet::ApiKind::UploadFile)?;
    let bar = progress::bar();
    let shown = bar.clone();
    let mut o = wxnet::UploadFileOptions::new(a.url, a.file, a.name).on_progress_update(move |p| {
        progress::update(
            &shown,
            p.total_bytes_sent,
            Some(p.total_bytes_expected_to_send),
        )
    });
    for (k, v) in a.form {
        o = o.form_data(k, v);
    }
    if let Some(t) = a.options.common.timeout {
        o = o.timeout(t);
    }
    let r = client.upload_file(o).wait();
    bar.finish_and_clear();
    common::finish(r.map(|r| {
        json!({
            "statusCode": r.status_code,
            "header": common::header_json(&r.header),
            "data": r.data,
        })
    }))
}
