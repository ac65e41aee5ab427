//! A served document and how a request gets it: in the representation its `Accept-Encoding` allows, with a
//! strong ETag per representation, and a 304 when `If-None-Match` shows the client already has it.
//!
//! The gzip representation is compressed once, when the snapshot is built, not per request: rudder-server's
//! Go HTTP client and browsers ask for gzip on their own, so it is what most polls get, and a config
//! document shrinks about tenfold.
//!
//! A workspace's config is compressed as a raw deflate *segment* (ended by a sync flush, so that it ends on
//! a byte boundary and is not the stream's last block). Its gzip representation is that segment between a
//! gzip header and trailer; a namespace document is spliced from its workspaces' segments the same way
//! (`NamespaceDocument`), so a change to one workspace recompresses that workspace only.

use std::io::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, FlushCompress};
use sha2::{Digest, Sha256};

/// Below this, gzip saves too little to be worth a second representation.
const GZIP_MIN_BYTES: usize = 512;

/// Compressed on every change but served many times. zlib's default level takes about 2 ms for a 690 KB
/// config (100 sources × 5 destinations, zlib-rs, release build) and makes it 11 times smaller; level 9
/// saves 4 % more for nearly twice the time, level 1 costs 40 % more bytes.
const GZIP_LEVEL: u32 = 6;

/// The gzip member header (RFC 1952): deflate, no flags, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty, final, stored deflate block: ends a stream whose segments all ended with a sync flush.
const FINAL_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// The bytes of a representation: one buffer, or (a namespace document) the parts it is spliced from.
#[derive(Clone)]
pub enum Payload {
    Whole(Bytes),
    Chunks(Arc<Vec<Bytes>>),
}

impl Payload {
    pub fn len(&self) -> usize {
        match self {
            Payload::Whole(bytes) => bytes.len(),
            Payload::Chunks(chunks) => chunks.iter().map(Bytes::len).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_body(self) -> Body {
        match self {
            Payload::Whole(bytes) => Body::from(bytes),
            Payload::Chunks(chunks) => {
                let count = chunks.len();
                Body::from_stream(futures::stream::iter(
                    (0..count).map(move |i| Ok::<_, std::convert::Infallible>(chunks[i].clone())),
                ))
            }
        }
    }

    /// Every byte in one buffer (tests, and small documents).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Payload::Whole(bytes) => bytes.to_vec(),
            Payload::Chunks(chunks) => chunks.iter().flat_map(|c| c.iter().copied()).collect(),
        }
    }
}

/// One representation of a document: the bytes sent and their strong ETag.
pub struct Representation {
    pub body: Payload,
    pub etag: HeaderValue,
}

impl Representation {
    fn new(body: Vec<u8>) -> Representation {
        let etag = etag_of(&Sha256::digest(&body));
        Representation {
            body: Payload::Whole(Bytes::from(body)),
            etag,
        }
    }
}

fn etag_of(digest: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
        .expect("hex is a header value")
}

/// A JSON document in the representations it is served in.
pub struct Document {
    pub identity: Representation,
    /// The same document gzipped; `None` when that would not make it meaningfully smaller.
    pub gzip: Option<Representation>,
    /// The identity bytes as a deflate segment, for documents spliced into namespace documents.
    pub segment: Option<Bytes>,
}

impl Document {
    /// A document of the snapshot, served many times: compressed now.
    pub fn new(body: Vec<u8>) -> Document {
        let gzip = (body.len() >= GZIP_MIN_BYTES)
            .then(|| gzip_member(&[&deflate_segment(&body)], &body))
            .filter(|compressed| compressed.len() < body.len())
            .map(Representation::new);
        Document {
            identity: Representation::new(body),
            gzip,
            segment: None,
        }
    }

    /// A workspace config: compressed now, and its deflate segment kept for namespace documents.
    pub fn spliceable(body: Vec<u8>) -> Document {
        let segment = Bytes::from(deflate_segment(&body));
        let gzip = gzip_member(&[&segment], &body);
        let gzip = (body.len() >= GZIP_MIN_BYTES && gzip.len() < body.len())
            .then(|| Representation::new(gzip));
        Document {
            identity: Representation::new(body),
            gzip,
            segment: Some(segment),
        }
    }

