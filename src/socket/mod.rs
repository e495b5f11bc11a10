//! WebSockets: `connect_socket`, [`SocketTask`] and the global socket
//! functions, behind the `websocket` feature.
//!
//! How the parts meet: [`connect`] admits a socket into the client's
//! [`registry`] (at most five) and starts its reader thread, which runs the
//! [`handshake`] and then the [`reader`] loop over a gated [`stream`].
//! Callers hold a [`task::SocketTask`] on the state in [`shared`]: senders
//! and the reader share the connection lock, and the reader delivers the
//! [`event`]s to the listener lists there. [`close`] holds the close codes
//! and the one way a close frame is sent; [`options`] the call's options.

#[cfg(feature = "websocket")]
mod close;
#[cfg(feature = "websocket")]
mod connect;
#[cfg(feature = "websocket")]
mod event;
#[cfg(feature = "websocket")]
mod handshake;
#[cfg(feature = "websocket")]
mod options;
#[cfg(feature = "websocket")]
mod reader;
#[cfg(feature = "websocket")]
mod registry;
#[cfg(feature = "websocket")]
mod shared;
#[cfg(feature = "websocket")]
mod stream;
#[cfg(feature = "websocket")]
mod task;

#[cfg(feature = "websocket")]
const API: crate::error::Api = crate::error::Api::ConnectSocket;

#[cfg(feature = "websocket")]
pub use event::{ReadyState, SocketClose, SocketMessage, SocketOpen};
#[cfg(feature = "websocket")]
pub use options::ConnectSocketOptions;
#[cfg(feature = "websocket")]
pub use registry::MAX_SOCKETS;
#[cfg(feature = "websocket")]
pub(crate) use registry::Registry;
#[cfg(feature = "websocket")]
pub use task::SocketTask;

/// Without the `websocket` feature there are no sockets to end.
#[cfg(not(feature = "websocket"))]
pub(crate) struct Registry;

#[cfg(not(feature = "websocket"))]
impl Registry {
    pub(crate) fn new() -> Registry {
        Registry
    }

    pub(crate) fn end_all(&self, _why: crate::call::Cancel) {}
}
