"""envtorch coding env grader: runs a task's tests where the agent cannot reach them.

The server (grader.ts) starts this as its own process, under the server's
uid, never the worker's: `python3 -I -S -B -u -c BOOTSTRAP` with its
source as the first frame on fd 0. Frames both ways are a 4-byte big-endian
length and that many bytes of UTF-8 JSON, as with the runner.

The tests' source only ever lives here and in the server. A test runs in a
fresh namespace of this process; a name the test does not define and that
is not a builtin is looked up in the agent's interpreter, through the
server: a function there becomes a proxy here, a value is copied over as
plain data. Calling the proxy sends the arguments as plain data, and the
result comes back as plain data, decoded here into exact builtin types
(None, bool, int, float, str, bytes, list, tuple, dict, set, frozenset), so
an `==` in a test only ever compares builtin values: no object of the agent
reaches this process, and no code of the agent sees a frame of it.
The verdict (which tests ran to their end) is computed here and read by the
server from this process's own pipe.

Requests and replies:
- server -> grader: {"op": "grade", "tests": [source, ...]}
- grader -> server, any number of times while grading:
  {"op": "call", "name", "args": [...] | null, "kwargs": {"dict": [...]}};
  the server answers {"op": "result", "ok": true, "value": ...} or
  {"op": "result", "ok": true, "callable": true} or
  {"op": "result", "ok": false, "type", "message"}
- grader -> server: {"op": "graded", "results": [{"passed", "error"?}, ...]}

Plain data on the wire (tagged JSON, mirrored by runner.py's codec): null,
true, false, strings and integers of at most 2**53 - 1 as themselves;
lists as arrays; everything else as a one-key object: {"int": "digits"},
{"float": "repr"}, {"bytes": "base64"}, {"tuple": [...]},
{"dict": [[key, value], ...]}, {"set": [...]}, {"frozenset": [...]}.
"""

import os
import sys

_MAX_FRAME = 64 * 1024 * 1024
_MAX_DEPTH = 32
_MAX_ITEMS = 100_000
_MAX_INT_DIGITS = 4300
_SAFE_INT = 2**53 - 1


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
    if size > _MAX_FRAME:
        raise ValueError("frame too large")
    return json.loads(_read_exact(fd, size))


def _write_frame(fd, message):
    import json

    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    data = memoryview(len(body).to_bytes(4, "big") + body)
    while data:
        data = data[os.write(fd, data) :]


# --- plain data --------------------------------------------------------------


class NotPlainData(TypeError):
    """A value that cannot cross between the test and the agent's code."""


