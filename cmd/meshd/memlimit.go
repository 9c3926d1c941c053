package main

import "runtime/debug"

// minMemoryLimitMiB is the smallest -memory-limit-mib accepted: below it the runtime of an
// idle meshd alone nears the limit and the garbage collector would hardly pause.
const minMemoryLimitMiB = 16

// setMemoryLimit applies -memory-limit-mib: a soft limit, in MiB, on the memory Go's runtime
// holds. At 0 it leaves the runtime's own (GOMEMLIMIT, or none).
func setMemoryLimit(mib int) {
	if mib > 0 {
		debug.SetMemoryLimit(int64(mib) << 20)
	}
}