    /// A document assembled for one request (an incremental namespace poll, mostly `null`s): compressing
    /// it would cost more than sending it.
    pub fn uncompressed(body: Vec<u8>) -> Document {
        Document {
            identity: Representation::new(body),
            gzip: None,
            segment: None,
        }
    }

    /// 200 with the representation the request accepts and its ETag, or 304 when the client already has
    /// that representation.
    pub fn serve(&self, headers: &HeaderMap) -> Response {
        serve(&self.identity, self.gzip.as_ref(), headers)
    }
}

fn serve(
    identity: &Representation,
    gzip: Option<&Representation>,
    headers: &HeaderMap,
) -> Response {
    let (representation, encoding) = match gzip {
        Some(gzip) if accepts_gzip(headers) => (gzip, Some("gzip")),
        _ => (identity, None),
    };
    let mut response = if if_none_match(headers, &representation.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = representation.body.len();
        let mut response = representation.body.clone().into_body().into_response();
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_LENGTH, HeaderValue::from(length));
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

/// A namespace's full document, `{"<workspace id>": ConfigT, …}`, spliced from its workspaces' documents:
/// the identity bytes are the workspace documents themselves (no copy), the gzip bytes their deflate
/// segments. Building it costs a checksum over the bytes, not a compression.
pub struct NamespaceDocument {
    pub identity: Representation,
    pub gzip: Representation,
}

impl NamespaceDocument {
    /// `entries`: each workspace's id and its spliceable config document, in order.
    pub fn splice<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a Document)>,
    ) -> NamespaceDocument {
        static SEPARATORS: std::sync::OnceLock<[Bytes; 3]> = std::sync::OnceLock::new();
        let [open, comma, close] =
            SEPARATORS.get_or_init(|| [b"{", b",", b"}"].map(|s| Bytes::from(deflate_segment(s))));
        let mut identity = vec![Bytes::from_static(b"{")];
        let mut gzip = vec![Bytes::from_static(&GZIP_HEADER), open.clone()];
        let mut identity_digest = Sha256::new();
        for (i, (workspace_id, document)) in entries.into_iter().enumerate() {
            let key = Bytes::from(format!("{}:", serde_json::Value::from(workspace_id)));
            if i > 0 {
                identity.push(Bytes::from_static(b","));
                gzip.push(comma.clone());
            }
            let Payload::Whole(body) = &document.identity.body else {
                unreachable!("workspace documents are whole");
            };
            gzip.push(Bytes::from(deflate_segment(&key)));
            gzip.push(match &document.segment {
                Some(segment) => segment.clone(),
                None => Bytes::from(deflate_segment(body)),
            });
            identity_digest.update(&key);
            identity_digest.update(document.identity.etag.as_bytes());
            identity.push(key);
            identity.push(body.clone());
        }
        identity.push(Bytes::from_static(b"}"));
        gzip.push(close.clone());
        gzip.push(Bytes::from_static(&FINAL_BLOCK));
        let mut crc = crc32fast::Hasher::new();
        let mut length: u64 = 0;
        for chunk in &identity {
            crc.update(chunk);
            length += chunk.len() as u64;
        }
        let mut trailer = BytesMut::with_capacity(8);
        trailer.put_u32_le(crc.finalize());
        trailer.put_u32_le(length as u32);
        gzip.push(trailer.freeze());
        let identity_digest = identity_digest.finalize();
        let gzip_digest = Sha256::new()
            .chain_update(b"gzip:")
            .chain_update(identity_digest)
            .finalize();
        NamespaceDocument {
            identity: Representation {
                body: Payload::Chunks(Arc::new(identity)),
                etag: etag_of(&identity_digest),
            },
            gzip: Representation {
                body: Payload::Chunks(Arc::new(gzip)),
                etag: etag_of(&gzip_digest),
            },
        }
    }

    pub fn serve(&self, headers: &HeaderMap) -> Response {
        serve(&self.identity, Some(&self.gzip), headers)
    }
}

