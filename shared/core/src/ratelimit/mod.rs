//! Rate-limit maths and policies: the algorithms as pure state transitions,
//! the all-or-nothing decision for one request, the policy file, and the
//! key layout in Redis. The platform runs them in Redis (Lua) and in process.

mod algorithm;
mod keys;
mod policy;
mod request;
mod routes;

pub use algorithm::{Algorithm, Quota, RuleState, Usage};
pub use keys::{KeySpace, Subject, group_by_slot, key_slot};
pub use policy::{Abuse, Policies, PolicyError, PolicyFile, Rule, Scope, SocketEvent, Target, parse_duration};
pub use request::{Charge, Verdict, decide};
pub use routes::RoutePattern;
