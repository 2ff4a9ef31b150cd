//! Who is in rinit's PID namespace, known without listing /proc at the moment it matters.
//!
//! A stop needs to know who is in the namespace twice: before its first signal (the
//! service's processes, deepest first) and, when rinit is PID 1 of its namespace, after
//! its last reap (a process that came in from outside, with `docker exec` or `nsenter`,
//! gets SIGTERM and its stop time before rinit exits, instead of the kernel's SIGKILL).
//! Both are on the stop's critical path. A [`Census`] is a look taken earlier — when rinit
//! goes idle after starting something, and while the last children are dying — that stays
//! good until a pid is handed out: a listing of /proc together with the namespace's pid
//! cursor, the last pid the kernel handed out in the reader's
//! namespace (the last field of /proc/loadavg). Every process and thread that is born in
//! the namespace or enters it takes a new pid there and moves the cursor. So while the
//! cursor has not moved, every process alive was alive at the census and was listed; if
//! those were all rinit's own children and rinit has none left, nobody else is there.
//!
//! A fork that has its pid but is not yet in the pid table is not listed: so a census
//! counts only if the cursor's own pid is listed or can be looked up, which covers a
//! fork under way as the census is taken (`docker exec` and `nsenter` make one). What it
//! cannot see, and neither could a listing after the reap, is a second fork under way at
//! that same instant, a pid chosen with `clone3`'s `set_tid` or written to
//! `ns_last_pid` (CRIU restoring processes; both need privileges), and the pid counter
//! wrapping all the way round to the same value. After the last reap, each at worst
//! leaves a process to the kernel's SIGKILL, as one that enters between rinit's last look
//! and its exit always is. The census rinit takes when it goes idle, which also decides
//! the first stop's table, is stricter: the cursor's pid must be rinit's or its child's.
//!
//! It helps only where nothing forks or starts a thread after the look (a thread moves the
//! cursor too): a single-threaded service that does not fork, as `rinit -- CMD` often runs.
//! Elsewhere /proc is listed as before, after one `pread` more.
//!
//! The decisions ([`last_pid`], [`only_children`], [`Census::proves_alone`]) are pure; only
//! [`PidCursor`] and [`Census::take`] read /proc.

use std::os::fd::OwnedFd;

/// The last field of /proc/loadavg ("0.00 0.01 0.05 1/123 4567"): the last pid handed out
/// in the reader's PID namespace. Pure.
pub fn last_pid(loadavg: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(loadavg).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let last = fields.next_back()?;
    // Five fields, the fourth "running/total": anything else is not the kernel's file.
    let total = fields.next_back()?;
    (fields.count() == 3 && total.contains('/')).then_some(())?;
    last.parse().ok()
}

/// Every pid listed but `me` is one of `children` (rinit's own, unreaped): `Some(true)`;
/// someone else is: `Some(false)`; the listing failed before it could tell: `None`. Each
/// entry is a pid, `Ok(None)` for a name that is not one. Stops at the first stranger.
/// Pure.
pub fn only_children<E>(
    listed: impl IntoIterator<Item = Result<Option<i32>, E>>,
    me: i32,
    children: &[i32],
) -> Option<bool> {
    for entry in listed {
        match entry {
            Err(_) => return None,
            Ok(Some(pid)) if pid != me && !children.contains(&pid) => return Some(false),
            Ok(_) => {}
        }
    }
    Some(true)
}

/// /proc/PID can be looked up (a thread's id too, though /proc does not list it).
fn pid_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The namespace's pid cursor, read through /proc/loadavg kept open (a `pread` per look).
pub struct PidCursor(OwnedFd);

impl PidCursor {
    /// Open /proc/loadavg; `None` unless it is procfs's own (LXCFS mounts a FUSE file of
    /// its own over it in some containers, whose numbers mean something else).
    pub fn open() -> Option<PidCursor> {
        let fd = crate::proctree::open_ro(std::path::Path::new("/proc/loadavg")).ok()?;
        let fs = nix::sys::statfs::fstatfs(&fd).ok()?;
        (fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC).then_some(PidCursor(fd))
    }

    /// The last pid handed out in rinit's namespace, if the file could be read.
    pub fn read(&self) -> Option<u64> {
        let mut buf = [0u8; 128];
        let n = nix::sys::uio::pread(&self.0, &mut buf, 0).ok()?;
        // A full buffer may have cut the last field short.
        (n < buf.len()).then_some(())?;
        last_pid(buf.get(..n)?)
    }
}

