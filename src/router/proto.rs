//! The control protocol between `vrouter run` (the server, [`super::control`]) and its
//! clients (`vrouter ctl`, the lab beds; [`super::client`]): one JSON request per line on a
//! Unix socket, one JSON answer per line. Both sides use these types, so a field cannot be
//! spelled differently at the two ends.
//!
//! Requests are tagged by `cmd`: `{"cmd": "stats"}`, `{"cmd": "route-add", "router": R,
//! "prefix": P, "nexthop": N}`, `{"cmd": "route-del", "router": R, "prefix": P}`,
//! `{"cmd": "routes-load", "router": R, "file": F, "lenient": false}`, `{"cmd": "lookup",
//! "router": R, "addr": A}`, `{"cmd": "shutdown"}`. `router` may be left out: the first router.
//! An answer is the command's [`Response`] fields plus `"ok": true`, or `{"ok": false,
//! "error": "..."}`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A request to a running router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Every router's, port's and worker's counters: [`Stats`].
    Stats,
    /// Adds or replaces one route: [`Changed`].
    RouteAdd {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<String>,
        prefix: String,
        nexthop: u32,
    },
    /// Removes one route: [`Changed`].
    RouteDel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<String>,
        prefix: String,
    },
    /// Replaces a router's whole table from a file on the server's host, atomically:
    /// [`Loaded`].
    RoutesLoad {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<String>,
        file: PathBuf,
        #[serde(default)]
        lenient: bool,
        /// Accept a file with no routes (it empties the table); refused otherwise.
        #[serde(default, skip_serializing_if = "is_false")]
        allow_empty: bool,
        /// Accept a table with fewer than half the live one's routes; refused otherwise.
        #[serde(default, skip_serializing_if = "is_false")]
        force: bool,
    },
    /// A page of a router's live table, IPv4 then IPv6, sorted: [`RoutesPage`].
    RoutesDump {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<String>,
        #[serde(default)]
        offset: usize,
        limit: usize,
    },
    /// Longest-prefix match in a router's live table: [`Lookup`].
    Lookup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<String>,
        addr: String,
    },
    /// Stops the router as SIGTERM would: [`Empty`].
    Shutdown,
}

impl Request {
    /// The router a request addresses (`None`: the first one, or none for stats/shutdown).
    pub fn router(&self) -> Option<&str> {
        match self {
            Request::RouteAdd { router, .. }
            | Request::RouteDel { router, .. }
            | Request::RoutesLoad { router, .. }
            | Request::RoutesDump { router, .. }
            | Request::Lookup { router, .. } => router.as_deref(),
            Request::Stats | Request::Shutdown => None,
        }
    }

    /// The same request addressed to `name`.
    pub fn to_router(mut self, name: Option<String>) -> Self {
        if let Request::RouteAdd { router, .. }
        | Request::RouteDel { router, .. }
        | Request::RoutesLoad { router, .. }
        | Request::RoutesDump { router, .. }
        | Request::Lookup { router, .. } = &mut self
        {
            *router = name;
        }
        self
    }
}

/// A successful answer's fields (the `ok` flag is added on the wire).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    Stats(Stats),
    Routes(RoutesPage),
    Loaded(Loaded),
    Lookup(Lookup),
    Changed(Changed),
    Empty(Empty),
}

