//! Just enough DER to read an OCSP response, the signed parts of a
//! certificate and the bundled trust anchors, and to write an OCSP
//! request: tag-length-value items with one-byte tags. Every read is
//! bounds-checked; malformed input is `None`.

/// Tags used here (universal, constructed where the type is).
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;

/// A context-specific tag `[n]`, constructed (EXPLICIT or a structure).
pub(crate) const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// A context-specific primitive tag `[n]` (IMPLICIT over a primitive).
pub(crate) const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

/// One item: its tag, contents, and the whole encoding.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads the items of a DER sequence in turn.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next item, whatever its tag.
    pub fn any(&mut self) -> Option<Tlv<'a>> {
        let (&tag, after) = self.rest.split_first()?;
        let (&first, after) = after.split_first()?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after.len() < n {
                return None;
            }
            let len = after[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &after[n..])
        };
        let value = after.get(..len)?;
        let header = self.rest.len() - after.len();
        let raw = &self.rest[..header + len];
        self.rest = &after[len..];
        Some(Tlv { tag, value, raw })
    }

    /// The next item, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let item = self.any()?;
        (item.tag == tag).then_some(item)
    }

    /// The next item if it has tag `tag`; otherwise nothing is consumed.
    pub fn optional(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if self.rest.first() == Some(&tag) {
            self.any()
        } else {
            None
        }
    }

    /// The contents of the next item, a SEQUENCE, to read in turn.
    pub fn sequence(&mut self) -> Option<Reader<'a>> {
        self.expect(SEQUENCE).map(|t| Reader::new(t.value))
    }
}

/// The parts a signature covers and carries: the signed structure (whole
/// encoding), the signature algorithm (contents of its identifier) and
/// the signature bits. Certificates and OCSP responses share this shape.
pub(crate) struct Signed<'a> {
    pub tbs: Tlv<'a>,
    pub algorithm: &'a [u8],
    pub signature: &'a [u8],
    /// What follows the signature (an OCSP response's certificates).
    pub rest: Reader<'a>,
}

impl<'a> Signed<'a> {
    pub fn parse(der: &'a [u8]) -> Option<Signed<'a>> {
        let mut outer = Reader::new(der).sequence()?;
        let tbs = outer.expect(SEQUENCE)?;
        let algorithm = outer.expect(SEQUENCE)?.value;
        let signature = bits(outer.expect(BIT_STRING)?)?;
        Some(Signed {
            tbs,
            algorithm,
            signature,
            rest: outer,
        })
    }
}

/// The bits of a BIT STRING with no unused bits (keys and signatures).
pub(crate) fn bits(t: Tlv<'_>) -> Option<&[u8]> {
    match t.value.split_first() {
        Some((0, rest)) => Some(rest),
        _ => None,
    }
}

/// A subjectPublicKeyInfo split into its algorithm (contents of the
/// identifier) and the key bits.
pub(crate) fn spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut r = Reader::new(der).sequence()?;
    let algorithm = r.expect(SEQUENCE)?.value;
    Some((algorithm, bits(r.expect(BIT_STRING)?)?))
}

/// A GeneralizedTime (`YYYYMMDDHHMMSS[.f]Z`) in seconds since the epoch.
pub(crate) fn generalized_time(t: Tlv<'_>) -> Option<i64> {
    if t.tag != GENERALIZED_TIME {
        return None;
    }
    let s = std::str::from_utf8(t.value).ok()?;
    let s = s.strip_suffix('Z')?;
    let whole = s.split('.').next()?;
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |from: usize, to: usize| whole[from..to].parse::<i64>().ok();
    let (y, mo, d) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (h, mi, sec) = (n(8, 10)?, n(10, 12)?, n(12, 14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One item with tag `tag` around `value`.
pub(crate) fn write(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_truncation_is_none() {
        for len in [0usize, 5, 127, 128, 300, 70_000] {
            let item = write(OCTET_STRING, &vec![7; len]);
            let t = Reader::new(&item).expect(OCTET_STRING).unwrap();
            assert_eq!((t.value.len(), t.raw.len()), (len, item.len()));
            assert!(Reader::new(&item[..item.len() - 1]).any().is_none() || len == 0);
        }
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).any().is_none());
        assert!(Reader::new(&[0x30]).any().is_none());
    }

    #[test]
    fn generalized_times_are_read_as_utc_seconds() {
        let t = |s: &str| {
            generalized_time(
                Reader::new(&write(GENERALIZED_TIME, s.as_bytes()))
                    .any()
                    .unwrap(),
            )
        };
        assert_eq!(t("19700101000000Z"), Some(0));
        assert_eq!(t("20261201000000Z"), Some(1_796_083_200));
        assert_eq!(t("20200901000000.5Z"), Some(1_598_918_400));
        assert_eq!(t("2020090100000Z"), None);
        assert_eq!(t("20201301000000Z"), None);
    }
}
