//! Least privilege: once the capture handle is open, root is given up for an unprivileged user
//! (supplementary groups, then group, then user: the order in which each step is still allowed).

use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};

/// What became of the process's privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Privileges {
    /// Root was dropped to this user.
    DroppedTo(String),
    /// Not running as root (e.g. with `setcap` capabilities): nothing to drop.
    NotRoot,
    /// `--user root`: asked to keep root.
    KeptRoot,
}

/// Drops root to `user` (by name, or a numeric uid). Does nothing when not running as root.
pub fn drop_root(user: &str) -> Result<Privileges, String> {
    if !Uid::effective().is_root() {
        return Ok(Privileges::NotRoot);
    }
    if user == "root" || user == "0" {
        return Ok(Privileges::KeptRoot);
    }
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    }
    .map_err(|e| format!("looking up user {user:?}: {e}"))?
    .ok_or_else(|| format!("no user named {user:?} to drop root to (--user)"))?;
    let gid: Gid = found.gid;
    setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(gid).map_err(|e| format!("setgid({gid}): {e}"))?;
    setuid(found.uid).map_err(|e| format!("setuid({}): {e}", found.uid))?;
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err("root could be regained after dropping it; refusing to go on".into());
    }
    Ok(Privileges::DroppedTo(found.name))
}
