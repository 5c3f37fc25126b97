# memcached-sdt on Debian: a build stage that compiles the server with its
# SDT provider (systemtap's stub writes the notes), then a slim runtime
# image with the server, the bpftrace tools and the man pages, running as
# the unprivileged user memcache. Build from an unpacked release tarball or a
# checkout:
#   docker build -t memcached-sdt .
#   buildah bud --build-arg BASE_IMAGE=localhost/debian:bookworm -t memcached-sdt .
# BASE_IMAGE is any Debian or Ubuntu image with apt (default debian:bookworm-slim).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc make autoconf automake libc6-dev libevent-dev libssl-dev \
        libsasl2-dev systemtap-sdt-dev perl \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# A release tarball has configure; a checkout makes it.
# Only the -O2 server is built: memcached-debug is the test suite's.
RUN { test -x configure || ./autogen.sh; } \
 && mkdir /build && cd /build \
 && /src/configure --prefix=/usr --enable-dtrace --with-sdt=auto \
        --enable-tls --enable-sasl \
 && make -j"$(nproc)" all bin_PROGRAMS=memcached/memcached \
 && make install DESTDIR=/stage INSTALL_STRIP_FLAG=-s bin_PROGRAMS=memcached/memcached

FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libssl3 libsasl2-2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 11211 memcache \
 && useradd --system --uid 11211 --gid memcache --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin memcache
COPY --from=build /stage/usr/ /usr/
USER memcache
EXPOSE 11211
# Trace it from the host: bpftrace -l 'usdt:*' -p <host pid of memcached>
ENTRYPOINT ["memcached"]
CMD ["-m", "64"]
