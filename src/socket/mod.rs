//! WebSockets: `connect_socket`, [`SocketTask`] and the global socket
//! functions, behind the `websocket` feature.

#[cfg(feature = "websocket")]
mod stream;
#[cfg(feature = "websocket")]
mod task;

#[cfg(feature = "websocket")]
pub(crate) use task::Registry;
#[cfg(feature = "websocket")]
pub use task::{
    ConnectSocketOptions, MAX_SOCKETS, ReadyState, SocketClose, SocketMessage, SocketOpen,
    SocketTask,
};

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
