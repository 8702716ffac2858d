"""envtorch coding env runner: the zygote and the workers it forks.

Deno starts `python3 -I -B -u -c BOOTSTRAP` with three pipes. The bootstrap
reads this source as the first frame on fd 0 and runs it; `_main` then reads
the config frame and the process becomes the zygote. Every frame, both ways,
is a 4-byte big-endian length and that many bytes of UTF-8 JSON.

Sections, in order:

1. frames: reading and writing frames.
2. small system helpers: prctl, fallocate, children, reaping, the kill(-1)
   sweep of a worker's other processes.
3. zygote (fork server): `_Zygote` pre-imports the runner's modules, then
   forks a worker per `spawn` request, signals, freezes and thaws workers on
   request, and when one dies kills what its uid left, reaps every orphan
   (it is a child subreaper) and reports `exited`. It never runs user code
   and never reads what a worker sends. A worker that made it its tracer
   (PTRACE_TRACEME) is detached, never taken for dead.
4. runner setup: in the fork, before any user code: connect to the server's
   socket as root, own session, oom_score_adj 1000, no_new_privs, child
   subreaper, setgroups([]) + setresgid + setresuid to the worker uid,
   PR_SET_PDEATHSIG, rlimits with soft = hard, stdin at EOF, fd 1 and fd 2
   on files the server reads if the runner dies, a private TMPDIR/HOME with
   umask 077 (`_setup_runner`, `_private_tmp`, `_worker`).
5. runner (steps): `_Runner` runs each step in one persistent namespace,
   serves `exec`, `call` (the grader's) and `ping`; between steps it
   blocks every signal.
6. end of step: what a step leaves goes when it ends (every other process of
   the uid, its System V IPC objects and POSIX queues); a signal that came
   while idle and would end the worker is answered `ended`.
7. main.

User code shares the runner's process, so the runner is untrusted from the
server's point of view: the server re-checks everything it receives.
"""

import io
import os
import sys

_RUNNER_FILE = "envtorch_runner.py"
_MAX_REQUEST = 256 * 1024 * 1024

PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38



# --- frames ---------------------------------------------------------------


def _read_exact(fd, n):
    chunks = []
    got = 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("control pipe closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_frame(fd):
    import json

    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > _MAX_REQUEST:
        raise ValueError("request frame too large")
    return json.loads(_read_exact(fd, size))


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_frame(fd, message):
    import json

    try:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(message, separators=(",", ":")).encode("ascii")
    _write_all(fd, len(body).to_bytes(4, "big") + body)


# --- small system helpers ----------------------------------------------------


_LIBC = {}


def _libc():
    """The C library through ctypes, with the prototypes the runner and zygote call.

    Loaded once, in the zygote before it forks, so that no worker pays the
    dlopen and its page faults again. Raises if ctypes cannot load it.
    """
    if "c" not in _LIBC:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        ulong, long_, ptr, i64 = ctypes.c_ulong, ctypes.c_long, ctypes.c_void_p, ctypes.c_int64
        libc.prctl.argtypes = (ctypes.c_int, ulong, ulong, ulong, ulong)
        libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, i64, i64)
        libc.ptrace.argtypes = (long_, long_, ptr, ptr)
        libc.shmctl.argtypes = (ctypes.c_int, ctypes.c_int, ptr)
        libc.msgctl.argtypes = (ctypes.c_int, ctypes.c_int, ptr)
        libc.semctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ptr)
        _LIBC["ipc_info"] = ctypes.c_int * 32  # room for any of the IPC `*_INFO` structs
        _LIBC["c"] = libc
    return _LIBC["c"]


def _prctl(option, value):
    """Calls prctl(2); returns True on success."""
    try:
        return _libc().prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


_FALLOC_FL_KEEP_SIZE = 1


def _reserve(fd, size):
    """Allocates the first `size` bytes of a file ahead, without changing its size.

    The output files live on the same tmpfs as every session's work folder:
    with their space taken in advance, what a step prints still arrives when
    some session has filled the tmpfs. Returns True on success.
    """
    try:
        return _libc().fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size) == 0
    except Exception:
        return False


def _children():
    """Pids of this process's children (every thread's), alive or zombie."""
    pids = set()
    me = os.getpid()
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            try:
                with open(f"/proc/{me}/task/{tid}/children", "rb") as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        return pids
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) == me:
                pids.add(int(entry))
        except (OSError, ValueError):
            pass
    return pids


