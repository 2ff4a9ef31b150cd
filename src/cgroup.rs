//! cgroup v2 tracking, where rinit may create groups: each service runs in a group of its
//! own, so the kernel says exactly which processes are the service's (a double-forked,
//! `setsid` daemon stays in it), when it is empty (`cgroup.events`, watched in the event
//! loop), kills it whole (`cgroup.kill`), freezes it (`cgroup.freeze`) and limits it
//! (`memory.max`, `pids.max`, `cpu.max`, …).
//!
//! [`Hierarchy::set_up`] finds the cgroup2 mount in /proc/self/mountinfo (hybrid hosts
//! mount it at /sys/fs/cgroup/unified) and rinit's own group in /proc/self/cgroup. If
//! rinit is alone in its group, the services' groups are made in it — after rinit moves
//! itself into `init/` when controllers are to be enabled (the no-internal-processes
//! rule); if others share it (rinit under a shell, a test harness), in a group of its
//! own below, `rinit.N`. Anything that fails means /proc tracking, as before.
//!
//! A `rinit.N` group is held with `flock(LOCK_EX)` by the rinit that made it, for its
//! whole life. One whose lock is free belongs to a rinit that is gone (SIGKILLed, so it
//! could not remove it): the next rinit to start in the same place removes what of it is
//! empty ([`remove_abandoned`]). Creator and cleaner both take the lock without waiting,
//! so a group just made is never removed under its maker.
//!
//! The parsing (mountinfo, /proc/PID/cgroup, keyed files, `cpu_max`) is pure and
//! unit-tested; the rest is small file operations.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The controllers rinit enables for the services' groups, where available.
pub const CONTROLLERS: [&str; 3] = ["cpu", "memory", "pids"];

/// The cgroup2 mount in mountinfo text: (mount point, the mounted root inside the
/// hierarchy). Paths are unescaped (`\040` is a space).
pub fn mount_point(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = before.split_whitespace().collect();
        let root = crate::sysinit::unescape_mount_path(fields.get(3)?);
        let point = crate::sysinit::unescape_mount_path(fields.get(4)?);
        Some((PathBuf::from(point), root))
    })
}

/// The v2 group in /proc/PID/cgroup text: the path after `0::`.
pub fn own_path(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The directory of group `path` (from /proc/PID/cgroup) under a mount of `root`.
pub fn group_dir(mount: &Path, root: &str, path: &str) -> Option<PathBuf> {
    let inside = if root == "/" {
        path
    } else {
        // Whole path parts: a root of /docker/abc does not contain /docker/abcdef.
        let rest = path.strip_prefix(root)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        rest
    };
    let inside = inside.trim_start_matches('/');
    if inside.split('/').any(|part| part == "..") {
        return None;
    }
    Some(if inside.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(inside)
    })
}

/// A number from a flat keyed file (`cgroup.events`, `memory.events`, `cpu.stat`):
/// lines of `key value`.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// `cpu_max` as `cpu.max` wants it: `"50%"` of one CPU → `"50000 100000"`, `"250%"` →
/// `"250000 100000"`, `"QUOTA PERIOD"` in µs as it is, `"max"`.
pub fn cpu_max(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t == "max" {
        return Ok("max 100000".into());
    }
    if let Some(pct) = t.strip_suffix('%') {
        return match pct.trim().parse::<u64>() {
            Ok(p) if (1..=100_000).contains(&p) => Ok(format!("{} 100000", p * 1000)),
            _ => Err(format!(
                "{t:?}: expected a percentage of one CPU like \"50%\" (1% to 100000%)"
            )),
        };
    }
    let parts: Vec<&str> = t.split_whitespace().collect();
    match parts.as_slice() {
        [quota, period] => {
            let period_ok = period
                .parse::<u64>()
                .is_ok_and(|p| (1000..=1_000_000).contains(&p));
            let quota_ok = *quota == "max" || quota.parse::<u64>().is_ok_and(|q| q >= 1000);
            if quota_ok && period_ok {
                Ok(format!("{quota} {period}"))
            } else {
                Err(format!(
                    "{t:?}: expected \"QUOTA PERIOD\" in microseconds (quota at least 1000 or max, period 1000 to 1000000)"
                ))
            }
        }
        _ => Err(format!(
            "{t:?}: expected a percentage like \"50%\", \"QUOTA PERIOD\" in microseconds, or \"max\""
        )),
    }
}

