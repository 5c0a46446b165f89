package mgmt

// Everything else in this package is generated from schema/mgmt.yaml; edit
// the schema, then run `go generate ./...` (or `make generate`).
//go:generate go tool mgmtgen -schema ../../schema/mgmt.yaml -out .
//go:generate go tool mgmtgen doc -schema ../../schema/mgmt.yaml -out ../../docs/mgmt.md
