package meshdtest

import "syscall"

// procAttr kills the process when the one that started it dies, so that no meshd outlives a
// test binary or generator that was killed.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
