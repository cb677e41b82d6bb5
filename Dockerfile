# syntax=docker/dockerfile:1
# buildwire: one image, one binary; compose.yaml runs each service as `buildwire <service>`.
#
#   docker build -t buildwire .
#   docker run --rm buildwire --help
#
# Stage 1 builds the release binary; stage 2 is Debian slim with what the services need at
# run time: Node.js 20 and npm (the build stage runs `npm install` / `npm run build`),
# bubblewrap (the sandbox package scripts run in), git (npm's git dependencies), CA
# certificates. It runs as an unprivileged user; its data (npm cache, build work dirs)
# lives in /data.

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
# Cached registry and target between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p buildwire \
    && install -D -m 0755 target/release/buildwire /out/buildwire

FROM node:${NODE_VERSION}-bookworm-slim AS node

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
# Node.js and npm from the official image (same Debian release), not the distribution's.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version && bwrap --version
COPY --from=builder /out/buildwire /usr/local/bin/buildwire
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/buildwire buildwire \
    && install -d -o buildwire -g buildwire -m 0750 /data
USER buildwire:buildwire
WORKDIR /home/buildwire
ENV BUILDWIRE_DATA_DIR=/data \
    BUILDWIRE_HTTP_ADDR=0.0.0.0:8080 \
    BUILDWIRE_METRICS_ADDR=0.0.0.0:9090 \
    BUILDWIRE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080 9090
ENTRYPOINT ["buildwire"]
CMD ["--help"]
