//go:build !linux

package redisstore_test

import "os/exec"

// dieWithTests has no portable equivalent of Linux's parent-death signal:
// a test binary that panics may leave its redis-server behind.
func dieWithTests(*exec.Cmd) {}
