# chartmirror's container image: the CLI as ENTRYPOINT, run as a non-root user.
# The Helm chart in deploy/chart runs it as a CronJob (its default runAsUser is this USER).
#
#   docker build -t registry.example.com/tools/chartmirror:0.1.0 .
#   docker run --rm -v "$PWD:/work:ro" registry.example.com/tools/chartmirror:0.1.0 validate --config /work/mirror.config.yaml

FROM node:20-slim AS builder
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: prepare would build before the sources are here; the build is the next step.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schema ./schema
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && chmod 0755 dist/cli/main.js

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=builder /app/package.json ./package.json
COPY --from=builder /app/node_modules ./node_modules
COPY --from=builder /app/dist ./dist
COPY --from=builder /app/schema ./schema
# chartmirror on PATH: dist/cli/main.js starts with #!/usr/bin/env node.
RUN ln -s /app/dist/cli/main.js /usr/local/bin/chartmirror \
 && groupadd --gid 10001 chartmirror \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin chartmirror
USER 10001:10001
ENTRYPOINT ["chartmirror"]
CMD ["--help"]
