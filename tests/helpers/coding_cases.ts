/**
 * The Python hostile inputs of docs/security.md as one table of cases, run by
 * the host suite (tests/coding_host_test.ts, a server in this process) and
 * by the container suite (tests/coding_container_test.ts, the coding-env
 * image), so that both run the very same attacks with the same expected
 * outcomes. Each case ends with {@link CodingEpisode.assertRecovered}: the
 * next step works, /health answers, nothing of the worker uid is left but
 * the fresh worker, and whatever the place checks besides (the container's
 * process count back to its baseline).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CodeObservation, Isolation } from "../../envs/coding/mod.ts";
import { CodingEnv } from "../../envs/coding/mod.ts";

/** Where the server runs, and how to look at its processes. */
export interface CodingPlace {
  /** `host`: a server in this process; `container`: the coding-env image. */
  where: "host" | "container";
  /** The server's pid as the worker sees it. */
  serverPid: number;
  /** A value in the server's environment that must never reach user code. */
  secret: string;
  /** Paths outside the work folder that a worker must not create. */
  outsidePaths: string[];
  /** The error a refused write gives (PermissionError; a read-only file system in the container). */
  writeRefused: RegExp;
  /** Live processes of `uid` (zombies excluded), as `pid name` strings. */
  processesOf(uid: number): Promise<string[]>;
  /** Checks run after every case, e.g. that the container's process count is back to its baseline. */
  afterCase?(episode: CodingEpisode): Promise<void>;
}

/** Asserts that `/health` answers `healthy` within `withinMs`. */
export async function assertHealthy(baseUrl: string, withinMs = 1000): Promise<void> {
  const started = performance.now();
  const res = await fetchHealth(baseUrl, withinMs);
  assert.deepEqual(res, { status: "healthy" });
  assert.ok(performance.now() - started < withinMs, `/health took over ${withinMs} ms`);
}

async function fetchHealth(baseUrl: string, withinMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(withinMs);
  if (baseUrl.startsWith("unix:")) {
    using client = Deno.createHttpClient({ proxy: { transport: "unix", path: baseUrl.slice(5) } });
    const res = await fetch("http://localhost/health", { client, signal });
    return await res.json();
  }
  const res = await fetch(`${baseUrl}/health`, { signal });
  return await res.json();
}

/** One client session of the coding env, and the checks every hostile case ends with. */
export class CodingEpisode implements AsyncDisposable {
  /** The typed client. */
  readonly env: CodingEnv;
  /** The server's URL. */
  readonly baseUrl: string;
  /** Where the server runs. */
  readonly place: CodingPlace;
  /** The worker uid. */
  uid = -1;
  /** The current episode's folder. */
  workDir = "";
  /** What protects the host, from the reset observation. */
  isolation?: Isolation;

  constructor(baseUrl: string, place: CodingPlace, transport: "websocket" | "http" = "websocket") {
    this.baseUrl = baseUrl;
    this.place = place;
    this.env = new CodingEnv({ baseUrl, transport, timeoutS: 30 });
  }

  /** A new session, reset once. */
  static async open(
    baseUrl: string,
    place: CodingPlace,
    transport?: "websocket" | "http",
  ): Promise<CodingEpisode> {
    const episode = new CodingEpisode(baseUrl, place, transport);
    try {
      await episode.reset();
    } catch (error) {
      await episode.env.close();
      throw error;
    }
    return episode;
  }

  /** Another session on the same server. */
  other(): Promise<CodingEpisode> {
    return CodingEpisode.open(this.baseUrl, this.place);
  }

  /** Starts a new episode. */
  async reset(options: Record<string, unknown> = {}): Promise<CodeObservation> {
    const result = await this.env.reset(options);
    const metadata = result.observation.metadata as { isolation: Isolation; work_dir: string };
    this.isolation = metadata.isolation;
    this.uid = metadata.isolation.worker_uid;
    this.workDir = metadata.work_dir;
    return result.observation;
  }

  /** Runs one step. */
  async step(code: string, timeout_s?: number): Promise<CodeObservation> {
    return (await this.env.step({ code, ...(timeout_s ? { timeout_s } : {}) })).observation;
  }

