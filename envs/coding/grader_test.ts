import assert from "node:assert/strict";
import { type CallOptions, type CallReply, PythonExecutor } from "./executor.ts";
import { Grader } from "./grader.ts";

/** A grader over a real worker, both closed at the end. */
async function setup(code: string) {
  const py = await PythonExecutor.start({ timeoutS: 5 });
  const grader = await Grader.start();
  await py.run(code);
  const call = (name: string, args: unknown[] | null, kwargs: unknown, o: CallOptions) =>
    py.call(name, args, kwargs, o);
  return {
    py,
    grader,
    call,
    async [Symbol.asyncDispose]() {
      await grader.close();
      await py.close();
    },
  };
}

Deno.test("grader: values cross as exact plain data both ways", async () => {
  await using s = await setup(
    "def echo(x):\n    return x\n" +
      "def kinds():\n    return (None, True, 3, 2**70, -0.0, 'é\\ud800', b'\\x00', [1], {(1, 2): {3}}, frozenset([4]))\n" +
      "class MyInt(int):\n    pass\nclass MyStr(str):\n    pass\n" +
      "def subclasses():\n    return [MyInt(7), MyStr('s'), True]\n" +
      "TABLE = {'a': [1, 2]}",
  );
  const run = await s.grader.grade([
    "assert kinds() == (None, True, 3, 2**70, -0.0, 'é\\ud800', b'\\x00', [1], {(1, 2): {3}}, frozenset([4]))",
    "assert [type(v) for v in kinds()] == [type(None), bool, int, int, float, str, bytes, list, dict, frozenset]",
    "assert [type(v) for v in subclasses()] == [int, str, bool] and subclasses() == [7, 's', True]",
    "v = echo({'k': (1, [2.5, b'b'])})\nassert v == {'k': (1, [2.5, b'b'])} and type(v['k']) is tuple",
    "assert echo(x=1) == 1",
    "TABLE['a'].append(3)\nassert TABLE == {'a': [1, 2, 3]}",
    "assert TABLE == {'a': [1, 2]}",
  ], { call: s.call });
  assert.deepEqual(run.results, Array(7).fill({ passed: true }));
  assert.equal((await s.py.run("print(TABLE)")).stdout, "{'a': [1, 2]}\n");
});

Deno.test("grader: what is not plain data fails the test with a clear error", async () => {
  await using s = await setup(
    "def obj():\n    return object()\ndef deep():\n    x = []\n    for _ in range(100):\n        x = [x]\n    return x\n" +
      "def big():\n    return 'x' * (1 << 20)\ndef echo(x):\n    return x",
  );
  const run = await s.grader.grade([
    "obj()",
    "deep()",
    "big()",
    "echo(lambda: 1)",
  ], { call: s.call });
  assert.deepEqual(run.results.map((r) => r.passed), [false, false, false, false]);
  assert.match(run.results[0]!.error!, /TypeError: Not plain data: a value of type object/);
  assert.match(run.results[1]!.error!, /nested deeper than 32/);
  assert.match(run.results[2]!.error!, /larger than the grader accepts/);
  assert.match(run.results[3]!.error!, /NotPlainData: an argument of type function/);
});

Deno.test("grader: the agent's exceptions come back as type name and message", async () => {
  await using s = await setup(
    "class Custom(Exception):\n    pass\n" +
      "def fail(kind):\n    if kind == 'value':\n        raise ValueError('bad value')\n" +
      "    if kind == 'custom':\n        raise Custom('mine')\n    raise SystemExit(3)",
  );
  const run = await s.grader.grade([
    "try:\n    fail('value')\nexcept ValueError as e:\n    assert str(e) == 'bad value'",
    "try:\n    fail('custom')\nexcept AgentError as e:\n    assert (e.type_name, e.message) == ('Custom', 'mine')",
    "fail('exit')",
  ], { call: s.call });
  assert.deepEqual(run.results.slice(0, 2), [{ passed: true }, { passed: true }]);
  assert.match(run.results[2]!.error!, /AgentError: SystemExit: 3/);
});

