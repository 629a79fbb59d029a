# One image with Zenith's three programs. The build stage runs the project's own setup and build
# scripts (the same ones CI runs); the runtime stage carries only the shared libraries they need.
#   docker build -t zenith:dev .
#   docker run zenith:dev zenith-operator --help

FROM debian:12 AS build
WORKDIR /src
COPY scripts/ scripts/
RUN scripts/setup.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /opt/zenith --strip

FROM debian:12-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="zenith" \
      org.opencontainers.image.description="Zenith: gang-scheduled, topology-aware GPU training on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 libprotobuf32 libgrpc++1.51 libssl3 \
      libhwloc15 liburing2 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin zenith
COPY --from=build /opt/zenith/bin/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT []
CMD ["zenith-operator", "--help"]
