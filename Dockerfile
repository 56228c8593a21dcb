# syntax=docker/dockerfile:1
# The one image of every target: docker build --build-arg VERSION=v1.2.3 -t backhaul .
# Each Kubernetes Deployment runs it as `backhaul serve --target=<name>`.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=devel
# A static binary (the SQLite driver is pure Go), without local paths.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/backhaul/backhaul/internal/app.Version=${VERSION}" \
      -o /out/backhaul ./cmd/backhaul \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/backhaul /usr/local/bin/backhaul
# The embedded store's directory, owned by the nonroot user; Kubernetes
# mounts an emptyDir here and the image's root filesystem can stay read-only.
COPY --from=build --chown=65532:65532 /out/data /data
ENV BACKHAUL_DATA_DIR=/data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/backhaul"]
CMD ["serve"]
