//! `wxnet request`: one `wx.request`, its result printed as JSON.

use serde_json::{Value, json};

use crate::common::{self, CallOptions};

/// Make one request as wx.request would; print its result as JSON
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URL (its origin must be listed, see --config)
    url: String,
    /// The HTTP method
    #[arg(short = 'X', long, value_name = "METHOD", value_parser = parse_method)]
    method: Option<wxnet::Method>,
    /// A request header (repeatable)
    #[arg(short = 'H', long, value_name = "NAME: VALUE", value_parser = parse_header)]
    header: Vec<(String, String)>,
    /// The body: a JSON object or array is sent as JSON, anything else as
    /// text
    #[arg(short = 'd', long, value_name = "DATA")]
    data: Option<String>,
    #[command(flatten)]
    options: CallOptions,
}

fn parse_method(s: &str) -> Result<wxnet::Method, String> {
    s.parse().map_err(|e: wxnet::Error| e.to_string())
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (n, v) = s.split_once(':').ok_or("a header is 'name: value'")?;
    Ok((n.trim().to_string(), v.trim().to_string()))
}

pub fn run(a: Args) -> crate::Outcome {
    let client = common::client(&a.options, &a.url, wxnet::ApiKind::Request)?;
    let mut o = wxnet::RequestOptions::new(a.url);
    if let Some(m) = a.method {
        o = o.method(m);
    }
    for (n, v) in a.header {
        o = o.header(n, v);
    }
    if let Some(d) = a.data {
        o = match serde_json::from_str::<Value>(&d) {
            Ok(v) if v.is_object() || v.is_array() => o.data(v),
            _ => o.data(d),
        };
    }
    if let Some(t) = a.options.common.timeout {
        o = o.timeout(t);
    }
    common::finish(client.request(o).wait().map(|r| {
        json!({
            "statusCode": r.status_code,
            "header": common::header_json(&r.header),
            "cookies": r.cookies,
            "data": match r.data {
                wxnet::ResponseData::Json(v) => v,
                wxnet::ResponseData::Text(s) => Value::String(s),
                wxnet::ResponseData::Bytes(b) => json!({ "bytes": b.len() }),
            },
        })
    }))
}