/// Where rinit makes the services' groups.
#[derive(Debug)]
pub struct Hierarchy {
    root: PathBuf,
    /// rinit made `root` (and removes it at exit).
    made_root: bool,
    /// `root` open and locked for rinit's life, when rinit made it.
    _lock: Option<OwnedFd>,
    /// Controllers enabled for the services' groups.
    controllers: Vec<String>,
}

impl Hierarchy {
    /// Find the hierarchy and prepare the services' parent group, or say why not. `vm`:
    /// rinit is the machine's init, so the whole hierarchy is its own.
    pub fn set_up(vm: bool) -> Result<Hierarchy, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let (mount, mount_root) = mount_point(&mountinfo).ok_or("no cgroup2 mount")?;
        let own = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let own = own_path(&own).ok_or("not in a cgroup v2 group")?;
        let dir = group_dir(&mount, &mount_root, &own).ok_or_else(|| {
            format!(
                "own group {own} is outside the mount at {}",
                mount.display()
            )
        })?;
        let me = std::process::id().to_string();
        let procs = fs::read_to_string(dir.join("cgroup.procs"))
            .map_err(|e| format!("cannot read {}: {e}", dir.join("cgroup.procs").display()))?;
        let pids: Vec<&str> = procs.split_whitespace().collect();
        let alone = pids.contains(&me.as_str()) && pids.iter().all(|p| *p == me);
        let hierarchy = if vm || alone {
            Self::in_own(dir)?
        } else {
            Self::below(&dir)?
        };
        Ok(hierarchy)
    }

    /// rinit is alone in `dir`: the services' groups go in it. To enable controllers
    /// for them, rinit first moves itself into `dir/init` (unless `dir` is the
    /// hierarchy's root, which may hold processes).
    fn in_own(dir: PathBuf) -> Result<Hierarchy, String> {
        let wanted = available(&dir);
        let is_root = !dir.join("cgroup.events").exists();
        if !wanted.is_empty() && !is_root {
            // A name no service can have (service names cannot start with a dot).
            let init = dir.join(".rinit");
            mkdir(&init)?;
            fs::write(init.join("cgroup.procs"), std::process::id().to_string())
                .map_err(|e| format!("cannot move rinit into {}: {e}", init.display()))?;
        }
        let controllers = enable(&dir, &wanted);
        // Proves the directory is writable before anything depends on it.
        let probe = dir.join(format!("rinit-probe.{}", std::process::id()));
        mkdir(&probe)?;
        let _ = fs::remove_dir(&probe);
        Ok(Hierarchy {
            root: dir,
            made_root: false,
            _lock: None,
            controllers,
        })
    }

    /// Others share `dir`: rinit makes a group of its own below it, with the controllers
    /// `dir` already hands down, and locks it.
    fn below(dir: &Path) -> Result<Hierarchy, String> {
        let removed = remove_abandoned(dir);
        if removed > 0 {
            log::info!(
                "cgroups: removed {removed} empty group(s) in {} left by rinits that are gone",
                dir.display()
            );
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut last = String::new();
        for n in 0..16u128 {
            let root = dir.join(format!("rinit.{}", stamp + n));
            match fs::create_dir(&root) {
                Ok(()) => {
                    let lock = match lock_group(&root) {
                        Ok(Some(lock)) if is_still(&root, &lock) => lock,
                        // A cleaner took it the instant it was made (and may have
                        // removed it already): the name is theirs.
                        Ok(_) => continue,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            let _ = fs::remove_dir(&root);
                            last = format!("cannot lock {}: {e}", root.display());
                            break;
                        }
                    };
                    let wanted = available(&root);
                    let controllers = enable(&root, &wanted);
                    return Ok(Hierarchy {
                        root,
                        made_root: true,
                        _lock: Some(lock),
                        controllers,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    last = format!("cannot create a group in {}: {e}", dir.display());
                    break;
                }
            }
        }
        Err(last)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The group of service `name` (made if missing; one left from an earlier run of
    /// the same name is reused).
    pub fn group(&self, name: &str) -> io::Result<Group> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let dir = self.root.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Group::open(dir)
    }

    /// Remove the group rinit made for the services (each must be removed first).
    pub fn remove(&self) {
        if self.made_root {
            let _ = fs::remove_dir(&self.root);
        }
    }
}

/// `rinit.` and digits: a name [`Hierarchy::below`] gives.
pub fn is_rinit_group(name: &str) -> bool {
    name.strip_prefix("rinit.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Open `dir` and take its lock without waiting: None if another holds it.
fn lock_group(dir: &Path) -> io::Result<Option<OwnedFd>> {
    use nix::fcntl::{AT_FDCWD, FlockArg, OFlag, openat};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = openat(AT_FDCWD, dir, flags, nix::sys::stat::Mode::empty())?;
    // nix's `Flock` guard panics where unlocking fails; the lock goes with the fd.
    #[allow(deprecated)]
    match nix::fcntl::flock(fd.as_raw_fd(), FlockArg::LockExclusiveNonblock) {
        Ok(()) => Ok(Some(fd)),
        Err(nix::errno::Errno::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `path` is still the directory open as `fd` (not removed, not made anew).
fn is_still(path: &Path, fd: &OwnedFd) -> bool {
    match (nix::sys::stat::fstat(fd), nix::sys::stat::stat(path)) {
        (Ok(held), Ok(now)) => (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino),
        _ => false,
    }
}

/// Remove the `rinit.N` groups in `dir` whose lock is free (their rinit is gone) and in
/// which nothing runs — a rinit nested in one (a service of the rinit that is gone,
/// still running) keeps its own groups, empty or not. The number of groups removed.
pub fn remove_abandoned(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_rinit_group) {
            continue;
        }
        let path = entry.path();
        // Held for the removal: a rinit that made this name now gets no lock and
        // takes another.
        let Ok(Some(_lock)) = lock_group(&path) else {
            continue;
        };
        let events = fs::read_to_string(path.join("cgroup.events")).unwrap_or_default();
        if keyed(&events, "populated") != Some(1) {
            removed += remove_empty_tree(&path, 0);
        }
    }
    removed
}

/// rmdir `dir` after its sub-groups, deepest first; how many went.
fn remove_empty_tree(dir: &Path, depth: usize) -> usize {
    let mut removed = 0;
    if depth < MAX_NESTING {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                removed += remove_empty_tree(&entry.path(), depth + 1);
            }
        }
    }
    removed + usize::from(fs::remove_dir(dir).is_ok())
}

/// The wanted controllers `dir` offers its children.
fn available(dir: &Path) -> Vec<String> {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    CONTROLLERS
        .iter()
        .filter(|c| offered.split_whitespace().any(|o| o == **c))
        .map(|c| c.to_string())
        .collect()
}

/// Enable `wanted` for `dir`'s children, one at a time (one refused does not stop the
/// others); the ones now enabled.
fn enable(dir: &Path, wanted: &[String]) -> Vec<String> {
    for c in wanted {
        if let Err(e) = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
            log::debug!("cgroups: cannot enable {c} in {}: {e}", dir.display());
        }
    }
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    enabled.split_whitespace().map(str::to_string).collect()
}

fn mkdir(dir: &Path) -> Result<(), String> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}

/// One service's group.
#[derive(Debug)]
pub struct Group {
    dir: PathBuf,
    /// Kept open where fds are plentiful (see [`KEEP_FILES_FROM`]); shared with its stop.
    files: Option<Rc<GroupFiles>>,
    /// `cgroup.kill` was written through [`Group::kill`] since the group was made.
    killed: std::cell::Cell<bool>,
}

/// A group keeps its [`GroupFiles`] open only when rinit's fd limit is at least this:
/// three fds per service must not crowd out log pipes and pidfds under a small limit
/// (there a stop opens `cgroup.events` itself and reads the rest by path).
pub const KEEP_FILES_FROM: usize = 4096;

/// What of a group a stop reads every round, kept open (with `pread` and `fstat`, a
/// look needs no open and no path walk): `cgroup.events`, to poll for "empty",
/// `cgroup.procs`, its members, and the directory itself, whose link count says
/// whether it has sub-groups.
#[derive(Debug)]
pub struct GroupFiles {
    pub events: OwnedFd,
    pub procs: Option<OwnedFd>,
    pub dir: Option<OwnedFd>,
}

impl GroupFiles {
    /// Open both in the group at `dir` (a plain directory has neither).
    pub fn open(dir: &Path) -> io::Result<GroupFiles> {
        Ok(GroupFiles {
            events: crate::proctree::open_ro(&dir.join("cgroup.events"))?,
            procs: Some(crate::proctree::open_ro(&dir.join("cgroup.procs"))?),
            dir: Some(open_path(dir)?),
        })
    }

    /// Only `cgroup.events` (a stop's own, where the group keeps nothing open).
    pub fn events_only(dir: &Path) -> io::Result<GroupFiles> {
        Ok(GroupFiles {
            events: crate::proctree::open_ro(&dir.join("cgroup.events"))?,
            procs: None,
            dir: None,
        })
    }
}

impl Group {
    /// A cgroup's directory (it has `cgroup.events`, which a plain directory does not).
    fn open(dir: PathBuf) -> io::Result<Group> {
        // It is a group (a plain directory has no cgroup.events) whether or not its
        // files are kept.
        let files = GroupFiles::open(&dir).map(Rc::new);
        let files = match files {
            Ok(files) if crate::pidfd::fd_limit() >= KEEP_FILES_FROM => Some(files),
            Ok(_) => None,
            Err(e) => return Err(e),
        };
        Ok(Group {
            dir,
            files,
            killed: std::cell::Cell::new(false),
        })
    }

    /// Its kept files, for a stop to share (None under a small fd limit).
    pub fn files(&self) -> Option<Rc<GroupFiles>> {
        self.files.clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The group's directory, open: a child is cloned straight into it, or joins it
    /// through its `cgroup.procs` (see `spawn`).
    pub fn join_fd(&self) -> io::Result<OwnedFd> {
        open_path(&self.dir)
    }

    /// The pids in the group (in rinit's PID namespace; 0 for those outside it).
    pub fn members(&self) -> io::Result<Vec<i32>> {
        members_with(&self.dir, self.files.as_deref())
    }

    /// `cgroup.kill`: SIGKILL to every process of the group at once (Linux 5.14+).
    /// False where the kernel has no such file.
    pub fn kill(&self) -> io::Result<bool> {
        self.killed.set(true);
        write_if_present(&self.dir.join("cgroup.kill"), "1")
    }

    /// `cgroup.freeze`; false where the kernel has no such file.
    pub fn freeze(&self, frozen: bool) -> io::Result<bool> {
        write_if_present(
            &self.dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
        )
    }

    /// Write one interface file (`memory.max`, …).
    pub fn set(&self, file: &str, value: &str) -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).open(self.dir.join(file))?;
        f.write_all(value.as_bytes())
    }

    /// A number from a keyed file, or a one-number file with `key` empty.
    pub fn read(&self, file: &str, key: &str) -> Option<u64> {
        let text = fs::read_to_string(self.dir.join(file)).ok()?;
        if key.is_empty() {
            text.trim().parse().ok()
        } else {
            keyed(&text, key)
        }
    }

    /// The sub-group `name` of this group (made if missing), for what rinit runs on the
    /// service's behalf: its check commands (`.probe`). Its files are not kept open.
    pub fn sub(&self, name: &str) -> io::Result<Group> {
        let dir = self.dir.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        // A group has cgroup.procs; a plain directory does not.
        crate::proctree::open_ro(&dir.join("cgroup.procs"))?;
        Ok(Group {
            dir,
            files: None,
            killed: std::cell::Cell::new(false),
        })
    }

    /// Whether anything runs in the group or below it (`cgroup.events`); None if that
    /// cannot be read.
    pub fn populated(&self) -> Option<bool> {
        let text = crate::proctree::read_small(&self.dir.join("cgroup.events")).ok()?;
        keyed(&String::from_utf8_lossy(&text), "populated").map(|n| n != 0)
    }

    /// Whether [`Group::kill`] was used on the group, or on a group above it (as the
    /// caller says with [`Group::mark_killed`]), since it was made.
    pub fn was_killed(&self) -> bool {
        self.killed.get()
    }

    /// Note that `cgroup.kill` reached the group from a group above it.
    pub fn mark_killed(&self) {
        self.killed.set(true);
    }

    /// Make an empty group of no files kept afresh (rmdir, mkdir): a new group, which no
    /// `cgroup.kill` has touched.
    pub fn renew(&self) -> io::Result<()> {
        if self.files.is_some() {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        match fs::remove_dir(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::create_dir(&self.dir)?;
        self.killed.set(false);
        Ok(())
    }

    /// Remove the (empty) group.
    pub fn remove(&self) -> io::Result<()> {
        fs::remove_dir(&self.dir)
    }
}

/// Sub-groups deeper than this below a service's group are not looked into.
const MAX_NESTING: usize = 8;
/// The longest line of `cgroup.procs`: a pid (at most ten digits) and its newline.
const MAX_PROCS_LINE: usize = 11;

/// The pids in the group at `dir` and in its sub-groups (a service may make its own:
/// a nested rinit, a container engine).
pub fn members_of(dir: &Path) -> io::Result<Vec<i32>> {
    members_with(dir, None)
}

/// [`members_of`], looking at the group itself through its kept `files` when there
/// are some.
pub fn members_with(dir: &Path, files: Option<&GroupFiles>) -> io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    collect_members(dir, 0, files, &mut pids)?;
    Ok(pids)
}

fn collect_members(
    dir: &Path,
    depth: usize,
    files: Option<&GroupFiles>,
    pids: &mut Vec<i32>,
) -> io::Result<()> {
    let bytes = match files.and_then(|f| f.procs.as_ref()) {
        Some(fd) => crate::proctree::pread_records(fd, MAX_PROCS_LINE)?,
        None => crate::proctree::read_small(&dir.join("cgroup.procs"))?,
    };
    let text = String::from_utf8_lossy(&bytes);
    pids.extend(
        text.split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|&p| p > 0),
    );
    if depth >= MAX_NESTING {
        return Ok(());
    }
    // Sub-groups are the directories; a group without any has only interface files.
    // A directory's link count is 2 plus its sub-directories (cgroupfs keeps it so, as
    // most file systems do): 2 means nothing to list, and saves reading the directory.
    let st = match files.and_then(|f| f.dir.as_ref()) {
        Some(fd) => nix::sys::stat::fstat(fd),
        None => nix::sys::stat::stat(dir),
    };
    if st.is_ok_and(|st| st.st_nlink == 2) {
        return Ok(());
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            // One that vanished meanwhile has no members.
            let _ = collect_members(&entry.path(), depth + 1, None, pids);
        }
    }
    Ok(())
}

