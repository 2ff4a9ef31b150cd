# rinit's image: the static rinit at /sbin/rinit, busybox for the example's services, and
# the example configuration. Nothing is pulled from a registry: `make image` builds the
# static binary and puts it, Debian's busybox-static and configs/docker-demo.toml into
# target/image/, the build context this file expects.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
# A world-writable /tmp: where a non-root or read-only rinit puts its control socket.
RUN ["/bin/mkdir", "-m", "1777", "/tmp"]
COPY rinit /sbin/rinit
COPY docker-demo.toml /etc/rinit/rinit.toml
EXPOSE 8080
ENTRYPOINT ["/sbin/rinit"]
