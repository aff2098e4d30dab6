# Every check is one command; CI runs the same ones (.ci/run).
.PHONY: run fmt lint test

run:
	cargo run -p silt -- run

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test:
	./scripts/test.sh
