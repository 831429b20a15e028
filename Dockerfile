# One image with the three service binaries and the web UI; docker-compose.yml picks the binary.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY web ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p command-service -p query-service -p gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/command-service /src/target/release/query-service /src/target/release/gateway /usr/local/bin/
COPY --from=web /web/dist /srv/web
ENV WEB_DIR=/srv/web LOG_FORMAT=json
