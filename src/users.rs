//! User and group lookup from /etc/passwd and /etc/group, without NSS.
//!
//! A static binary cannot load NSS modules, so rinit reads the two files itself. The
//! parsing is pure and tested on fixtures; [`resolve`] reads the real files. Numeric ids
//! are accepted as they are, even when no entry names them.

use std::fs;

/// Who a service runs as: `setgroups(groups)`, then `setgid(gid)`, then `setuid(uid)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Is rinit root (effective uid 0)?
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Why a non-root rinit cannot run a service as `creds` (naming the key that asks for
/// it), or None when no switch is needed or rinit is root.
pub fn switch_needs_root(
    creds: &Credentials,
    cfg: &crate::config::ServiceConfig,
) -> Option<String> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    switch_problem(creds, cfg.user.as_deref(), cfg.group.as_deref(), uid, gid)
}

/// [`switch_needs_root`] for rinit running as `uid`/`gid`. Pure.
pub fn switch_problem(
    creds: &Credentials,
    user: Option<&str>,
    group: Option<&str>,
    uid: u32,
    gid: u32,
) -> Option<String> {
    if uid == 0 || (creds.uid == uid && creds.gid == gid) {
        return None;
    }
    let (key, value) = match (user, group) {
        (Some(user), _) if creds.uid != uid => ("user", user),
        (_, Some(group)) => ("group", group),
        (Some(user), None) => ("user", user),
        (None, None) => return None,
    };
    Some(format!(
        "{key} = {value:?} needs rinit to run as root, but it runs as uid {uid} (gid {gid}): \
         remove {key}, or run the container as root"
    ))
}

/// One /etc/passwd entry: (name, uid, gid).
fn passwd_entries(text: &str) -> impl Iterator<Item = (&str, u32, u32)> {
    text.lines().filter_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some((name, uid, gid))
    })
}

/// One /etc/group entry: (name, gid, members).
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        let gid = f.next()?.parse().ok()?;
        let members = f
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|m| !m.is_empty())
            .collect();
        Some((name, gid, members))
    })
}

/// Resolve `user` (name or uid) and optional `group` (name or gid) against the texts of
/// /etc/passwd and /etc/group. Supplementary groups: the primary group plus every group
/// that lists the user by name (what `initgroups(3)` computes).
pub fn resolve_in(
    user: &str,
    group: Option<&str>,
    passwd: &str,
    groups: &str,
) -> Result<Credentials, String> {
    let entry = passwd_entries(passwd)
        .find(|(name, uid, _)| *name == user || user.parse::<u32>().ok() == Some(*uid));
    let (name, uid, primary) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (Some(e.0), e.1, e.2),
        (None, Ok(uid)) => (None, uid, uid),
        (None, Err(_)) => return Err(format!("unknown user {user:?} (not in /etc/passwd)")),
    };
    let gid = match group {
        None => primary,
        Some(g) => group_entries(groups)
            .find(|(name, gid, _)| *name == g || g.parse::<u32>().ok() == Some(*gid))
            .map(|e| e.1)
            .or_else(|| g.parse().ok())
            .ok_or_else(|| format!("unknown group {g:?} (not in /etc/group)"))?,
    };
    let mut list = vec![gid];
    if let Some(name) = name {
        for (_, g, members) in group_entries(groups) {
            if members.contains(&name) && !list.contains(&g) {
                list.push(g);
            }
        }
    }
    Ok(Credentials {
        uid,
        gid,
        groups: list,
    })
}

/// Resolve against the machine's /etc/passwd and /etc/group.
pub fn resolve(user: &str, group: Option<&str>) -> Result<Credentials, String> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    resolve_in(user, group, &passwd, &groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n\
                          postgres:x:105:110::/var/lib/postgresql:/bin/bash\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\npostgres:x:110:\n\
                         ssl-cert:x:111:postgres\nvideo:x:44:alice,postgres\n";

    #[test]
    fn a_non_root_rinit_cannot_switch_users() {
        let pg = Credentials {
            uid: 108,
            gid: 115,
            groups: vec![115],
        };
        assert_eq!(switch_problem(&pg, Some("postgres"), None, 0, 0), None);
        let msg = switch_problem(&pg, Some("postgres"), None, 1234, 1234).unwrap();
        assert!(
            msg.starts_with("user = \"postgres\" needs rinit to run as root"),
            "{msg}"
        );
        assert!(msg.contains("uid 1234"), "{msg}");
        // Already that user and group: nothing to switch, nothing to refuse.
        assert_eq!(switch_problem(&pg, Some("postgres"), None, 108, 115), None);
        // The user is rinit's own, the group is not: the group is what needs root.
        let msg = switch_problem(&pg, Some("postgres"), Some("staff"), 108, 0).unwrap();
        assert!(msg.starts_with("group = \"staff\""), "{msg}");
    }

    #[test]
    fn resolves_names_with_supplementary_groups() {
        let c = resolve_in("postgres", None, PASSWD, GROUP).unwrap();
        assert_eq!(
            c,
            Credentials {
                uid: 105,
                gid: 110,
                groups: vec![110, 111, 44]
            }
        );
    }

    #[test]
    fn resolves_numbers_and_explicit_groups() {
        let c = resolve_in("65534", Some("nogroup"), PASSWD, GROUP).unwrap();
        assert_eq!((c.uid, c.gid), (65534, 65534));
        let c = resolve_in("4242", Some("4343"), PASSWD, GROUP).unwrap();
        assert_eq!(
            c,
            Credentials {
                uid: 4242,
                gid: 4343,
                groups: vec![4343]
            }
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(resolve_in("mallory", None, PASSWD, GROUP).is_err());
        assert!(resolve_in("root", Some("wheel"), PASSWD, GROUP).is_err());
    }
}
