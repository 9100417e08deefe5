package redisstore_test

import (
	"os/exec"
	"syscall"
)

// dieWithTests makes the kernel kill the redis-server the tests started if
// the test binary dies without stopping it (a panic, a timeout).
func dieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
