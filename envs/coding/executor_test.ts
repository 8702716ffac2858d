import assert from "node:assert/strict";
import { PythonExecutor } from "./executor.ts";
import { processesOfUid, readProcess } from "./procfs.ts";
import { UidPool } from "./uid_pool.ts";

const isRoot = Deno.uid() === 0;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("executor runs steps in one persistent namespace", async (t) => {
  await using py = await PythonExecutor.start({ timeoutS: 5 });

  await t.step("print goes to stdout", async () => {
    const r = await py.run("print('Hello, World!')");
    assert.deepEqual(r.stdout, "Hello, World!\n");
    assert.deepEqual(r.stderr, "");
    assert.deepEqual(r.exit_code, 0);
    assert.deepEqual([r.timed_out, r.truncated, r.state_lost], [false, false, false]);
    assert.ok(r.duration_ms >= 0);
  });

  await t.step("a trailing expression prints its repr, as in a REPL", async () => {
    assert.deepEqual((await py.run("1 + 1")).stdout, "2\n");
    assert.deepEqual((await py.run("'a' * 3")).stdout, "'aaa'\n");
    assert.deepEqual((await py.run("None")).stdout, "");
    assert.deepEqual((await py.run("x = 5")).stdout, "");
  });

  await t.step("variables, functions and imports persist across steps", async () => {
    await py.run(
      "import math\ncounter = 10\ndef bump(n):\n    global counter\n    counter += n\n    return counter",
    );
    await py.run("bump(5)");
    const r = await py.run("print(bump(1), counter, math.floor(2.5))");
    assert.deepEqual(r.stdout, "16 16 2\n");
  });

  await t.step("multi-line code with blocks runs as a whole", async () => {
    const code = [
      "total = 0",
      "for i in range(4):",
      "    if i % 2:",
      "        total += i",
      "class Point:",
      "    def __init__(self, x):",
      "        self.x = x",
      "print(total, Point(3).x)",
    ].join("\n");
    assert.deepEqual((await py.run(code)).stdout, "4 3\n");
  });

  await t.step("a syntax error is reported on stderr with exit code 1", async () => {
    const r = await py.run("x = = 1");
    assert.deepEqual(r.exit_code, 1);
    assert.match(r.stderr, /File "<cell \d+>", line 1\n.*\n.*\^\nSyntaxError: invalid syntax/);
    assert.deepEqual(r.state_lost, false);
  });

  await t.step("a runtime error gives its traceback, without the runner's frames", async () => {
    const r = await py.run("def inner():\n    return 1 / 0\ninner()");
    assert.deepEqual(r.exit_code, 1);
    assert.match(r.stderr, /^Traceback \(most recent call last\):\n/);
    assert.match(r.stderr, /in inner\n/);
    assert.match(r.stderr, /ZeroDivisionError: division by zero\n$/);
    assert.ok(!r.stderr.includes("envtorch_runner"), r.stderr);
    assert.deepEqual((await py.run("print(counter)")).stdout, "16\n");
  });

  await t.step("SystemExit gives its code and keeps the state", async () => {
    assert.deepEqual((await py.run("import sys; sys.exit(3)")).exit_code, 3);
    assert.deepEqual((await py.run("import sys; sys.exit()")).exit_code, 0);
    const r = await py.run("import sys; sys.exit('bye')");
    assert.deepEqual([r.exit_code, r.stderr], [1, "bye\n"]);
    assert.deepEqual((await py.run("counter")).stdout, "16\n");
  });

  await t.step("stdout and stderr are captured apart", async () => {
    const r = await py.run("import sys\nprint('out')\nprint('err', file=sys.stderr)");
    assert.deepEqual([r.stdout, r.stderr], ["out\n", "err\n"]);
  });

  await t.step("output of subprocesses is captured too", async () => {
    const r = await py.run("import subprocess\nsubprocess.run(['/bin/echo', 'from a child'])");
    assert.match(r.stdout, /^from a child\n/);
  });

  await t.step("large outputs are cut and say so", async () => {
    const r = await py.run("print('x' * 200000)");
    assert.deepEqual(r.truncated, true);
    assert.deepEqual(r.stdout.length, 65536);
    const small = await py.run("print('y')");
    assert.deepEqual([small.stdout, small.truncated], ["y\n", false]);
  });

  await t.step("bytes that are not UTF-8 come back replaced", async () => {
    const r = await py.run(
      "import os, sys\nos.write(1, b'a\\xffb\\x00')\n_ = sys.stdout.buffer.write(b'\\xc3')",
    );
    assert.deepEqual(r.stdout, "a\uFFFDb\u0000\uFFFD");
  });

  await t.step("a stdout cut in the middle of a character does not end in half of it", async () => {
    const r = await py.run("print('é' * 40000)");
    assert.deepEqual(r.truncated, true);
    assert.ok(!r.stdout.includes("\uFFFD"));
    assert.deepEqual(r.stdout.length, 32768);
  });
});