/// A look at the namespace: the pid cursor, and whether /proc then listed only rinit and
/// its own unreaped children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Census {
    cursor: u64,
    only_children: bool,
}

impl Census {
    /// Read the cursor, check that its pid is in the pid table (see `look_up`), then list
    /// /proc (in that
    /// order: a process born after the read moves the cursor past it, and the last one
    /// born before it is in the table the listing reads). The listing stops at the first
    /// pid that is neither `me` nor in `children`.
    pub fn take(cursor: &PidCursor, me: i32, children: &[i32], look_up: bool) -> Option<Census> {
        let at = cursor.read()?;
        // The last pid handed out is in the pid table before the listing begins: no fork
        // is under way that the listing would miss. With `look_up`, any pid that /proc
        // can look up will do (a thread's too); else it must be rinit or its child.
        let settled = i32::try_from(at)
            .ok()
            .is_some_and(|p| p == me || children.contains(&p) || (look_up && pid_exists(p)));
        if !settled {
            return Some(Census::new(at, false));
        }
        let only = crate::proctree::with_proc_dir(|dir| {
            let pids = dir
                .iter()
                .map(|e| e.map(|e| crate::proctree::pid_of(e.file_name().to_bytes())));
            only_children(pids, me, children)
        })
        .ok()??;
        Some(Census::new(at, only))
    }

    pub fn new(cursor: u64, only_children: bool) -> Census {
        Census {
            cursor,
            only_children,
        }
    }

    /// It listed only rinit and its children, so it can prove rinit alone later.
    pub fn is_useful(&self) -> bool {
        self.only_children
    }

    /// No pid was handed out since it was taken (the cursor is at `now`). Pure.
    pub fn is_current(&self, now: Option<u64>) -> bool {
        now == Some(self.cursor)
    }

    /// With no child left to rinit and the cursor at `now`: nobody but rinit is in the
    /// namespace. Pure.
    pub fn proves_alone(&self, now: Option<u64>) -> bool {
        self.only_children && self.is_current(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_pid_is_the_last_field_of_loadavg() {
        assert_eq!(last_pid(b"0.00 0.01 0.05 1/123 4567\n"), Some(4567));
        assert_eq!(last_pid(b"1.50 2.00 3.25 12/1024 2"), Some(2));
        // Not the kernel's format: no answer, so no census.
        assert_eq!(last_pid(b""), None);
        assert_eq!(last_pid(b"4567\n"), None);
        assert_eq!(last_pid(b"0.00 0.01 0.05 123 4567\n"), None);
        assert_eq!(last_pid(b"0.00 0.01 0.05 1/123 4567 9\n"), None);
        assert_eq!(last_pid(b"0.00 0.01 0.05 1/123 -1\n"), None);
        assert_eq!(last_pid(b"0.00 0.01 0.05 1/123 \xff\n"), None);
    }

    #[test]
    fn only_rinit_and_its_children_listed() {
        let listing =
            |pids: &[Option<i32>]| pids.iter().map(|p| Ok::<_, ()>(*p)).collect::<Vec<_>>();
        assert_eq!(
            only_children(listing(&[None, Some(1), Some(7)]), 1, &[7, 9]),
            Some(true)
        );
        assert_eq!(only_children(listing(&[Some(1)]), 1, &[]), Some(true));
        let stranger = listing(&[Some(1), Some(7), Some(8)]);
        assert_eq!(
            only_children(stranger, 1, &[7]),
            Some(false),
            "8 came from elsewhere"
        );
        // A listing that failed says nothing, unless a stranger was seen before.
        let failed = [Ok(Some(1)), Err(()), Ok(Some(8))];
        assert_eq!(only_children(failed, 1, &[]), None);
        let seen = [Ok(Some(8)), Err(())];
        assert_eq!(only_children(seen, 1, &[]), Some(false));
    }

    #[test]
    fn a_census_proves_alone_only_while_no_pid_was_handed_out() {
        let census = Census::new(41, true);
        assert!(census.proves_alone(Some(41)));
        assert!(
            !census.proves_alone(Some(42)),
            "a process was born or came in"
        );
        assert!(!census.proves_alone(None), "the cursor could not be read");
        let crowded = Census::new(41, false);
        assert!(!crowded.proves_alone(Some(41)), "someone else was listed");
    }
}
