# syntax=docker/dockerfile:1
# Multi-stage build of bedrock-logging-operator.
#   docker build -t ghcr.io/bedrock-logging-operator/bedrock-logging-operator:dev .

# ---- build stage -------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cargo.lock is honoured exactly (--locked). BuildKit caches keep the registry and target
# directory between builds; the binary is copied out of the cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin bedrock-logging-operator \
 && install -m 0755 target/release/bedrock-logging-operator /bedrock-logging-operator

# ---- runtime stage -----------------------------------------------------------
# distroless cc: glibc + libgcc + CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="bedrock-logging-operator" \
      org.opencontainers.image.description="Keeps Amazon Bedrock model invocation logging enabled, KMS-encrypted and private" \
      org.opencontainers.image.source="https://github.com/bedrock-logging-operator/bedrock-logging-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /bedrock-logging-operator /bedrock-logging-operator
# distroless "nonroot" user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/bedrock-logging-operator"]
CMD ["run"]