def encode(value):
    """A test's argument as tagged JSON; only exact plain types are accepted."""
    import base64

    count = [0]

    def enc(v, depth):
        count[0] += 1
        if depth > _MAX_DEPTH or count[0] > _MAX_ITEMS:
            raise NotPlainData("argument too large or too deeply nested")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if -_SAFE_INT <= v <= _SAFE_INT else {"int": str(v)}
        if t is float:
            return {"float": repr(v)}
        if t is bytes:
            return {"bytes": base64.b64encode(v).decode("ascii")}
        if t is list:
            return [enc(x, depth + 1) for x in v]
        if t is tuple:
            return {"tuple": [enc(x, depth + 1) for x in v]}
        if t is dict:
            return {"dict": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if t is set:
            return {"set": [enc(x, depth + 1) for x in v]}
        if t is frozenset:
            return {"frozenset": [enc(x, depth + 1) for x in v]}
        raise NotPlainData(f"an argument of type {t.__name__} cannot be passed to the agent's code")

    return enc(value, 0)


def decode(data):
    """What the agent's side sent, as exact builtin values; NotPlainData if malformed.

    This is the boundary: `data` comes from a process the agent controls, so
    nothing but the shapes above is accepted, and what comes out is built
    here from builtin types only.
    """
    import base64
    import binascii

    count = [0]

    def bad(why):
        return NotPlainData(f"the agent's code returned malformed data: {why}")

    def dec(d, depth):
        count[0] += 1
        if depth > _MAX_DEPTH:
            raise bad(f"nested deeper than {_MAX_DEPTH}")
        if count[0] > _MAX_ITEMS:
            raise bad(f"more than {_MAX_ITEMS} items")
        t = type(d)
        if d is None or t is bool or t is str or t is int:
            return d
        if t is list:
            return [dec(x, depth + 1) for x in d]
        if t is not dict or len(d) != 1:
            raise bad(f"unexpected {t.__name__}")
        ((tag, body),) = d.items()
        tb = type(body)
        if tag == "int" and tb is str and len(body) <= _MAX_INT_DIGITS + 1:
            text = body[1:] if body.startswith("-") else body
            if text.isascii() and text.isdigit():
                return int(body)
        elif tag == "float" and tb is str and len(body) <= 40:
            try:
                return float(body)
            except ValueError:
                pass
        elif tag == "bytes" and tb is str:
            try:
                return base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                pass
        elif tag in ("tuple", "set", "frozenset") and tb is list:
            items = [dec(x, depth + 1) for x in body]
            try:
                return tuple(items) if tag == "tuple" else set(items) if tag == "set" else frozenset(items)
            except TypeError:
                raise bad("an unhashable set member") from None
        elif tag == "dict" and tb is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise bad("a dict item is not a pair")
                try:
                    out[dec(pair[0], depth + 1)] = dec(pair[1], depth + 1)
                except TypeError as e:
                    if isinstance(e, NotPlainData):
                        raise
                    raise bad("an unhashable dict key") from None
            return out
        raise bad(f"tag {str(tag)[:20]!r}")

    try:
        return dec(data, 0)
    except RecursionError:
        raise bad("nested too deeply") from None


# --- what a test sees ----------------------------------------------------------


class AgentError(Exception):
    """An exception of the agent's code whose type is not a builtin one.

    `type_name` and `message` are what the agent's side reported.
    """

    def __init__(self, type_name, message):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message


def _exception(type_name, message):
    """The builtin exception of that name (so `except ValueError` works), else AgentError."""
    import builtins

    cls = getattr(builtins, type_name, None) if type_name.isidentifier() else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - a constructor that wants other arguments
            pass
    return AgentError(type_name, message)


class _Link:
    """The grader's side of the channel to the agent's interpreter, through the server."""

    def __init__(self, cin, cout):
        self.cin = cin
        self.cout = cout
        self.known = {}

    def ask(self, name, args, kwargs):
        _write_frame(self.cout, {"op": "call", "name": name, "args": args, "kwargs": kwargs})
        reply = _read_frame(self.cin)
        if type(reply) is not dict or reply.get("op") != "result":
            raise EOFError("the server broke the protocol")
        return reply

    def failure(self, reply):
        kind, message = reply.get("type"), reply.get("message")
        kind = kind if type(kind) is str and kind else "Exception"
        return _exception(kind[:200], message[:1000] if type(message) is str else "")

    def lookup(self, name):
        """A proxy for a function of the agent's namespace, or a copy of a value of it."""
        known = self.known.get(name)
        if known is None:
            reply = self.ask(name, None, None)
            if reply.get("ok") is not True:
                raise self.failure(reply)
            if reply.get("callable") is True:
                known = ("function", _Remote(name, self))
            else:
                known = ("value", reply.get("value"))
            self.known[name] = known
        kind, what = known
        return what if kind == "function" else decode(what)

    def call(self, name, args, kwargs):
        wire_args = [encode(a) for a in args]
        wire_kwargs = {"dict": [[k, encode(v)] for k, v in kwargs.items()]}
        reply = self.ask(name, wire_args, wire_kwargs)
        if reply.get("ok") is not True:
            raise self.failure(reply)
        return decode(reply.get("value"))


class _Remote:
    """A function of the agent: calling it runs it in the agent's interpreter."""

    __slots__ = ("_name", "_link")

    def __init__(self, name, link):
        self._name = name
        self._link = link

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    def __repr__(self):
        return f"<agent function {self._name}>"


class _Namespace(dict):
    """A test's globals: what the test does not define comes from the agent's namespace."""

    def __init__(self, link, builtin_names):
        super().__init__()
        self._link = link
        self._builtins = builtin_names
        self["__name__"] = "__test__"
        self["AgentError"] = AgentError

    def __missing__(self, name):
        if name in self._builtins or name.startswith("__"):
            raise KeyError(name)
        value = self._link.lookup(name)
        self[name] = value
        return value


def _describe(exc):
    import traceback

    try:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except Exception:  # noqa: BLE001
        text = type(exc).__name__
    return text[-500:] or type(exc).__name__


def _grade(link, tests, builtin_names):
    results = []
    link.known = {}
    for index, source in enumerate(tests):
        ns = _Namespace(link, builtin_names)
        try:
            code = compile(str(source), f"<test {index + 1}>", "exec")
            exec(code, ns)
            results.append({"passed": True})
        except EOFError:
            raise
        except BaseException as e:  # noqa: BLE001 - a test may raise anything
            results.append({"passed": False, "error": _describe(e)})
    return results


def _main():
    import builtins
    import json  # noqa: F401 - imported once, before any test runs
    import traceback  # noqa: F401

    # Nothing but the three pipes from the server, whatever the server's launcher left open.
    os.closerange(3, 1 << 20)
    # Control pipes on private fds; a test's prints go to /dev/null, not into the protocol.
    cin = os.dup(0)
    cout = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = open(devnull, "w", closefd=False)
    link = _Link(cin, cout)
    builtin_names = frozenset(dir(builtins))
    _write_frame(cout, {"op": "ready", "pid": os.getpid(), "uid": os.getuid()})
    # Started: what a test writes to stderr goes nowhere either (the server stops reading it).
    os.dup2(devnull, 2)
    sys.stderr = sys.stdout
    while True:
        try:
            request = _read_frame(cin)
        except EOFError:
            os._exit(0)
        if type(request) is not dict or request.get("op") != "grade" or type(request.get("tests")) is not list:
            _write_frame(cout, {"op": "error", "message": "Unknown request"})
            continue
        try:
            results = _grade(link, request["tests"], builtin_names)
        except EOFError:
            os._exit(0)
        _write_frame(cout, {"op": "graded", "results": results})


_main()