/// An `O_PATH` handle on a directory: enough to `fstat` it, to clone a child into it
/// (`CLONE_INTO_CGROUP`) and to open a file in it.
fn open_path(dir: &Path) -> io::Result<OwnedFd> {
    use nix::fcntl::{AT_FDCWD, OFlag, openat};
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    openat(AT_FDCWD, dir, flags, nix::sys::stat::Mode::empty()).map_err(io::Error::from)
}

fn write_if_present(path: &Path, value: &str) -> io::Result<bool> {
    match OpenOptions::new().write(true).open(path) {
        Ok(mut f) => f.write_all(value.as_bytes()).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    #[test]
    fn finds_the_cgroup2_mount_wherever_it_is() {
        let (point, root) = mount_point(HYBRID).unwrap();
        assert_eq!(point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(root, "/");
        let unified =
            "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            mount_point(unified).unwrap().0,
            PathBuf::from("/sys/fs/cgroup")
        );
        let spaced = "30 25 0:26 /a\\040b /mnt/my\\040cg rw - cgroup2 none rw\n";
        assert_eq!(
            mount_point(spaced).unwrap(),
            (PathBuf::from("/mnt/my cg"), "/a b".to_string())
        );
        assert_eq!(mount_point("22 1 0:21 / /sys rw - sysfs sysfs rw\n"), None);
        assert_eq!(mount_point("garbage\n - cgroup2\n"), None);
    }

    #[test]
    fn reads_the_own_group_and_places_it_under_the_mount() {
        let text = "12:memory:/docker/abc\n0::/system.slice/app.service\n";
        assert_eq!(own_path(text).as_deref(), Some("/system.slice/app.service"));
        assert_eq!(own_path("4:memory:/x\n"), None);
        let mount = Path::new("/sys/fs/cgroup");
        assert_eq!(group_dir(mount, "/", "/"), Some(mount.to_path_buf()));
        assert_eq!(
            group_dir(mount, "/", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/a/b"))
        );
        // A container that sees a subtree mounted: its path starts with the root.
        assert_eq!(
            group_dir(mount, "/docker/abc", "/docker/abc/init"),
            Some(PathBuf::from("/sys/fs/cgroup/init"))
        );
        assert_eq!(group_dir(mount, "/docker/abc", "/other"), None);
        assert_eq!(group_dir(mount, "/docker/abc", "/docker/abcdef"), None);
        assert_eq!(group_dir(mount, "/", "/../etc"), None);
    }

    #[test]
    fn kept_files_read_the_group_afresh_and_its_sub_groups_by_path() {
        let dir = std::env::temp_dir().join(format!("rinit-cg-files-{}", std::process::id()));
        let sub = dir.join("worker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.events"), "populated 1\n").unwrap();
        std::fs::write(dir.join("cgroup.procs"), "5\n6\n").unwrap();
        let files = GroupFiles::open(&dir).unwrap();
        assert_eq!(members_with(&dir, Some(&files)).unwrap(), vec![5, 6]);
        // Rewritten (the kernel regenerates it on each read): read again from the start.
        std::fs::write(dir.join("cgroup.procs"), "7\n").unwrap();
        assert_eq!(members_with(&dir, Some(&files)).unwrap(), vec![7]);
        // A sub-group raises the directory's link count: it is listed too.
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("cgroup.procs"), "8\n").unwrap();
        assert_eq!(members_with(&dir, Some(&files)).unwrap(), vec![7, 8]);
        assert_eq!(members_of(&dir).unwrap(), vec![7, 8]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keyed_files_and_cpu_max() {
        let events = "populated 1\nfrozen 0\n";
        assert_eq!(keyed(events, "populated"), Some(1));
        assert_eq!(keyed(events, "frozen"), Some(0));
        assert_eq!(keyed(events, "nope"), None);
        assert_eq!(keyed("oom 0\noom_kill 2\n", "oom_kill"), Some(2));
        assert_eq!(cpu_max("50%").unwrap(), "50000 100000");
        assert_eq!(cpu_max(" 250% ").unwrap(), "250000 100000");
        assert_eq!(cpu_max("20000 100000").unwrap(), "20000 100000");
        assert_eq!(cpu_max("max").unwrap(), "max 100000");
        for bad in ["0%", "x%", "50", "1 2 3", "500 100000", "1000 10", ""] {
            assert!(cpu_max(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rinit_group_names() {
        assert!(is_rinit_group("rinit.1796300855183224108"));
        for other in [
            "rinit.",
            "rinit.x1",
            "rinit",
            "init",
            ".rinit",
            "rinit.1/2",
            "xrinit.1",
        ] {
            assert!(!is_rinit_group(other), "{other}");
        }
    }

    #[test]
    fn only_unlocked_rinit_groups_go_and_only_as_far_as_they_are_empty() {
        let dir = std::env::temp_dir().join(format!("rinit-cg-stale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in [
            "rinit.1/app/.probe",
            "rinit.2/app",
            "rinit.3/busy",
            "rinit.x",
            "other",
        ] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // A file stands for a process: rmdir refuses, as for a populated group.
        fs::write(dir.join("rinit.3/busy/member"), "").unwrap();
        // Something runs in rinit.4 (a nested rinit, say): none of it goes.
        fs::create_dir_all(dir.join("rinit.4/outer/rinit.5/done")).unwrap();
        fs::write(dir.join("rinit.4/cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let held = lock_group(&dir.join("rinit.2")).unwrap().expect("free");
        assert!(lock_group(&dir.join("rinit.2")).unwrap().is_none(), "held");
        assert_eq!(remove_abandoned(&dir), 3);
        assert!(!dir.join("rinit.1").exists());
        assert!(dir.join("rinit.2/app").is_dir(), "locked: its rinit lives");
        assert!(dir.join("rinit.3/busy/member").exists(), "not empty");
        assert!(dir.join("rinit.x").is_dir() && dir.join("other").is_dir());
        assert!(dir.join("rinit.4/outer/rinit.5/done").is_dir(), "populated");
        drop(held);
        assert_eq!(remove_abandoned(&dir), 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_group_removed_or_made_anew_under_its_lock_is_not_taken() {
        let dir = std::env::temp_dir().join(format!("rinit-cg-still-{}", std::process::id()));
        let _ = fs::remove_dir(&dir);
        fs::create_dir(&dir).unwrap();
        let lock = lock_group(&dir).unwrap().expect("free");
        assert!(is_still(&dir, &lock));
        fs::remove_dir(&dir).unwrap();
        assert!(!is_still(&dir, &lock), "removed");
        // The held fd keeps the old inode, so the new directory's number differs.
        fs::create_dir(&dir).unwrap();
        assert!(!is_still(&dir, &lock), "made anew");
        fs::remove_dir(&dir).unwrap();
    }
}
