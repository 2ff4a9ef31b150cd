# rinit — build, demo, test.
CARGO ?= cargo
RELEASE := target/release/rinit

.PHONY: all build demo test check-configs clean

all: build

build:
	$(CARGO) build --release

# The main job: a demo that starts services and stops them in order on Ctrl+C.
demo: build
	./demo/run.sh $(RELEASE)

# Unit tests, then every integration test (each runs rinit in its own PID namespace).
test:
	$(CARGO) build --examples
	$(CARGO) test

clean:
	$(CARGO) clean
