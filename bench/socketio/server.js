// The socket.io 4.8 baseline of the buildwire benchmarks (bench/README.md): the plan's
// original design. One namespace per build (`/build-<id>`, created on the first connect
// through a regex parent namespace), fed from the same NATS subjects as the edge
// (`live.build.*.events`, which JetStream republishes with `Nats-Sequence`). Each event is
// parsed once, given its `seq`, and emitted to the build's namespace; socket.io encodes a
// broadcast once for all of its sockets. `connectionStateRecovery` is on, so a client that
// reconnects with its session id and last offset gets what it missed (the storm scenario).
//
// Environment: NATS_URL (required), BENCH_ADDR (default 127.0.0.1:0).
// Prints `socketio ready http://<addr>` on stdout once it listens and is subscribed.

import { createServer } from "node:http";
import { connect } from "nats";
import { Server } from "socket.io";

const natsUrl = process.env.NATS_URL;
if (!natsUrl) {
  console.error("socketio: NATS_URL is required");
  process.exit(2);
}
const [host, port] = (process.env.BENCH_ADDR ?? "127.0.0.1:0").split(":");

const http = createServer();
const io = new Server(http, {
  transports: ["websocket"],
  serveClient: false,
  cors: { origin: "*" },
  connectionStateRecovery: {
    maxDisconnectionDuration: 2 * 60 * 1000,
    skipMiddlewares: true,
  },
});

// Clients connect to `/build-<id>`; the parent creates the child namespace on first use.
const BUILD_NAMESPACE = /^\/build-[0-9A-Za-z]+$/;
io.of(BUILD_NAMESPACE).on("connection", () => {});

const nc = await connect({ servers: natsUrl.split(","), name: "bench-socketio" });
const sub = nc.subscribe("live.build.*.events");

http.listen(Number(port), host, () => {
  const address = http.address();
  console.log(`socketio ready http://${address.address}:${address.port}`);
});

const stop = async () => {
  io.close();
  await nc.drain().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

for await (const message of sub) {
  // live.build.<id>.events
  const id = message.subject.split(".")[2];
  const nsp = io._nsps.get(`/build-${id}`);
  if (!nsp) continue; // nobody watches this build on this node
  let event;
  try {
    event = message.json();
  } catch {
    continue;
  }
  event.seq = Number(message.headers?.get("Nats-Sequence") ?? 0);
  nsp.emit("event", event);
}
