//! A served document and how a request gets it: in the representation its `Accept-Encoding` allows, with a
//! strong ETag per representation, and a 304 when `If-None-Match` shows the client already has it.
//!
//! The gzip representation is compressed once, when the snapshot is built, not per request: rudder-server's
//! Go HTTP client and browsers ask for gzip on their own, so it is what most polls get, and a config
//! document shrinks about tenfold.

use std::io::Write;

use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

/// Below this, gzip saves too little to be worth a second representation.
const GZIP_MIN_BYTES: usize = 512;

/// Compressed on every change but served many times. zlib's default level takes about 2 ms for a 690 KB
/// config (100 sources × 5 destinations, zlib-rs, release build) and makes it 11 times smaller; level 9
/// saves 4 % more for nearly twice the time, level 1 costs 40 % more bytes.
const GZIP_LEVEL: u32 = 6;

/// One representation of a document: the bytes sent and their strong ETag.
pub struct Representation {
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Representation {
    fn new(body: Vec<u8>) -> Representation {
        let digest = Sha256::digest(&body);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
            .expect("hex is a header value");
        Representation {
            body: Bytes::from(body),
            etag,
        }
    }
}

/// A JSON document in the representations it is served in.
pub struct Document {
    pub identity: Representation,
    /// The same document gzipped; `None` when that would not make it meaningfully smaller.
    pub gzip: Option<Representation>,
}

impl Document {
    /// A document of the snapshot, served many times: compressed now.
    pub fn new(body: Vec<u8>) -> Document {
        let gzip = (body.len() >= GZIP_MIN_BYTES)
            .then(|| gzip(&body))
            .filter(|compressed| compressed.len() < body.len())
            .map(Representation::new);
        Document {
            identity: Representation::new(body),
            gzip,
        }
    }

    /// A document assembled for one request (an incremental namespace poll, mostly `null`s): compressing
    /// it would cost more than sending it.
    pub fn uncompressed(body: Vec<u8>) -> Document {
        Document {
            identity: Representation::new(body),
            gzip: None,
        }
    }

    /// 200 with the representation the request accepts and its ETag, or 304 when the client already has
    /// that representation.
    pub fn serve(&self, headers: &HeaderMap) -> Response {
        let (representation, encoding) = match &self.gzip {
            Some(gzip) if accepts_gzip(headers) => (gzip, Some("gzip")),
            _ => (&self.identity, None),
        };
        let mut response = if if_none_match(headers, &representation.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = representation.body.clone().into_response();
            let h = response.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Some(encoding) = encoding {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response
        };
        let h = response.headers_mut();
        h.insert(ETAG, representation.etag.clone());
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        response
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(body).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3): `gzip` (or its alias `x-gzip`) with a non-zero
/// weight, or else `*` with one. No header, or a weight that is not a number, means identity, which every
/// client can read.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let members = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','));
    for member in members {
        let mut parts = member.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok());
        let acceptable = weight.is_some_and(|q| q > 0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.unwrap_or(false) || acceptable);
        } else if coding == "*" {
            any = Some(any.unwrap_or(false) || acceptable);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether `If-None-Match` matches (RFC 9110 §13.1.2, for GET): `*`, or any entity tag of its lists under
/// weak comparison, `W/"x"` matching `"x"`.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = opaque_tag(etag.as_bytes());
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|list| entity_tags(list.as_bytes()).any(|tag| tag == b"*" || tag == ours))
}

/// An entity tag without its weakness indicator: `"x"` for `W/"x"`.
fn opaque_tag(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// The members of an `If-None-Match` list: `*` or opaque tags (quotes kept). A quoted tag may itself hold a
/// comma, so the list is scanned rather than split; a malformed member is skipped up to the next comma.
fn entity_tags(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            return None;
        }
        let member = opaque_tag(rest);
        if member.starts_with(b"*") {
            rest = &member[1..];
            return Some(&b"*"[..]);
        }
        if let Some(quoted) = member.strip_prefix(b"\"") {
            if let Some(end) = quoted.iter().position(|&b| b == b'"') {
                rest = &quoted[end + 1..];
                return Some(&member[..end + 2]);
            }
        }
        let skip = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        rest = &rest[skip..];
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn matches(header: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_str(header).unwrap());
        if_none_match(&headers, &HeaderValue::from_static("\"abc\""))
    }

    #[test]
    fn if_none_match_follows_rfc_9110() {
        assert!(matches("\"abc\""));
        assert!(matches("W/\"abc\""));
        assert!(matches("\"x\", W/\"abc\""));
        assert!(matches("\"a,b\",\"abc\""));
        assert!(matches("*"));
        assert!(matches("junk, \"abc\""));
        assert!(!matches("\"abcd\""));
        assert!(!matches("abc"));
        assert!(
            !matches("\"a,\"abc\"\""),
            "a comma inside a tag does not split it"
        );
        assert!(!matches(""));
        assert!(!matches("W/"));
    }

    fn takes_gzip(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn accept_encoding_follows_rfc_9110() {
        // What Go's HTTP client (rudder-server) and browsers send.
        assert!(takes_gzip(&["gzip"]));
        assert!(takes_gzip(&["gzip, deflate, br, zstd"]));
        assert!(takes_gzip(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(takes_gzip(&["x-gzip"]));
        assert!(takes_gzip(&["*"]));
        assert!(takes_gzip(&["br", "gzip"]), "several header lines");
        assert!(!takes_gzip(&[]));
        assert!(!takes_gzip(&["identity"]));
        assert!(!takes_gzip(&["br, deflate"]));
        assert!(!takes_gzip(&["gzip;q=0"]));
        assert!(!takes_gzip(&["gzip; q=0.000"]));
        assert!(!takes_gzip(&["*, gzip;q=0"]), "refused by name despite *");
        assert!(!takes_gzip(&["*;q=0"]));
        assert!(
            !takes_gzip(&["gzip;q=lots"]),
            "a weight that is not a number"
        );
    }

    #[test]
    fn the_gzip_representation_is_the_same_document() {
        let body = serde_json::to_vec(&serde_json::json!({
            "sources": (0..50).map(|i| serde_json::json!({"id": i, "name": "Website"})).collect::<Vec<_>>()
        }))
        .unwrap();
        let document = Document::new(body.clone());
        let gzip = document
            .gzip
            .as_ref()
            .expect("a large document is compressed");
        assert!(gzip.body.len() < body.len() / 2);
        assert_ne!(
            gzip.etag, document.identity.etag,
            "one strong ETag per representation"
        );
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip.body[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, body);

        assert!(
            Document::new(b"{}".to_vec()).gzip.is_none(),
            "too small to gain"
        );
        assert!(Document::uncompressed(body).gzip.is_none());
    }
}