Deno.test("executor reset gives a fresh interpreter and a fresh folder", async () => {
  await using py = await PythonExecutor.start({ timeoutS: 5 });
  await py.run("secret = 42\nopen('notes.txt', 'w').write('episode 1')");
  const firstDir = py.workDir;
  assert.ok(await exists(`${firstDir}/notes.txt`));
  await py.reset();
  assert.ok(py.workDir !== firstDir);
  const r = await py.run("import os\nprint(os.listdir('.'))\nsecret");
  assert.deepEqual(r.stdout, "[]\n");
  assert.match(r.stderr, /NameError: name 'secret' is not defined/);
  // The last episode's folder goes in the background, once its worker is gone.
  await py.settled();
  assert.deepEqual(await exists(firstDir), false);
});

Deno.test({
  name: "executor reset swaps in a spare worker of another uid, verified like the first",
  ignore: !isRoot,
  fn: async () => {
    const uidPool = new UidPool({ range: { first: 61150, count: 2 } });
    await using py = await PythonExecutor.start({ timeoutS: 5, uidPool });
    const uids = new Set<number>();
    for (let i = 0; i < 4; i++) {
      await py.settled();
      uids.add(py.uid);
      const info = await readProcess(py.workerPid!);
      assert.deepEqual(info?.uids, [py.uid, py.uid, py.uid, py.uid]);
      assert.equal(py.isolation.worker_uid, py.uid);
      const r = await py.run(`import os\nprint(os.getuid(), 'x' in dir())\nx = ${i}`);
      assert.equal(r.stdout, `${py.uid} False\n`);
      await py.reset();
    }
    assert.deepEqual([...uids].sort(), [61150, 61151]);
  },
});

