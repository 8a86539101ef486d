# Lectern production image: one image, three process roles (all | api | worker).
#
#   docker build -t lectern .
#   docker run --rm lectern node bin/lectern.js help
#
# The runtime stage ships dist/ (compiled JavaScript), bin/, migrations/ and production
# dependencies only. bin/lectern.js runs dist/main.js because src/ is not in the image.
# See docs/operations.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript to dist/ ---------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# ffmpeg: the worker role transcodes uploaded video. tini-like signal handling is left to the
# runtime (`docker run --init` / compose `init: true`); node itself handles SIGTERM gracefully.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY migrations ./migrations

# Only DATA_DIR is writable by the app user (embedded database/files when no services are set).
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "bin/lectern.js", "serve"]