def _reap_nohang():
    """Reaps every exited child; returns False once there are no children at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _kill_all_others(cfg, deadline_s=3.0):
    """Kills every other process of the worker and reaps what is ours.

    With a dedicated uid, kill(-1) as that uid reaches every process of the
    uid at once (the kernel holds the task list lock, so a fork bomb cannot
    race it) and never the caller itself. Without one, kill(-1) would hit the
    server, so only descendants are killed: the subreaper flag makes every
    orphan of ours a child of ours, however it detached.
    Returns how many children were killed.
    """
    import signal
    import time

    killed = 0
    end = time.monotonic() + deadline_s
    dedicated = cfg.get("drop") and os.getuid() == cfg["uid"] and os.getuid() != 0
    while True:
        if not _reap_nohang():
            return killed
        kids = _children()
        if dedicated:
            for _ in range(2):
                try:
                    os.kill(-1, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        killed = max(killed, len(kids))
        if time.monotonic() > end:
            return killed
        time.sleep(0.0005)


# --- zygote (fork server) ----------------------------------------------------------


# Imported once by the zygote, so that a forked runner starts with them in
# memory: the runner's own needs, and the standard modules steps import most.
# Nothing user code does to them reaches the zygote or the next worker: each
# worker is a fresh fork of the zygote, which never runs user code. (random
# reseeds itself in every child through os.register_at_fork.)
_PRELOAD = (
    "ast", "collections", "ctypes", "dataclasses", "faulthandler", "functools", "itertools",
    "json", "linecache", "math", "random", "re", "resource", "select", "shutil", "signal",
    "socket", "stat", "string", "tempfile", "time", "traceback", "types", "typing",
)

PR_SET_PDEATHSIG = 1
PTRACE_DETACH = 17


def _ptrace_detach(pid, sig):
    """Detaches from a runner that made us its tracer (PTRACE_TRACEME), delivering `sig`."""
    try:
        return _libc().ptrace(PTRACE_DETACH, pid, None, sig) == 0
    except Exception:
        return False


def _traced_by_me(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) == os.getpid()
    except (OSError, ValueError):
        pass
    return False


def _as_uid(uid, gid, action):
    """Runs `action()` in a child that dropped to uid/gid; waits for it. Returns its exit code."""
    try:
        pid = os.fork()
    except OSError:
        return -1
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            code = action() or 0
        finally:
            os._exit(code)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        except ChildProcessError:
            return -1
        except InterruptedError:
            continue


def _uid_of(pid):
    """The real uid of a process, from its status (its /proc folder belongs to root when
    it is not dumpable, as a worker is after its drop), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _kill_uid_but(keep):
    """As the worker uid: stops every process of the uid, then kills all but `keep`.

    kill(-1, SIGSTOP) reaches every process of the uid at once, so none can
    fork while the rest are found in /proc and killed. Returns how many died.
    """
    import signal

    uid = os.getuid()
    killed = 0
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):
            pass
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (keep, os.getpid()):
                continue
            try:
                if _uid_of(entry) != uid:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                if stat[stat.rindex(b")") + 2 :][:1] == b"Z":
                    continue
                os.kill(int(entry), signal.SIGKILL)
                found += 1
            except (OSError, ValueError):
                pass
        if not found:
            return min(killed, 255)
        killed += found
    return min(killed, 255)


def _kill_uid_as_root(uid):
    """Stops, then kills, every process of `uid` found in /proc, until none is left.

    Without a helper under the uid there is no kill(-1) that reaches them all
    at once: each pass stops what it finds (a stopped process cannot fork),
    so the passes catch up with a fork bomb, then the stopped ones are killed.
    """
    import signal

    def pids():
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                if _uid_of(entry) == uid:
                    found.append(int(entry))
        return found

    import time

    for sig in (signal.SIGSTOP, signal.SIGSTOP, signal.SIGSTOP, signal.SIGKILL):
        for pid in pids():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    # Bounded: every other worker waits on the zygote meanwhile. What is left (stopped, so
    # harmless) goes with the next worker of the uid (its kill(-1)) or the server's /proc sweep.
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        _reap_nohang()
        left = pids()
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _descendants(pid):
    """Every descendant of `pid`, from /proc/PID/task/TID/children."""
    found = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children", "rb") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


