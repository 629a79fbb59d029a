//go:build tools

// Package tools pins the etcd server command (main package at the module
// root of go.etcd.io/etcd/server/v3) so that `go mod tidy` keeps it.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
