"""envtorch coding env runner: a persistent Python worker driven over pipes.

Deno starts `python3 -I -B -u -c BOOTSTRAP` with three pipes. The bootstrap
reads this source as the first frame on fd 0 and runs it; `_main` then reads
the config frame. Every frame, both ways, is a 4-byte big-endian length and
that many bytes of UTF-8 JSON.

Two processes come out of one start:

- the keeper (the process Deno started): calls setsid, becomes a child
  subreaper, forks the runner, closes the pipes and then only waits. It never
  runs user code and never reads what the worker writes. It relays signals
  from Deno to the runner (SIGUSR1: interrupt, SIGTERM: kill), so that Deno
  never signals a pid that may have been reused. When the runner dies, it
  kills every process left (as the worker uid with kill(-1) when there is a
  dedicated uid, else every descendant, which the subreaper flag brings back
  to it), reaps them all, and exits with the runner's own status (same code,
  or the same signal), so that no zombie is left for an init that does not
  reap.
- the runner: its own session, oom_score_adj 1000, no_new_privs, child
  subreaper, then (when started as root) setgroups([]) + setresgid +
  setresuid to the worker uid before it reads any user code; rlimits with
  soft = hard; stdin at EOF; fd 1 and fd 2 on files the server reads if the
  runner dies; the control pipes moved to private non-inheritable fds. Each
  step runs in one persistent namespace. Nothing a step starts outlives it:
  at the end of each step every other process of the worker is killed.

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

# Where frames to the server go: fd 1 until the runner moves it to a private fd.
_control = {"out": 1}


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


def _prctl(option, value):
    """Calls prctl(2); returns True on success."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        arg = ctypes.c_ulong
        return libc.prctl(option, arg(value), arg(0), arg(0), arg(0)) == 0
    except Exception:
        return False


_FALLOC_FL_KEEP_SIZE = 1
_libc = {}


def _reserve(fd, size):
    """Allocates the first `size` bytes of a file ahead, without changing its size.

    The output files live on the same tmpfs as every session's work folder:
    with their space taken in advance, what a step prints still arrives when
    some session has filled the tmpfs. Returns True on success.
    """
    try:
        libc = _libc.get("c")
        if libc is None:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
            _libc["c"] = libc
        return libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size) == 0
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


# --- keeper --------------------------------------------------------------------


class _ParentGone(Exception):
    pass


def _keeper(cfg, runner_pid):
    """Waits for the runner, relays signals, cleans up, mirrors its status."""
    import resource
    import signal

    state = {"alive": True}
    parent = cfg["parent_pid"]

    def forward(sig):
        def handler(signum, frame):
            if state["alive"]:
                try:
                    os.kill(runner_pid, sig)
                except ProcessLookupError:
                    pass

        return handler

    def check_parent(signum, frame):
        if os.getppid() != parent:
            forward(signal.SIGKILL)(signum, frame)

    signal.signal(signal.SIGUSR1, forward(signal.SIGINT))
    signal.signal(signal.SIGTERM, forward(signal.SIGKILL))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, check_parent)
    signal.setitimer(signal.ITIMER_REAL, 1.0, 1.0)

    status = 0
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == runner_pid:
            state["alive"] = False
            status = st
            break
    signal.setitimer(signal.ITIMER_REAL, 0, 0)

    # The runner is gone: nothing of the worker may outlive it.
    if cfg.get("drop"):
        try:
            killer = os.fork()
        except OSError:
            # No pid left (a fork bomb filled the container's pids limit): the keeper drops to
            # the worker uid itself (it has nothing left to do as root) and kills from there.
            killer = None
        if not killer:
            try:
                os.setgroups([])
                os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
                os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
                for _ in range(3):
                    try:
                        os.kill(-1, signal.SIGKILL)
                    except ProcessLookupError:
                        break
            finally:
                if killer == 0:
                    os._exit(0)
        while killer:
            try:
                if os.waitpid(killer, 0)[0] == killer:
                    break
            except ChildProcessError:
                break
    _kill_all_others({"drop": False}, deadline_s=5.0)

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        try:
            os.kill(os.getpid(), sig)
        except OSError:
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


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
            os.chmod(path, 0o700)
        except OSError:
            pass
        shutil.rmtree(path, onerror=fix)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _clear_episode_files(cfg):
    """Removes earlier episodes' folders and (with a dedicated uid) the worker's files in shared temp folders."""
    parent = cfg["work_parent"]
    for name in os.listdir(parent):
        _remove_tree(os.path.join(parent, name))
    if not cfg.get("drop"):
        return
    uid = os.getuid()
    for folder in cfg.get("sweep", []):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    _remove_tree(entry.path)
            except OSError:
                pass
    _remove_ipc_objects(uid)