  /** Live processes of the worker uid. */
  processes(): Promise<string[]> {
    return this.place.processesOf(this.uid);
  }

  /** The next step works, /health answers, and only the worker itself runs as its uid. */
  async assertRecovered(): Promise<void> {
    const left = await this.processes();
    assert.equal(left.length, 1, `expected only the worker, found ${left.join(", ")}`);
    await assertHealthy(this.baseUrl);
    const next = await this.step("print('next step ok')");
    assert.deepEqual([next.stdout, next.exit_code], ["next step ok\n", 0]);
    await this.place.afterCase?.(this);
  }

  /** Closes the session. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.env.close();
  }
}

/** One hostile input and what must come of it. */
export interface HostileCase {
  /** What is tried, and the expected outcome. */
  name: string;
  /**
   * Where the protection holds: `container` (NetworkMode none, the tmpfs
   * size), `nproc` (needs RLIMIT_NPROC on the worker uid, which the host
   * suite sets on a server of its own), or everywhere when absent.
   */
  needs?: "container" | "nproc";
  /** Runs the case on an open episode; ends with `ep.assertRecovered()`. */
  run(ep: CodingEpisode): Promise<void>;
}

const FORK_BOMB = [
  "import os",
  "while True:",
  "    try:",
  "        os.fork()",
  "    except OSError:",
  "        pass",
].join("\n");

/** Every Python hostile input of docs/security.md. */
export const hostileCases: HostileCase[] = [
  {
    name: "while True: pass is interrupted; /health and other sessions answer meanwhile",
    async run(ep) {
      await ep.step("kept = 'still here'");
      const looping = ep.step("while True: pass", 2);
      await new Promise((r) => setTimeout(r, 300));
      await assertHealthy(ep.baseUrl, 500);
      {
        await using other = await ep.other();
        const started = performance.now();
        assert.equal((await other.step("print(6 * 7)")).stdout, "42\n");
        assert.ok(performance.now() - started < 1000);
      }
      const obs = await looping;
      assert.deepEqual([obs.timed_out, obs.state_lost, obs.exit_code], [true, false, 1]);
      assert.equal((await ep.step("kept")).stdout, "'still here'\n");
      await ep.assertRecovered();
    },
  },
  {
    name: "a loop catching BaseException and ignoring SIGINT and SIGTERM is killed",
    async run(ep) {
      await ep.step("kept = 'still here'");
      const code = [
        "import signal",
        "signal.signal(signal.SIGINT, signal.SIG_IGN)",
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
        "while True:",
        "    try:",
        "        while True: pass",
        "    except BaseException:",
        "        pass",
      ].join("\n");
      const obs = await ep.step(code, 1);
      assert.deepEqual([obs.timed_out, obs.state_lost, obs.exit_code], [true, true, -9]);
      assert.match((await ep.step("kept")).stderr, /NameError/);
      await ep.assertRecovered();
    },
  },
  {
    name: "time.sleep(1e6) is interrupted",
    async run(ep) {
      const obs = await ep.step("import time\ntime.sleep(1e6)", 1);
      assert.deepEqual([obs.timed_out, obs.state_lost], [true, false]);
      assert.match(obs.stderr, /KeyboardInterrupt/);
      await ep.assertRecovered();
    },
  },
  {
    name: "a thread bomb stops at the address-space or process limit",
    async run(ep) {
      const code = [
        "import threading, time",
        "while True:",
        "    threading.Thread(target=time.sleep, args=(1e6,), daemon=True).start()",
      ].join("\n");
      const obs = await ep.step(code, 10);
      assert.equal(obs.exit_code, 1);
      assert.match(obs.stderr, /can't start new thread/);
      assert.ok(obs.duration_ms < 5000);
      // Threads live on like variables: a new episode ends them.
      await ep.reset();
      await ep.assertRecovered();
    },
  },
  {
    name: "a fork bomb stops at RLIMIT_NPROC of its uid and ends with the step",
    needs: "nproc",
    async run(ep) {
      assert.ok(ep.isolation?.rlimits.nproc, "RLIMIT_NPROC is set on the worker");
      const obs = await ep.step(FORK_BOMB, 1);
      assert.equal(obs.timed_out, true);
      await ep.assertRecovered();
    },
  },
  {
    name: "memory bombs get MemoryError",
    async run(ep) {
      const one = await ep.step("block = bytearray(8 * 1024 ** 3)");
      assert.match(one.stderr, /MemoryError/);
      const many = await ep.step(
        "hoard = []\nwhile True:\n    hoard.append(bytearray(10 ** 7))",
        10,
      );
      assert.match(many.stderr, /MemoryError/);
      assert.equal(many.timed_out, false);
      await ep.step("del hoard");
      await ep.assertRecovered();
    },
  },
  {
    name: "a file in the work folder stops at the file size limit",
    async run(ep) {
      const code = [
        "with open('big', 'wb') as f:",
        "    while True:",
        "        f.write(b'\\0' * (1 << 20))",
      ].join("\n");
      const obs = await ep.step(code, 10);
      assert.match(obs.stderr, /File too large/);
      assert.equal((await ep.step("import os; os.path.getsize('big')")).stdout, `${64 << 20}\n`);
      await ep.step("os.remove('big')");
      await ep.assertRecovered();
    },
  },
  {
    name: "filling /tmp and the work folder stops at the tmpfs size; output still arrives",
    needs: "container",
    async run(ep) {
      // A session that was running before the tmpfs filled up keeps reporting its output.
      await using other = await ep.other();
      const code = [
        "import os",
        "n = 0",
        "try:",
        "    while True:",
        "        where = os.environ['TMPDIR'] if n % 2 else '.'",
        "        with open(f'{where}/fill{n}', 'wb') as f:",
        "            f.write(b'\\0' * (32 << 20))",
        "        n += 1",
        "except OSError as e:",
        "    print(n, e.strerror)",
      ].join("\n");
      const obs = await ep.step(code, 20);
      const size = ep.isolation?.disk_bytes ?? 0;
      assert.ok(size > 0, "the work folder is on a sized tmpfs");
      const [count, error] = [Number(obs.stdout.split(" ")[0]), obs.stdout.split(" ").slice(1)];
      assert.equal(error.join(" "), "No space left on device\n");
      assert.ok(count * (32 << 20) < size, `${count} files of 32 MiB in a ${size} byte tmpfs`);
      const full = await other.step("print('still here')\nopen('f', 'w').write('x' * 100000)");
      assert.equal(full.stdout, "still here\n");
      assert.match(full.stderr, /No space left on device/);
      await other.env.close();
      await assertHealthy(ep.baseUrl);
      // A new episode removes the files it left, in its folder and its temp folder (in the
      // background: the space comes back within moments).
      await ep.reset();
      let after: CodeObservation | undefined;
      for (let i = 0; i < 30; i++) {
        after = await ep.step("_ = open('f', 'wb').write(b'\\0' * (1 << 20))\nprint('written')");
        if (after.stdout === "written\n") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual([after?.stdout, after?.stderr], ["written\n", ""]);
      await ep.assertRecovered();
    },
  },
  {
    name: "endless stdout is cut and the step times out",
    async run(ep) {
      const obs = await ep.step("while True: print('spam')", 1);
      assert.deepEqual([obs.timed_out, obs.truncated], [true, true]);
      assert.equal(obs.stdout.length, 65536);
      assert.match(obs.stdout, /^(spam\n)+/);
      await ep.assertRecovered();
    },
  },
  {
    name: "one huge line with no newline is cut",
    async run(ep) {
      const obs = await ep.step("import sys\nsys.stdout.write('x' * 50_000_000)");
      assert.deepEqual([obs.truncated, obs.stdout.length, obs.exit_code], [true, 65536, 0]);
      await ep.assertRecovered();
    },
  },
  {
    name: "binary and invalid UTF-8 output arrives as valid JSON",
    async run(ep) {
      const code = [
        "import os, sys",
        "os.write(1, bytes(range(256)))",
        "_ = sys.stdout.buffer.write(b'\\xff\\xfe\\xfd')",
        "_ = sys.stderr.buffer.write(b'\\x80\\x81 tail')",
      ].join("\n");
      const obs = await ep.step(code);
      assert.equal(obs.stdout.slice(0, 128), String.fromCharCode(...Array(128).keys()));
      assert.ok(obs.stdout.endsWith("\uFFFD\uFFFD\uFFFD"));
      assert.equal(obs.stderr, "\uFFFD\uFFFD tail");
      await ep.assertRecovered();
    },
  },
  {
    name: "/etc/shadow and the server's environment cannot be read",
    async run(ep) {
      const pid = ep.place.serverPid;
      const shadow = await ep.step("open('/etc/shadow').read()");
      assert.match(shadow.stderr, /PermissionError/);
      const environ = await ep.step(`open('/proc/${pid}/environ', 'rb').read()`);
      assert.match(environ.stderr, /PermissionError/);
      assert.ok(!environ.stdout.includes(ep.place.secret));
      const mem = await ep.step(`open('/proc/${pid}/mem', 'rb').read(1)`);
      assert.match(mem.stderr, /PermissionError/);
      const env = await ep.step("import os\nprint(dict(os.environ))");
      assert.ok(!env.stdout.includes(ep.place.secret));
      await ep.assertRecovered();
    },
  },
  {
    name:
      "the parent, the server, pid 1 and other uids cannot be killed; kill(-1) hits only the worker's own uid",
    async run(ep) {
      for (
        const code of [
          "os.kill(os.getppid(), signal.SIGKILL)",
          `os.kill(${ep.place.serverPid}, signal.SIGKILL)`,
          "os.kill(1, signal.SIGTERM)",
        ]
      ) {
        const obs = await ep.step(`import os, signal\n${code}`);
        assert.match(obs.stderr, /PermissionError/, code);
      }
      await ep.step("survivor = 1");
      const obs = await ep.step(
        "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('still alive')",
      );
      assert.equal(obs.state_lost, false);
      assert.equal((await ep.step("survivor")).stdout, "1\n");
      await ep.assertRecovered();
    },
  },
  {
    name: "os._exit(3) is reported and the worker respawns",
    async run(ep) {
      const obs = await ep.step("print('last words')\nimport os\nos._exit(3)");
      assert.deepEqual([obs.exit_code, obs.state_lost, obs.stdout], [3, true, "last words\n"]);
      await ep.assertRecovered();
    },
  },
  {
    name: "sys.exit() ends the step with 0 and keeps the state",
    async run(ep) {
      await ep.step("value = 7");
      const obs = await ep.step("import sys\nsys.exit()");
      assert.deepEqual([obs.exit_code, obs.state_lost], [0, false]);
      assert.equal((await ep.step("value")).stdout, "7\n");
      await ep.assertRecovered();
    },
  },
  {
    name: "a segfault via ctypes is reported with its signal",
    async run(ep) {
      const obs = await ep.step("import ctypes\nctypes.string_at(0)");
      assert.deepEqual([obs.exit_code, obs.state_lost], [-11, true]);
      assert.match(obs.stderr, /Segmentation fault/);
      await ep.assertRecovered();
    },
  },
  {
    name: "recursion bombs end in an error, a crash or a timeout, never a hang",
    async run(ep) {
      const plain = await ep.step("def f():\n    return f()\nf()");
      assert.match(plain.stderr, /RecursionError/);
      const nested = await ep.step("eval('(' * 200000 + ')' * 200000)");
      assert.equal(nested.exit_code, 1);
      const raised = await ep.step(
        "import sys\nsys.setrecursionlimit(10 ** 8)\ndef g(n):\n    return g(n + 1)\ng(0)",
        2,
      );
      assert.ok(raised.exit_code !== 0);
      await ep.assertRecovered();
    },
  },
  {
    name: "writes outside the work folder are refused",
    async run(ep) {
      for (const path of ep.place.outsidePaths) {
        const obs = await ep.step(`open(${JSON.stringify(path)}, 'w').write('x')`);
        assert.match(obs.stderr, ep.place.writeRefused, path);
      }
      const own = await ep.step(
        "import os\nsession = os.path.dirname(os.path.dirname(os.getcwd()))\nopen(session + '/io/out', 'a')",
      );
      assert.match(own.stderr, /PermissionError/);
      await ep.assertRecovered();
    },
  },
  {
    name: "setsid plus a double fork does not outlive the step",
    async run(ep) {
      const code = [
        "import os, time",
        "if os.fork() == 0:",
        "    os.setsid()",
        "    if os.fork() == 0:",
        "        time.sleep(0.5)",
        "        open('survived', 'w').write('yes')",
        "        os._exit(0)",
        "    os._exit(0)",
        "os.wait()",
      ].join("\n");
      const obs = await ep.step(code);
      assert.equal(obs.exit_code, 0);
      assert.ok((obs.metadata.processes_killed as number) >= 1);
      await ep.assertRecovered();
      await new Promise((r) => setTimeout(r, 800));
      assert.equal((await ep.step("os.path.exists('survived')")).stdout, "False\n");
    },
  },
  {
    name: "closing or replacing sys.stdout does not break the protocol",
    async run(ep) {
      for (
        const code of [
          "import sys\nsys.stdout.close()",
          "import sys\nsys.stdout = None",
          "import sys, io\nsys.stdout = io.StringIO()\nprint('hidden')",
          "import os\nos.close(1)\nos.close(2)",
          "import os\nos.dup2(os.open('/dev/null', os.O_WRONLY), 1)",
        ]
      ) {
        const obs = await ep.step(code);
        assert.equal(obs.state_lost, false, code);
        assert.equal((await ep.step("print('visible')")).stdout, "visible\n", code);
      }
      await ep.assertRecovered();
    },
  },
  {
    name: "stdin is at EOF",
    async run(ep) {
      assert.match((await ep.step("input()")).stderr, /EOFError/);
      assert.equal(
        (await ep.step("import sys, os\nprint(repr(sys.stdin.read()), os.read(0, 10))")).stdout,
        "'' b''\n",
      );
      await ep.assertRecovered();
    },
  },
  {
    name: "rlimits cannot be raised",
    async run(ep) {
      const limits = [
        "RLIMIT_AS",
        "RLIMIT_CPU",
        "RLIMIT_FSIZE",
        "RLIMIT_NOFILE",
        "RLIMIT_CORE",
        "RLIMIT_STACK",
      ];
      if (ep.isolation?.rlimits.nproc) limits.push("RLIMIT_NPROC");
      for (const limit of limits) {
        const obs = await ep.step(
          `import resource\nresource.setrlimit(resource.${limit}, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))`,
        );
        assert.match(obs.stderr, /not allowed to raise maximum limit/, limit);
      }
      await ep.assertRecovered();
    },
  },
  {
    name: "files, variables and IPC objects of episode 1 are gone in episode 2",
    async run(ep) {
      const tag = crypto.randomUUID();
      await ep.step(
        [
          "import ctypes, os",
          "secret = 'episode one'",
          "open('notes.txt', 'w').write('x')",
          "try:",
          `    open('/tmp/envtorch-ep1-${tag}', 'w').write('x')`,
          "except PermissionError:",
          "    pass  # /tmp is closed to workers in the container",
          `open('/dev/shm/envtorch-ep1-${tag}', 'w').write('x')`,
          "if os.path.ismount('/dev/mqueue'):",
          `    open('/dev/mqueue/envtorch-ep1-${tag.slice(0, 8)}', 'w')`,
          "libc = ctypes.CDLL(None, use_errno=True)",
          "assert libc.shmget(0, 4096, 0o1600) >= 0",
          "assert libc.msgget(0, 0o1600) >= 0",
        ].join("\n"),
      );
      const firstDir = ep.workDir;
      const firstUid = ep.uid;
      await ep.reset();
      assert.notEqual(ep.workDir, firstDir);
      const check = [
        "import os",
        "def mq():",
        "    try:",
        `        return [m for m in os.listdir('/dev/mqueue') if m.startswith('envtorch-ep1-${
          tag.slice(0, 8)
        }')]`,
        "    except OSError:",
        `        return [] if not os.path.exists('/dev/mqueue/envtorch-ep1-${
          tag.slice(0, 8)
        }') else ['left']`,
        `print(os.listdir('.'), os.path.exists(${JSON.stringify(firstDir)}),`,
        `      os.path.exists('/tmp/envtorch-ep1-${tag}'), os.path.exists('/dev/shm/envtorch-ep1-${tag}'), mq())`,
        // The first episode's uid: a reset may hand the session a spare worker of another uid.
        "mine = lambda kind: [l for l in open(f'/proc/sysvipc/{kind}').read().splitlines()[1:]",
        `                     if '${firstUid}' in l.split() or str(os.getuid()) in l.split()]`,
        "print(mine('shm'), mine('msg'))",
        "secret",
      ].join("\n");
      // What the last episode left goes within moments of the reset (in the background).
      let obs = await ep.step(check);
      for (let i = 0; i < 30 && obs.stdout !== "[] False False False []\n[] []\n"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        obs = await ep.step(check);
      }
      assert.equal(obs.stdout, "[] False False False []\n[] []\n");
      assert.match(obs.stderr, /NameError: name 'secret' is not defined/);
      await ep.assertRecovered();
    },
  },
  {
    name: "System V IPC objects a step parks are gone when the step ends (issue 9, item 4)",
    async run(ep) {
      const parked = await ep.step(
        [
          "import ctypes",
          "libc = ctypes.CDLL(None, use_errno=True)",
          "shm = [libc.shmget(0, 1 << 20, 0o1600) for _ in range(4)]",
          "sem = libc.semget(0, 4, 0o1600)",
          "msg = libc.msgget(0, 0o1600)",
          "print(all(i >= 0 for i in shm + [sem, msg]))",
        ].join("\n"),
      );
      assert.equal(parked.stdout, "True\n", parked.stderr);
      // Read by the next step, before it makes anything: nothing of the uid is left.
      const left = await ep.step(
        [
          "import os",
          "def mine(kind):",
          "    lines = open(f'/proc/sysvipc/{kind}').read().splitlines()",
          "    head = lines[0].split()",
          "    at = [head.index('uid'), head.index('cuid')]",
          "    return [l for l in lines[1:] if str(os.getuid()) in [l.split()[i] for i in at]]",
          "print(mine('shm'), mine('sem'), mine('msg'))",
        ].join("\n"),
      );
      assert.equal(left.stdout, "[] [] []\n", left.stderr);
      await ep.assertRecovered();
    },
  },
  {
    name: "two live sessions cannot list or read each other's temp files (issue 9, item 5)",
    async run(ep) {
      await using other = await ep.other();
      const made = await ep.step(
        [
          "import os, tempfile",
          "fd, path = tempfile.mkstemp()",
          "os.write(fd, b'a-secret')",
          "open(os.path.join(os.environ['HOME'], 'notes'), 'w').write('a-secret')",
          "print(path)",
          "print(oct(os.stat(os.environ['TMPDIR']).st_mode & 0o7777), oct(os.umask(0o077)))",
        ].join("\n"),
      );
      const [path, modes] = made.stdout.trim().split("\n");
      assert.equal(modes, "0o700 0o77", made.stderr);
      assert.ok(path && !path.startsWith("/tmp/tmp"), `a private temp folder, not /tmp: ${path}`);
      const tmp = path.slice(0, path.lastIndexOf("/"));
      const probe = await other.step(
        [
          "import os",
          "def tried(f):",
          "    try:",
          "        f()",
          "        return 'allowed'",
          "    except PermissionError:",
          "        return 'denied'",
          `print(tried(lambda: open(${JSON.stringify(path)}).read()),`,
          `      tried(lambda: os.listdir(${JSON.stringify(tmp)})),`,
          `      tried(lambda: open(${JSON.stringify(`${tmp}/notes`)}).read()),`,
          `      tried(lambda: open(${JSON.stringify(`${tmp}/planted`)}, 'w')))`,
          "print(os.environ['TMPDIR'] != " + JSON.stringify(tmp) + ")",
        ].join("\n"),
      );
      assert.equal(probe.stdout, "denied denied denied denied\nTrue\n", probe.stderr);
      // What the code writes elsewhere is private too (umask 077), and in the container
      // /tmp itself can be neither listed nor written.
      const tag = crypto.randomUUID().slice(0, 8);
      const shared = await ep.step(
        [
          "import os",
          "for where in ('/tmp', '/dev/shm'):",
          "    try:",
          `        open(where + '/envtorch-${tag}', 'w').write('a-secret')`,
          "        print(where, 'written')",
          "    except PermissionError:",
          "        print(where, 'refused')",
          "try:",
          "    os.listdir('/tmp')",
          "    print('listed')",
          "except PermissionError:",
          "    print('not listed')",
        ].join("\n"),
      );
      if (ep.place.where === "container") {
        assert.equal(shared.stdout, "/tmp refused\n/dev/shm written\nnot listed\n");
      }
      const read = await other.step(
        [
          "for where in ('/tmp', '/dev/shm'):",
          "    try:",
          `        print(open(where + '/envtorch-${tag}').read())`,
          "    except (PermissionError, FileNotFoundError) as e:",
          "        print(where, type(e).__name__)",
        ].join("\n"),
      );
      assert.doesNotMatch(read.stdout, /a-secret/);
      await other.env.close();
      await ep.assertRecovered();
    },
  },
  {
    name:
      "a thread that keeps forking setsid children runs nothing after its step (issue 9, item 6)",
    async run(ep) {
      const obs = await ep.step(
        [
          "import os, threading, time",
          "def spawn():",
          "    while True:",
          "        try:",
          "            if os.fork() == 0:",
          "                os.setsid()",
          "                time.sleep(30)",
          "                os._exit(0)",
          "        except OSError:",
          "            pass",
          "        time.sleep(0.02)",
          "threading.Thread(target=spawn, daemon=True).start()",
          "time.sleep(0.1)",
          "kept = 'state'",
        ].join("\n"),
      );
      assert.equal(obs.exit_code, 0, obs.stderr);
      // Right after the step and a while later: only the worker runs as the uid.
      for (const wait of [0, 300, 300]) {
        await new Promise((r) => setTimeout(r, wait));
        const left = await ep.processes();
        assert.equal(left.length, 1, `after the step: ${left.join(", ")}`);
      }
      // The state is kept; the thread runs again during the next step, and its
      // children end with that step.
      const next = await ep.step("import time\ntime.sleep(0.1)\nprint(kept)");
      assert.deepEqual([next.stdout, next.state_lost], ["state\n", false]);
      assert.equal((await ep.processes()).length, 1);
      await ep.reset();
      await ep.assertRecovered();
    },
  },
  {
    name:
      "an alarm that fires between steps: the next step runs in a fresh worker (issue 9, item 12)",
    async run(ep) {
      await ep.step("import signal\nprint('before')\nsignal.alarm(1)\nkept = 1");
      await new Promise((r) => setTimeout(r, 1500));
      const obs = await ep.step("print('ran')");
      assert.deepEqual([obs.stdout, obs.exit_code, obs.state_lost], ["ran\n", 0, true]);
      assert.ok(
        obs.metadata.notes instanceof Array &&
          obs.metadata.notes.some((n: string) => /SIGALRM|died between steps/.test(n)),
        JSON.stringify(obs.metadata.notes),
      );
      // A handler set by the code still runs, in the next step.
      await ep.step(
        "import signal\nfired = []\nsignal.signal(signal.SIGALRM, lambda *a: fired.append(1))\nsignal.alarm(1)",
      );
      await new Promise((r) => setTimeout(r, 1500));
      const handled = await ep.step("print(fired)");
      assert.deepEqual([handled.stdout, handled.state_lost], ["[1]\n", false]);
      await ep.assertRecovered();
    },
  },
  {
    name: "RLIMIT_STACK has soft = hard (issue 9, item 13)",
    async run(ep) {
      const stack = await ep.step(
        "import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_STACK)\nprint(soft == hard, hard > 0)",
      );
      assert.equal(stack.stdout, "True True\n");
      await ep.assertRecovered();
    },
  },
  {
    name: "PTRACE_TRACEME does not confuse the worker's end (issue 9, item 13)",
    async run(ep) {
      const traced = await ep.step(
        "import ctypes\nkept = 'kept'\nprint(ctypes.CDLL(None, use_errno=True).ptrace(0, 0, None, None))",
      );
      assert.equal(traced.exit_code, 0, traced.stderr);
      // Signals to a traced worker stop it for its tracer: a child's exit, an interrupt.
      const child = await ep.step(
        "import subprocess, os, signal\nsubprocess.run(['true'])\nsignal.signal(signal.SIGUSR1, lambda *a: print('usr1'))\nos.kill(os.getpid(), signal.SIGUSR1)\nprint(kept)",
      );
      assert.deepEqual([child.stdout, child.exit_code, child.state_lost], [
        "usr1\nkept\n",
        0,
        false,
      ]);
      const loop = await ep.step("while True: pass", 1);
      assert.deepEqual([loop.timed_out, loop.state_lost], [true, false]);
      assert.equal((await ep.step("print(kept)")).stdout, "kept\n");
      await ep.assertRecovered();
    },
  },
  {
    name: "network access of any kind fails: no interface but loopback (NetworkMode none)",
    needs: "container",
    async run(ep) {
      const attempts: [string, RegExp][] = [
        [
          "s = socket.socket(); s.settimeout(3); s.connect(('1.1.1.1', 53))",
          /OSError: \[Errno 101\] Network is unreachable/,
        ],
        [
          "s = socket.socket(socket.AF_INET6); s.settimeout(3); s.connect(('2606:4700:4700::1111', 53))",
          /OSError: \[Errno (99|101)\]/,
        ],
        ["socket.getaddrinfo('example.com', 443)", /socket\.gaierror/],
        [
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('1.1.1.1', 53))",
          /OSError: \[Errno 101\] Network is unreachable/,
        ],
        [
          "import urllib.request; urllib.request.urlopen('http://example.com', timeout=3)",
          /URLError/,
        ],
        ["socket.socket(socket.AF_PACKET, socket.SOCK_RAW)", /PermissionError/],
        [
          "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
          /PermissionError/,
        ],
        [
          // A netlink socket opens, but cannot change the network: bringing lo down is refused.
          "import fcntl, struct\ns = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\n" +
          "fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8914, struct.pack('16sH', b'lo', 0))",
          /PermissionError/,
        ],
      ];
      for (const [code, expected] of attempts) {
        const obs = await ep.step(`import socket\n${code}`, 5);
        assert.equal(obs.exit_code, 1, code);
        assert.match(obs.stderr, expected, code);
        assert.ok(obs.duration_ms < 4000, `${code} took ${obs.duration_ms} ms`);
      }
      const interfaces = await ep.step("import socket\nsocket.if_nameindex()");
      assert.equal(interfaces.stdout, "[(1, 'lo')]\n");
      assert.equal(ep.isolation?.network_blocked, true);
      await ep.assertRecovered();
    },
  },
];

/** The fork bomb case, for a suite that runs it on a server of its own. */
export const forkBombCase: HostileCase = hostileCases.find((c) => c.needs === "nproc")!;

/**
 * Opens 8 episodes at once and checks that none sees another's variables or
 * files: each has its own uid, its own `secret`, and cannot read the others'
 * files nor list their folders. Closes them all and returns their uids, for
 * the caller's check that nothing of them is left running.
 */
export async function assertEightEpisodesIsolated(
  open: () => Promise<CodingEpisode>,
): Promise<number[]> {
  const episodes = await Promise.all(Array.from({ length: 8 }, open));
  try {
    assert.equal(new Set(episodes.map((e) => e.uid)).size, 8, "each session has its own uid");
    await Promise.all(
      episodes.map((e, i) => e.step(`secret = ${i}\nopen('mine.txt', 'w').write('episode ${i}')`)),
    );
    await Promise.all(episodes.map(async (e, i) => {
      const others = episodes.filter((o) => o !== e).map((o) => `${o.workDir}/mine.txt`);
      const code = [
        "import os",
        "denied = 0",
        `for path in ${JSON.stringify(others)}:`,
        "    try:",
        "        open(path).read()",
        "    except PermissionError:",
        "        denied += 1",
        "try:",
        "    os.listdir(os.path.dirname(os.getcwd()) + '/..')",
        "    listed = True",
        "except PermissionError:",
        "    listed = False",
        "print(secret, open('mine.txt').read(), denied, listed)",
      ].join("\n");
      const obs = await e.step(code);
      assert.equal(obs.stdout, `${i} episode ${i} 7 False\n`);
    }));
  } finally {
    await Promise.all(episodes.map((e) => e.env.close()));
  }
  return episodes.map((e) => e.uid);
}
