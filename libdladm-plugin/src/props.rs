// SPDX-License-Identifier: MPL-2.0
//! The properties of a tun/tap link as `-p name=value,...` takes them:
//! one table ([`TUN_PROPS`]) for `tunctl create/modify -p` and the
//! `dladm create-tun/modify-tun -p` patch (a test holds the patch's C
//! parser to this table), with the same messages.
//!
//! Each `-p` argument is a comma-separated list of `name=value` items;
//! `name=` (no value) resets a property that allows it (owner, group) in
//! `modify`.  Items are split here, one by one, so a reset may stand
//! anywhere in the list (libdladm's own parser, `dladm_parse_args`,
//! refuses an empty value followed by `,`).
//!
//! Any other name is a link property for `dladm_set_linkprop` (`maxbw`,
//! `priority`, `cpus`, ...), as `dladm create-vnic -p` takes any link
//! property: [`PropValues::link_props`], in the order given, one value
//! each; libdladm judges the name and the value when it is set.

use crate::types::MacAddr;

/// One property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropSpec {
    pub name: &'static str,
    /// `name=` (no value) resets it in `modify`.
    pub resettable: bool,
}

/// Every property, in the order the messages list them.
pub const TUN_PROPS: [PropSpec; 4] = [
    PropSpec { name: "mtu", resettable: false },
    PropSpec { name: "mac-address", resettable: false },
    PropSpec { name: "owner", resettable: true },
    PropSpec { name: "group", resettable: true },
];

/// The values given; for owner and group `Some(None)` is a reset.  Owner
/// and group stay text (a name or a number) for the caller to resolve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropValues {
    pub mtu: Option<u32>,
    pub mac: Option<MacAddr>,
    pub owner: Option<Option<String>>,
    pub group: Option<Option<String>>,
    /// Every other `name=value`, for `dladm_set_linkprop`.
    pub link_props: Vec<(String, String)>,
}

/// Parse every `-p` argument.  `allow_reset`: `modify` (resets allowed)
/// rather than `create`.
pub fn parse_props(args: &[String], allow_reset: bool) -> Result<PropValues, String> {
    let mut v = PropValues::default();
    let mut seen: Vec<&str> = Vec::new();
    for item in args.iter().flat_map(|a| a.split(',')).filter(|i| !i.is_empty()) {
        let (name, value) = item.split_once('=').ok_or_else(|| format!("property '{item}' needs a value (name=value)"))?;
        if name.is_empty() {
            return Err(format!("property '{item}' has no name"));
        }
        if seen.contains(&name) {
            return Err(format!("property '{name}' is given twice"));
        }
        seen.push(name);
        let Some(spec) = TUN_PROPS.iter().find(|p| p.name == name) else {
            if value.is_empty() {
                let hint = if allow_reset { " (dladm reset-linkprop resets a link property)" } else { "" };
                return Err(format!("property '{name}' needs a value{hint}"));
            }
            v.link_props.push((name.to_string(), value.to_string()));
            continue;
        };
        if value.is_empty() && !(allow_reset && spec.resettable) {
            return Err(format!("property '{name}' needs a value"));
        }
        let text = (!value.is_empty()).then(|| value.to_string());
        match spec.name {
            "mtu" => v.mtu = Some(value.parse().map_err(|_| format!("invalid mtu '{value}'"))?),
            "mac-address" => v.mac = Some(value.parse().map_err(|why| format!("invalid mac-address '{value}': {why}"))?),
            "owner" => v.owner = Some(text),
            _ => v.group = Some(text),
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str], reset: bool) -> Result<PropValues, String> {
        parse_props(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), reset)
    }

    #[test]
    fn lists_resets_and_errors() {
        let v = p(&["mtu=1400,owner=", "group="], true).unwrap();
        assert_eq!((v.mtu, v.owner, v.group), (Some(1400), Some(None), Some(None)));
        let v = p(&["owner=,mtu=9000"], true).unwrap();
        assert_eq!((v.mtu, v.owner), (Some(9000), Some(None)));
        assert_eq!(p(&["owner="], false).unwrap_err(), "property 'owner' needs a value");
        assert_eq!(p(&["mtu="], true).unwrap_err(), "property 'mtu' needs a value");
        let v = p(&["maxbw=10M,mtu=1400", "priority=low"], false).unwrap();
        assert_eq!(v.link_props, [("maxbw".to_string(), "10M".to_string()), ("priority".to_string(), "low".to_string())]);
        assert_eq!(p(&["maxbw="], true).unwrap_err(), "property 'maxbw' needs a value (dladm reset-linkprop resets a link property)");
        assert_eq!(p(&["maxbw=1M,maxbw=2M"], false).unwrap_err(), "property 'maxbw' is given twice");
        assert_eq!(p(&["=5"], false).unwrap_err(), "property '=5' has no name");
        assert_eq!(p(&["mtu=1400", "mtu=1500"], false).unwrap_err(), "property 'mtu' is given twice");
        assert_eq!(p(&["mtu=abc"], false).unwrap_err(), "invalid mtu 'abc'");
    }
}