/// `body` as raw deflate blocks ended by a sync flush: byte-aligned and not final, so that segments can be
/// concatenated and closed by `FINAL_BLOCK`.
fn deflate_segment(body: &[u8]) -> Vec<u8> {
    // One compressor per thread, reset for each use: a new one allocates (and zeroes) a few hundred KB, more
    // than compressing a namespace document's short keys (a thousand of them for a thousand workspaces).
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::new(GZIP_LEVEL), false));
    }
    COMPRESSOR.with_borrow_mut(|compressor| {
        compressor.reset();
        let mut out = Vec::with_capacity(body.len() / 4 + 64);
        loop {
            let consumed = compressor.total_in() as usize;
            out.reserve(body.len().saturating_sub(consumed) / 2 + 64);
            compressor
                .compress_vec(&body[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate into memory");
            // Done once all input is in and the flush left spare room (a full buffer may hold more to flush).
            if compressor.total_in() as usize == body.len() && out.len() < out.capacity() {
                return out;
            }
        }
    })
}

/// One gzip member around deflate segments whose uncompressed bytes are `body`.
fn gzip_member(segments: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let size: usize = segments.iter().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(GZIP_HEADER.len() + size + FINAL_BLOCK.len() + 8);
    out.extend_from_slice(&GZIP_HEADER);
    for segment in segments {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&FINAL_BLOCK);
    let mut crc = crc32fast::Hasher::new();
    crc.update(body);
    out.write_all(&crc.finalize().to_le_bytes())
        .expect("memory");
    out.write_all(&(body.len() as u32).to_le_bytes())
        .expect("memory");
    out
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
        let gzip_bytes = gzip.body.to_vec();
        assert_ne!(
            gzip.etag, document.identity.etag,
            "one strong ETag per representation"
        );
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip_bytes[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, body);

        assert!(
            Document::new(b"{}".to_vec()).gzip.is_none(),
            "too small to gain"
        );
        assert!(Document::uncompressed(body).gzip.is_none());
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("a valid gzip member");
        out
    }

    #[test]
    fn a_namespace_document_is_spliced_from_its_workspaces() {
        let config = |n: usize| {
            serde_json::to_vec(&serde_json::json!({
                "workspaceId": format!("ws{n}"),
                "sources": (0..n * 7).map(|i| serde_json::json!({"id": i, "name": "Website"})).collect::<Vec<_>>()
            }))
            .unwrap()
        };
        let documents: Vec<(String, Document)> = (0..4)
            .map(|n| (format!("ws{n}"), Document::spliceable(config(n))))
            .collect();
        let spliced = NamespaceDocument::splice(documents.iter().map(|(id, d)| (id.as_str(), d)));
        let expected = serde_json::to_vec(&serde_json::json!({
            "ws0": serde_json::from_slice::<serde_json::Value>(&config(0)).unwrap(),
            "ws1": serde_json::from_slice::<serde_json::Value>(&config(1)).unwrap(),
            "ws2": serde_json::from_slice::<serde_json::Value>(&config(2)).unwrap(),
            "ws3": serde_json::from_slice::<serde_json::Value>(&config(3)).unwrap(),
        }))
        .unwrap();
        assert_eq!(spliced.identity.body.to_vec(), expected);
        assert_eq!(gunzip(&spliced.gzip.body.to_vec()), expected);
        assert_ne!(spliced.identity.etag, spliced.gzip.etag);

        let empty = NamespaceDocument::splice(std::iter::empty());
        assert_eq!(empty.identity.body.to_vec(), b"{}");
        assert_eq!(gunzip(&empty.gzip.body.to_vec()), b"{}");

        // A workspace's own gzip representation is its segment in a gzip member.
        let single = Document::spliceable(config(3));
        assert_eq!(
            gunzip(&single.gzip.as_ref().unwrap().body.to_vec()),
            config(3)
        );
    }
}
