# rinit — build, demo, test.
CARGO ?= cargo
RELEASE := target/release/rinit

.PHONY: all build demo test e2e static image image-stack bench clean
MUSL := x86_64-unknown-linux-musl
GNU := x86_64-unknown-linux-gnu
STATIC := target/static/rinit

all: build

build:
	$(CARGO) build --release

# The main job: a demo that starts services and stops them in order on Ctrl+C.
demo: build
	./demo/run.sh $(RELEASE)

# Unit tests, then every integration test (each runs rinit in its own PID namespace),
# then the Docker end-to-end tests (skipped when there is no Docker engine).
test: static
	$(CARGO) build --examples
	$(CARGO) test

# A fully static, stripped rinit at target/static/rinit: musl when its Rust target is
# installed (or can be: rustup target add), else glibc with crt-static. Users and groups
# are read from /etc/passwd and /etc/group, so no NSS is needed either way.
static:
	@if rustup target list --installed 2>/dev/null | grep -qx $(MUSL) \
		|| rustup target add $(MUSL) >/dev/null 2>&1; then \
		echo "static rinit: musl"; \
		$(CARGO) build --release --target $(MUSL) && \
		mkdir -p target/static && cp target/$(MUSL)/release/rinit $(STATIC); \
	else \
		echo "static rinit: glibc (crt-static)"; \
		RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
			$(CARGO) build --release --target $(GNU) && \
		mkdir -p target/static && cp target/$(GNU)/release/rinit $(STATIC); \
	fi
	@! command -v file >/dev/null || file $(STATIC) | grep -q 'static' \
		|| { echo "not static: $(STATIC)"; exit 1; }
	@ls -l $(STATIC)

# The Docker image `rinit`: static rinit + busybox-static + configs/docker-demo.toml.
image: static
	@test -x /bin/busybox || { echo "needs Debian's busybox-static (apt-get install busybox-static)"; exit 1; }
	mkdir -p target/image
	cp $(STATIC) target/image/rinit
	cp /bin/busybox target/image/busybox
	cp configs/docker-demo.toml target/image/docker-demo.toml
	docker build -q -t rinit -f Dockerfile target/image

# The Docker image `rinit-stack`: Debian 12 made with debootstrap + docker import (no
# registry), PostgreSQL 15 and a small app under rinit (stack/). Cached in target/stack/.
image-stack: static
	bash stack/build.sh target/static/rinit

# End-to-end tests on a real Docker engine; asked for explicitly, they fail (not skip)
# when there is no engine.
e2e: image
	RINIT_REQUIRE_DOCKER=1 $(CARGO) test --test e2e_docker

# rinit against tini, dumb-init and catatonit (installed from Debian's packages when
# missing), each as PID 1 of its own PID namespace; needs root and gcc. Prints a table
# and writes bench/results.json. BENCH_ARGS=--quick for a short run.
bench: static
	python3 bench/bench.py $(BENCH_ARGS)

clean:
	$(CARGO) clean
