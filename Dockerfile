# ICS chat server image: a static binary on an empty (scratch) base, run as a
# non-root user. Two ways to get the binary (README "Deploy"):
#
#   docker build -t ics .                        # compile in the Go image (needs a registry)
#
#   CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
#   DOCKER_BUILDKIT=1 docker build --build-arg BINARY_FROM=host -t ics .
#                                                # copy a binary built on this host: no pull at all
#
# The host path needs BuildKit (Docker 23+ by default, or DOCKER_BUILDKIT=1):
# the legacy builder builds every stage, and so would pull the Go image anyway.

# BINARY_FROM picks the stage the binary comes from: "source" or "host".
ARG BINARY_FROM=source
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS source
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/ics-chat/ics/internal/server.Version=${VERSION}" \
      -o /out/server ./cmd/server

FROM scratch AS host
# HOST_BINARY is a path inside the build context, built with CGO_ENABLED=0
# (a dynamically linked binary cannot start on scratch).
ARG HOST_BINARY=bin/server
COPY ${HOST_BINARY} /out/server

FROM ${BINARY_FROM} AS binary

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="ICS chat server" \
      org.opencontainers.image.source="https://github.com/ics-chat/ics" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=binary /out/server /usr/local/bin/server
# Chat and HTTP on every interface; the admin API on loopback unless a token
# is set (a host-less -admin address binds 127.0.0.1 without a token, every
# interface with one). Secrets come from the environment or, better, from
# mounted files: ICS_JWT_KEY_FILE=/run/secrets/jwt_key, ICS_ADMIN_TOKEN_FILE.
ENV ICS_HTTP=0.0.0.0:8080 \
    ICS_ADMIN=:9090 \
    ICS_LOG_JSON=true
# 8080 chat/HTTP, 9090 gRPC admin, 6222 cluster routes (-cluster-listen),
# 4222 NATS clients (-nats-listen).
EXPOSE 8080 9090 6222 4222
# nobody:nogroup style ids; scratch has no /etc/passwd, so numbers only.
USER 65532:65532
# docker stop sends SIGTERM: the server drains (clients get 1012) within
# -drain-timeout (10s by default): give docker stop at least that (-t 15).
STOPSIGNAL SIGTERM
# scratch has no curl: the binary probes itself (GET /healthz on ICS_HTTP).
# Move the chat port with ICS_HTTP, not -http, or the probe will not find it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/server"]
