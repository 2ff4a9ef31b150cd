#!/usr/bin/env python3
"""rinit's benchmark: rinit against tini, dumb-init and catatonit, side by side.

Every init runs as PID 1 of its own PID namespace (unshare --pid --fork --mount-proc);
the inits alternate run by run (A B C D A B C D ...) so that drift on the machine hits
all of them alike. Prints a table (median, min, max) and writes bench/results.json.

    python3 bench/bench.py                # the full benchmark (make bench)
    python3 bench/bench.py --quick        # 2 runs, 2,000 orphans, a 2 s idle window
    python3 bench/bench.py --only storm   # some sections: storm,idle,mem,stop,scale,logs

Sections: storm (20,000 double-forked orphans from bench/storm.c), idle (context
switches of PID 1 with sleeping children; every configuration at once, in the same
window), mem (VmRSS/VmHWM/Pss, one init at a time), stop (SIGTERM -> exit, through a
pidfd), scale (rinit with 100 services: start, stop), logs (rinit's CPU for 10 x 10 MB
through log = "prefix"). The workloads (bench/*.c) are built with gcc into target/bench.

Every init runs from a fresh copy of its binary, written with one write(2) into
target/bench/inits/ at the start: how a binary is held in the page cache changes how
long its exit takes (an exit unmaps a large folio at once, 4 KiB pages one by one; a
file written through mmap, as a linker writes target/static/rinit, is held in 4 KiB
pages, and a file's large folios do not keep: the installed peers' were mostly split
too; see BENCHMARKS.md), so the four binaries start alike. That holds where the
filesystem keeps large folios (ext4 since Linux 6.16, xfs); elsewhere all four get 4 KiB
pages alike. dumb-init's shared C library is not copied.

Needs root (PID namespaces, apt-get for the peers), gcc, Python 3.9+ (stdlib only).
Only processes this script started are ever signalled: each init through a pidfd
opened on it, or its own unshare parent.
"""

import argparse
import ctypes
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "target", "bench")
DEFAULT_RINIT = os.path.join(ROOT, "target", "static", "rinit")
DEFAULT_OUT = os.path.join(BENCH, "results.json")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
PEERS = [  # (label, Debian package, binaries in order of preference)
    ("tini", "tini", ["tini-static", "tini"]),
    ("dumb-init", "dumb-init", ["dumb-init"]),
    ("catatonit", "catatonit", ["catatonit"]),
]


class BenchError(Exception):
    pass


def now_ns():
    return time.monotonic_ns()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup


def dpkg_installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_peers():
    missing = [pkg for _, pkg, _ in PEERS if not dpkg_installed(pkg)]
    if not missing:
        return
    log(f"installing {' '.join(missing)} from Debian's packages")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", *missing]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def package_binary(pkg, names):
    files = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        for f in files:
            if os.path.basename(f) == name and os.path.isfile(f) and os.access(f, os.X_OK):
                return f
    raise BenchError(f"package {pkg} ships none of {names}")


def fresh_copy(path, d):
    """A copy of the binary at `path` in directory `d` (same name), written with one
    write(2) so that the page cache holds it as it holds any freshly written file. A
    copy left by an earlier run is replaced: its page cache may have aged."""
    os.makedirs(d, exist_ok=True)
    dest = os.path.join(d, os.path.basename(path))
    with open(path, "rb") as f:
        data = f.read()
    if os.path.lexists(dest):
        os.unlink(dest)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return dest


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() or None


