//! Close codes: what each one wxnet sends or reports means, who may send
//! it, and the one way a close frame is sent.

use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::event::SocketClose;
use crate::error::ErrorKind::{ConnectionReset, InvalidResponse, Network};
use crate::error::{Api, Error, ErrorKind, Result};

/// Longest close reason a close frame can carry, in UTF-8 bytes.
const MAX_REASON: usize = 123;

/// One close code: the reason put in the close event (and the close frame,
/// when wxnet sends it), the kind and reason of the error event that goes
/// with failing the connection with it, and whether `close` may be called
/// with it.
struct Code {
    code: u16,
    reason: &'static str,
    error: Option<(ErrorKind, &'static str)>,
    by_caller: bool,
}

/// Every close code with a fixed meaning. Codes 3000 to 4999 belong to
/// applications and may be sent too; other codes are refused.
const CODES: &[Code] = &[
    Code::new(1000, "normal closure", None, true),
    // Shutdown and background interruption, sent with their own reasons.
    Code::new(1001, "going away", None, false),
    Code::new(
        1002,
        "protocol error",
        Some((InvalidResponse, "protocol error")),
        false,
    ),
    // The peer's close frame carried no code.
    Code::new(1005, "", None, false),
    // Never sent: the connection ended without a close frame.
    Code::new(
        1006,
        "abnormal closure",
        Some((ConnectionReset, ABNORMAL)),
        false,
    ),
    Code::new(
        1007,
        "invalid payload data",
        Some((InvalidResponse, "invalid payload data")),
        false,
    ),
    // The peer did nothing wrong: the message is larger than this side takes.
    Code::new(
        1009,
        "message too big",
        Some((Network, "message too big")),
        false,
    ),
];

/// The error reason of a connection that ended without a close frame.
const ABNORMAL: &str = "connection closed abnormally";

impl Code {
    const fn new(
        code: u16,
        reason: &'static str,
        error: Option<(ErrorKind, &'static str)>,
        by_caller: bool,
    ) -> Code {
        Code {
            code,
            reason,
            error,
            by_caller,
        }
    }
}

fn find(code: u16) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// The close event for `code` with its fixed reason.
pub(super) fn event(code: u16) -> SocketClose {
    SocketClose {
        code,
        reason: find(code).map_or("", |c| c.reason).to_owned(),
    }
}

/// The error event that goes with failing the connection with `code`;
/// a code without one of its own counts as a connection lost.
pub(super) fn error(code: u16) -> Error {
    let (kind, reason) = find(code)
        .and_then(|c| c.error)
        .unwrap_or((ConnectionReset, ABNORMAL));
    Error::with_reason(super::API, kind, reason)
}

/// The close for a connection that ended without a close frame.
pub(super) fn abnormal() -> SocketClose {
    event(1006)
}

/// The close `close(code, reason)` asks for, or why it is refused.
pub(super) fn requested(code: u16, reason: &str, api: Api) -> Result<SocketClose> {
    let by_caller = find(code).map_or((3000..=4999).contains(&code), |c| c.by_caller);
    if !by_caller {
        return Err(Error::invalid_argument(
            api,
            &format!("close code {code} is not 1000 or 3000-4999"),
        ));
    }
    if reason.len() > MAX_REASON {
        return Err(Error::invalid_argument(
            api,
            &format!(
                "close reason is {} bytes, at most {MAX_REASON} are allowed",
                reason.len()
            ),
        ));
    }
    Ok(SocketClose {
        code,
        reason: reason.to_owned(),
    })
}

/// Send a close frame for `close` and push it out; a failure to send
/// shows later as the end of the connection.
pub(super) fn send_close<S: std::io::Read + std::io::Write>(
    ws: &mut tungstenite::WebSocket<S>,
    close: &SocketClose,
) {
    let _ = ws.close(Some(CloseFrame {
        code: CloseCode::from(close.code),
        reason: close.reason.as_str().into(),
    }));
    let _ = ws.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_may_send_1000_and_application_codes_only() {
        for code in [1000, 3000, 4999] {
            assert!(requested(code, "", Api::SocketTaskClose).is_ok(), "{code}");
        }
        for code in [0, 999, 1001, 1002, 1005, 1006, 2999, 5000] {
            let e = requested(code, "", Api::SocketTaskClose).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{code}");
        }
        assert!(requested(1000, &"x".repeat(123), Api::CloseSocket).is_ok());
        assert!(requested(1000, &"x".repeat(124), Api::CloseSocket).is_err());
    }

    #[test]
    fn failures_have_fixed_close_and_error_reasons() {
        assert_eq!(event(1009).reason, "message too big");
        assert_eq!(event(1006).reason, "abnormal closure");
        assert_eq!(event(1005).reason, "");
        let errors = [
            (1002, InvalidResponse, "protocol error"),
            (1006, ConnectionReset, "connection closed abnormally"),
            (1007, InvalidResponse, "invalid payload data"),
            (1009, Network, "message too big"),
        ];
        for (code, kind, reason) in errors {
            let e = error(code);
            assert_eq!(
                (e.kind(), e.reason(), e.errno()),
                (kind, reason, 600001),
                "{code}"
            );
        }
    }
}
