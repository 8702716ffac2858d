/**
 * The floor: a bare Deno server doing the same message exchange as the echo
 * env (parse the JSON, build the observation, send it) with no framework,
 * no validation and no sessions. Benchmarks put envtorch beside it.
 *
 * Run: deno run -A bench/_floor_server.ts [--port N | --socket PATH]
 *
 * @module
 */
import { memoryResponse } from "./_memory.ts";

const READY = JSON.stringify({
  observation: { echoed_message: "Echo environment ready!", message_length: 0, metadata: {} },
  reward: 0,
  done: false,
});

function observe(message: string): string {
  const length = [...message].length;
  return JSON.stringify({
    observation: { echoed_message: message, message_length: length, metadata: {} },
    reward: length / 10,
    done: false,
  });
}

function handler(req: Request): Response | Promise<Response> {
  if (req.headers.get("upgrade") === "websocket") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => {
      const m = JSON.parse(e.data as string);
      if (m.type === "close") return socket.close();
      const data = m.type === "reset" ? READY : observe(m.data.message);
      socket.send(`{"type":"observation","data":${data}}`);
    };
    return response;
  }
  const url = new URL(req.url);
  if (url.pathname === "/health") return Response.json({ status: "healthy" });
  if (url.pathname === "/__memory") return memoryResponse();
  return req.json().then((body) =>
    new Response(url.pathname === "/reset" ? READY : observe(body.action.message), {
      headers: { "content-type": "application/json" },
    })
  );
}

const i = Deno.args.indexOf("--socket");
if (i >= 0) {
  const path = Deno.args[i + 1]!;
  try {
    Deno.removeSync(path);
  } catch {
    // Not there.
  }
  Deno.serve(
    { path, transport: "unix", onListen: () => console.log(`listening on unix:${path}`) },
    handler,
  );
} else {
  const p = Deno.args.indexOf("--port");
  const port = p >= 0 ? Number(Deno.args[p + 1]) : 0;
  Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: (a) => console.log(`listening on http://127.0.0.1:${a.port}`),
  }, handler);
}
