//! Helpers shared by several test binaries of this crate (each binary includes this module).
//! Must not hold anything specific to one test.

#![allow(dead_code)] // each test binary uses only part of it

use std::{
    io::Write,
    sync::{Arc, Mutex, PoisonError},
};

/// Everything logged in this test binary, as text lines.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs the capture as the global subscriber: one test per binary may call it (nextest
    /// runs each test in its own process).
    pub fn install() -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .init();
        logs
    }

    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Lines whose message says `message`, leaving out per-command failures.
    pub fn count(&self, message: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.contains(message) && !line.contains("command failed"))
            .count()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