Deno.test({
  name: "a process that outlives its step cannot leave files in shared folders for a later episode",
  ignore: !isRoot,
  fn: async () => {
    const shared = await Deno.makeTempDir({ prefix: "envtorch-shared-" });
    await Deno.chmod(shared, 0o1777);
    const uidPool = new UidPool({ range: { first: 61170, count: 2 } });
    try {
      await using py = await PythonExecutor.start({ timeoutS: 5, uidPool, sweepDirs: [shared] });
      await py.settled();
      const first = py.uid;
      // User code shares the runner's process: it switches off the end-of-step sweep, and leaves
      // a process that creates files in the shared folder as fast as it can, under a chain of
      // parents that each take one kill to get through.
      const leak = [
        "import os, sys, time",
        "sys._getframe(1).f_globals['_end_of_step_sweep'] = lambda cfg: 0",
        "if os.fork() == 0:",
        "    for _ in range(4):",
        "        if os.fork() != 0:",
        "            while True: time.sleep(1)",
        "    n = 0",
        "    while True:",
        "        n += 1",
        `        os.close(os.open(${
          JSON.stringify(shared)
        } + f'/leak-{n}', os.O_CREAT | os.O_WRONLY, 0o644))`,
        "        time.sleep(0.0001)",
        "time.sleep(0.05)",
      ].join("\n");
      assert.equal((await py.run(leak)).exit_code, 0);
      // The next episode runs under the other uid; the one after runs under the first again.
      await py.reset();
      await py.settled();
      await py.reset();
      assert.equal(py.uid, first);
      const seen = await py.run(`import os\nprint(sorted(os.listdir(${JSON.stringify(shared)})))`);
      assert.equal(
        seen.stdout,
        "[]\n",
        "nothing of the first episode is left in the shared folder",
      );
    } finally {
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "executor stops an idle session's spare and starts a new one at its next step",
  ignore: !isRoot,
  fn: async () => {
    const uidPool = new UidPool({ range: { first: 61160, count: 2 } });
    await using py = await PythonExecutor.start({ timeoutS: 5, uidPool, spareIdleS: 0.3 });
    await py.settled();
    const spareUid = py.uid === 61160 ? 61161 : 61160;
    assert.equal((await processesOfUid(spareUid)).length, 1, "a spare waits under the other uid");
    // Idle for longer than spareIdleS: the session keeps its worker, not its spare.
    const deadline = Date.now() + 5000;
    while ((await processesOfUid(spareUid)).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(await processesOfUid(spareUid), [], "the idle session's spare is stopped");
    assert.equal((await processesOfUid(py.uid)).length, 1, "its worker stays");
    assert.equal((await py.run("x = 1")).exit_code, 0);
    // The step started a new spare, which the next reset swaps in.
    await py.settled();
    assert.equal((await processesOfUid(spareUid)).length, 1, "a step brings a spare back");
    await py.reset();
    assert.equal(py.uid, spareUid);
    assert.equal((await py.run("print('x' in dir())")).stdout, "False\n");
  },
});

Deno.test("executor timeouts interrupt first and kill if they must", async (t) => {
  await using py = await PythonExecutor.start({ timeoutS: 1, interruptGraceMs: 200 });
  await py.run("kept = 'yes'");

  await t.step("an interruptible loop is interrupted and the state is kept", async () => {
    const r = await py.run("while True: pass");
    assert.deepEqual([r.timed_out, r.state_lost, r.exit_code], [true, false, 1]);
    assert.match(r.stderr, /KeyboardInterrupt/);
    assert.ok(r.duration_ms >= 1000 && r.duration_ms < 3000, `${r.duration_ms}`);
    assert.deepEqual((await py.run("kept")).stdout, "'yes'\n");
  });

  await t.step("a loop that ignores SIGINT is killed and the state is lost", async () => {
    const code = [
      "import signal",
      "signal.signal(signal.SIGINT, signal.SIG_IGN)",
      "print('started', flush=True)",
      "while True:",
      "    try:",
      "        while True: pass",
      "    except BaseException:",
      "        pass",
    ].join("\n");
    const r = await py.run(code);
    assert.deepEqual([r.timed_out, r.state_lost, r.exit_code, r.signal], [
      true,
      true,
      -9,
      "SIGKILL",
    ]);
    assert.deepEqual(r.stdout, "started\n");
    const next = await py.run("print('fresh'); kept");
    assert.deepEqual(next.stdout, "fresh\n");
    assert.match(next.stderr, /NameError/);
  });

  await t.step("a step's own timeout overrides the default", async () => {
    const r = await py.run("import time; time.sleep(0.3); print('done')", { timeoutS: 0.1 });
    assert.deepEqual(r.timed_out, true);
    const ok = await py.run("import time; time.sleep(0.3); print('done')", { timeoutS: 2 });
    assert.deepEqual([ok.timed_out, ok.stdout], [false, "done\n"]);
  });

  await t.step(
    "a runner that stops reading its socket cannot hold a large step past its timeout",
    async () => {
      // User code shares the runner's process: it makes the runner's next read sleep instead, so
      // nothing reads the socket and a request larger than its buffer cannot be sent.
      const stall = [
        "import sys, time",
        "sys._getframe(1).f_globals['_read_exact'] = lambda fd, n: time.sleep(10**6)",
      ].join("\n");
      assert.equal((await py.run(stall)).exit_code, 0);
      const big = `x = ${JSON.stringify("a".repeat(4 << 20))}`;
      const started = performance.now();
      const r = await py.run(big, { timeoutS: 1 });
      assert.ok(performance.now() - started < 10_000, "the step ended");
      assert.deepEqual([r.timed_out, r.state_lost], [true, true]);
      assert.deepEqual((await py.run("print('fresh')")).stdout, "fresh\n");
    },
  );

  await t.step("an abort signal ends the step like a timeout", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const r = await py.run("import time; time.sleep(30)", {
      signal: controller.signal,
      timeoutS: 30,
    });
    assert.deepEqual(r.timed_out, true);
    assert.ok(r.duration_ms < 2000);
  });
});

Deno.test("executor reports crashes and respawns", async (t) => {
  await using py = await PythonExecutor.start({ timeoutS: 5 });

  await t.step("os._exit keeps what was printed and reports the code", async () => {
    await py.run("x = 1");
    const r = await py.run("print('before'); import os; os._exit(3)");
    assert.deepEqual([r.exit_code, r.state_lost, r.stdout, r.signal], [3, true, "before\n", null]);
    assert.match((await py.run("x")).stderr, /NameError/);
  });

  await t.step("a segfault is reported with its signal", async () => {
    const r = await py.run("import ctypes; ctypes.string_at(0)");
    assert.deepEqual([r.exit_code, r.signal, r.state_lost], [-11, "SIGSEGV", true]);
    assert.match(r.stderr, /Segmentation fault/);
    assert.deepEqual((await py.run("print('alive')")).stdout, "alive\n");
  });

  await t.step("killing its own process group loses the state only", async () => {
    const r = await py.run("import os, signal; os.killpg(0, signal.SIGKILL)");
    assert.deepEqual([r.signal, r.state_lost], ["SIGKILL", true]);
    assert.deepEqual((await py.run("print('alive')")).stdout, "alive\n");
  });
});

/** Python that finds the runner's control socket as `ctl`. */
const FIND_CONTROL_PIPE = [
  "import os, json",
  "def frame(o):",
  "    b = json.dumps(o).encode()",
  "    return len(b).to_bytes(4, 'big') + b",
  "ctl = [fd for fd in range(3, 256) if os.path.exists(f'/proc/self/fd/{fd}')",
  "       and os.readlink(f'/proc/self/fd/{fd}').startswith('socket:')][0]",
].join("\n");

Deno.test("executor does not trust frames that user code writes into the control socket", async (t) => {
  await using py = await PythonExecutor.start({ timeoutS: 2 });

  await t.step("a forged reply is caught and the worker replaced", async () => {
    const forged = { op: "done", exit_code: 0, stdout: "forged", stderr: "", truncated: false };
    const r = await py.run(
      `${FIND_CONTROL_PIPE}\nos.write(ctl, frame(json.loads(${
        JSON.stringify(JSON.stringify(forged))
      })))`,
    );
    assert.notEqual(r.stdout, "forged");
    assert.equal(r.state_lost, true);
    assert.ok(r.notes.some((n) => n.includes("nobody asked for")), r.notes.join("; "));
    assert.equal((await py.run("print('fresh')")).stdout, "fresh\n");
  });

  await t.step("a flood of frames ends the worker, not the server's memory", async () => {
    const r = await py.run(
      `${FIND_CONTROL_PIPE}\nwhile True:\n    os.write(ctl, frame({'op': 'x'}))`,
    );
    assert.equal(r.state_lost, true);
    assert.ok(r.duration_ms < 2000, `${r.duration_ms}`);
    assert.equal((await py.run("print('fresh')")).stdout, "fresh\n");
  });
});

Deno.test("executor calls a function of the episode with plain data for the grader", async () => {
  await using py = await PythonExecutor.start({ timeoutS: 5 });
  await py.run(
    "x = (1, b'a')\ndef add(a, b):\n    return a + b\n" +
      "def boom():\n    raise KeyError('k')\ndef spin():\n    while True: pass",
  );
  const opts = { timeoutS: 1 };
  assert.deepEqual(await py.call("add", [2, 3], { dict: [] }, opts), { ok: true, value: 5 });
  assert.deepEqual(await py.call("add", null, null, opts), { ok: true, callable: true });
  assert.deepEqual(await py.call("x", null, null, opts), {
    ok: true,
    value: { tuple: [1, { bytes: "YQ==" }] },
  });
  assert.deepEqual(await py.call("boom", [], { dict: [] }, opts), {
    ok: false,
    type: "KeyError",
    message: "'k'",
  });
  assert.deepEqual(await py.call("nope", [], { dict: [] }, opts), {
    ok: false,
    type: "NameError",
    message: "name 'nope' is not defined",
  });
  const spin = await py.call("spin", [], { dict: [] }, { timeoutS: 0.3 });
  assert.deepEqual([spin.ok, !spin.ok && spin.timed_out], [false, true]);
  assert.deepEqual((await py.run("print(add(1, 1))")).stdout, "2\n");
});

Deno.test({
  name: "executor as root drops to a dedicated uid and cleans up after itself",
  ignore: !isRoot,
  fn: async () => {
    // A range of this test's own: after close, another test's worker may get a default uid.
    const uidPool = new UidPool({ range: { first: 61140, count: 4 } });
    const py = await PythonExecutor.start({ timeoutS: 5, uidPool });
    let closed = false;
    try {
      const iso = py.isolation;
      assert.deepEqual(iso.uid_dropped, true);
      assert.ok(iso.worker_uid !== 0 && iso.worker_uid === py.uid);
      assert.deepEqual([iso.no_new_privs, iso.own_session, iso.oom_score_adj], [true, true, 1000]);
      assert.deepEqual(iso.rlimits.core, 0);
      const r = await py.run(
        "import os, resource\nprint(os.getuid(), os.getgid(), os.getgroups(), sorted(os.environ))\n" +
          "print(oct(os.stat('.').st_mode & 0o777), os.stat('.').st_uid)",
      );
      const [ids, folder] = r.stdout.trim().split("\n");
      assert.deepEqual(ids, `${py.uid} ${py.uid} [] ['HOME', 'LC_CTYPE', 'TMPDIR']`);
      assert.deepEqual(folder, `0o700 ${py.uid}`);
      const root = py.workDir.replace(/\/w-\d+\/ep-[0-9a-f]+$/, "");
      assert.notEqual(root, py.workDir);
      await py.close();
      closed = true;
      assert.deepEqual(await exists(root), false);
      assert.deepEqual(await processesOfUid(iso.worker_uid, { includeZombies: true }), []);
    } finally {
      if (!closed) await py.close();
    }
  },
});

Deno.test("executor without a uid drop still works and says what it lacks", async (t) => {
  await using py = await PythonExecutor.start({ timeoutS: 1, user: "server" });
  const iso = py.isolation;
  assert.deepEqual(iso.uid_dropped, false);
  assert.deepEqual(iso.process_cleanup, "descendants");
  assert.ok(iso.notes.some((n) => n.includes("server's own uid")));

  await t.step("state persists and timeouts work", async () => {
    await py.run("kept = 1");
    const r = await py.run("while True: pass");
    assert.deepEqual([r.timed_out, r.state_lost], [true, false]);
    assert.deepEqual((await py.run("kept")).stdout, "1\n");
  });

  await t.step("a detached grandchild does not outlive its step", async () => {
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
      "print('parent done')",
    ].join("\n");
    const r = await py.run(code);
    assert.deepEqual([r.stdout, r.processes_killed > 0], ["parent done\n", true]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.deepEqual((await py.run("import os; os.path.exists('survived')")).stdout, "False\n");
  });

  await t.step("killing the zygote does not leave the runner behind", async () => {
    const pid = py.workerPid!;
    const r = await py.run(
      "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nwhile True: pass",
    );
    assert.equal(r.state_lost, true);
    // Dead: gone, or a zombie if pid 1 does not reap orphans (as on some CI machines).
    assert.ok([undefined, "Z"].includes((await readProcess(pid))?.state));
    assert.equal((await py.run("print('again')")).stdout, "again\n");
  });

  await t.step("a crash respawns the worker", async () => {
    const r = await py.run("import os; os._exit(4)");
    assert.deepEqual([r.exit_code, r.state_lost], [4, true]);
    assert.deepEqual((await py.run("print('again')")).stdout, "again\n");
  });
});

Deno.test("executor refuses calls after close and overlapping calls", async () => {
  const py = await PythonExecutor.start({ timeoutS: 5 });
  const slow = py.run("import time; time.sleep(0.3)");
  await assert.rejects(() => py.run("1"), /busy/);
  await slow;
  await py.close();
  await py.close();
  await assert.rejects(() => py.run("1"), /closed/);
});