Deno.test("grader: a hanging call fails its test, the next tests still run", async () => {
  await using s = await setup(
    "import signal\ndef spin():\n    while True:\n        pass\n" +
      "def stubborn():\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass\n" +
      "def add(a, b):\n    return a + b",
  );
  const run = await s.grader.grade(
    ["spin()", "assert add(1, 2) == 3", "stubborn()", "assert add(1, 2) == 3"],
    { call: s.call, callTimeoutS: 0.3, timeoutS: 10 },
  );
  assert.deepEqual(run.results.map((r) => r.passed), [false, true, false, false]);
  assert.match(run.results[0]!.error!, /TimeoutError/);
  // The call that ignored SIGINT cost the worker (and its definitions), not the grader.
  assert.match(run.results[3]!.error!, /NameError/);
  assert.deepEqual([run.timed_out, run.state_lost], [true, true]);
});

Deno.test("grader: the tests' time runs out, tests not run fail; a test that loops costs the grader only", async () => {
  await using s = await setup("def slow():\n    import time\n    time.sleep(0.4)\n    return 1");
  const run = await s.grader.grade(["slow()", "slow()", "slow()"], {
    call: s.call,
    timeoutS: 0.6,
  });
  assert.deepEqual(run.results.map((r) => r.passed), [true, false, false]);
  assert.equal(run.timed_out, true);
  const pid = s.grader.pid;
  const looping = await s.grader.grade(["while True: pass", "assert slow() == 1"], {
    call: s.call,
    timeoutS: 0.3,
  });
  assert.deepEqual(looping.results, [
    { passed: false, error: "Not run: the tests ran out of time" },
    { passed: false, error: "Not run: the tests ran out of time" },
  ]);
  assert.equal(s.grader.pid, undefined);
  const again = await s.grader.grade(["assert slow() == 1"], { call: s.call });
  assert.deepEqual(again.results, [{ passed: true }]);
  assert.notEqual(s.grader.pid, pid);
});

Deno.test("grader: a relay that answers garbage cannot make a test pass", async () => {
  await using grader = await Grader.start();
  const replies: CallReply[] = [
    { ok: true, value: { float: "5" } },
    { ok: true, value: { int: "5", extra: 1 } },
    { ok: true, value: { dict: [[[1], 2]] } },
    { ok: true, value: { set: [[1]] } },
    { ok: true, value: { bytes: "not base64!" } },
    { ok: true, value: 5.5 },
    { ok: true, value: { tuple: "abc" } },
  ];
  const tests = replies.map(() => "assert f() == 5");
  let i = 0;
  const run = await grader.grade(tests, {
    call: (_name, args) =>
      Promise.resolve(args === null ? { ok: true, callable: true } : replies[i++]!),
  });
  // The first is a float 5.0, which equals 5: a value of a plain type, not a lie.
  assert.deepEqual(run.results.map((r) => r.passed), [
    true,
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
  for (const r of run.results.slice(1)) assert.match(r.error!, /malformed data/);
});

Deno.test("grader: a test's prints do not break the protocol, and the tests never reach the worker", async () => {
  await using s = await setup("def add(a, b):\n    return a + b");
  const run = await s.grader.grade(
    ["print('x' * 100000)\nimport sys\nsys.stderr.write('y')\nassert add(2, 3) == 5  # MARK-7f3a"],
    { call: s.call },
  );
  assert.deepEqual(run.results, [{ passed: true }]);
  const probe = await s.py.run(
    "import gc\nm = 'MARK-' + '7f3a'\ng = globals()\n" +
      "print(any(m in str(o) for o in gc.get_objects() if isinstance(o, (dict, list, tuple)) and o is not g))",
  );
  assert.equal(probe.stdout, "False\n");
});

Deno.test("grader: a relay that throws fails that call, and the grader goes on", async () => {
  await using grader = await Grader.start();
  let calls = 0;
  const run = await grader.grade(["f()", "assert 1 + 1 == 2"], {
    call: () => {
      calls++;
      return Promise.reject(new Error("Cannot start the Python worker"));
    },
  });
  assert.equal(calls, 1);
  assert.deepEqual(run.results, [
    { passed: false, error: "AgentError: WorkerLost: Cannot start the Python worker" },
    { passed: true },
  ]);
  assert.equal(run.state_lost, true);
  const again = await grader.grade(["assert True"], { call: () => Promise.reject(new Error()) });
  assert.deepEqual(again.results, [{ passed: true }]);
});
