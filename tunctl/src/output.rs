// SPDX-License-Identifier: MPL-2.0
//! `show` output: a dladm-style table, `-p -o` parsable lines (ofmt
//! conventions: fields joined by `:`, a `:` or `\` inside a value
//! escaped with `\` when more than one field is shown), and JSON.

use std::collections::BTreeMap;

use libdladm_plugin::{TunCounters, TunLink};
use serde_json::json;

/// Every field `-o` accepts, in `all` order.
pub const FIELDS: &[&str] =
    &["link", "linkid", "mode", "zone", "state", "mtu", "macaddress", "owner", "group", "queues", "pids", "persist", "origin"];

/// The table's columns when no `-o` is given.
pub const DEFAULT_FIELDS: &[&str] = &["link", "mode", "state", "mtu", "macaddress", "owner", "queues", "persist", "zone"];

/// The table's columns with `-P` (the persistent configuration).
pub const PERSISTENT_FIELDS: &[&str] = &["link", "mode", "mtu", "macaddress", "owner", "group"];

/// Check a `-o` list; `all` means every field.
pub fn parse_fields(list: &str) -> Result<Vec<&'static str>, String> {
    if list.eq_ignore_ascii_case("all") {
        return Ok(FIELDS.to_vec());
    }
    list.split(',')
        .map(|f| {
            let f = f.trim().to_ascii_lowercase();
            FIELDS
                .iter()
                .find(|known| **known == f)
                .copied()
                .ok_or_else(|| format!("unknown field '{f}' (fields: {})", FIELDS.join(",")))
        })
        .collect()
}

fn state(l: &TunLink) -> &'static str {
    match &l.kernel {
        Some(k) if k.link_up => "up",
        Some(_) => "down",
        None => "configured",
    }
}

/// A user or group as `dladm` shows one: its name, or the number when the
/// name service does not know it, or `--`.
fn id_text(id: Option<u32>, name: fn(u32) -> Option<String>) -> String {
    id.map_or("--".into(), |v| name(v).unwrap_or_else(|| v.to_string()))
}

/// The text of one field of one link.
pub fn value(l: &TunLink, field: &str) -> String {
    let k = l.kernel.as_ref();
    let c = l.config.as_ref();
    match field {
        "link" => l.name.clone(),
        "linkid" => l.linkid.to_string(),
        "mode" => l.mode.to_string(),
        "zone" => l.zone_name.clone(),
        "state" => state(l).into(),
        "mtu" => k.map(|k| k.mtu).or(c.and_then(|c| c.mtu)).map_or("--".into(), |m| m.to_string()),
        "macaddress" => k.map(|k| k.mac).or(c.and_then(|c| c.mac)).map_or("--".into(), |m| m.to_string()),
        "owner" => id_text(k.map_or(c.and_then(|c| c.owner), |k| k.owner), crate::ids::user_name),
        "group" => id_text(k.map_or(c.and_then(|c| c.group), |k| k.group), crate::ids::group_name),
        "queues" => k.map_or("--".into(), |k| k.queues.to_string()),
        "pids" => match k {
            Some(k) if !k.pids.is_empty() => k.pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","),
            _ => "--".into(),
        },
        "persist" => (if l.persistent { "yes" } else { "no" }).into(),
        "origin" => k.map_or("--".into(), |k| k.origin.as_str().into()),
        _ => String::new(),
    }
}

/// A table with upper-case headers, columns padded to the widest value.
pub fn table(links: &[TunLink], fields: &[&str]) -> String {
    let rows: Vec<Vec<String>> = links.iter().map(|l| fields.iter().map(|f| value(l, f)).collect()).collect();
    grid(fields, &rows)
}

fn grid(fields: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| rows.iter().map(|r| r[i].len()).chain([f.len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$} ", w = *w));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(fields.iter().map(|f| f.to_ascii_uppercase()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace(':', "\\:")
}

/// One line per link, fields joined by ':'.
pub fn parsable(links: &[TunLink], fields: &[&str]) -> String {
    let mut out = String::new();
    for l in links {
        let vals: Vec<String> = fields
            .iter()
            .map(|f| if fields.len() > 1 { escape(&value(l, f)) } else { value(l, f) })
            .collect();
        out.push_str(&vals.join(":"));
        out.push('\n');
    }
    out
}

/// Every counter the driver keeps, by name: the ABI's one table
/// (`TunCounters::named`), so a new counter shows up without a change here.
fn counters_json(c: &TunCounters) -> serde_json::Value {
    serde_json::Value::Object(c.named().iter().map(|(name, v)| ((*name).to_string(), json!(v))).collect())
}

/// The columns of `show -s`: the link, then every counter
/// (`TunCounters::named`), like `dladm show-link -s`.
pub fn stats_fields() -> Vec<&'static str> {
    std::iter::once("link").chain(TunCounters::default().named().iter().map(|(n, _)| *n)).collect()
}

/// `show -s`: one row per running link (a link that is only configured
/// has no counters), as a table or, with `-p`, as parsable lines.  With
/// the counters of an earlier report in `since` (by link), the counts
/// since then.
pub fn stats(links: &[TunLink], since: &BTreeMap<String, TunCounters>, parsable: bool) -> String {
    let fields = stats_fields();
    let rows: Vec<Vec<String>> = links
        .iter()
        .filter_map(|l| {
            let now = l.kernel.as_ref()?.counters;
            let before = since.get(&l.name).copied().unwrap_or_default();
            let values = now.named().into_iter().zip(before.named()).map(|((_, n), (_, b))| n.wrapping_sub(b).to_string());
            Some(std::iter::once(l.name.clone()).chain(values).collect())
        })
        .collect();
    if parsable {
        return rows.iter().map(|r| format!("{}\n", r.iter().map(|v| escape(v)).collect::<Vec<_>>().join(":"))).collect();
    }
    grid(&fields, &rows)
}

/// Every link with every field and the counters, as a JSON array.
pub fn json(links: &[TunLink]) -> String {
    let items: Vec<serde_json::Value> = links
        .iter()
        .map(|l| {
            let kernel = l.kernel.as_ref().map(|k| {
                json!({
                    "mtu": k.mtu,
                    "macaddress": k.mac.to_string(),
                    "owner": k.owner,
                    "group": k.group,
                    "link_up": k.link_up,
                    "carrier": k.carrier,
                    "origin": k.origin.as_str(),
                    "kernel_persist": k.kernel_persist,
                    "exclusive": k.exclusive,
                    "queues": k.queues,
                    "pids": k.pids,
                    "creator_pid": k.creator_pid,
                    "created_ns": k.created_ns,
                    "counters": counters_json(&k.counters),
                })
            });
            let config = l.config.as_ref().map(|c| {
                json!({
                    "mode": c.mode.as_str(),
                    "mtu": c.mtu,
                    "macaddress": c.mac.map(|m| m.to_string()),
                    "owner": c.owner,
                    "group": c.group,
                })
            });
            json!({
                "link": l.name,
                "linkid": l.linkid,
                "mode": l.mode.as_str(),
                "zone": l.zone_name,
                "state": state(l),
                "persistent": l.persistent,
                "active": l.active,
                "kernel": kernel,
                "config": config,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}
