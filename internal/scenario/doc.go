// Package scenario holds end-to-end tests (no code): complete server nodes
// (internal/testnode) on a real Redis (internal/redistest), driven by Go
// clients (internal/client) through whole conversations, concurrent
// editing with disconnects and node failures, lost acknowledgements,
// rebuilt fields and refused writes.
package scenario
