//! Response headers as the mini program sees them: one entry per name, in
//! the order the server sent them, repeated headers joined with `", "`,
//! looked up in any case.

use std::fmt;

/// Response headers: ordered, one entry per name, case-insensitive lookup.
///
/// Names are as the HTTP layer delivers them (lower case); repeated
/// headers are joined with `", "` in arrival order, as `res.header` is in
/// the mini program. The raw `Set-Cookie` values are also in the result's
/// `cookies`.
///
/// ```
/// let mut h = wxnet::Header::new();
/// h.append("Content-Type", "text/plain");
/// h.append("x-a", "1");
/// h.append("X-A", "2");
/// assert_eq!(h.get("content-type"), Some("text/plain"));
/// assert_eq!(h.get("x-a"), Some("1, 2"));
/// assert_eq!(h.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct Header {
    // Every name and value lives in one buffer: converting a response's
    // headers costs two allocations, not two per header.
    text: String,
    entries: Vec<Entry>,
}

/// Where a name and its value are in [`Header::text`].
#[derive(Clone, Copy)]
struct Entry {
    name: (usize, usize),
    value: (usize, usize),
}

impl Header {
    fn name_of(&self, e: &Entry) -> &str {
        &self.text[e.name.0..e.name.1]
    }

    fn value_of(&self, e: &Entry) -> &str {
        &self.text[e.value.0..e.value.1]
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| self.name_of(e).eq_ignore_ascii_case(name))
    }

    fn push_text(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    /// Add `name`, not yet present, with `value`.
    fn push_new(&mut self, name: &str, value: &str) {
        let name = self.push_text(name);
        let value = self.push_text(value);
        self.entries.push(Entry { name, value });
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Header) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Header {}

impl Header {
    /// An empty header map.
    ///
    /// ```
    /// assert!(wxnet::Header::new().is_empty());
    /// ```
    pub fn new() -> Header {
        Header::default()
    }

    /// Add a value; a name already present gets `", " + value` appended.
    ///
    /// ```
    /// let mut h = wxnet::Header::new();
    /// h.append("a", "1");
    /// h.append("A", "2");
    /// assert_eq!(h.get("a"), Some("1, 2"));
    /// ```
    pub fn append(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => {
                // A repeat is rare: unless it is the last value written,
                // the joined value is written anew at the end and the old
                // one left unused.
                let (from, to) = self.entries[i].value;
                let start = if to == self.text.len() {
                    // The last value written: extended where it is.
                    from
                } else {
                    let start = self.text.len();
                    let old = self.text[from..to].to_owned();
                    self.text.push_str(&old);
                    start
                };
                self.text.push_str(", ");
                self.text.push_str(value);
                self.entries[i].value = (start, self.text.len());
            }
            None => self.push_new(name, value),
        }
    }

    /// The value of `name`, in any case.
    ///
    /// ```
    /// let mut h = wxnet::Header::new();
    /// h.append("ETag", "\"x\"");
    /// assert_eq!(h.get("etag"), Some("\"x\""));
    /// assert_eq!(h.get("missing"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.value_of(&self.entries[i]))
    }

    /// Whether `name` is present, in any case.
    ///
    /// ```
    /// let mut h = wxnet::Header::new();
    /// h.append("a", "1");
    /// assert!(h.contains("A"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The entries in arrival order.
    ///
    /// ```
    /// let mut h = wxnet::Header::new();
    /// h.append("b", "1");
    /// h.append("a", "2");
    /// let names: Vec<&str> = h.iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (self.name_of(e), self.value_of(e)))
    }

    /// The number of distinct names.
    ///
    /// ```
    /// assert_eq!(wxnet::Header::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    ///
    /// ```
    /// assert!(wxnet::Header::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Build from an HTTP header map, keeping arrival order; values that
    /// are not UTF-8 are decoded as Latin-1, as browsers do.
    pub(crate) fn from_http(map: &ureq::http::HeaderMap) -> (Header, Vec<String>) {
        let size = map
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum::<usize>();
        let mut header = Header {
            text: String::with_capacity(size + size / 8),
            entries: Vec::with_capacity(map.keys_len()),
        };
        let mut cookies = Vec::new();
        for (name, value) in map {
            let value = header_value_text(value.as_bytes());
            if name == ureq::http::header::SET_COOKIE {
                cookies.push(value.clone().into_owned());
            }
            // A header map holds each (lower-case) name once, its values
            // in a row: only the last entry can be a repeat.
            match header.entries.last() {
                Some(last) if header.name_of(last) == name.as_str() => {
                    header.append(name.as_str(), &value)
                }
                _ => header.push_new(name.as_str(), &value),
            }
        }
        (header, cookies)
    }
}

/// A header value as text: UTF-8 as is, other bytes as Latin-1.
fn header_value_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Header {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::{HeaderMap, HeaderValue};

    #[test]
    fn from_http_joins_repeats_and_collects_cookies() {
        let mut map = HeaderMap::new();
        map.append("set-cookie", HeaderValue::from_static("a=1"));
        map.append("content-type", HeaderValue::from_static("text/plain"));
        map.append("set-cookie", HeaderValue::from_static("b=2; Path=/"));
        map.append("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let (h, cookies) = Header::from_http(&map);
        assert_eq!(h.get("Set-Cookie"), Some("a=1, b=2; Path=/"));
        assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
        assert_eq!(h.get("x-bin"), Some("café"));
        assert_eq!(h.iter().next().unwrap().0, "set-cookie");
    }

    #[test]
    fn repeats_join_wherever_the_first_value_is() {
        let mut h = Header::new();
        h.append("a", "1");
        h.append("b", "2");
        h.append("A", "3"); // not the last value written: copied
        h.append("b", "4");
        h.append("B", "5"); // the last value written: extended in place
        assert_eq!(h.get("a"), Some("1, 3"));
        assert_eq!(h.get("b"), Some("2, 4, 5"));
        let mut same = Header::new();
        same.append("a", "1, 3");
        same.append("b", "2, 4, 5");
        assert_eq!(h, same);
        assert_eq!(format!("{h:?}"), format!("{same:?}"));
    }
}
