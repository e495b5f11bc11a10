//! Request data and how it is put on the wire: query pairs for GET, JSON or
//! urlencoded bodies for objects, strings and bytes as they are.

use serde_json::Value;

/// The `data` of a request: a JSON value, a string or raw bytes.
///
/// An object on a GET becomes query pairs; on other methods it is sent as
/// JSON, or urlencoded when the content-type is
/// `application/x-www-form-urlencoded`. Strings and bytes are sent as they
/// are.
///
/// ```
/// use wxnet::RequestData;
/// assert!(matches!(RequestData::from(serde_json::json!({"a": 1})), RequestData::Json(_)));
/// assert!(matches!(RequestData::from("a=1"), RequestData::Text(_)));
/// assert!(matches!(RequestData::from(vec![1u8, 2]), RequestData::Bytes(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum RequestData {
    /// A JSON value (object, array or scalar).
    Json(Value),
    /// A string, sent unchanged (on GET: appended to the query).
    Text(String),
    /// Raw bytes, sent unchanged (`ArrayBuffer` in the mini program).
    Bytes(Vec<u8>),
}

impl From<Value> for RequestData {
    fn from(v: Value) -> Self {
        RequestData::Json(v)
    }
}

impl From<String> for RequestData {
    fn from(v: String) -> Self {
        RequestData::Text(v)
    }
}

impl From<&str> for RequestData {
    fn from(v: &str) -> Self {
        RequestData::Text(v.to_owned())
    }
}

impl From<Vec<u8>> for RequestData {
    fn from(v: Vec<u8>) -> Self {
        RequestData::Bytes(v)
    }
}

impl From<&[u8]> for RequestData {
    fn from(v: &[u8]) -> Self {
        RequestData::Bytes(v.to_vec())
    }
}

/// Append `s` percent-encoded as JavaScript's `encodeURIComponent` does.
pub(crate) fn encode_uri_component(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// A value as JavaScript's `String(v)` / `JSON.stringify(v)` gives it in a
/// query: strings raw, objects and arrays (and `null`) as JSON.
fn js_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => js_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

/// JavaScript prints integral floats without a fraction (`1.0` is `1`).
fn js_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 1e21 => {
            format!("{f:.0}")
        }
        _ => n.to_string(),
    }
}

/// `k=v&k2=v2` for an object (arrays use their indices as keys), as the
/// mini program builds a GET query or a urlencoded body.
pub(crate) fn form_pairs(v: &Value) -> String {
    let mut out = String::new();
    let mut pair = |k: &str, v: &Value| {
        if !out.is_empty() {
            out.push('&');
        }
        encode_uri_component(k, &mut out);
        out.push('=');
        encode_uri_component(&js_text(v), &mut out);
    };
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| pair(k, v)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pair(&i.to_string(), v)),
        scalar => out.push_str(&js_text(scalar)),
    }
    out
}

/// Append `extra` (already encoded) to the query of `url`, keeping what
/// is there.
pub(crate) fn append_query(url: &mut url::Url, extra: &str) {
    if extra.is_empty() {
        return;
    }
    let query = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{extra}"),
        _ => extra.to_owned(),
    };
    url.set_query(Some(&query));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_like_encode_uri_component() {
        let mut s = String::new();
        encode_uri_component("a b&c=d/é!*'()~", &mut s);
        assert_eq!(s, "a%20b%26c%3Dd%2F%C3%A9!*'()~");
    }

    #[test]
    fn object_becomes_pairs_with_nested_json() {
        let v = json!({"q": "x y", "n": 1, "f": 2.0, "b": true, "z": null, "o": {"k": [1]}});
        assert_eq!(
            form_pairs(&v),
            "q=x%20y&n=1&f=2&b=true&z=null&o=%7B%22k%22%3A%5B1%5D%7D"
        );
    }

    #[test]
    fn query_is_appended_to_an_existing_one() {
        let mut url = url::Url::parse("https://a.com/p?x=1#frag").unwrap();
        append_query(&mut url, "y=2");
        assert_eq!(url.as_str(), "https://a.com/p?x=1&y=2#frag");
        let mut url = url::Url::parse("https://a.com/p").unwrap();
        append_query(&mut url, "y=2");
        assert_eq!(url.as_str(), "https://a.com/p?y=2");
    }
}