def _remove_ipc_objects(uid):
    """Removes the System V shared memory, message queues and semaphores the uid owns or made.

    They outlive the processes that made them, so an episode could hand data
    to the next one, or to the next session given the same uid.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except Exception:
        return
    kinds = [
        ("shm", "shmid", lambda i: libc.shmctl(i, 0, None)),
        ("msg", "msqid", lambda i: libc.msgctl(i, 0, None)),
        ("sem", "semid", lambda i: libc.semctl(i, 0, 0)),
    ]
    for name, id_column, remove in kinds:
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
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
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
        self.prepare()
        exit_code = self.exec_cell(str(request.get("code", "")))
        self.flush_user_streams()
        killed = _kill_all_others(self.cfg)
        return self.finish(exit_code, killed)

    def handle_call(self, request):
        self.in_user = True
        try:
            reply = _grader_call(self.ns, request)
        finally:
            self.in_user = False
        if os.getpid() != self.pid:
            os._exit(0)
        reply["killed"] = _kill_all_others(self.cfg)
        return reply

    def serve(self):
        while True:
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


def _setup_runner(cfg):
    """Everything between fork and the first user code; returns the runner."""
    import signal

    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    facts = {"pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0)}
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(cfg["oom_score_adj"]))
        with open("/proc/self/oom_score_adj") as f:
            facts["oom_score_adj"] = int(f.read())
    except OSError:
        facts["oom_score_adj"] = None
    facts["subreaper"] = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    facts["no_new_privs"] = _prctl(PR_SET_NO_NEW_PRIVS, 1)

    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    out_fd = err_fd = None
    if cfg["mode"] == "run":
        out_fd = os.open(cfg["out_path"], flags)
        err_fd = os.open(cfg["err_path"], flags)
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    if cfg.get("drop"):
        _drop_privileges(cfg)
    else:
        _ensure_work_parent(cfg)
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
        _clear_episode_files(cfg)
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
    stdlib = os.path.dirname(os.__file__)
    if not os.access(stdlib, os.R_OK | os.X_OK):
        raise _Fatal(f"Python's standard library at {stdlib} is not readable by uid {os.getuid()}")

    # Control pipes move to private fds; user code gets /dev/null and the output files.
    cin = os.dup(0)
    cout = os.dup(1)
    _control["out"] = cout
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

    runner = _Runner(cfg, cin, cout)
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


def _main():
    # Whatever fds the server's own launcher left inheritable (Deno passes them on to its
    # children) must not reach user code: only the three pipes from the server stay.
    os.closerange(3, 1 << 20)
    cfg = _read_frame(0)
    os.setsid()
    if not _prctl(PR_SET_CHILD_SUBREAPER, 1):
        pass
    runner_pid = os.fork()
    if runner_pid:
        os.close(0)
        os.close(1)
        _keeper(cfg, runner_pid)
        return
    try:
        runner, facts = _setup_runner(cfg)
    except BaseException as e:  # noqa: BLE001
        message = str(e) if isinstance(e, _Fatal) else f"{type(e).__name__}: {e}"
        try:
            _write_frame(_control["out"], {"op": "fatal", "message": message})
        finally:
            os._exit(70)
    if runner is None:
        _write_frame(1, {"op": "reaped", **facts})
        os._exit(0)
    _write_frame(runner.cout, {"op": "ready", **facts})
    runner.serve()


_main()