/// Counters of a running instance. Fields are in alphabetical order, as JSON readers of
/// earlier versions saw them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub routers: Vec<RouterStats>,
    pub workers: Vec<WorkerStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterStats {
    pub answered: u64,
    /// The connected routes: `198.18.1.0/24 port 1`.
    #[serde(default)]
    pub connected: Vec<String>,
    /// Drops by reason (its name), only the reasons that occurred.
    pub dropped: BTreeMap<String, u64>,
    pub forwarded: u64,
    /// IPv4 datagrams fragmented to fit their egress MTU, and the fragments sent.
    #[serde(default)]
    pub fragmented: u64,
    #[serde(default)]
    pub fragments: u64,
    pub frames_in: u64,
    pub held: u64,
    pub hold_dropped: u64,
    pub icmp_errors: u64,
    pub name: String,
    pub ports: Vec<PortStats>,
    /// Queues (shards) the router runs on; the counters are their sums.
    pub queues: usize,
    pub released: u64,
    pub routes_v4: usize,
    pub routes_v6: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PortStats {
    pub rx_bytes: u64,
    /// Frames the port's receive ring dropped (the kernel's count, where it keeps one).
    pub rx_dropped: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    /// Frames that found the transmit ring full with the port's hold full too.
    pub tx_dropped: u64,
    /// Frames that found the transmit ring full and waited in the port's hold.
    #[serde(default)]
    pub tx_held: u64,
    pub tx_packets: u64,
}

impl PortStats {
    /// Frames lost at the port, either way.
    pub fn dropped(&self) -> u64 {
        self.rx_dropped + self.tx_dropped
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStats {
    pub busy_polls: u64,
    /// `ns_per_packet` in cycles, where the kernel reports the CPU clock.
    pub cycles_per_packet: Option<f64>,
    pub idle_polls: u64,
    pub name: String,
    pub ns_per_packet: f64,
    pub packets: u64,
    pub pinned: bool,
    pub sleeps: u64,
}

/// The answer to `routes-load`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    pub router: String,
    pub routes_v4: usize,
    pub routes_v6: usize,
}

/// The answer to `lookup`: the matching prefix and next hop, both `null` without a route; a
/// connected route has `connected_port` instead of a next hop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_port: Option<u16>,
    pub nexthop: Option<u32>,
    pub prefix: Option<String>,
    pub router: String,
}

/// A page of a router's live table: `total` routes in all, these from `offset`, each
/// `PREFIX<TAB>NEXTHOP`, or `PREFIX<TAB>connected port N` for a connected route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutesPage {
    pub offset: usize,
    pub router: String,
    pub routes: Vec<String>,
    pub total: usize,
}

/// The answer to `route-add` and `route-del`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    pub router: String,
}

/// The answer to `shutdown`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// An answer on the wire: `ok`, and either the response's fields or `error`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub body: serde_json::Map<String, serde_json::Value>,
}

impl Envelope {
    /// The wire form of a result.
    pub fn of(res: Result<Response, String>) -> Self {
        match res {
            Ok(r) => {
                let body = match serde_json::to_value(r) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                };
                Envelope {
                    ok: true,
                    error: None,
                    body,
                }
            }
            Err(e) => Envelope {
                ok: false,
                error: Some(e),
                body: serde_json::Map::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_their_wire_form() {
        let r: Request = serde_json::from_str(r#"{"cmd":"stats"}"#).unwrap();
        assert_eq!(r, Request::Stats);
        let r = Request::RouteAdd {
            router: Some("vr1".into()),
            prefix: "198.51.100.0/24".into(),
            nexthop: 3,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cmd":"route-add","router":"vr1","prefix":"198.51.100.0/24","nexthop":3}"#
        );
        let r: Request = serde_json::from_str(r#"{"cmd":"routes-load","file":"/x"}"#).unwrap();
        assert_eq!(
            r,
            Request::RoutesLoad {
                router: None,
                file: "/x".into(),
                lenient: false,
                allow_empty: false,
                force: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"lookup"}"#).is_err());
    }

    #[test]
    fn answers_carry_ok_and_the_fields_or_the_error() {
        let ok = Envelope::of(Ok(Response::Loaded(Loaded {
            router: "vr1".into(),
            routes_v4: 9072,
            routes_v6: 0,
        })));
        let text = serde_json::to_string(&ok).unwrap();
        assert!(
            text.contains(r#""ok":true"#) && text.contains(r#""routes_v4":9072"#),
            "{text}"
        );
        let back: Envelope = serde_json::from_str(&text).unwrap();
        let loaded: Loaded = serde_json::from_value(back.body.into()).unwrap();
        assert_eq!(loaded.routes_v4, 9072);
        let err = serde_json::to_string(&Envelope::of(Err("no router named `x`".into()))).unwrap();
        assert_eq!(err, r#"{"ok":false,"error":"no router named `x`"}"#);
    }
}
