# Repair Room: `make run` starts a server, `make test` runs every test.
# Both install what they need first (npm packages; redis-server for run and
# test, chromium for test, from Debian when missing).

.PHONY: run test web deps

# Without REDIS_URL the server runs its own redis-server with AOF in
# DATA_DIR (default ./data), so rooms survive a restart. If redis-server
# cannot be installed here, the server still starts, on an in-memory store,
# and says so loudly.
run: web
	@if [ -z "$$REDIS_URL$$REDIS_CLUSTER_ADDRS" ]; then \
	  ./scripts/install-deps redis-server || echo "make run: could not install redis-server; rooms will be kept in memory only" >&2; \
	fi
	go run ./server

web: node_modules/.installed
	npm run --silent build:web

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

test:
	./scripts/test
