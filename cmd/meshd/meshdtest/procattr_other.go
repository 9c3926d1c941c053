//go:build !linux

package meshdtest

import "syscall"

// procAttr is the default: only Linux can tie a child's life to its parent's.
func procAttr() *syscall.SysProcAttr { return nil }
