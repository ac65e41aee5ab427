//! Log capture: one global tracing subscriber for the whole test process, at DEBUG for every target (the
//! server's, sqlx's, hyper's, tower's…), writing every line into an in-memory buffer. Tests run in parallel
//! and share it, so they search it for strings unique to themselves (a per-test canary, a per-test password).
//! Lines at INFO and above are also echoed to the test's captured output, to help when a test fails.

use std::io::Write;
use std::sync::{Mutex, Once};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct BufferWriter;

impl Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        BUFFER
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferWriter {
    type Writer = BufferWriter;

    fn make_writer(&'a self) -> Self::Writer {
        BufferWriter
    }
}

/// Installs the subscriber (once per process; later calls do nothing).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let capture = tracing_subscriber::fmt::layer()
            .with_writer(BufferWriter)
            .with_ansi(false)
            .with_filter(LevelFilter::DEBUG);
        let echo = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(LevelFilter::INFO);
        // Also installs the `log` → tracing bridge, so crates logging through `log` are captured too.
        let _ = tracing_subscriber::registry()
            .with(capture)
            .with(echo)
            .try_init();
    });
}

/// Whether any captured log line so far contains `needle`.
pub fn contain(needle: &str) -> bool {
    let buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    find(&buffer, needle.as_bytes()).is_some()
}

/// The captured lines that contain `needle` (for failure messages).
pub fn lines_with(needle: &str) -> Vec<String> {
    let buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&buffer)
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Panics, showing the lines, when any captured log line contains `needle`.
pub fn assert_never_logged(needle: &str, what: &str) {
    let lines = lines_with(needle);
    assert!(
        lines.is_empty(),
        "{what} appears in {} log line(s), e.g.:\n{}",
        lines.len(),
        lines.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Total bytes captured so far (lets a test prove that the capture is working at all).
pub fn captured_bytes() -> usize {
    BUFFER.lock().unwrap_or_else(|e| e.into_inner()).len()
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
