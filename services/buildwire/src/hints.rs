//! One clear line for a failure a person at the terminal can fix: what went wrong and
//! what to do. `main` prints it for every subcommand; `demo` also checks up front for
//! what it cannot run without (npm).

use std::io::ErrorKind;

use buildwire_edge::EdgeError;
use buildwire_runtime::Error as RuntimeError;

/// The line `main` prints for `failure` (prefixed with `buildwire: `).
pub fn explain(failure: &(dyn std::error::Error + 'static)) -> String {
    if let Some(edge) = failure.downcast_ref::<EdgeError>() {
        return explain_edge(edge).unwrap_or_else(|| failure.to_string());
    }
    if let Some(runtime) = failure.downcast_ref::<RuntimeError>() {
        return explain_runtime(runtime).unwrap_or_else(|| failure.to_string());
    }
    one_line(&failure.to_string())
}

fn explain_edge(edge: &EdgeError) -> Option<String> {
    match edge {
        EdgeError::Bind { addr, source } if source.kind() == ErrorKind::AddrInUse => Some(format!(
            "{addr} is already in use (another buildwire or another server): stop it, or set BUILDWIRE_HTTP_ADDR to a free address such as 127.0.0.1:8090"
        )),
        EdgeError::Bind { addr, source } => Some(format!(
            "cannot listen on {addr} ({source}): set BUILDWIRE_HTTP_ADDR to a local address such as 127.0.0.1:8080"
        )),
        EdgeError::Runtime(runtime) => explain_runtime(runtime),
        _ => None,
    }
}

fn explain_runtime(runtime: &RuntimeError) -> Option<String> {
    match runtime {
        RuntimeError::ManagedServer(reason) => Some(format!(
            "nats-server could not start ({}): run scripts/setup (it installs nats-server into .tools/), or set NATS_URL to a running nats-server >= 2.11 with JetStream",
            one_line(reason)
        )),
        RuntimeError::Connect { url, reason }
            if reason.to_lowercase().contains("authorization")
                || reason.to_lowercase().contains("authentication") =>
        {
            Some(format!(
                "NATS at {url} refused the credentials ({}): set NATS_USER and NATS_PASSWORD (or nats://user:password@host in NATS_URL) to this service's user",
                one_line(reason)
            ))
        }
        RuntimeError::Connect { url, reason } => Some(format!(
            "cannot reach NATS at {url} ({}): start that server, or unset NATS_URL to let buildwire run its own",
            one_line(reason)
        )),
        RuntimeError::UnsupportedServer(reason) => Some(format!(
            "{}: use nats-server >= 2.11 with JetStream (scripts/setup installs one into .tools/)",
            one_line(reason)
        )),
        _ => None,
    }
}

/// The first line of a message, trimmed: a failure is shown as one line.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// Fails with the line to show when npm cannot run: every build runs `npm install`.
pub fn require_npm() -> Result<(), String> {
    match std::process::Command::new("npm")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!(
            "npm --version failed ({status}): repair the Node.js 20 install (npm builds every app)"
        )),
        Err(_) => Err(
            "npm was not found on PATH: install Node.js 20 with npm (https://nodejs.org), then run the demo again"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::Failure;

    #[test]
    fn a_taken_port_says_which_setting_to_change() {
        let failure: Failure = Box::new(EdgeError::Bind {
            addr: "127.0.0.1:8080".into(),
            source: std::io::Error::from(ErrorKind::AddrInUse),
        });
        let line = explain(&*failure);
        assert!(line.contains("127.0.0.1:8080 is already in use"), "{line}");
        assert!(line.contains("BUILDWIRE_HTTP_ADDR"), "{line}");
    }

    #[test]
    fn a_nats_server_that_cannot_start_points_at_setup_and_nats_url() {
        let failure: Failure = Box::new(RuntimeError::ManagedServer(
            "no usable nats-server >= 2.11 found\nmore".into(),
        ));
        let line = explain(&*failure);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("scripts/setup") && line.contains("NATS_URL"),
            "{line}"
        );
    }
}
