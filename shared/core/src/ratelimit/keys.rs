//! Who a rule counts (the subject) and where its state lives in Redis.
//!
//! Every key of one subject shares a hash tag (`{u:alice}`), so a subject's
//! rule states and its block live in one cluster slot; a request touches one
//! slot per subject, and the cluster client groups keys by [`key_slot`].

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::identity::UserId;

/// Whose requests are counted together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(UserId),
    Ip(IpAddr),
    Global,
    Connection(String),
}

impl Subject {
    /// An IP subject; IPv6 addresses count per /64, the block one
    /// subscriber is usually given, so a client cannot rotate within it.
    pub fn ip(addr: IpAddr) -> Self {
        let addr = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
            },
            v4 => v4,
        };
        Self::Ip(addr)
    }

    /// The admin API's `{scope}/{key}` for a user or an IP.
    pub fn parse(scope: &str, key: &str) -> Result<Self, String> {
        match scope {
            "user" => UserId::parse(key).map(Self::User).map_err(|err| err.to_string()),
            "ip" => key.parse().map(Self::ip).map_err(|_| format!("`{key}` is not an IP address")),
            other => Err(format!("the scope `{other}` cannot be blocked: use user or ip")),
        }
    }

    /// The scope and key as the admin API names them.
    pub fn scope_and_key(&self) -> (&'static str, String) {
        match self {
            Self::User(user) => ("user", user.to_string()),
            Self::Ip(ip) => ("ip", ip.to_string()),
            Self::Global => ("global", String::new()),
            Self::Connection(id) => ("connection", id.clone()),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(user) => write!(f, "u:{user}"),
            Self::Ip(ip) => write!(f, "ip:{ip}"),
            Self::Global => f.write_str("g"),
            Self::Connection(id) => write!(f, "c:{id}"),
        }
    }
}

/// Key names under one deployment's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// `prefix` must not contain `{`: the hash tag has to be the subject's.
    pub fn new(prefix: &str) -> Result<Self, String> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(format!("the key prefix `{prefix}` must be non-empty, without braces"));
        }
        Ok(Self { prefix: prefix.to_owned() })
    }

    pub fn rule(&self, subject: &Subject, rule: &str) -> String {
        format!("{}:{{{subject}}}:{rule}", self.prefix)
    }

    pub fn block(&self, subject: &Subject) -> String {
        format!("{}:{{{subject}}}:block", self.prefix)
    }

    /// The index of blocks, for the admin list (one slot of its own).
    pub fn block_index(&self) -> String {
        format!("{}:{{blocks}}", self.prefix)
    }
}

/// The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag (the
/// first non-empty `{...}`), or of the whole key, modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|&b| b == b'}').filter(|&close| close > 0).map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(hashed) % 16384
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| {
        (0..8)
            .fold(crc ^ (u16::from(byte) << 8), |crc, _| if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 })
    })
}

/// Indexes of `keys` grouped by slot, groups in order of first appearance,
/// indexes in order within each group.
pub fn group_by_slot<K: AsRef<[u8]>>(keys: &[K]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let slot = key_slot(key.as_ref());
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, members)) => members.push(index),
            None => groups.push((slot, vec![index])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_ones_redis_cluster_documents() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16_xmodem(b"foo{}{bar}") % 16384);
    }

    #[test]
    fn a_subjects_rules_and_block_share_a_slot_and_subjects_split() {
        let keys = KeySpace::new("tessera").unwrap();
        let alice = Subject::User(UserId::parse("alice").unwrap());
        let ip = Subject::ip("198.51.100.7".parse().unwrap());
        let request = [
            keys.block(&alice),
            keys.block(&ip),
            keys.rule(&alice, "api-per-user"),
            keys.rule(&Subject::Global, "everything"),
            keys.rule(&ip, "api-per-ip"),
            keys.rule(&alice, "generation-per-user"),
        ];
        let groups = group_by_slot(&request);
        assert_eq!(groups, vec![vec![0, 2, 5], vec![1, 4], vec![3]]);
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_v4_as_v4() {
        let a = Subject::ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Subject::ip("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "ip:2001:db8:1:2::");
        assert_eq!(Subject::ip("::ffff:198.51.100.7".parse().unwrap()).to_string(), "ip:198.51.100.7");
    }

    #[test]
    fn the_admin_api_names_only_users_and_ips() {
        assert_eq!(Subject::parse("user", "bob").unwrap().scope_and_key(), ("user", "bob".into()));
        assert!(Subject::parse("ip", "not-an-ip").is_err());
        assert!(Subject::parse("global", "x").unwrap_err().contains("cannot be blocked"));
        assert!(KeySpace::new("a{b").is_err());
    }
}
