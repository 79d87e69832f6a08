//! Notifications: the WebSocket API's function (`notifications-ws`:
//! connections, project channels, presence, broadcasts), the fan-out of
//! changes to subscribed sockets and to inboxes (`notifications-fanout`),
//! and the inbox's HTTP API (`notifications-api`).

pub mod connections;
pub mod delivery;
pub mod fanout;
pub mod inbox;
pub mod membership;
pub mod messages;
pub mod presence;
pub mod throttle;
pub mod ws;
