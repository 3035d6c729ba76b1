# Repair Room: `make run` starts a server, `make test` runs every test.
# Both install what they need first (npm packages; for tests also Debian's
# redis-server and chromium when missing).

.PHONY: run test web deps

run: web
	go run ./server

web: node_modules/.installed
	npm run --silent build:web

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

test:
	./scripts/test