def is_static(path):
    """True when the ELF file has no PT_INTERP program header (no dynamic loader)."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return None
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off : off + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def build_workloads():
    os.makedirs(BUILD, exist_ok=True)
    out = {}
    for name in ("storm", "sleeper"):
        src, exe = os.path.join(BENCH, name + ".c"), os.path.join(BUILD, name)
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            # Static, so a service's start costs an exec, not a dynamic loader: the scale
            # tests then measure rinit rather than ld.so.
            subprocess.run(["gcc", "-O2", "-static", "-Wall", "-Wextra", "-o", exe, src], check=True)
        out[name] = exe
    return out


def machine_info():
    info = {
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            info["os"] = next(l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        pass
    return info


# ---------------------------------------------------------------- /proc


def read(path):
    with open(path) as f:
        return f.read()


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            out += [int(p) for p in read(f"/proc/{pid}/task/{tid}/children").split()]
    except FileNotFoundError:
        pass
    return out


def descendants(pid):
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def comm(pid):
    try:
        return read(f"/proc/{pid}/comm").strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_ns(pid):
    """Time on CPU (ns): the first field of /proc/PID/schedstat."""
    return int(read(f"/proc/{pid}/schedstat").split()[0])


def status(pid):
    out = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        out[key] = value.split()[0] if value.split() else ""
    return out


def ctxt_switches(pid):
    s = status(pid)
    return int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])


def memory_kib(pid):
    s = status(pid)
    pss = next(int(l.split()[1]) for l in read(f"/proc/{pid}/smaps_rollup").splitlines() if l.startswith("Pss:"))
    return {"rss": int(s["VmRSS"]), "hwm": int(s["VmHWM"]), "pss": pss}


def wait_until(pred, timeout, what, interval=0.002):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- inotify (ctypes)

_libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO = 0x100, 0x80


class Watch:
    """Waits for a file in one directory without polling (inotify)."""

    def __init__(self, directory):
        self.fd = _libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0 or _libc.inotify_add_watch(self.fd, os.fsencode(directory), IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def wait_for(self, path, timeout, ns=None):
        """Returns the monotonic time (ns) at which `path` was seen to exist."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        deadline = now_ns() + int(timeout * 1e9)
        while True:
            t = now_ns()
            if os.path.exists(path):
                return t
            if t > deadline:
                raise BenchError(f"timed out after {timeout} s waiting for {path}")
            if ns is not None and ns.proc.poll() is not None:
                raise BenchError(f"the init exited with {ns.proc.returncode} before {path} appeared")
            poller.poll(min(200, (deadline - t) // 1_000_000 + 1))
            try:
                os.read(self.fd, 1 << 16)
            except BlockingIOError:
                pass

    def close(self):
        os.close(self.fd)


class Lines:
    """Reads lines from a pipe with a timeout."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def readline(self, timeout, what):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise BenchError(f"timed out after {timeout} s waiting for {what}")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise BenchError(f"end of output while waiting for {what}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


# ---------------------------------------------------------------- one init in its namespace


class Init:
    def __init__(self, label, path, argv_prefix):
        self.label, self.path, self.prefix = label, os.path.realpath(path), argv_prefix

    def argv(self, cmd):
        return [self.path, *self.prefix, *cmd]


class Ns:
    """One init as PID 1 of a fresh PID namespace. Signals go to it only via a pidfd."""

    live = []

    def __init__(self, argv, tmp, name, stdout=subprocess.DEVNULL, env=None):
        self.exe = os.path.realpath(argv[0])
        self.errlog = os.path.join(tmp, f"{name}.stderr")
        with open(self.errlog, "wb") as err:
            self.t_spawn = now_ns()
            self.proc = subprocess.Popen(UNSHARE + argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, env=env)
        self._pid1 = self.pidfd = None
        Ns.live.append(self)

    def pid1(self):
        """PID 1's host pid, once it runs the init's binary."""
        if self._pid1 is None:
            u = self.proc.pid

            def child():
                if self.proc.poll() is not None:
                    raise BenchError(f"unshare exited with {self.proc.returncode}: {self.stderr_tail()}")
                kids = children(u)
                return kids[0] if kids else None

            pid = wait_until(child, 10, "PID 1 to appear", 0.0005)
            self.pidfd = os.pidfd_open(pid)
            self._pid1 = pid

            def exec_done():
                try:
                    return os.readlink(f"/proc/{pid}/exe") == self.exe
                except OSError:
                    return False

            wait_until(exec_done, 10, f"PID 1 to exec {self.exe}", 0.0005)
        return self._pid1

    def signal(self, sig):
        signal.pidfd_send_signal(self.pidfd, sig)

    def wait_children(self, name, count, timeout=30):
        """Waits until `count` descendants of PID 1 named `name` exist."""
        pid1 = self.pid1()
        wait_until(lambda: sum(comm(p) == name for p in descendants(pid1)) >= count, timeout, f"{count} × {name}", 0.005)

    def stderr_tail(self):
        try:
            return read(self.errlog)[-2000:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def kill(self):
        if self in Ns.live:
            Ns.live.remove(self)
        if self.proc.poll() is None:
            try:
                if self.pidfd is None:
                    self.pid1()
                self.signal(signal.SIGKILL)
            except (ProcessLookupError, BenchError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own child, the unshare process
                self.proc.wait()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def stop_latency_ms(ns, timeout=30):
    """SIGTERM to PID 1 from outside; the time (ms) until its pidfd is readable (it exited)."""
    poller = select.poll()
    poller.register(ns.pidfd, select.POLLIN)
    t0 = time.perf_counter_ns()
    ns.signal(signal.SIGTERM)
    ready = poller.poll(timeout * 1000)
    t1 = time.perf_counter_ns()
    if not ready:
        raise BenchError(f"PID 1 still alive {timeout} s after SIGTERM")
    ns.exit_status = ns.proc.wait(10)
    return (t1 - t0) / 1e6


# ---------------------------------------------------------------- rinit configurations


def toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(toml(x) for x in v) + "]"


def config(path, services):
    """services: {name: {key: value}} → a TOML file at path."""
    with open(path, "w") as f:
        for name, keys in services.items():
            f.write(f"[service.{name}]\n")
            for k, v in keys.items():
                f.write(f"{k} = {toml(v)}\n")
            f.write("\n")
    return path


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args, inits, rinit, tools, tmp):
        self.a, self.inits, self.rinit, self.tools, self.tmp = args, inits, rinit, tools, tmp
        self.results = {}  # metric -> label -> [values]
        self.errors = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RINIT_")}
        self.env["RINIT_LOG"] = "warn"
        self.empty = config(os.path.join(tmp, "empty.toml"), {})
        self.env["RINIT_CONFIG"] = self.empty  # `rinit -- CMD` ignores any /etc/rinit on the host
        self.n = 0

    def record(self, metric, label, value):
        self.results.setdefault(metric, {}).setdefault(label, []).append(value)

    def name(self, what):
        self.n += 1
        return f"{self.n:04d}-{what}"

    def rinit_env(self, name):
        return dict(self.env, RINIT_SOCKET=os.path.join(self.tmp, name + ".sock"))

    def env_for(self, init, name):
        if init.label == NOCG:
            return dict(self.rinit_env(name), RINIT_CGROUPS="off")
        return self.rinit_env(name) if init.label == "rinit" else self.env

    def guarded(self, what, fn):
        try:
            fn()
        except BenchError as e:
            self.errors.append(f"{what}: {e}")
            log(f"  ERROR {what}: {e}")

    # 1. zombie storm
    def storm(self):
        n = self.a.orphans
        for r in range(self.a.runs):
            for init in self.inits:
                log(f"storm  run {r + 1}/{self.a.runs}  {init.label}")
                self.guarded(f"storm {init.label} run {r + 1}", lambda: self.storm_once(init, n))

    def storm_once(self, init, n):
        name = self.name(f"storm-{init.label}")
        fifo = os.path.join(self.tmp, name + ".go")
        os.mkfifo(fifo)
        rfd, wfd = os.pipe()
        try:
            with Ns(init.argv([self.tools["storm"], str(n), fifo]), self.tmp, name, wfd, self.env_for(init, name)) as ns:
                os.close(wfd)
                wfd = None
                out = Lines(rfd)
                while out.readline(30, "storm to be ready") != "ready":
                    pass
                pid1 = ns.pid1()
                time.sleep(0.1)
                cpu0, sw0 = cpu_ns(pid1), ctxt_switches(pid1)
                go = wait_until(lambda: self.open_fifo(fifo), 10, "storm to open its fifo")
                os.write(go, b"g")
                os.close(go)
                while True:
                    line = out.readline(300, "storm's result")
                    if line.startswith("{"):
                        break
                res = json.loads(line)
                cpu1, sw1 = cpu_ns(pid1), ctxt_switches(pid1)
        finally:
            os.close(rfd)
            if wfd is not None:
                os.close(wfd)
        total_s = res["total_ms"] / 1e3
        self.record("storm.rate", init.label, n / total_s)
        self.record("storm.cpu_us", init.label, (cpu1 - cpu0) / 1e3 / n)
        self.record("storm.lag_ms", init.label, res["lag_ms"])
        self.record("storm.backlog", init.label, res["max_backlog"])
        self.record("storm.wakeups_per_1000", init.label, (sw1 - sw0) * 1000 / n)

    @staticmethod
    def open_fifo(path):
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            return None

    # 2. idle wakeups: all configurations at once, in the same window
    def idle(self):
        for r in range(self.a.runs):
            log(f"idle   run {r + 1}/{self.a.runs}  (all inits at once, {self.a.idle:g} s window)")
            self.guarded(f"idle run {r + 1}", self.idle_once)

    def sleepers(self, services):
        """(label, argv, env, sleeping children) for each init with `sleep`, then rinit
        with `services` sleeping services each."""
        out = []
        for init in self.inits:
            name = self.name(f"sleep-{init.label}")
            out.append((init.label, name, init.argv(["sleep", "100000"]), self.env_for(init, name), 1))
        for count in services:
            name = self.name(f"sleep-rinit-{count}")
            cfg = config(
                os.path.join(self.tmp, name + ".toml"),
                {f"s{i}": {"exec": ["sleep", "100000"]} for i in range(count)},
            )
            out.append((f"rinit, {count} services", name, [self.rinit.path, "-c", cfg], self.rinit_env(name), count))
        return out

    def idle_once(self):
        setups = []  # (label, ns)
        try:
            for label, name, argv, env, count in self.sleepers([10]):
                ns = Ns(argv, self.tmp, name, env=env)
                setups.append((label, ns))
                ns.wait_children("sleep", count)
            time.sleep(1)
            before = [ctxt_switches(ns.pid1()) for _, ns in setups]
            time.sleep(self.a.idle)
            after = [ctxt_switches(ns.pid1()) for _, ns in setups]
            for (label, ns), b, a in zip(setups, before, after):
                self.record("idle.wakeups", label, a - b)
        finally:
            for _, ns in setups:
                ns.kill()

    # 3. memory: one init at a time, so that no other process shares its binary's pages
    def mem(self):
        for r in range(self.a.runs):
            for label, name, argv, env, count in self.sleepers([100]):
                log(f"mem    run {r + 1}/{self.a.runs}  {label}")
                self.guarded(f"mem {label} run {r + 1}", lambda: self.mem_once(label, name, argv, env, count))

    def mem_once(self, label, name, argv, env, count):
        with Ns(argv, self.tmp, name, env=env) as ns:
            ns.wait_children("sleep", count)
            time.sleep(0.5)
            for k, v in memory_kib(ns.pid1()).items():
                self.record(f"mem.{k}", label, v)

    # 4. stop latency
    def stop(self):
        # rinit twice: with cgroups where it can make them (here), and with them off.
        nocg = Init(NOCG, self.rinit.path, ["--"])
        for r in range(self.a.runs):
            for init in self.inits + [nocg]:
                log(f"stop   run {r + 1}/{self.a.runs}  {init.label}")
                self.guarded(f"stop {init.label} run {r + 1}", lambda: self.stop_once(init))

    def stop_once(self, init):
        name = self.name(f"stop-{init.label}")
        with Ns(init.argv(["sleep", "1000"]), self.tmp, name, env=self.env_for(init, name)) as ns:
            ns.wait_children("sleep", 1)
            time.sleep(0.2)
            self.record("stop.ms", init.label, stop_latency_ms(ns))
            self.record("stop.exit", init.label, ns.exit_status)

    # 5. rinit at scale
    def scale(self):
        for r in range(self.a.runs):
            log(f"scale  run {r + 1}/{self.a.runs}  rinit")
            self.guarded(f"dag start run {r + 1}", self.dag_start_once)
            for label in ("rinit", NOCG):
                self.guarded(f"shutdown flat run {r + 1}", lambda: self.shutdown_once("flat", False, label))
                self.guarded(f"shutdown dag run {r + 1}", lambda: self.shutdown_once("dag", False, label))
                self.guarded(f"shutdown ignore run {r + 1}", lambda: self.shutdown_once("flat", True, label))
                self.guarded(f"tree run {r + 1}", lambda: self.tree_once(label))

    def scale_services(self, d, shape, nproc=1, ignore=None):
        """100 services: 10 levels × 10 (each after two of the level above) or flat; each
        `ready = file:` once its nproc processes exist; a sentinel after all of the last
        level (or all of them) that creates d/done/all-ready."""
        os.makedirs(os.path.join(d, "ready"))
        os.makedirs(os.path.join(d, "done"))
        services = {}
        for level in range(10):
            for j in range(10):
                name = f"L{level}-{j}"
                ready = os.path.join(d, "ready", name)
                args = [self.tools["sleeper"], ready, str(nproc)]
                s = {"exec": args, "ready": "file:" + ready}
                if name == ignore:
                    s["exec"] = args + ["ignore"]
                    s["stop_timeout"] = "1s"
                if shape == "dag" and level > 0:
                    s["after"] = [f"L{level - 1}-{j}", f"L{level - 1}-{(j + 1) % 10}"]
                services[name] = s
        last = [n for n in services if shape == "flat" or n.startswith("L9-")]
        services["sentinel"] = {"exec": [self.tools["sleeper"], os.path.join(d, "done", "all-ready")], "after": last}
        return services

    def start_rinit(self, name, services, stdout=subprocess.DEVNULL, label="rinit"):
        """Spawns rinit on `services`; returns (ns, time from spawn to the sentinel in ms)."""
        d = os.path.join(self.tmp, name)
        cfg = config(os.path.join(self.tmp, name + ".toml"), services)
        watch = Watch(os.path.join(d, "done"))
        env = dict(self.rinit_env(name), RINIT_CGROUPS="off") if label == NOCG else self.rinit_env(name)
        try:
            ns = Ns([self.rinit.path, "-c", cfg], self.tmp, name, stdout, env)
            try:
                t = watch.wait_for(os.path.join(d, "done", "all-ready"), 60, ns)
            except BaseException:
                ns.kill()
                raise
        finally:
            watch.close()
        return ns, (t - ns.t_spawn) / 1e6

    def dag_start_once(self):
        name = self.name("dag-start")
        d = os.path.join(self.tmp, name)
        ns, ms = self.start_rinit(name, self.scale_services(d, "dag"))
        with ns:
            self.record("scale.dag_start_ms", "rinit", ms)
            created = len(os.listdir(os.path.join(d, "ready")))
            if created != 100:
                raise BenchError(f"only {created} of 100 services created their file")
        # the same 100 services without dependencies: the cost of the count, not the depth
        name = self.name("flat-start")
        ns, ms = self.start_rinit(name, self.scale_services(os.path.join(self.tmp, name), "flat"))
        with ns:
            self.record("scale.flat_start_ms", "rinit", ms)
        # the same spawn with only the sentinel: what unshare + rinit's own start cost
        name = self.name("dag-baseline")
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "done"))
        ns, ms = self.start_rinit(name, {"sentinel": {"exec": [self.tools["sleeper"], os.path.join(d, "done", "all-ready")]}})
        with ns:
            self.record("scale.baseline_start_ms", "rinit", ms)

    def shutdown_once(self, shape, ignore, label="rinit"):
        name = self.name(f"shutdown-{shape}{'-ignore' if ignore else ''}")
        d = os.path.join(self.tmp, name)
        services = self.scale_services(d, shape, nproc=10, ignore="L9-9" if ignore else None)
        ns, _ = self.start_rinit(name, services, label=label)
        with ns:
            procs = len(descendants(ns.pid1()))
            if procs < 1001:
                raise BenchError(f"only {procs} processes under rinit, expected 1001")
            time.sleep(0.3)
            ms = stop_latency_ms(ns)
        key = "scale.stop_ignore_ms" if ignore else f"scale.stop_{shape}_ms"
        self.record(key, label, ms)

    def tree_once(self, label):
        """One service of 1,000 processes (a sleeper making 999 children): SIGTERM -> exit."""
        name = self.name("tree")
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "ready"))
        os.makedirs(os.path.join(d, "done"))
        ready = os.path.join(d, "ready", "tree")
        services = {
            "tree": {"exec": [self.tools["sleeper"], ready, "1000"], "ready": "file:" + ready},
            "sentinel": {"exec": [self.tools["sleeper"], os.path.join(d, "done", "all-ready")], "after": ["tree"]},
        }
        ns, _ = self.start_rinit(name, services, label=label)
        with ns:
            procs = len(descendants(ns.pid1()))
            if procs < 1001:
                raise BenchError(f"only {procs} processes under rinit, expected 1001")
            time.sleep(0.3)
            self.record("scale.stop_tree_ms", label, stop_latency_ms(ns))

    # 6. CPU cost of supervision
    def logs(self):
        for r in range(self.a.runs):
            log(f"logs   run {r + 1}/{self.a.runs}  rinit")
            self.guarded(f"logs run {r + 1}", self.logs_once)

    def logs_once(self):
        name = self.name("logs")
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "done"))
        size = int(self.a.log_mb * 1_000_000)
        cmd = f"head -c {size} /dev/zero | tr '\\0' x | fold -w 99"
        services = {f"flood{i}": {"exec": cmd, "shell": True, "oneshot": True, "log": "prefix"} for i in range(10)}
        services["sentinel"] = {
            "exec": [self.tools["sleeper"], os.path.join(d, "done", "all-ready")],
            "after": [f"flood{i}" for i in range(10)],
        }
        ns, ms = self.start_rinit(name, services)
        with ns:
            cpu = cpu_ns(ns.pid1())
        self.record("logs.cpu_ms", "rinit", cpu / 1e6)
        self.record("logs.wall_ms", "rinit", ms)
        self.record("logs.cpu_ns_per_line", "rinit", cpu / (10 * -(-size // 99)))


# ---------------------------------------------------------------- report

# (metric, title, unit, format, goal) — goal(rinit's median, the summaries) -> (met, text)
MIB = 1024


def best_peer(summ, metric, pick=max):
    peers = [v["median"] for k, v in summ.get(metric, {}).items() if k in ("tini", "dumb-init", "catatonit")]
    return pick(peers) if peers else None


def within_best_peer(factor):
    def goal(med, summ):
        best = best_peer(summ, "stop.ms", min)
        if best is None:
            return None
        return med <= best * factor, f"<= {factor:.2f} x best peer {best:.3f} ms", f"{med / best:.2f}x"

    return goal


def goal_rate(med, summ):
    best = best_peer(summ, "storm.rate")
    if best is None:
        return None
    return med >= best, f">= best peer {best:,.0f}/s", f"{(med / best - 1) * 100:+.1f}%"


def upto(limit, unit_fmt):
    def goal(med, summ):
        return med <= limit, f"<= {unit_fmt(limit)}", f"{'+' if med > limit else ''}{unit_fmt(med - limit)}"

    return goal


def below(limit, unit_fmt):
    def goal(med, summ):
        return med < limit, f"< {unit_fmt(limit)}", f"{'+' if med >= limit else ''}{unit_fmt(med - limit)}"

    return goal


ROWS = [
    ("storm.rate", "zombie storm: orphans reaped per second", "{:,.0f}", goal_rate),
    ("storm.cpu_us", "zombie storm: PID 1 CPU per orphan (us)", "{:.2f}", upto(9, "{:.2f} us".format)),
    ("storm.lag_ms", "zombie storm: reap lag after last fork (ms)", "{:.2f}", upto(2, "{:.2f} ms".format)),
    ("storm.backlog", "zombie storm: largest zombie backlog", "{:,.0f}", None),
    ("storm.wakeups_per_1000", "zombie storm: PID 1 wakeups per 1000 orphans", "{:,.0f}", None),
    ("idle.wakeups", "idle: PID 1 context switches in the window", "{:,.0f}", upto(0, "{:.0f}".format)),
    ("mem.rss", "memory: VmRSS (KiB)", "{:,.0f}", None),
    ("mem.hwm", "memory: VmHWM (KiB)", "{:,.0f}", None),
    ("mem.pss", "memory: Pss (KiB)", "{:,.0f}", None),
    ("size", "binary size (bytes)", "{:,.0f}", upto(1_500_000, "{:,.0f} B".format)),
    ("stop.ms", "stop latency: SIGTERM -> PID 1 exit (ms)", "{:.3f}", within_best_peer(1.10)),
    ("scale.dag_start_ms", "100-service DAG, depth 10: spawn -> all ready (ms)", "{:.1f}", below(50, "{:.1f} ms".format)),
    ("scale.flat_start_ms", "  the same 100 services, no dependencies (ms)", "{:.1f}", None),
    ("scale.baseline_start_ms", "  for reference: spawn -> ready, 1 service (ms)", "{:.1f}", None),
    ("scale.stop_flat_ms", "stop 100 services x 10 processes (ms)", "{:.1f}", below(80, "{:.1f} ms".format)),
    ("scale.stop_dag_ms", "  the same as a DAG of depth 10 (ms)", "{:.1f}", None),
    ("scale.stop_ignore_ms", "stop, one service ignores SIGTERM, stop_timeout 1s (ms)", "{:.1f}", below(1050, "{:.1f} ms".format)),
    ("scale.stop_tree_ms", "stop one service of 1,000 processes (ms)", "{:.1f}", below(100, "{:.1f} ms".format)),
    ("logs.cpu_ms", "log = prefix, 10 x {mb} MB: rinit CPU (ms)", "{:.1f}", None),
    ("logs.cpu_ns_per_line", "  rinit CPU per 100-byte line (ns)", "{:.0f}", None),
    ("logs.wall_ms", "  spawn -> all 10 done (ms)", "{:.1f}", None),
]

# rinit with RINIT_CGROUPS=off (the stop and scale rows)
NOCG = "rinit, no cgroups"

# the memory goals, by configuration
MEM_GOALS = {"rinit": 2 * MIB, "rinit, 100 services": 4 * MIB}


def summarize(results):
    summ = {}
    for metric, per in results.items():
        summ[metric] = {}
        for label, values in per.items():
            vs = [v for v in values if v is not None]
            if vs:
                summ[metric][label] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "runs": len(vs)}
    return summ


def goals_for(metric, label, med, summ, goal):
    """(met, goal text, delta text) for the rows that have a goal, else None."""
    if metric == "mem.rss" and label in MEM_GOALS:
        return upto(MEM_GOALS[label], lambda k: f"{k:,.0f} KiB")(med, summ)
    if metric == "idle.wakeups" and label.startswith("rinit"):
        return goal(med, summ)
    if goal is None or label not in ("rinit", NOCG) or metric == "idle.wakeups":
        return None
    return goal(med, summ)


def report(summ, args):
    lines = []
    w = 58
    head = f"{'metric':<{w}} {'init':<20} {'median':>12} {'min':>12} {'max':>12}  goal (rinit, median)"
    lines += [head, "-" * len(head)]
    verdicts = []
    for metric, title, fmt, goal in ROWS:
        per = summ.get(metric)
        if not per:
            continue
        title = title.format(mb=f"{args.log_mb:g}")
        for i, (label, s) in enumerate(per.items()):
            g = goals_for(metric, label, s["median"], summ, goal)
            gtext = ""
            if g:
                met, text, delta = g
                gtext = f"{text}: {'met' if met else 'MISSED by ' + delta}"
                verdicts.append((f"{title} [{label}]", met, text, delta))
            cells = [fmt.format(s[k]) for k in ("median", "min", "max")]
            lines.append(f"{title if i == 0 else '':<{w}} {label:<20} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}  {gtext}")
    return "\n".join(lines), verdicts


# ---------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 runs, 2,000 orphans, 2 s idle, 1 MB per log service")
    p.add_argument("--runs", type=int, help="runs per init and metric (default 5)")
    p.add_argument("--orphans", type=int, help="orphans in the zombie storm (default 20000)")
    p.add_argument("--idle", type=float, help="idle window in seconds (default 10)")
    p.add_argument("--log-mb", type=float, help="MB printed by each of the 10 log services (default 10)")
    p.add_argument("--only", help="comma-separated sections: storm,idle,mem,stop,scale,logs")
    p.add_argument("--rinit", default=DEFAULT_RINIT, help="the rinit binary (default: the static build)")
    p.add_argument("--out", default=DEFAULT_OUT, help="the JSON results (default bench/results.json)")
    a = p.parse_args()
    quick = a.quick
    a.runs = a.runs or (2 if quick else 5)
    a.orphans = a.orphans or (2000 if quick else 20000)
    a.idle = a.idle if a.idle is not None else (2 if quick else 10)
    a.log_mb = a.log_mb if a.log_mb is not None else (1 if quick else 10)
    sections = ["storm", "idle", "mem", "stop", "scale", "logs"]
    if a.only:
        sections = [s for s in a.only.split(",") if s]
        bad = set(sections) - {"storm", "idle", "mem", "stop", "scale", "logs"}
        if bad:
            p.error(f"unknown sections {sorted(bad)}")

    if os.geteuid() != 0:
        sys.exit("bench: needs root (PID namespaces, apt-get)")
    if not os.path.exists(a.rinit):
        sys.exit(f"bench: no rinit at {a.rinit} (run `make static` first)")
    for tool in ("unshare", "gcc", "dpkg"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} not found")

    t_start = time.monotonic()
    ensure_peers()
    tools = build_workloads()
    peers = {}
    for label, pkg, names in PEERS:
        peers[label] = package_binary(pkg, names)
    rinit = Init("rinit", a.rinit, ["--"])
    inits = [
        Init("tini", peers["tini"], ["--"]),
        Init("dumb-init", peers["dumb-init"], []),
        Init("catatonit", peers["catatonit"], ["--"]),
        rinit,
    ]
    binaries = {}
    for init in inits:
        pkg = next((pk for lb, pk, _ in PEERS if lb == init.label), None)
        binaries[init.label] = {
            "path": init.path,
            "bytes": os.path.getsize(init.path),
            "static": is_static(init.path),
            "version": package_version(pkg) if pkg else None,
        }
    info = machine_info()
    log(f"bench: {info.get('cpu', '?')} × {info['cpus']}, Linux {info['kernel']}, load {info['loadavg_start'][0]:.2f}")
    for label, b in binaries.items():
        log(f"  {label:<10} {b['path']} ({'static' if b['static'] else 'dynamic'}, {b['bytes']:,} bytes)")

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    with tempfile.TemporaryDirectory(prefix="rinit-bench-") as tmp:
        for init in inits:
            init.path = fresh_copy(init.path, os.path.join(BUILD, "inits", init.label))
        bench = Bench(a, inits, rinit, tools, tmp)
        for label, b in binaries.items():
            bench.record("size", label, b["bytes"])
        try:
            for section in sections:
                getattr(bench, section)()
        except KeyboardInterrupt:
            log("bench: interrupted")
            for ns in list(Ns.live):
                ns.kill()
            sys.exit(130)
        finally:
            for ns in list(Ns.live):
                ns.kill()

    info["loadavg_end"] = os.getloadavg()
    info["seconds"] = round(time.monotonic() - t_start, 1)
    summ = summarize(bench.results)
    table, verdicts = report(summ, a)
    params = {"runs": a.runs, "orphans": a.orphans, "idle_s": a.idle, "log_mb": a.log_mb, "quick": quick, "sections": sections}
    out = {
        "machine": info,
        "params": params,
        "binaries": binaries,
        "summary": summ,
        "runs": bench.results,
        "goals": [{"what": w, "met": m, "goal": g, "delta": d} for w, m, g, d in verdicts],
        "errors": bench.errors,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    print()
    print(f"rinit benchmark: {a.runs} runs, {a.orphans:,} orphans, {a.idle:g} s idle window; "
          f"{info.get('cpu', '?')} × {info['cpus']}, Linux {info['kernel']}, "
          f"load {info['loadavg_start'][0]:.2f} -> {info['loadavg_end'][0]:.2f}, {info['seconds']:.0f} s")
    print("binaries: " + ", ".join(f"{k} {os.path.basename(v['path'])} ({'static' if v['static'] else 'dynamic'})" for k, v in binaries.items()))
    print()
    print(table)
    missed = [v for v in verdicts if not v[1]]
    print()
    if missed:
        print(f"goals missed by rinit ({len(missed)} of {len(verdicts)}):")
        for what, _, goal, delta in missed:
            print(f"  {what}: {goal}, off by {delta}")
    else:
        print(f"every goal met ({len(verdicts)})")
    if bench.errors:
        print(f"\n{len(bench.errors)} run(s) failed:")
        for e in bench.errors:
            print("  " + e)
    print(f"\nresults: {os.path.relpath(a.out)}")
    sys.exit(1 if bench.errors else 0)


if __name__ == "__main__":
    main()