class _Zygote:
    """The fork server: one pre-imported Python per server that forks workers.

    It runs as root when the server does, never runs user code and never reads
    anything a worker sends (workers talk to the server over a unix socket of
    their own). Requests from the server, on fd 0, each answered on fd 1:

    - `spawn` {ref, token, config, replaces?}: kills the worker `replaces`
      if given (a worker of the same uid), then forks a worker (see
      `_child`) once that one is gone and no process a dead worker left is
      (see `fork_pending`), and answers `spawned` {ref, pid};
    - `signal` {pid, sig: "INT" | "KILL"}: signals a live worker of ours;
    - `freeze` {ref, pid}: stops the worker (SIGSTOP; a worker that made us
      its tracer is detached first) and kills every other process of its uid,
      answers `frozen` {ref, killed, ok}: nothing it started can run between
      steps, its own threads included;
    - `thaw` {pid}: SIGCONT.

    And unasked, `exited` {pid, code, signal} once a worker has died and
    every process it left is killed and reaped: with a dedicated uid, every
    process of that uid; in any case every orphan that came back to us (we
    are a child subreaper).
    """

    def __init__(self, cfg):
        import signal

        self.cfg = cfg
        self.socket_path = cfg["socket"]
        self.workers = {}
        self.pending = []  # spawn requests waiting for their fork (see fork_pending)
        self.inbuf = bytearray()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.set_wakeup_fd(self.wake_w)

    def run(self):
        import select

        _write_frame(1, {"op": "zygote", "pid": os.getpid()})
        while True:
            readable, _, _ = select.select([0, self.wake_r], [], [])
            if self.wake_r in readable:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                self.reap()
            if 0 in readable:
                data = os.read(0, 1 << 16)
                if not data:
                    self.shutdown()
                self.inbuf += data
                while len(self.inbuf) >= 4:
                    size = int.from_bytes(self.inbuf[:4], "big")
                    if size > _MAX_REQUEST:
                        self.shutdown()
                    if len(self.inbuf) < 4 + size:
                        break
                    import json

                    request = json.loads(bytes(self.inbuf[4 : 4 + size]))
                    del self.inbuf[: 4 + size]
                    self.handle(request)
            if self.pending:
                self.fork_pending()

    def handle(self, request):
        import signal

        op = request.get("op")
        pid = request.get("pid")
        if op == "spawn":
            self.spawn(request)
        elif op == "signal" and pid in self.workers:
            try:
                os.kill(pid, signal.SIGKILL if request.get("sig") == "KILL" else signal.SIGINT)
            except ProcessLookupError:
                pass
        elif op == "freeze":
            ok, killed = self.freeze(pid) if pid in self.workers else (False, 0)
            _write_frame(1, {"op": "frozen", "ref": request.get("ref"), "ok": ok, "killed": killed})
        elif op == "thaw" and pid in self.workers:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def spawn(self, request):
        """Kills the worker the new one replaces, if any, and queues the fork."""
        old = request.get("replaces")
        if old in self.workers and self.workers[old]["uid"] == request["config"].get("uid"):
            import signal

            try:
                os.kill(old, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            request["replaces"] = None
        self.pending.append(request)
        self.fork_pending()

    def fork_pending(self):
        """Forks the queued workers whose predecessor is gone, once we have no child but live
        workers. Every process a dead worker left descends from us and comes back to us as
        its parents die (we are a child subreaper): with none left, no process of the uid
        runs, not even one still finishing a system call when it was killed, so the new
        worker's cleanup lists every file the uid left. Until then the orphans are killed,
        and their ends wake us up to look again."""
        ready = [r for r in self.pending if r.get("replaces") not in self.workers]
        if not ready or not self.orphans_gone():
            return
        for request in ready:
            self.pending.remove(request)
            self.fork(request)

    def orphans_gone(self):
        """Kills and reaps our children that are not live workers; True once there is none."""
        for _ in range(3):
            if not _children() - set(self.workers):
                return True
            self.kill_orphans()
        return False

    def fork(self, request):
        cfg = request["config"]
        try:
            pid = os.fork()
        except OSError as e:
            _write_frame(1, {"op": "spawned", "ref": request.get("ref"), "pid": None, "error": str(e)})
            return
        if pid == 0:
            self.child(request)
        self.workers[pid] = {"uid": cfg.get("uid"), "gid": cfg.get("gid"), "drop": bool(cfg.get("drop"))}
        _write_frame(1, {"op": "spawned", "ref": request.get("ref"), "pid": pid})

    def child(self, request):
        """In the fork: becomes a worker; never returns."""
        import signal

        try:
            import _signal

            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
                _signal.signal(sig, _signal.SIG_DFL)  # not the wrapper: no enum lookups
            # The zygote's pipes to the server are not ours: fds 0-2 go to /dev/null until the
            # runner puts its output files there.
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.workers.clear()
            self.pending = []
            self.inbuf = bytearray()
            _worker(request["config"], self.socket_path, request["token"])
        finally:
            os._exit(70)

    def freeze(self, pid):
        import signal
        import time

        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return False, 0
        end = time.monotonic() + 2.0
        stopped = False
        while time.monotonic() < end:
            try:
                got, status = os.waitpid(pid, os.WUNTRACED | os.WNOHANG)
            except ChildProcessError:
                return False, 0
            if got == pid and os.WIFSTOPPED(status):
                if _traced_by_me(pid):
                    # A ptrace-stop: let it go as an ordinary, untraced stop.
                    _ptrace_detach(pid, signal.SIGSTOP)
                    continue
                stopped = True
                break
            if got == pid:
                self.ended(pid, status)
                return False, 0
            time.sleep(0.0002)
        if not stopped:
            return False, 0
        info = self.workers[pid]
        if info["drop"] and os.getuid() == 0:
            killed = _as_uid(info["uid"], info["gid"], lambda: _kill_uid_but(pid))
        else:
            killed = 0
            for _ in range(50):
                kids = _descendants(pid)
                if not kids:
                    break
                for kid in kids:
                    try:
                        os.kill(kid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
                _reap_nohang()
        return True, max(killed, 0)

    def reap(self):
        import signal

        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid not in self.workers:
                continue  # an orphan that came back to us
            if os.WIFSTOPPED(status):
                # Only a traced worker reports a stop here: it made us its tracer
                # (PTRACE_TRACEME). Let it go, with the signal it stopped for.
                sig = os.WSTOPSIG(status)
                _ptrace_detach(pid, 0 if sig == signal.SIGTRAP else sig)
                continue
            if os.WIFCONTINUED(status):
                continue
            self.ended(pid, status)

    def ended(self, pid, status):
        """A worker died: kill what it left, reap, report."""
        import signal

        info = self.workers.pop(pid)
        # What it left came back to us (all of it descends from us): with no orphan, nothing
        # of its uid is left to kill. Otherwise kill(-1) as the uid ends it all at once.
        left = bool(_children() - set(self.workers))
        if left and info["drop"] and os.getuid() == 0:

            def kill_all():
                for _ in range(3):
                    try:
                        os.kill(-1, signal.SIGKILL)
                    except ProcessLookupError:
                        break

            if _as_uid(info["uid"], info["gid"], kill_all) < 0:
                # No pid left for a killer (a fork bomb at the pids limit): kill from here.
                _kill_uid_as_root(info["uid"])
        if left:
            self.kill_orphans()
        if os.WIFSIGNALED(status):
            code, sig = 128 + os.WTERMSIG(status), os.WTERMSIG(status)
        else:
            code, sig = (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70), None
        _write_frame(1, {"op": "exited", "pid": pid, "code": code, "signal": sig})

    def kill_orphans(self):
        """Kills every child of ours that is not a live worker: orphans of dead workers."""
        import signal

        for kid in _children():
            if kid in self.workers:
                continue
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reap()

    def shutdown(self):
        import signal

        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid, info in list(self.workers.items()):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.workers.pop(pid, None)
            if info["drop"] and os.getuid() == 0:
                _as_uid(info["uid"], info["gid"], lambda: _kill_uid_but(-1) and 0)
        self.kill_orphans()
        os._exit(0)


def _zygote(cfg):
    import signal

    os.setsid()
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    # If the server dies, so does the zygote, and with it (PR_SET_PDEATHSIG) every worker.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        os._exit(0)
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        _libc()
    except Exception:
        pass  # each call site falls back on its own
    import gc

    # What the zygote holds never needs collecting in a worker: left out of its collections,
    # its pages are not written to (and copied) by a worker's garbage collector.
    gc.collect()
    gc.freeze()
    _Zygote(cfg).run()


# --- runner setup --------------------------------------------------------------


class _Fatal(Exception):
    pass


def _ensure_work_parent(cfg):
    """The per-session parent folder: root-owned, group = the worker gid, 0770."""
    import stat

    path = cfg["work_parent"]
    try:
        os.mkdir(path, 0o770 if cfg.get("drop") else 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise _Fatal(f"Work folder parent {path} is not a folder")
    if info.st_uid != os.geteuid():
        raise _Fatal(f"Work folder parent {path} is owned by uid {info.st_uid}, not {os.geteuid()}")
    if cfg.get("drop") and info.st_gid != cfg["gid"]:
        raise _Fatal(f"Work folder parent {path} has gid {info.st_gid}, not {cfg['gid']}")
    os.chmod(path, 0o770 if cfg.get("drop") else 0o700)


def _drop_privileges(cfg):
    uid, gid = cfg["uid"], cfg["gid"]
    if uid == 0 or gid == 0:
        raise _Fatal("Refusing to run user code as root: the worker uid and gid must not be 0")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    _ensure_work_parent(cfg)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise _Fatal("Privilege drop did not take effect")
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise _Fatal("Privilege drop is reversible: setuid(0) succeeded")


def _remove_tree(path):
    """Removes a file or folder of ours, fixing modes the user code took away."""
    import shutil
    import stat

    def fix(func, p, exc):
        try:
            parent = os.path.dirname(p)
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            os.rmdir(path)  # most episodes leave their folders empty
            return
        except OSError:
            pass
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
        shutil.rmtree(path, onerror=fix)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _owned_entries(folders, uid):
    """Paths in `folders` owned by `uid`. Run before the drop: root owns the shared temp
    folders, so it can list them even where workers cannot (a sealed /dev/shm, 1733)."""
    found = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.append(entry.path)
            except OSError:
                pass
    return found


def _clear_episode_files(cfg, leftovers=None):
    """Removes earlier episodes' folders and (with a dedicated uid) the worker's files in
    shared temp folders (`leftovers`, found before the drop) and its IPC objects."""
    parent = cfg["work_parent"]
    for name in os.listdir(parent):
        _remove_tree(os.path.join(parent, name))
    if not cfg.get("drop"):
        return
    uid = os.getuid()
    if leftovers is None:
        leftovers = _owned_entries(cfg.get("sweep", []), uid)
    for path in leftovers:
        _remove_tree(path)
    _remove_ipc_objects(uid)


def _remove_ipc_objects(uid):
    """Removes the System V shared memory, message queues and semaphores the uid owns or made.

    They outlive the processes that made them, so an episode could hand data
    to the next one, or to the next session given the same uid. The kernel
    first says how many of each kind exist: /proc/sysvipc is only read for
    a kind that has any (after almost every step, none has).
    """
    try:
        libc = _libc()
    except Exception:
        return
    info = _LIBC["ipc_info"]()
    # Per kind: how many exist in this IPC namespace (SHM_INFO 14, MSG_INFO 12 and SEM_INFO 19
    # fill a struct with that count at int 0, 0 and 7; None if the kernel would not say), and
    # how to remove one (IPC_RMID = 0).
    kinds = [
        ("shm", "shmid", lambda: info[0] if libc.shmctl(0, 14, info) >= 0 else None, lambda i: libc.shmctl(i, 0, None)),
        ("msg", "msqid", lambda: info[0] if libc.msgctl(0, 12, info) >= 0 else None, lambda i: libc.msgctl(i, 0, None)),
        ("sem", "semid", lambda: info[7] if libc.semctl(0, 0, 19, info) >= 0 else None, lambda i: libc.semctl(i, 0, 0, None)),
    ]
    for name, id_column, count, remove in kinds:
        try:
            if count() == 0:
                continue
        except Exception:
            pass
        try:
            with open(f"/proc/sysvipc/{name}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        try:
            at_id, at_uid, at_cuid = header.index(id_column), header.index("uid"), header.index("cuid")
        except ValueError:
            continue
        for line in lines[1:]:
            fields = line.split()
            try:
                if int(fields[at_uid]) == uid or int(fields[at_cuid]) == uid:
                    remove(int(fields[at_id]))
            except (IndexError, ValueError):
                pass


def _apply_rlimits(cfg):
    import resource

    applied = {}
    limits = cfg["rlimits"]
    table = [
        ("as", resource.RLIMIT_AS),
        ("cpu", resource.RLIMIT_CPU),
        ("fsize", resource.RLIMIT_FSIZE),
        ("nofile", resource.RLIMIT_NOFILE),
        ("core", resource.RLIMIT_CORE),
        ("stack", resource.RLIMIT_STACK),
    ]
    if limits.get("nproc") is not None:
        table.append(("nproc", resource.RLIMIT_NPROC))
    for name, which in table:
        value = limits.get(name)
        if value is None:
            continue
        resource.setrlimit(which, (value, value))
        applied[name] = resource.getrlimit(which)[1]
    return applied


def _setup_runner(cfg, cfd):
    """Everything between fork and the first user code; returns the runner."""
    import signal

    import _signal

    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGALRM):
        _signal.signal(sig, _signal.SIG_DFL)
    os.setsid()
    facts = {"pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0)}
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_RDWR | os.O_CLOEXEC)
        try:
            os.write(fd, str(cfg["oom_score_adj"]).encode())
            facts["oom_score_adj"] = int(os.pread(fd, 32, 0))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        facts["oom_score_adj"] = None
    facts["subreaper"] = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    facts["no_new_privs"] = _prctl(PR_SET_NO_NEW_PRIVS, 1)

    # Created (or emptied) here, still as root, in the session's root-owned folder: 0600,
    # never through a link.
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    out_fd = err_fd = None
    if cfg["mode"] == "run":
        out_fd = os.open(cfg["out_path"], flags, 0o600)
        err_fd = os.open(cfg["err_path"], flags, 0o600)
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    zygote = os.getppid()
    leftovers = None
    if cfg.get("drop") and (cfg.get("fresh") or cfg["mode"] == "reap") and os.getuid() == 0:
        leftovers = _owned_entries(cfg.get("sweep", []), cfg["uid"])
    if cfg.get("drop"):
        _drop_privileges(cfg)
    else:
        _ensure_work_parent(cfg)
    # Credentials changed: the parent-death signal is set now, so that it stays set.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote:
        raise _Fatal("The zygote is gone")
    facts["uid"] = os.getuid()
    facts["gid"] = os.getgid()
    facts["groups"] = os.getgroups()

    if cfg.get("drop"):
        # Whatever a dead worker of this uid left behind goes now.
        for _ in range(2):
            try:
                os.kill(-1, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
        _reap_nohang()
    if cfg.get("fresh") or cfg["mode"] == "reap":
        _clear_episode_files(cfg, leftovers)
    if cfg["mode"] == "reap":
        return None, facts

    work = os.path.join(cfg["work_parent"], cfg["work_name"])
    try:
        os.mkdir(work, 0o700)
    except FileExistsError:
        pass
    os.chmod(work, 0o700)
    os.chdir(work)
    facts["cwd"] = os.getcwd()
    facts["tmp"] = _private_tmp(cfg)
    stdlib = os.path.dirname(os.__file__)
    if not os.access(stdlib, os.R_OK | os.X_OK):
        raise _Fatal(f"Python's standard library at {stdlib} is not readable by uid {os.getuid()}")

    # User code gets /dev/null and the output files; the control socket is a private fd.
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)

    # Import what a step needs before user code can shadow modules or use up memory.
    import ast  # noqa: F401
    import faulthandler
    import io  # noqa: F401
    import json  # noqa: F401
    import linecache  # noqa: F401
    import select  # noqa: F401
    import time  # noqa: F401
    import traceback  # noqa: F401
    import types  # noqa: F401

    runner = _Runner(cfg, cfd, cfd)
    runner.out_fd = out_fd
    runner.err_fd = err_fd
    for fd in (out_fd, err_fd):
        _reserve(fd, runner.cap)
    runner.devnull = devnull
    faulthandler.enable(file=2, all_threads=True)
    facts["rlimits"] = _apply_rlimits(cfg)
    sys.path.insert(0, "")
    facts["python"] = sys.version.split()[0]
    facts["executable"] = sys.executable
    return runner, facts


def _private_tmp(cfg):
    """The episode's own temp folder and home (TMPDIR, HOME), 0700, and umask 077.

    Beside the work folder, under the session's parent folder, so that no
    other session can list or read what the code puts in its temp files.
    """
    path = os.path.join(cfg["work_parent"], cfg["work_name"] + ".tmp")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    os.chmod(path, 0o700)
    os.umask(0o077)
    os.environ["TMPDIR"] = path
    os.environ["HOME"] = path
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None
    return path


def _worker(cfg, socket_path, token):
    """A fresh fork of the zygote becomes one worker: connects, locks down, serves."""
    import socket

    cfd = None
    try:
        # Connected while still root: the socket's folder is the server's alone.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(socket_path)
        cfd = sock.detach()
        _write_frame(cfd, {"op": "hello", "token": token})
        runner, facts = _setup_runner(cfg, cfd)
    except BaseException as e:  # noqa: BLE001
        message = str(e) if isinstance(e, _Fatal) else f"{type(e).__name__}: {e}"
        try:
            if cfd is not None:
                _write_frame(cfd, {"op": "fatal", "message": message})
        finally:
            os._exit(70)
    if runner is None:
        _write_frame(cfd, {"op": "reaped", **facts})
        os._exit(0)
    if cfg.get("warm"):
        runner.warm_up()
    _write_frame(cfd, {"op": "ready", **facts})
    runner.serve()
    os._exit(0)


# --- runner (steps) -------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Binary side of our stdout/stderr: writes straight to the fd, capped.

    Every byte is counted; only the first `cap` are written, so an endless
    print loop costs no syscalls once the cap is reached. Writes never raise.
    """

    def __init__(self, fd, cap):
        super().__init__()
        self.fd = fd
        self.cap = cap
        self.offered = 0

    @property
    def truncated(self):
        return self.offered > self.cap

    def writable(self):
        return True

    def fileno(self):
        return self.fd

    def isatty(self):
        return False

    def write(self, data):
        view = memoryview(data).cast("B")
        n = len(view)
        room = self.cap - self.offered
        self.offered += n
        if room > 0:
            try:
                _write_all(self.fd, view[:room] if n > room else view)
            except OSError:
                pass
        return n


class _Runner:
    def __init__(self, cfg, cin, cout):
        import types

        self.cfg = cfg
        self.cin = cin
        self.cout = cout
        self.pid = os.getpid()
        self.cap = cfg["max_output"]
        self.cell = 0
        self.in_user = False
        self.interrupted = False
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = main
        self.ns = main.__dict__
        self.out_sink = None
        self.err_sink = None
        self.streams = (None, None)

    # stdio, restored before every step whatever the last one did to it
    def prepare(self):
        import signal

        os.dup2(self.devnull, 0)
        os.dup2(self.out_fd, 1)
        os.dup2(self.err_fd, 2)
        for fd in (self.out_fd, self.err_fd):
            if os.fstat(fd).st_size:
                os.ftruncate(fd, 0)
                _reserve(fd, self.cap)
        out, err = self.streams
        if sys.stdout is out and sys.stderr is err and not out.closed and not err.closed and type(out) is io.TextIOWrapper:
            self.out_sink.offered = 0
            self.err_sink.offered = 0
        else:
            self.out_sink = _Sink(1, self.cap)
            self.err_sink = _Sink(2, self.cap)
            out = io.TextIOWrapper(self.out_sink, encoding="utf-8", errors="backslashreplace", write_through=True)
            err = io.TextIOWrapper(self.err_sink, encoding="utf-8", errors="backslashreplace", write_through=True)
            self.streams = (out, err)
        sys.stdout = sys.__stdout__ = out
        sys.stderr = sys.__stderr__ = err
        if sys.stdin is None or sys.stdin.closed or sys.stdin.fileno() != 0:
            sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        if signal.getsignal(signal.SIGINT) != self.on_sigint:
            signal.signal(signal.SIGINT, self.on_sigint)
        if signal.getsignal(signal.SIGCHLD) != signal.SIG_DFL:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _set_sigmask(())
        self.interrupted = False

    def on_sigint(self, signum, frame):
        if self.in_user:
            self.interrupted = True
            raise KeyboardInterrupt

    def write_err(self, text):
        if self.err_sink is not None:
            self.err_sink.write(text.encode("utf-8", "backslashreplace"))

    def format_exception(self, exc):
        """The traceback as Python prints it, without the runner's own frames."""
        import traceback

        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        seen = set()
        todo = [te]
        while todo:
            item = todo.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            frames = [f for f in item.stack if f.filename != _RUNNER_FILE]
            item.stack = traceback.StackSummary.from_list(frames)
            todo.extend(x for x in (item.__cause__, item.__context__) if x is not None)
        return "".join(te.format())

    def exec_cell(self, code):
        import ast
        import linecache

        self.cell += 1
        name = f"<cell {self.cell}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        exit_code = 0
        try:
            self.in_user = True
            tree = compile(code, name, "exec", ast.PyCF_ONLY_AST)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, name, "exec"), self.ns)
            if last is not None:
                value = eval(compile(last, name, "eval"), self.ns)
                if value is not None:
                    sys.displayhook(value)
        except SystemExit as e:
            self.in_user = False
            code_ = e.code
            if code_ is None:
                exit_code = 0
            elif isinstance(code_, int):
                exit_code = code_
            else:
                self.write_err(f"{code_}\n")
                exit_code = 1
        except BaseException as e:  # noqa: BLE001 - user code may raise anything
            self.in_user = False
            exit_code = 1
            try:
                self.write_err(self.format_exception(e))
            except BaseException:  # noqa: BLE001
                self.write_err(f"{type(e).__name__}\n")
        finally:
            self.in_user = False
            if os.getpid() != self.pid:
                # A fork of user code came back here: it must never speak the protocol.
                os._exit(exit_code & 0xFF)
        return exit_code

    def flush_user_streams(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass

    def read_output(self, fd, sink):
        size = os.fstat(fd).st_size
        data = os.pread(fd, min(size, self.cap), 0) if size else b""
        truncated = size > self.cap or (sink is not None and sink.truncated)
        total = max(size, sink.offered if sink is not None else 0)
        if truncated:
            data = _trim_partial_utf8(data)
        return data.decode("utf-8", "replace"), truncated, total

    def finish(self, exit_code, killed):
        stdout, out_cut, out_total = self.read_output(self.out_fd, self.out_sink)
        stderr, err_cut, err_total = self.read_output(self.err_fd, self.err_sink)
        return {
            "op": "done",
            "exit_code": int(exit_code) if -(2**31) <= int(exit_code) < 2**31 else 1,
            "stdout": stdout,
            "stderr": stderr,
            "stdout_bytes": out_total,
            "stderr_bytes": err_total,
            "truncated": out_cut or err_cut,
            "interrupted": self.interrupted,
            "killed": killed,
            "threads": _thread_count(),
        }

    def handle_exec(self, request):
        ended = _pending_fatal_signal()
        if ended:
            # A signal sent while idle (an alarm set by an earlier step) ends this worker
            # before the code runs: the server runs the code in a fresh one.
            return {"op": "ended", "signal": ended}
        self.prepare()
        exit_code = self.exec_cell(str(request.get("code", "")))
        self.flush_user_streams()
        killed = _end_of_step_sweep(self.cfg)
        reply = self.finish(exit_code, killed)
        # Empty between steps: a worker that dies before its next step reports nothing stale.
        self.clear_output()
        return reply

    def warm_up(self):
        """Runs the step machinery once on throwaway code, in a throwaway namespace, before
        `ready` (when the config asks): a spare takes its copy-on-write page faults in the
        background, before it is handed out, not in its first step."""
        import ast

        self.prepare()
        tree = compile("_w = [i for i in range(8)]\n_w", "<warm>", "exec", ast.PyCF_ONLY_AST)
        exec(compile(tree, "<warm>", "exec"), {"__builtins__": __builtins__})
        self.flush_user_streams()
        _end_of_step_sweep(self.cfg)
        self.finish(0, 0)
        self.clear_output()

    def clear_output(self):
        for fd in (self.out_fd, self.err_fd):
            try:
                if os.fstat(fd).st_size:
                    os.ftruncate(fd, 0)
                    _reserve(fd, self.cap)
            except OSError:
                pass

    def handle_call(self, request):
        import signal

        ended = _pending_fatal_signal()
        if ended:
            return {"op": "ended", "signal": ended}
        # Signals were blocked while idle: the call must be interruptible like a step.
        if signal.getsignal(signal.SIGINT) != self.on_sigint:
            signal.signal(signal.SIGINT, self.on_sigint)
        _set_sigmask(())
        self.in_user = True
        try:
            reply = _grader_call(self.ns, request)
        finally:
            self.in_user = False
        if os.getpid() != self.pid:
            os._exit(0)
        reply["killed"] = _end_of_step_sweep(self.cfg)
        return reply

    def serve(self):
        import signal

        while True:
            # Idle: no signal handler of user code may run (and fork) between steps. What
            # arrives waits for the next step, or ends the worker there (see handle_exec).
            _set_sigmask(_ALL_SIGNALS)
            try:
                request = _read_frame(self.cin)
            except EOFError:
                os._exit(0)
            op = request.get("op") if isinstance(request, dict) else None
            try:
                if op == "exec":
                    reply = self.handle_exec(request)
                elif op == "call":
                    reply = self.handle_call(request)
                elif op == "ping":
                    reply = {"op": "pong"}
                else:
                    reply = {"op": "error", "message": f"Unknown op {op!r}"}
            except KeyboardInterrupt:
                if op == "exec":
                    reply = self.finish(1, 0)
                elif op == "call":
                    reply = {"op": "called", "ok": False, "type": "KeyboardInterrupt", "message": "Interrupted"}
                else:
                    reply = {"op": "error", "message": "Interrupted"}
            reply["id"] = request.get("id") if isinstance(request, dict) else None
            _write_frame(self.cout, reply)
            if reply.get("op") == "ended":
                os._exit(128 + reply["signal"])


# --- end of step ---------------------------------------------------------------------


def _blockable_signals():
    import signal

    # The signals this kernel has (naming one it lacks costs a warning on every call).
    return frozenset(int(s) for s in signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


_ALL_SIGNALS = _blockable_signals()


def _set_sigmask(signals):
    """Sets the thread's signal mask to `signals` (ints). The C call itself: the `signal`
    module's wrapper turns the old mask into enum members, a hundred times slower."""
    import _signal

    _signal.pthread_sigmask(_signal.SIG_SETMASK, signals)

# Signals whose default action ends a process.
_FATAL_BY_DEFAULT = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31} | set(
    range(34, 65)
)


def _pending_fatal_signal():
    """A signal that arrived while idle and would end the worker when unblocked, or 0."""
    import signal

    try:
        pending = signal.sigpending()
    except OSError:
        return 0
    for sig in sorted(pending):
        try:
            handler = signal.getsignal(sig)
        except (ValueError, OSError):
            continue
        if int(sig) in _FATAL_BY_DEFAULT and handler in (signal.SIG_DFL, None):
            return int(sig)
    return 0


def _end_of_step_sweep(cfg):
    """Kills every other process of the worker and removes its System V IPC objects.

    Shared memory segments, message queues and semaphores outlive their
    makers and hold memory every session needs: none is kept between steps.
    Neither are POSIX message queues (/dev/mqueue).
    """
    killed = _kill_all_others(cfg)
    if cfg.get("drop") and os.getuid() == cfg["uid"] and os.getuid() != 0:
        _remove_ipc_objects(os.getuid())
        _remove_own_entries("/dev/mqueue")
    return killed


def _remove_own_entries(folder):
    for path in _owned_entries([folder], os.getuid()):
        try:
            os.unlink(path)
        except OSError:
            pass


# --- grader calls (issue 11) ---------------------------------------------------
#
# The one request the grader (grader.py, a process of its own under the
# server's uid) sends through the server: {"op": "call", "name", "args",
# "kwargs"} calls the function `name` of the episode's namespace with plain
# data, and the reply carries plain data back. With "args": null it only asks
# what `name` is: {"callable": true}, or its value as plain data. Nothing here
# decides a verdict: the grader decodes what comes back into exact builtin
# types and compares it itself, so whatever user code makes this code send is
# at most a wrong answer. The codec mirrors grader.py's (see there for the
# format).

_PLAIN_MAX_DEPTH = 32
_PLAIN_MAX_ITEMS = 100_000
_PLAIN_MAX_CHARS = 256 * 1024
_SAFE_INT = 2**53 - 1


class _NotPlain(Exception):
    pass


def _plain_encode(value):
    """Plain data as tagged JSON; subclasses of the plain types become the plain type."""
    import base64

    budget = [_PLAIN_MAX_ITEMS, _PLAIN_MAX_CHARS]

    def spend(items, chars=0):
        budget[0] -= items
        budget[1] -= chars
        if budget[0] < 0 or budget[1] < 0:
            raise _NotPlain("the value is larger than the grader accepts")

    def enc(v, depth):
        if depth > _PLAIN_MAX_DEPTH:
            raise _NotPlain(f"the value is nested deeper than {_PLAIN_MAX_DEPTH}")
        spend(1)
        t = type(v)
        if v is None or t is bool:
            return v
        if issubclass(t, int) and t is not bool:
            n = int.__int__(v)
            if -_SAFE_INT <= n <= _SAFE_INT:
                return n
            text = int.__repr__(n)
            spend(0, len(text))
            return {"int": text}
        if issubclass(t, float):
            return {"float": float.__repr__(float.__float__(v))}
        if issubclass(t, str):
            s = str.__str__(v)
            spend(0, len(s))
            return s
        if issubclass(t, (bytes, bytearray)):
            b = bytes(memoryview(v))
            spend(0, len(b) * 4 // 3 + 4)
            return {"bytes": base64.b64encode(b).decode("ascii")}
        if issubclass(t, list):
            return [enc(x, depth + 1) for x in list.__iter__(v)]
        if issubclass(t, tuple):
            return {"tuple": [enc(x, depth + 1) for x in tuple.__iter__(v)]}
        if issubclass(t, dict):
            return {"dict": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in dict.items(v)]}
        if issubclass(t, frozenset):
            return {"frozenset": [enc(x, depth + 1) for x in frozenset.__iter__(v)]}
        if issubclass(t, set):
            return {"set": [enc(x, depth + 1) for x in set.__iter__(v)]}
        raise _NotPlain(f"a value of type {t.__name__} is not plain data")

    return enc(value, 0)


def _plain_decode(data):
    """Tagged JSON (from the trusted grader) back to Python values."""
    import base64

    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, list):
        return [_plain_decode(x) for x in data]
    (tag, body), = data.items()
    if tag == "int":
        return int(body)
    if tag == "float":
        return float(body)
    if tag == "bytes":
        return base64.b64decode(body)
    if tag == "tuple":
        return tuple(_plain_decode(x) for x in body)
    if tag == "dict":
        return {_plain_decode(k): _plain_decode(v) for k, v in body}
    if tag == "set":
        return {_plain_decode(x) for x in body}
    if tag == "frozenset":
        return frozenset(_plain_decode(x) for x in body)
    raise ValueError(f"unknown tag {tag!r}")


def _grader_call(ns, request):
    """Calls ns[name](*args, **kwargs); returns the reply frame (plain data only)."""

    def failed(exc):
        try:
            kind = type(exc).__name__
            kind = str.__str__(kind) if isinstance(kind, str) else "Exception"
        except BaseException:  # noqa: BLE001
            kind = "Exception"
        try:
            message = str.__str__(str(exc))[:1000]
        except BaseException:  # noqa: BLE001
            message = ""
        return {"op": "called", "ok": False, "type": kind[:200], "message": message}

    name = request.get("name")
    if type(name) is not str or not name.isidentifier():
        return {"op": "called", "ok": False, "type": "NameError", "message": "Bad name"}
    try:
        target = ns[name]
    except KeyError:
        return {"op": "called", "ok": False, "type": "NameError", "message": f"name {name!r} is not defined"}
    except BaseException as e:  # noqa: BLE001 - user code may raise anything
        return failed(e)
    try:
        if request.get("args") is None:
            if callable(target):
                return {"op": "called", "ok": True, "callable": True}
            return {"op": "called", "ok": True, "value": _plain_encode(target)}
        args = _plain_decode(request["args"])
        kwargs = _plain_decode(request.get("kwargs") or {"dict": []})
        value = target(*args, **{str(k): v for k, v in kwargs.items()})
        return {"op": "called", "ok": True, "value": _plain_encode(value)}
    except _NotPlain as e:
        return {"op": "called", "ok": False, "type": "TypeError", "message": f"Not plain data: {e.args[0]}"}
    except BaseException as e:  # noqa: BLE001 - user code may raise anything
        return failed(e)


# --- end of grader calls -----------------------------------------------------


def _trim_partial_utf8(data):
    """Drops an incomplete UTF-8 sequence at the end of a cut output."""
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 == 0x80:
            continue
        if byte & 0x80 == 0:
            return data
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        return data if back >= need else data[: end - back]
    return data


def _thread_count():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


# --- main ------------------------------------------------------------------------


def _main():
    # Whatever fds the server's own launcher left inheritable (Deno passes them on to its
    # children) must not reach user code: only the three pipes from the server stay.
    os.closerange(3, 1 << 20)
    cfg = _read_frame(0)
    _zygote(cfg)


_main()
